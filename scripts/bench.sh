#!/usr/bin/env bash
# Benchmarks that print figures (not tests): the query cache in wasm beside
# @tanstack/query-core in the same headless Chromium. Built with the release
# profile and wasm-opt -Oz, as the app ships.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test >/dev/null
. scripts/env.sh
cargo build --release --target wasm32-unknown-unknown -p casefile-bench
wasm-bindgen --target web --out-dir target/bench-pkg target/wasm32-unknown-unknown/release/casefile_bench.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int target/bench-pkg/casefile_bench_bg.wasm -o target/bench-pkg/casefile_bench_bg.wasm
node scripts/bench.mjs
