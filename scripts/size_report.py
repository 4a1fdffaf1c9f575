#!/usr/bin/env python3
"""Prints the size of every file of the build in dist/ (raw, gzip -9, and
brotli at quality 11 as the server serves it), then the totals:

- first load: what a first visit downloads before its first screen (the
  sign-in form) is interactive: index.html, the boot script, the CSS and the
  app's first chunk (its glue, its wasm and the split loader);
- the signed-in first screen (first load + the `signed_in` split point and
  the chunks it loads), and what each page's split point (src/split.rs)
  adds to that when first opened;
- every chunk of the app together, and the service worker.

Which files a split point loads comes from target/app-splits.json, which
scripts/post_build.py writes from the split loader.
"""
import gzip
import json
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
dist = root / "dist"
files = sorted(p for p in dist.rglob("*") if p.is_file() and ".stage" not in p.parts)
names = [p.relative_to(dist).as_posix() for p in files]
# One node process compresses every file with brotli (node's zlib has it).
brotli = json.loads(
    subprocess.run(
        ["node", "-e", """
const z = require("zlib"), fs = require("fs");
const q = { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } };
console.log(JSON.stringify(process.argv.slice(1).map((f) => z.brotliCompressSync(fs.readFileSync(f), q).length)));
""", *map(str, files)],
        check=True, capture_output=True, text=True,
    ).stdout
)
size = {
    name: (p.stat().st_size, len(gzip.compress(p.read_bytes(), 9, mtime=0)), b)
    for name, p, b in zip(names, files, brotli)
}
row = "{:<52} {:>10} {:>10} {:>10}{}"
print(row.format("file", "raw", "gzip-9", "brotli-11", ""))
for name in names:
    print(row.format(name, *size[name], ""))


def total(label: str, members: list, note: str = "") -> tuple:
    sums = tuple(sum(size[m][i] for m in members) for i in range(3))
    print(row.format(label, *sums, note))
    return sums


first = [
    n for n in names
    if n == "index.html" or re.fullmatch(r"boot-\w+\.js|[\w-]+\.css", n)
    or re.fullmatch(r"app-[0-9a-f]+/(casefile\.js|casefile_bg\.wasm|__wasm_split\.js)", n)
]
worker = [n for n in names if n == "sw.js" or n.startswith("casefile-sw-")]
app = [n for n in names if n.startswith("app-")]
print()
total("first load (html+boot+css+first chunk)", first, "   (issue 18: gzip <= 200 KB; JS peer 129 KB)")
splits_file = root / "target" / "app-splits.json"
splits = json.loads(splits_file.read_text()) if splits_file.exists() else None
if splits and any(n.startswith(splits["folder"] + "/") for n in names):
    files_of = {k: [f"{splits['folder']}/{p}" for p in v] for k, v in splits["splits"].items()}
    signed_in = files_of.pop("signed_in", [])
    total(f"signed-in first screen (first load + signed_in, {len(signed_in)} files)", first + signed_in)
    for split, members in sorted(files_of.items()):
        more = [m for m in members if m not in signed_in]
        total(f"  + {split} when first opened ({len(more)} more files)", more)
else:
    print("(no target/app-splits.json for this build: run scripts/build.sh for the per-split figures)", file=sys.stderr)
total("every file of the app (all chunks, html, boot, css)", sorted(set(app + first)))
total("service worker (bootstrap+glue+wasm)", worker, "   (budget: gzip <= 15 KB, aim 10)")
