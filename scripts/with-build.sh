#!/usr/bin/env bash
# Runs a node script against the release build and the server, building what
# is missing first: `scripts/with-build.sh SCRIPT.mjs [ARGS...]`
# (scripts/lighthouse.sh and scripts/soak.sh use it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test >/dev/null
. scripts/env.sh
[ -f dist/index.html ] || trunk build --release
cargo build --quiet -p casefile-server
exec node "$@"
