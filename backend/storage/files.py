"""The files seam: where uploaded bytes live (local disk, S3), and nothing about who may upload.

An adapter stores a stream of chunks under a name the service chose, reads a
byte range back as a stream, deletes and lists. A failed or interrupted save
leaves nothing behind: adapters write to a temporary place (a ``.part`` file,
an S3 multipart upload) and publish only once the stream ended cleanly.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

CHUNK = 256 * 1024  # read size when streaming a file back out

# User files are served from the API's own origin (or the bucket's): a type a browser shows without running
# anything may be inline; any other (HTML, SVG, XML, scripts, PDF, unknown) is a download, never a page.
INLINE_PREFIXES = ("image/", "audio/", "video/")
INLINE_TYPES = frozenset({"text/plain", "application/json", "application/octet-stream"})
ACTIVE_IMAGES = frozenset({"image/svg+xml"})  # an image type that runs scripts when opened as a page
# what every user file is served with: no sniffing into a runnable type, and a page of it runs nothing
FILE_SECURITY_HEADERS = {"x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'; sandbox"}


def content_type_of(name: str) -> str:
    """The type a file is served with: from its name's extension, whatever the uploader declared."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def runs_in_browser(content_type: str | None) -> bool:
    """Whether a browser opening the file as a page could run something in it: such files are attachments."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ACTIVE_IMAGES:
        return True
    return not (kind in INLINE_TYPES or kind.startswith(INLINE_PREFIXES))


def disposition(content_type: str | None) -> str:
    return "attachment" if runs_in_browser(content_type) else "inline"


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What an adapter knows of a stored file."""

    name: str
    size: int
    etag: str | None = None
    modified: datetime | None = None


class FilesAdapter(Protocol):
    async def save(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None) -> int:
        """Store the stream under ``name``; return its size. On any error nothing is left behind."""

    async def stat(self, name: str) -> FileInfo | None:
        """The stored file, or None when there is none."""

    def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of a stored file, in chunks."""

    async def delete(self, name: str) -> bool:
        """Remove a file; False when there was none."""

    def names(self) -> AsyncIterator[str]:
        """Every stored file name."""

    def direct_url(self, name: str) -> str | None:
        """A URL clients may fetch the file from without Ballast (presigned / public), or None."""

    async def close(self) -> None:
        """Release clients and pools."""

    async def ping(self) -> None:
        """Raise when the store cannot be reached (readiness): nothing is written."""
