#!/usr/bin/env python3
"""Where the app's wasm bytes go (issue 18), grouped by crate and by our modules.

Reads `twiggy top --format csv` of the release wasm built with its names kept
(before wasm-bindgen and wasm-opt, so the total is larger than what ships; the
shares are what this is for) and prints three tables: by crate, by module of our
own crates, and the largest single items.

    python3 scripts/size_why.py target/wasm32-unknown-unknown/release/casefile.wasm
"""

import csv
import io
import re
import subprocess
import sys
from collections import defaultdict

OURS = ("casefile", "casefile_core")
# Items that name no crate: the wasm file's own sections and tables.
SECTION = re.compile(r"^(data|elem|type|table|import|export|code|custom|func|global|memory)\b|^\"", re.I)


def crate_of(path: str) -> str:
    """The crate a path starts with (`dlmalloc[e24a…]` is `dlmalloc`)."""
    head = re.split(r"::|<|>|,| ", path.strip(), maxsplit=1)[0]
    return re.sub(r"\[[0-9a-f]+\]$", "", head)


def owner(name: str) -> tuple[str, str]:
    """(crate, module) of a demangled item name; module only for our crates."""
    text = name.strip()
    if SECTION.match(text) or "::" not in text:
        return ("(sections, tables, unnamed)", "")
    # `<T as Trait>::f`: T's crate when T is a path, else the trait's.
    m = re.match(r"^<(.+?) as (.+?)>::", text)
    if m:
        subject, trait = m.group(1).lstrip("&*").removeprefix("mut "), m.group(2)
        text = subject if "::" in subject else trait
    while text and text[0] in "<&*(":
        text = text[1:]
    for prefix in ("dyn ", "mut ", "const ", "impl "):
        text = text.removeprefix(prefix)
    crate = crate_of(text) or "(unnamed)"
    if crate in ("core", "alloc", "std"):
        return ("std (core/alloc)", "")
    if crate in OURS:
        module = crate_of(text[len(crate) + 2:]) if text.startswith(crate + "::") else ""
        if not re.match(r"^[a-z_][a-z0-9_]*$", module):
            module = "(crate root)"
        return (crate, f"{crate}::{module}")
    return (crate, "")


def shipped(name: str) -> bool:
    """Whether the item is code or data that ships (wasm-opt strips the name
    section and custom sections; wasm-bindgen removes its own section and
    the `__wbindgen_describe_*` functions it runs at build time)."""
    return not (name.startswith('"function names"') or name.startswith("custom section")
                or name.startswith('"local names"') or name.startswith("name section")
                or name.startswith('export "__wbindgen_describe'))


def table(title: str, rows: list[tuple[str, int]], total: int, limit: int) -> None:
    print(f"\n{title}")
    print(f"{'':<48} {'bytes':>10} {'share':>7}")
    for name, size in rows[:limit]:
        print(f"{name[:48]:<48} {size:>10} {100 * size / total:>6.1f}%")
    rest = sum(size for _, size in rows[limit:])
    if rest:
        print(f"{'(the rest)':<48} {rest:>10} {100 * rest / total:>6.1f}%")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = subprocess.run(
        ["twiggy", "top", "-n", "1000000", "--format", "csv", sys.argv[1]],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    every = [(row["Name"], int(row["ShallowSize"])) for row in csv.DictReader(io.StringIO(out))]
    items = [(n, s) for n, s in every if shipped(n)]
    total = sum(size for _, size in items)
    dropped = sum(size for _, size in every) - total
    crates: dict[str, int] = defaultdict(int)
    modules: dict[str, int] = defaultdict(int)
    for name, size in items:
        crate, module = owner(name)
        crates[crate] += size
        if module:
            modules[module] += size
    print(f"{sys.argv[1]}: {total} bytes of code and data in {len(items)} items")
    print(f"(before wasm-bindgen and wasm-opt; {dropped} bytes of names and custom sections left out)")
    table("By crate", sorted(crates.items(), key=lambda kv: -kv[1]), total, 25)
    table("By module of our crates", sorted(modules.items(), key=lambda kv: -kv[1]), total, 25)
    biggest = sorted(items, key=lambda kv: -kv[1])
    table("Largest items", [(n, s) for n, s in biggest], total, 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
