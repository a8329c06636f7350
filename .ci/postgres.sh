# Sourced by .ci/run: make sure a PostgreSQL server runs on loopback and export its URL for the
# tests that run against PostgreSQL (FUNDGUARD_TEST_PG_URL). Installs the Debian package if needed.
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PG_DIR="${TMPDIR:-/tmp}/fundguard-ci-pg"
PG_PORT="${FUNDGUARD_PG_PORT:-54329}"
if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
  rm -rf "$PG_DIR" && mkdir -p "$PG_DIR"
  if [ "$(id -u)" = "0" ]; then
    chown postgres "$PG_DIR"
    RUN="runuser -u postgres --"
  else
    RUN=""
  fi
  $RUN "$PG_BIN/initdb" -D "$PG_DIR/data" -U fundguard --auth=trust -E UTF8 >/dev/null
  $RUN "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" -l "$PG_DIR/log" -w start >/dev/null
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U fundguard fundguard_test
fi
export FUNDGUARD_TEST_PG_URL="postgresql+psycopg://fundguard@127.0.0.1:$PG_PORT/fundguard_test"
echo "PostgreSQL ready: $FUNDGUARD_TEST_PG_URL"
