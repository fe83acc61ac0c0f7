#!/usr/bin/env bash
# A local multi-instance Ballast (PostgreSQL, Redis, N instances, nginx in front), all on 127.0.0.1:
#   ./infra/local/multi.sh start [--instances N] [--port P]    ./infra/local/multi.sh stop
# Needs the Debian packages postgresql, redis-server and nginx, and the venv ./infra/test.sh or serve.sh makes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "no .venv: run ./infra/serve.sh --help or ./infra/test.sh once first" >&2; exit 1; }
exec "$PY" infra/local/multi.py "$@"
