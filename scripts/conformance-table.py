#!/usr/bin/env python3
"""Writes core/CONFORMANCE.md: every TanStack Query case ported to
core/src/query/conformance/, with its source file, its title and its status
(read from the test's doc comment: "differs by design" or matches)."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIR = ROOT / "core/src/query/conformance"
SOURCES = {
    "query_test": "query-core/src/__tests__/query.test.tsx",
    "query_client_test": "query-core/src/__tests__/queryClient.test.tsx",
    "query_cache_test": "query-core/src/__tests__/queryCache.test.tsx",
    "query_observer_test": "query-core/src/__tests__/queryObserver.test.tsx",
    "utils_test": "query-core/src/__tests__/utils.test.tsx",
    "use_query_test": "react-query/src/__tests__/useQuery.test.tsx",
    "mutations_test": "query-core/src/__tests__/mutations.test.tsx",
    "mutation_cache_test": "query-core/src/__tests__/mutationCache.test.tsx",
}
# Cases that failed on the cache before issue 19's fixes (see the closing
# note for each bug and its fix).
FIXED = set((ROOT / "core/src/query/conformance/FIXED").read_text().split())

rows = []
for module, source in SOURCES.items():
    path = DIR / f"{module}.rs"
    if not path.exists():
        continue
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "#[test]":
            continue
        doc = []
        j = i - 1
        while j >= 0 and lines[j].startswith("///"):
            doc.insert(0, lines[j][3:].strip())
            j -= 1
        name = re.match(r"fn (\w+)", lines[i + 1]).group(1)
        text = " ".join(doc)
        title = re.match(r'"(.*?)"(?: \(|$)', text)
        title = title.group(1) if title else text
        if "differs by design" in text:
            status = "differs by design: " + text.split("differs by design")[1].strip(" :)").split(")")[0]
        elif name in FIXED:
            status = "passes (was a bug, fixed in issue 19)"
        else:
            status = "passes"
        rows.append((source, title.replace("|", "\\|"), f"`{module}::{name}`", status.replace("|", "\\|")))

out = [
    "# TanStack Query conformance",
    "",
    "TanStack Query v5's own test cases, ported to `casefile-core` (`core/src/query/conformance/`,",
    "run by `cargo test -p casefile-core`). Written by `scripts/conformance-table.py`.",
    "",
    f"{len(rows)} cases: {sum(r[3].startswith('passes') for r in rows)} match TanStack "
    f"({sum('fixed' in r[3] for r in rows)} of them bugs fixed here), "
    f"{sum(r[3].startswith('differs') for r in rows)} differ by design (SPEC §3/§4).",
    "",
    "| TanStack file | Case | Test | Status |",
    "|---|---|---|---|",
]
out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
(ROOT / "core/CONFORMANCE.md").write_text("\n".join(out) + "\n")
print(f"{len(rows)} cases written to core/CONFORMANCE.md")
