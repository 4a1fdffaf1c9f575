#!/usr/bin/env python3
"""Trunk post_build hook: builds the app's split wasm, makes the build fit
the CSP and writes the worker.

1. The app: Trunk builds the worker, the CSS and the copied files; the app
   is built here, because its wasm is split into chunks that load when
   first used (src/split.rs) and Trunk cannot run the splitter (trunk issue
   #1022). Release build with the `split` feature, linked with its
   relocations -> `wasm-split-cli` (crates.io `wasm_split_cli_support`) ->
   `wasm-bindgen --keep-lld-exports` on the main module -> `wasm-opt -Oz` on
   every module. Everything of it lives in one folder named by its content's
   hash, `app-<hash>/` (its files find each other by relative URLs; a second
   URL for the same module would start it twice), and each chunk's fetch
   carries its integrity value. A boot script (the CSP forbids inline
   scripts) starts it; index.html preloads the first chunk.
2. The worker's glue and wasm get the build's content hash in their names, so
   an old worker's cached copy can never be paired with a new bootstrap.
3. `sw.js` is written from `sw/bootstrap.js` with the build's content version,
   the precache list (every file of the build, every chunk with it) and the
   worker's file names.
"""
import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import wasm_imports

staging = pathlib.Path(os.environ["TRUNK_STAGING_DIR"])
source = pathlib.Path(os.environ.get("TRUNK_SOURCE_DIR", "."))


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def fail(message: str) -> None:
    print(f"post_build: {message}", file=sys.stderr)
    sys.exit(1)


index = staging / "index.html"
html = index.read_text()
if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html):
    fail("index.html has an inline script, which the CSP blocks: " + repr(html[html.index("<script"):][:400]))
if re.search(r"\sstyle=", html):
    fail("index.html has an inline style attribute, which the CSP blocks")

# Minify the glue of the app and of the worker, and shorten the names their
# wasm imports from the glue (SPEC §9 budgets both; see
# scripts/wasm_imports.py).
esbuild = source / "node_modules" / ".bin" / "esbuild"
wasm_opt = source / "node_modules" / ".bin" / "wasm-opt"
for tool in (esbuild, wasm_opt):
    if not tool.exists():
        fail(f"{tool} is missing: run scripts/install.sh")


def run(args: list, what: str) -> None:
    done = subprocess.run([str(a) for a in args], cwd=source)
    if done.returncode != 0:
        fail(f"{what} failed (exit {done.returncode}): {' '.join(str(a) for a in args)}")


def minify(path: pathlib.Path) -> None:
    done = subprocess.run(
        [str(esbuild), str(path), "--minify", "--log-level=warning"],
        capture_output=True,
    )
    if done.returncode != 0 or not done.stdout:
        fail(f"esbuild could not minify {path.name}: {done.stderr.decode()}")
    path.write_bytes(done.stdout)


def slim(glue: pathlib.Path, wasm: pathlib.Path) -> None:
    minify(glue)
    try:
        short_wasm, short_glue = wasm_imports.shorten(wasm.read_bytes(), glue.read_text())
    except ValueError as e:
        fail(f"could not shorten the import names of {wasm.name}: {e}")
    wasm.write_bytes(short_wasm)
    glue.write_text(short_glue)


def one(pattern: str) -> pathlib.Path:
    found = [p for p in staging.iterdir() if re.fullmatch(pattern, p.name)]
    if len(found) != 1:
        fail(f"expected one file named like {pattern} in {staging}, found {sorted(p.name for p in found)}")
    return found[0]


# 1. The app.
target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", source / "target"))
run(
    ["cargo", "rustc", "--release", "--locked", "--target", "wasm32-unknown-unknown",
     "-p", "casefile", "--bin", "casefile", "--features", "split",
     "--", "-Clink-args=--emit-relocs"],
    "the app's build",
)
build = staging / "app-build"
shutil.rmtree(build, ignore_errors=True)
build.mkdir()
run(
    ["wasm-split-cli", target / "wasm32-unknown-unknown" / "release" / "casefile.wasm", build,
     "--out-name", "casefile"],
    "the splitter",
)
linked = build / "casefile.wasm"
run(
    ["wasm-bindgen", "--target", "web", "--keep-lld-exports", "--no-typescript",
     "--out-dir", build, "--out-name", "casefile", linked],
    "wasm-bindgen",
)
linked.unlink()
for module in sorted(build.glob("*.wasm")):
    run([wasm_opt, "-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
         "--enable-reference-types", "--enable-sign-ext", "--enable-mutable-globals",
         "--strip-debug", "--strip-producers", module, "-o", module], f"wasm-opt on {module.name}")
slim(build / "casefile.js", build / "casefile_bg.wasm")
loader = build / "__wasm_split.js"
chunk_fetch = re.compile(r'fetch\(new URL\("\./([\w.-]+\.wasm)", import\.meta\.url\)\)')


