#!/usr/bin/env bash
# The long chaos soak (issue 7): seeded random user actions on two devices and
# three tabs under faults, then the exactly-once, convergence and Lamport
# checks, for many seeds. Prints one table; non-zero exit names a broken seed.
#   scripts/soak.sh                       20 seeds x 500 actions (hours)
#   scripts/soak.sh --seeds 5 --actions 100 --from 100
exec bash "$(dirname "$0")/with-build.sh" tests/e2e/soak.mjs "$@"
