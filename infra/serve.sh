#!/usr/bin/env bash
# Runs Ballast on the embedded default (SQLite and files under ./data): ./infra/serve.sh [ballast serve options]
# Installs Ballast into .venv exactly as uv.lock pins it (a no-op once it is there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. infra/lib/venv.sh
sync_venv --inexact
exec .venv/bin/ballast serve "$@"
