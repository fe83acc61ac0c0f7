"""Embedded mode: the data folder and a master key generated on first start (kept 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from backend.config import Settings

KEY_FILE = "master.key"


def prepare(settings: Settings) -> tuple[Settings, bool]:
    """Settings with a master key; True when the key was generated just now."""
    if settings.master_key:
        return settings, False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = Path(settings.data_dir) / KEY_FILE
    generated = not path.exists()
    if generated:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    key = path.read_text().strip()
    return settings.model_copy(update={"master_key": key}), generated
