#!/usr/bin/env bash
# The one command to run Casefile: installs what is missing, builds the app and
# the server, and serves both on http://127.0.0.1:8080 (SQLite under data/).
#   scripts/run.sh                 seeds 200 demo cases into an empty database
#   scripts/run.sh --seed 10000    any casefile-server flags pass through
#   CASEFILE_ADDR=0.0.0.0:9000 DATABASE_URL=postgres://... scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
. scripts/env.sh
cargo build --profile server -p casefile-server
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--seed "${CASEFILE_SEED:-200}" --demo-users)
exec target/server/casefile-server "${args[@]}"
