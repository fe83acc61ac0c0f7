#!/usr/bin/env bash
# Sets up everything the test suite needs, then runs it: ./infra/test.sh [pytest args]
#  - a virtualenv in .venv with Ballast and its test extras, exactly as uv.lock pins them
#  - PostgreSQL server binaries, redis-server and nginx (Debian packages) when missing
#  - node/npm, the pinned Parse JS SDK (tests/sdk/package-lock.json) and MCP TypeScript SDK (tests/mcp_ts)
#  - Debian's chromium, which the console's Playwright tests drive
# A dependency that cannot be installed stops the run with an error; nothing is skipped for want of it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing $*; install it (Debian: sudo apt-get install $*) and run again" >&2; exit 1
  fi
  say "installing $* (apt)"
  apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
}

if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
command -v redis-server >/dev/null || apt_install redis-server
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
# the console's browser tests drive Debian's chromium through Playwright (never `playwright install`)
[ -x /usr/bin/chromium ] || apt_install chromium

say "installing Python packages (uv.lock)"
. infra/lib/venv.sh
sync_venv --extra test

if [ ! -d tests/sdk/node_modules/parse ] || [ tests/sdk/package-lock.json -nt tests/sdk/node_modules/.package-lock.json ]; then
  say "installing the Parse JS SDK (npm ci)"
  (cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -d tests/mcp_ts/node_modules/@modelcontextprotocol/sdk ] || [ tests/mcp_ts/package-lock.json -nt tests/mcp_ts/node_modules/.package-lock.json ]; then
  say "installing the MCP TypeScript SDK (npm ci)"
  (cd tests/mcp_ts && npm ci --no-audit --no-fund --loglevel=error)
fi

say "running tests"
exec .venv/bin/python -m pytest -n "${BALLAST_TEST_WORKERS:-auto}" "$@"
