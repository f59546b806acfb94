#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on a local socket for the store tests, and print its URL.
# Installs Debian's server when it is missing (as root). The server runs as the `postgres` user
# (PostgreSQL refuses root) in a fresh data directory, on 127.0.0.1:$PGPORT.
set -euo pipefail
PGPORT="${PGPORT:-54329}"
DATA="${PGDATA_DIR:-${TMPDIR:-/tmp}/fabula-ci-pg}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$DATA/postmaster.pid" ]; then run "$bin/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true; fi
rm -rf "$DATA"; mkdir -p "$DATA"
[ "$(id -u)" = 0 ] && chown postgres "$DATA"
run "$bin/initdb" -D "$DATA" -U fabula --auth=trust -E UTF8 >/dev/null
run "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
  -o "-p $PGPORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
run "$bin/createdb" -h 127.0.0.1 -p "$PGPORT" -U fabula fabula_test
echo "postgresql+psycopg://fabula@127.0.0.1:$PGPORT/fabula_test"
