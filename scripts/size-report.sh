#!/usr/bin/env bash
# Raw, gzip -9 and brotli sizes of every file in dist/, with the first-load
# and the service-worker totals that SPEC §9 budgets, and what each chunk of
# the split app adds when first used (scripts/size_report.py). Build first
# (scripts/build.sh).
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
exec python3 scripts/size_report.py
