#!/usr/bin/env bash
# Raw and gzip -9 sizes of every file in dist/, with the first-load and the
# service-worker totals that SPEC §9 budgets. Build first (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/index.html ] || { echo "no dist/: run scripts/build.sh first" >&2; exit 1; }
gz() { gzip -9 -c "$1" | wc -c; }
printf '%-48s %10s %10s\n' file raw gzip-9
first_raw=0; first_gz=0; sw_raw=0; sw_gz=0
while IFS= read -r f; do
  raw=$(stat -c %s "$f"); g=$(gz "$f"); name=${f#dist/}
  printf '%-48s %10d %10d\n' "$name" "$raw" "$g"
  case "$name" in
    sw.js|casefile-sw-*) sw_raw=$((sw_raw + raw)); sw_gz=$((sw_gz + g)) ;;
    index.html|boot-*.js|casefile-*.js|casefile-*_bg.wasm|*.css)
      first_raw=$((first_raw + raw)); first_gz=$((first_gz + g)) ;;
  esac
done < <(find dist -type f | sort)
echo
printf '%-48s %10d %10d   (budget: gzip <= 129 KB)\n' "first load (html+js+wasm+css)" "$first_raw" "$first_gz"
printf '%-48s %10d %10d   (budget: gzip <= 15 KB, aim 10)\n' "service worker (bootstrap+glue+wasm)" "$sw_raw" "$sw_gz"
