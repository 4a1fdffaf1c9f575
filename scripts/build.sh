#!/usr/bin/env bash
# Builds the release app and its service worker into dist/ (Trunk, wasm-opt -Oz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. scripts/env.sh
trunk build --release
