#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the tests, on a loopback port, in a temp directory.
#   scripts/postgres.sh start   -> prints the admin URL (HASHBANK_TEST_DATABASE_URL)
#   scripts/postgres.sh stop DIR     -> stops the cluster and deletes it
#   scripts/postgres.sh halt DIR     -> stops it, keeping its data (fault tests)
#   scripts/postgres.sh resume DIR   -> starts a halted cluster again on the same port
# Installs Debian's PostgreSQL server first when it is missing.
set -euo pipefail

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_server() {
  if [ -z "$(find_bin)" ]; then
    echo "installing Debian's PostgreSQL server..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

case "${1:-start}" in
  start)
    install_server
    BIN=$(find_bin)
    DIR=$(mktemp -d /tmp/hashbank-pg.XXXXXX)
    PORT=${PGPORT_TEST:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
    RUN=()
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
      chown postgres "$DIR"
      RUN=(runuser -u postgres --)
    fi
    "${RUN[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1
    echo "$PORT" > "$DIR/port"
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=300" start >&2
    [ -n "${PG_DIR_FILE:-}" ] && echo "$DIR" > "$PG_DIR_FILE"
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
    echo "PG_DIR=$DIR" >&2
    ;;
  stop)
    DIR=${2:?usage: postgres.sh stop DIR}
    BIN=$(find_bin)
    RUN=()
    [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
    rm -rf "$DIR"
    ;;
  halt|resume)
    DIR=${2:?usage: postgres.sh halt|resume DIR}
    BIN=$(find_bin)
    RUN=()
    [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
    if [ "$1" = halt ]; then
      "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2
    else
      PORT=$(cat "$DIR/port")
      "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=300" start >&2
    fi
    ;;
  *) echo "usage: $0 start|stop DIR|halt DIR|resume DIR" >&2; exit 2 ;;
esac
