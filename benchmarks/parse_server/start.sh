#!/usr/bin/env bash
# Start the reference ("anchor") Parse Server: parse-server 9.x + PostgreSQL 15 (+PostGIS),
# on loopback only, for the benchmarks' side-by-side runs (benchmarks/servers.py starts it when it is not up).
# Idempotent: installs / initdb's only when missing, reuses running processes.
# Env overrides: ANCHOR_DIR ($ANCHOR_HOME/parse-server)
#   PGDATA ($ANCHOR_HOME/pgdata) PGPORT (5433) PARSE_PORT (1337) PARSE_APP_ID (integration)
#   PARSE_MASTER_KEY (notsosecret) PARSE_JS_KEY (jskey) PARSE_REST_KEY (restkey)
#   PARSE_CLOUD (path to a cloud code main.js; default none) LIVEQUERY_CLASSES (TestObject,DiffObject,LiveItem)
#   ANCHOR_TESTING (1: run with TESTING=1 and expose GET /clear/:fast like the SDK test server)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="9.10.0"  # as package.json / package-lock.json pin it
ANCHOR_HOME="${ANCHOR_HOME:-$HOME/.cache/ballast-anchors}"
export ANCHOR_DIR="${ANCHOR_DIR:-$ANCHOR_HOME/parse-server}"
PGDATA="${PGDATA:-$ANCHOR_HOME/pgdata}"
PGPORT="${PGPORT:-5433}"
export PARSE_HOST=127.0.0.1
export PARSE_PORT="${PARSE_PORT:-1337}"
export PARSE_APP_ID="${PARSE_APP_ID:-integration}"
export PARSE_MASTER_KEY="${PARSE_MASTER_KEY:-notsosecret}"
export PARSE_JS_KEY="${PARSE_JS_KEY:-jskey}"
export PARSE_REST_KEY="${PARSE_REST_KEY:-restkey}"
export DATABASE_URI="postgres://postgres@127.0.0.1:${PGPORT}/parse"
RUN="$ANCHOR_DIR/run"
PGBIN=/usr/lib/postgresql/15/bin
mkdir -p "$ANCHOR_DIR" "$RUN/logs"

# 1. parse-server and its dependencies exactly as package-lock.json pins them (router is pinned to 2.2.0:
# router@2.3.0, which express 5's ^2.2.0 would pull, changed Layer#match and broke parse-server 9.10.0's /batch)
if [ ! -d "$HERE/node_modules/parse-server" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  echo "installing parse-server@$VERSION from benchmarks/parse_server/package-lock.json ..."
  (cd "$HERE" && npm ci --no-audit --no-fund >"$RUN/npm-install.log" 2>&1) \
    || { echo "npm ci failed: $RUN/npm-install.log" >&2; exit 1; }
fi

# 2. PostGIS (parse-server's Postgres adapter uses ST_* for $nearSphere / $centerSphere)
if [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
  echo "installing postgresql-15-postgis-3 ..."
  apt-get install -y postgresql-15-postgis-3 >"$RUN/apt.log" 2>&1 || { apt-get update >>"$RUN/apt.log" 2>&1; apt-get install -y postgresql-15-postgis-3 >>"$RUN/apt.log" 2>&1; }
fi

# 3. cluster (initdb refuses root: run as the 'postgres' OS user)
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  echo "initdb $PGDATA ..."
  # the postgres user must be able to reach PGDATA (HOME is often 0700 for root)
  d="$(dirname "$PGDATA")"; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  mkdir -p "$PGDATA"; chown postgres:postgres "$PGDATA"; chmod 700 "$PGDATA"
  su postgres -c "$PGBIN/initdb -D '$PGDATA' -U postgres -A trust -E UTF8 --locale=C.UTF-8" >"$RUN/initdb.log" 2>&1
fi
mkdir -p "$RUN/pgsock"; chown postgres:postgres "$RUN/pgsock" "$RUN"
if ! su postgres -c "$PGBIN/pg_ctl -D '$PGDATA' status" >/dev/null 2>&1; then
  echo "starting postgres on 127.0.0.1:$PGPORT ..."
  touch "$RUN/postgres.log"; chown postgres:postgres "$RUN/postgres.log"
  su postgres -c "$PGBIN/pg_ctl -D '$PGDATA' -l '$RUN/postgres.log' -w -t 60 -o \"-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$RUN/pgsock -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start" >/dev/null
  echo started > "$RUN/postgres.started"
fi
export PGOPTIONS="--client-min-messages=warning"
PSQL=(psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
if [ "$("${PSQL[@]}" -c "select 1 from pg_database where datname='parse'")" != "1" ]; then
  "${PSQL[@]}" -c "create database parse"
fi
"${PSQL[@]}" -d parse -c "create extension if not exists postgis" >/dev/null

# 4. parse-server
URL="http://127.0.0.1:${PARSE_PORT}/parse"
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if pid_alive "$RUN/parse-server.pid"; then
  echo "parse-server already running (pid $(cat "$RUN/parse-server.pid"))"
else
  if curl -fsS "$URL/health" >/dev/null 2>&1; then echo "port $PARSE_PORT already serves something not started by us" >&2; exit 1; fi
  [ "${ANCHOR_TESTING:-1}" = "1" ] && export TESTING=1
  rm -f "$RUN/parse-server.pid"
  # setsid -f: own session, detached; the inner shell records its pid and execs node (same pid)
  (cd "$RUN" && PIDF="$RUN/parse-server.pid" SERVER_JS="$HERE/server.js" setsid -f bash -c 'echo $$ >"$PIDF"; exec node "$SERVER_JS"' >"$RUN/parse-server.log" 2>&1 </dev/null)
  for i in $(seq 1 20); do [ -s "$RUN/parse-server.pid" ] && break; sleep 0.1; done
fi
for i in $(seq 1 120); do
  if curl -fsS "$URL/health" 2>/dev/null | grep -q '"ok"'; then
    echo "anchor parse-server healthy: $URL  (appId=$PARSE_APP_ID masterKey=$PARSE_MASTER_KEY jsKey=$PARSE_JS_KEY restKey=$PARSE_REST_KEY, LiveQuery ws://127.0.0.1:${PARSE_PORT}/parse)"
    exit 0
  fi
  pid_alive "$RUN/parse-server.pid" || { echo "parse-server exited; log:" >&2; tail -30 "$RUN/parse-server.log" >&2; exit 1; }
  sleep 0.5
done
echo "timed out waiting for $URL/health" >&2; tail -30 "$RUN/parse-server.log" >&2; exit 1
