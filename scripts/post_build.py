#!/usr/bin/env python3
"""Trunk post_build hook: makes the build fit the CSP and writes the worker.

1. Trunk starts the app with an inline module script; the CSP forbids inline
   scripts, so the script moves to a content-hashed file.
2. The worker's glue and wasm get the build's content hash in their names, so
   an old worker's cached copy can never be paired with a new bootstrap.
3. `sw.js` is written from `sw/bootstrap.js` with the build's content version,
   the precache list (every file of the build) and the worker's file names.
"""
import base64
import hashlib
import json
import os
import pathlib
import re
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

# 1. The inline start-up script becomes a file.
inline = re.search(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
if inline:
    body = inline.group(2).strip().encode() + b"\n"
    name = f"boot-{short_hash(body)}.js"
    (staging / name).write_bytes(body)
    attrs = inline.group(1)
    if 'type="module"' not in attrs:
        fail("expected Trunk's inline script to be a module")
    tag = f'<script type="module" src="/{name}" integrity="{sri(body)}"></script>'
    html = html[: inline.start()] + tag + html[inline.end() :]
    index.write_text(html)
if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html):
    fail("index.html still has an inline script, which the CSP blocks")
if re.search(r"\sstyle=", html):
    fail("index.html has an inline style attribute, which the CSP blocks")

# 2. Minify the glue of the app and of the worker, and shorten the names
#    their wasm imports from the glue (SPEC §9 budgets both; see
#    scripts/wasm_imports.py). The app's files keep their names (trunk's hash
#    of the same build) and get new integrity values; the worker's files are
#    content-hashed here.
esbuild = source / "node_modules" / ".bin" / "esbuild"
if not esbuild.exists():
    fail(f"{esbuild} is missing: run scripts/install.sh")


def minify(path: pathlib.Path) -> None:
    run = subprocess.run(
        [str(esbuild), str(path), "--minify", "--log-level=warning"],
        capture_output=True,
    )
    if run.returncode != 0 or not run.stdout:
        fail(f"esbuild could not minify {path.name}: {run.stderr.decode()}")
    path.write_bytes(run.stdout)


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


app_glue, app_wasm = one(r"casefile-[0-9a-f]+\.js"), one(r"casefile-[0-9a-f]+_bg\.wasm")
slim(app_glue, app_wasm)
html = index.read_text()
for file in (app_glue, app_wasm):
    tag = re.compile(rf'(<link[^>]*href="/{re.escape(file.name)}"[^>]*integrity=")[^"]*(")')
    html, n = tag.subn(lambda m: m.group(1) + sri(file.read_bytes()) + m.group(2), html)
    if n != 1:
        fail(f"index.html does not preload {file.name} exactly once with an integrity value")
index.write_text(html)

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
if "__" in re.sub(r"__wbg|wasm_bindgen", "", sw):
    fail("a placeholder in sw/bootstrap.js was not filled in")
(staging / "sw.js").write_text(sw)
(staging / "build-version.txt").write_text(version + "\n")
print(f"post_build: version {version}, {len(paths)} files precached")
