#!/usr/bin/env bash
# Benchmarks that print figures (not tests), in one run:
# - the query cache in wasm beside @tanstack/query-core in the same headless
#   Chromium;
# - the app's IndexedDB event store beside plain IndexedDB from JS (appends,
#   replay with and without a snapshot, the unsynced scan);
# - the server ingesting 10,000 events over loopback on SQLite;
# - 100 devices at once against SQLite and 1-3 instances on PostgreSQL;
# - our service worker beside a Workbox 7 worker (bundled locally with
#   esbuild) serving the same build: cold start, asset latency, queue replay.
# The wasm is built with the release profile and wasm-opt -Oz, as the app ships.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test >/dev/null
. scripts/env.sh
cargo build --release --target wasm32-unknown-unknown -p casefile-bench
wasm-bindgen --target web --out-dir target/bench-pkg target/wasm32-unknown-unknown/release/casefile_bench.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int target/bench-pkg/casefile_bench_bg.wasm -o target/bench-pkg/casefile_bench_bg.wasm
node scripts/bench.mjs
echo
cargo run --quiet --profile server -p casefile-server --example ingest
echo
# 100 devices pushing and pulling at once: SQLite, then 1, 2 and 3 instances
# on one PostgreSQL database (scripts/pg.sh starts a local one).
cargo build --quiet --profile server -p casefile-server --bin casefile-server --example load
CASEFILE_BENCH_PG_URL="$(bash scripts/pg.sh)" target/server/examples/load
echo
# Origin affinity (the browser's cache, and so an ETag, is per URL and so per
# origin): the share of repeat reads of a path that reach the origin its
# previous read went to, round-robin beside rendezvous hashing.
cargo test --quiet -p casefile-core --lib rendezvous_keeps -- --nocapture 2>/dev/null | grep "revalidatable"
echo
cargo build --quiet -p casefile-server
node scripts/bench-worker.mjs 2>&1 | grep -v "casefile_server"
echo
# The bytes a device holds for 10,000 cases of which its user may read 500
# (per-user partial sync), and after an access change purges them.
node scripts/bench-device.mjs 2>&1 | grep -v "casefile_server"
