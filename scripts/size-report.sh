#!/usr/bin/env bash
# Raw and gzip -9 sizes of every file in dist/, with the first-load and the
# service-worker totals that SPEC §9 budgets. Build first (scripts/build.sh).
#   scripts/size-report.sh --why   also builds the app's wasm with its names
#                                  kept and prints where its bytes go, by crate
#                                  and by our modules (twiggy, from crates.io)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--why" ]; then
  . scripts/env.sh
  if [ "$(twiggy --version 2>/dev/null | awk '{print $2}')" != "0.8.0" ]; then
    echo "[size] installing twiggy 0.8.0 (crates.io)" >&2
    cargo install --locked twiggy --version 0.8.0 >&2
  fi
  # The same build trunk makes (release profile, the app's binary); the name
  # section survives until wasm-opt, which the shipped file goes through.
  cargo build --release --target wasm32-unknown-unknown -p casefile --bin casefile >&2
  python3 scripts/size_why.py target/wasm32-unknown-unknown/release/casefile.wasm
  echo
fi
[ -f dist/index.html ] || { echo "no dist/: run scripts/build.sh first" >&2; exit 1; }
gz() { gzip -9 -c "$1" | wc -c; }
# Brotli at its best quality, as the server serves it (node's zlib has it).
br() { node -e 'const z=require("zlib"),fs=require("fs");process.stdout.write(String(z.brotliCompressSync(fs.readFileSync(process.argv[1]),{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length))' "$1"; }
printf '%-48s %10s %10s %10s\n' file raw gzip-9 brotli-11
first_raw=0; first_gz=0; first_br=0; sw_raw=0; sw_gz=0; sw_br=0
while IFS= read -r f; do
  raw=$(stat -c %s "$f"); g=$(gz "$f"); b=$(br "$f"); name=${f#dist/}
  printf '%-48s %10d %10d %10d\n' "$name" "$raw" "$g" "$b"
  case "$name" in
    sw.js|casefile-sw-*) sw_raw=$((sw_raw + raw)); sw_gz=$((sw_gz + g)); sw_br=$((sw_br + b)) ;;
    index.html|boot-*.js|casefile-*.js|casefile-*_bg.wasm|*.css)
      first_raw=$((first_raw + raw)); first_gz=$((first_gz + g)); first_br=$((first_br + b)) ;;
  esac
done < <(find dist -type f | sort)
echo
printf '%-48s %10d %10d %10d   (budget: gzip <= 129 KB)\n' "first load (html+js+wasm+css)" "$first_raw" "$first_gz" "$first_br"
printf '%-48s %10d %10d %10d   (budget: gzip <= 15 KB, aim 10)\n' "service worker (bootstrap+glue+wasm)" "$sw_raw" "$sw_gz" "$sw_br"
