#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, then
# formatting, lints (native and wasm32), native tests (core, server on
# SQLite, and the server again on PostgreSQL: scripts/pg.sh),
# wasm-bindgen tests in headless Chromium (app page, service worker), the
# release build, and the Playwright e2e suite against the real server.
# Ends with one line: `N passed, M failed`. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=target/test-logs
mkdir -p "$LOGS"
passed=0
failed=0
failed_stages=()

# Counts the tests a stage's log reports: cargo/wasm-bindgen-test `test
# result:` lines, node's `# pass`/`# fail` and Python unittest's `Ran N
# tests`. Lints and builds (fmt, clippy, trunk) report no tests and count
# none; a stage that fails without reporting a failed test counts one
# failure, so a compile error or a lint is never a silent pass.
count() {
  local log=$1 status=$2 p f
  p=$(grep -ahoE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
  f=$(grep -ahoE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
  p=$((p + $(grep -ahoE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  f=$((f + $(grep -ahoE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  local ran bad
  ran=$(grep -ahoE '^Ran [0-9]+ tests?' "$log" | awk '{s+=$2} END {print s+0}')
  bad=$(grep -ahoE '^FAILED \((failures|errors)=[0-9]+(, (failures|errors)=[0-9]+)?' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  p=$((p + ran - bad))
  f=$((f + bad))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  echo "$p $f"
}

stage() {
  local name=$1; shift
  local log="$LOGS/$name.log" start=$SECONDS status
  printf '== %-16s ' "$name"
  "$@" >"$log" 2>&1
  status=$?
  read -r p f < <(count "$log" "$status")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$status" -eq 0 ] && [ "$f" -eq 0 ] && [ "$p" -eq 0 ]; then
    printf 'ok    (no tests)            (%ds)\n' $((SECONDS - start))
  elif [ "$status" -eq 0 ] && [ "$f" -eq 0 ]; then
    printf 'ok    %4d passed           (%ds)\n' "$p" $((SECONDS - start))
  else
    printf 'FAIL  %4d passed %3d failed (%ds), log: %s\n' "$p" "$f" $((SECONDS - start)) "$log"
    failed_stages+=("$name")
    grep -aE '^(error|warning)(\[|:)|panicked|^not ok|FAILED|failed:|Error:' "$log" | head -25 | sed 's/^/   | /'
    # A failed node test: where, what it said and the first frames of its
    # stack (CI prints only this summary).
    awk '/^not ok/ {on=1; s=0} on && /^  stack:/ {s=1} on {print; if (s && ++n > 4) {on=0; n=0}} /^  \.\.\.$/ {on=0; n=0}' "$log" | head -60 | sed 's/^/   > /'
  fi
  return "$status"
}

stage install bash scripts/install.sh --test || { echo "0 passed, 1 failed"; exit 1; }
. scripts/env.sh

stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets -- -D warnings
stage clippy-wasm cargo clippy --target wasm32-unknown-unknown -p casefile -p casefile-sw --all-targets -- -D warnings
# The worker as shipped: no std in its graph (its own panic handler and allocator).
stage clippy-worker cargo clippy --target wasm32-unknown-unknown -p casefile-sw --features slim -- -D warnings
stage core-purity bash -c '! cargo tree -p casefile-core -e normal --prefix none | grep -E "^(wasm-bindgen|web-sys|js-sys|leptos)"'
stage native-tests cargo test -p casefile-core -p casefile-server
stage build-scripts python3 -m unittest discover -s tests/scripts
stage server-postgres bash -c 'CASEFILE_TEST_PG_URL="$(bash scripts/pg.sh)" cargo test -p casefile-server'
stage wasm-tests cargo test --target wasm32-unknown-unknown -p casefile -p casefile-sw
if stage release-build trunk build --release && stage server-build cargo build -p casefile-server; then
  stage e2e node --test --test-concurrency=1 tests/e2e/
fi

echo
[ ${#failed_stages[@]} -gt 0 ] && echo "failed stages: ${failed_stages[*]} (logs in $LOGS/)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
