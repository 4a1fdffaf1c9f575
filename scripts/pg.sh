#!/usr/bin/env bash
# Prints a PostgreSQL URL for the server's tests. Uses $CASEFILE_TEST_PG_URL
# when given; otherwise starts (once) a private, throwaway cluster on
# 127.0.0.1:55432 (trust auth, fsync off: test data only) and drops the
# databases earlier test runs left behind.
set -euo pipefail
if [ -n "${CASEFILE_TEST_PG_URL:-}" ]; then
  echo "$CASEFILE_TEST_PG_URL"
  exit 0
fi
PORT=55432
DIR=/tmp/casefile-test-pg
bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
BIN=$(bin_dir)
if [ -z "$BIN" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  BIN=$(bin_dir)
fi
# PostgreSQL refuses to run as root.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then
  if [ ! -f "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_owner "$BIN/initdb" -D "$DIR" -U postgres --auth=trust >/dev/null
  fi
  as_owner "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
fi
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
# Databases of earlier runs (one per test) go.
for db in $("$BIN/psql" "$URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'cf\_%'"); do
  "$BIN/psql" "$URL" -qc "DROP DATABASE \"$db\"" >/dev/null
done
echo "$URL"
