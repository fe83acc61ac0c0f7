"""Loading an app's cloud code: import every module of a folder into the process-wide registry.

Like Datasette's plugins folder: each ``*.py`` (not starting with ``_``) is
imported; its decorators register into ``backend.cloud.cloud.registry``. What
one load registered is remembered, so a reload (or a load of another folder)
first removes exactly that and keeps what other code registered directly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from backend.cloud import Registry, cloud

log = logging.getLogger("ballast.cloud")
_TABLES = ("functions", "triggers", "jobs", "rules")
_lock = threading.Lock()
_loaded: set[tuple[str, Any]] = set()  # (table, key) registered by the last load


def cloud_modules(folder: Path | None) -> list[Path]:
    """The modules a load imports, in name order."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.py") if not path.name.startswith("_"))


def load_cloud_code(folder: Path | None) -> Registry:
    """Import the folder's modules (replacing what a previous load registered); returns the registry."""
    registry = cloud.registry
    with _lock:
        for table, key in _loaded:
            getattr(registry, table).pop(key, None)
        _loaded.clear()
        before = {table: dict(getattr(registry, table)) for table in _TABLES}
        for path in cloud_modules(folder):
            _import(path)
        for table in _TABLES:
            now: dict[Any, Any] = getattr(registry, table)
            old = before[table]
            _loaded.update((table, key) for key, value in now.items() if old.get(key) is not value)
    return registry


def _import(path: Path) -> None:
    digest = hashlib.sha1(str(path.resolve().parent).encode()).hexdigest()[:8]
    name = f"ballast_cloud_{digest}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import cloud code module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    log.info("cloud code loaded from %s", path)
