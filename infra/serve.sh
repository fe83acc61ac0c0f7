#!/usr/bin/env bash
# Runs Ballast on the embedded default (SQLite and files under ./data): ./infra/serve.sh [ballast serve options]
# Creates .venv and installs Ballast into it on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/ballast ]; then
  "${PYTHON:-python3}" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
exec .venv/bin/ballast serve "$@"
