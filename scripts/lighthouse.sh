#!/usr/bin/env bash
# Lighthouse scores of the release build served by the real server: first
# visit, and a repeat visit from the service worker with the server stopped.
# Flags go to scripts/lighthouse.mjs (`--runs N`, `--route /path`).
exec bash "$(dirname "$0")/with-build.sh" scripts/lighthouse.mjs "$@"
