#!/usr/bin/env bash
# Moves uv.lock to the newest versions pyproject.toml allows, then runs the whole suite on them:
#   ./infra/update-lock.sh                     every package
#   ./infra/update-lock.sh uvicorn sqlalchemy  only these (uv lock --upgrade-package)
# Commit uv.lock only when the suite passes. Packages whose private APIs we adapt have upper bounds in
# pyproject.toml; to go past one, raise it there first: tests/test_private_api_contracts.py then names the
# module that needs adapting if the new version changed what it uses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. infra/lib/venv.sh
ensure_uv  # the pinned uv, in .tools/
if [ "$#" -eq 0 ]; then
  .tools/bin/uv lock --upgrade
else
  .tools/bin/uv lock $(printf -- '--upgrade-package %s ' "$@")
fi
git --no-pager diff --stat -- uv.lock || true
exec ./infra/test.sh
