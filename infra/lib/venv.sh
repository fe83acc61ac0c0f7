# Sourced by infra/serve.sh and infra/test.sh: .venv exactly as uv.lock pins it.
#   sync_venv            runtime packages only
#   sync_venv --extra test   runtime and test packages
# uv itself is pinned here and kept in .tools/, apart from the environment it manages.
UV_VERSION="0.13.9"

ensure_uv() {
  local py="${PYTHON:-python3}"
  if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    "$py" -m venv .tools
    .tools/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  fi
}

sync_venv() {
  local py="${PYTHON:-python3}"
  ensure_uv
  # --locked: a uv.lock that no longer matches pyproject.toml is an error, never a silent re-resolve
  UV_PROJECT_ENVIRONMENT=.venv .tools/bin/uv sync --locked --quiet --python "$py" "$@"
}
