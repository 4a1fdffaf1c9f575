# Sourced by the other scripts: the tool paths every step needs.
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
# The build's identity: the app drops query data saved by another build.
CASEFILE_BUILD="$(git describe --always --dirty 2>/dev/null || echo dev)"
export CASEFILE_BUILD
