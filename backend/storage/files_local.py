"""Files on local disk (the embedded default): one folder, one file per name.

A save streams into ``.<name>.<random>.part`` beside the target and is renamed
into place only when the stream ended cleanly, so an interrupted or refused
upload never leaves a partial file under a real name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from backend.storage.files import CHUNK, FileInfo

FLUSH_AT = 1024 * 1024  # write in ~1 MiB batches, off the event loop


class LocalFiles:
    """A FilesAdapter over a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        # the service validates names; this refuses anything that would leave the folder anyway
        path = (self.root / name).resolve()
        if path.parent != self.root or name.startswith("."):
            raise ValueError(f"file name {name!r} escapes the files folder")
        return path

    async def save(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None) -> int:
        target = self._path(name)
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        part = self.root / f".{name}.{secrets.token_hex(4)}.part"
        size = 0
        try:
            with part.open("wb") as out:
                pending: list[bytes] = []
                buffered = 0
                async for chunk in chunks:
                    pending.append(chunk)
                    buffered += len(chunk)
                    size += len(chunk)
                    if buffered >= FLUSH_AT:
                        await asyncio.to_thread(out.writelines, pending)
                        pending, buffered = [], 0
                await asyncio.to_thread(out.writelines, pending)
            await asyncio.to_thread(os.replace, part, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            raise
        return size

    async def stat(self, name: str) -> FileInfo | None:
        try:
            st = await asyncio.to_thread(self._path(name).stat)
        except (FileNotFoundError, ValueError):
            return None
        etag = hashlib.sha1(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
        return FileInfo(name, st.st_size, f'"{etag}"', datetime.fromtimestamp(st.st_mtime, UTC))

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(name).open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start + 1
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def delete(self, name: str) -> bool:
        try:
            await asyncio.to_thread(self._path(name).unlink)
        except (FileNotFoundError, ValueError):
            return False
        return True

    async def names(self) -> AsyncIterator[str]:
        if not self.root.is_dir():
            return
        for entry in sorted(await asyncio.to_thread(os.listdir, self.root)):
            if not entry.startswith(".") and (self.root / entry).is_file():
                yield entry

    def direct_url(self, name: str) -> str | None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        """The folder (or the nearest existing parent, where the first save creates it) must be writable."""
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"files folder not writable: {folder}")
