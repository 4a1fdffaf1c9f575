#!/usr/bin/env bash
# Puts every tool the project needs in place, idempotently. Each step is
# guarded by a version check, so a warm machine passes through in seconds.
#   scripts/install.sh          tools to build and run the app
#   scripts/install.sh --test   also Chromium, chromedriver and the e2e packages
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '[install] %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (about 7 minutes cold)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

# Must equal the wasm-bindgen crate in Cargo.lock. `--locked` is left out on
# purpose: the CLI's own lock file does not build with this toolchain.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes cold)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# The splitter of the app's wasm into chunks that load on demand (run by
# scripts/post_build.py; Trunk cannot split).
WASM_SPLIT_VERSION=0.2.3
if ! cargo install --list | grep -qx "wasm_split_cli_support v$WASM_SPLIT_VERSION:"; then
  say "installing wasm_split_cli_support $WASM_SPLIT_VERSION (about 2 minutes cold)"
  cargo install --locked wasm_split_cli_support --version "$WASM_SPLIT_VERSION" --features build-binary
fi

# wasm-opt (binaryen 132) and playwright-core come from npm; Debian's binaryen
# produces broken wasm. `npm ci` only when the lock file changed.
if [ ! -f node_modules/.installed ] || ! cmp -s package-lock.json node_modules/.installed; then
  say "installing npm packages (binaryen, playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed
fi

if [ "$want_test" = 1 ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "installing chromium, chromium-driver and postgresql from apt"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver postgresql >/dev/null
  fi
fi

# Schemathesis (PyPI) fuzzes the API against its OpenAPI document in the e2e
# suite (tests/e2e/openapi.test.mjs); it lives in its own venv under target/.
SCHEMATHESIS_VERSION=4.32.5
if [ "$want_test" = 1 ] && [ "$(target/py/bin/st --version 2>/dev/null | awk '{print $3}')" != "$SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)"
  mkdir -p target
  python3 -m venv target/py
  target/py/bin/pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# Trunk passes --offline to cargo, so the registry must already hold every crate.
if [ ! -f target/.fetched ] || [ Cargo.lock -nt target/.fetched ]; then
  say "fetching crates"
  cargo fetch --locked
  mkdir -p target && touch target/.fetched
fi
say "tools ready"