def with_integrity(m: re.Match) -> str:
    # The loader awaits the chunks a split point shares with others before it
    # looks at this fetch: a failure meanwhile would be reported as unhandled
    # (it is handled, by the loader's retry), so it is marked handled here.
    fetch = f'fetch(new URL("./{m.group(1)}", import.meta.url), {{ integrity: "{sri((build / m.group(1)).read_bytes())}" }})'
    return f"((p) => (p.catch(() => {{}}), p))({fetch})"


text, fetches = chunk_fetch.subn(with_integrity, loader.read_text())
chunks = sorted(p.name for p in build.glob("*.wasm") if p.name != "casefile_bg.wasm")
if fetches != len(chunks):
    fail(f"{loader.name} fetches {fetches} chunks, the splitter wrote {len(chunks)}: {chunks}")
loader.write_text(text)
# Which files each split point loads (itself and the chunks it shares with
# others), for scripts/size-report.sh; read before the names are minified.
chunk_files = dict(re.findall(r'const (__chunk_\d+) = makeLoad\(\(\) => \{\s*const src = [^\n]*?fetch\(new URL\("\./([\w.]+)"', text))
splits = {
    name: [file] + [chunk_files[d] for d in re.findall(r"__chunk_\d+", deps)]
    for name, file, deps in re.findall(
        r'export const __wasm_split_load_(\w+) = wrapAsyncCb\(makeLoad\(\(\) => \{\s*const src = [^\n]*?fetch\(new URL\("\./([\w.]+)".*?\n, \[([^\]]*)\]\)\)',
        text,
        re.S,
    )
}
if not splits or any(len(files) != len(set(files)) for files in splits.values()):
    fail(f"could not read which chunks each split point loads from {loader.name}")
minify(loader)
h = hashlib.sha256()
for file in sorted(build.iterdir()):
    h.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
app = staging / f"app-{h.hexdigest()[:16]}"
build.rename(app)
(target / "app-splits.json").write_text(json.dumps({"folder": app.name, "splits": splits}, indent=1) + "\n")
boot = (
    f'import init from "/{app.name}/casefile.js";\n'
    f'await init({{ module_or_path: "/{app.name}/casefile_bg.wasm" }});\n'
).encode()
boot_name = f"boot-{short_hash(boot)}.js"
(staging / boot_name).write_bytes(boot)
glue_bytes, wasm_bytes = (app / "casefile.js").read_bytes(), (app / "casefile_bg.wasm").read_bytes()
tags = (
    f'<script type="module" src="/{boot_name}" integrity="{sri(boot)}"></script>\n'
    f'<link rel="modulepreload" href="/{app.name}/casefile.js" crossorigin="anonymous" integrity="{sri(glue_bytes)}">\n'
    f'<link rel="modulepreload" href="/{app.name}/__wasm_split.js" crossorigin="anonymous" integrity="{sri((app / loader.name).read_bytes())}">\n'
    f'<link rel="preload" href="/{app.name}/casefile_bg.wasm" crossorigin="anonymous" integrity="{sri(wasm_bytes)}" as="fetch" type="application/wasm">\n'
)
if "</head>" not in html:
    fail("index.html has no </head>")
html = html.replace("</head>", tags + "</head>", 1)
index.write_text(html)
print(f"post_build: app in /{app.name}/ with {len(chunks)} chunks loaded on demand")

# 2. The worker.
glue, wasm = one(r"casefile-sw.*\.js"), one(r"casefile-sw.*_bg\.wasm")
slim(glue, wasm)
worker_hash = short_hash(glue.read_bytes() + wasm.read_bytes())
glue = glue.rename(staging / f"casefile-sw-{worker_hash}.js")
wasm = wasm.rename(staging / f"casefile-sw-{worker_hash}_bg.wasm")

# 3. The bootstrap.
files = sorted(
    p for p in staging.rglob("*") if p.is_file() and p.name != "sw.js"
)
paths = ["/" + p.relative_to(staging).as_posix() for p in files]
h = hashlib.sha256()
for path, file in zip(paths, files):
    h.update(path.encode() + b"\0" + file.read_bytes() + b"\0")
version = h.hexdigest()[:16]
template = (source / "sw" / "bootstrap.js").read_text()
sw = (
    template.replace("__VERSION__", version)
    .replace("__PRECACHE__", json.dumps(paths))
    .replace("__GLUE__", "/" + glue.name)
    .replace("__WASM__", "/" + wasm.name)
)
if re.search(r"__(VERSION|PRECACHE|GLUE|WASM)__", sw):
    fail("a placeholder in sw/bootstrap.js was not filled in")
(staging / "sw.js").write_text(sw)
(staging / "build-version.txt").write_text(version + "\n")
print(f"post_build: version {version}, {len(paths)} files precached")
