"""FileService: Parse's file rules around a FilesAdapter (who may upload, names, sizes, URLs, triggers).

Every refusal happens before a byte is stored: who is calling (Parse's
``fileUpload`` options), the name, the extension and the declared size. The
size is enforced again while the body streams in, so a client lying about its
length is cut off and its partial upload discarded by the adapter.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from backend.config import SAFE_FILE_EXTENSIONS
from backend.context import PrincipalKind, RequestContext
from backend.errors import ParseCode, ParseError, Unauthorized, error_for_code
from backend.storage.files import FileInfo, FilesAdapter, content_type_of

UserLookup = Callable[[str], Awaitable[dict[str, Any] | None]]  # user id -> the _User object (as master)
NAME = re.compile(r"^[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*$")  # parse-server's FilesAdapter.validateFilename
MAX_NAME = 128


def file_error(code: ParseCode, message: str) -> ParseError:
    return error_for_code(int(code), message)


@dataclass(frozen=True)
class UploadRules:
    """Parse's ``fileUpload`` options and ``maxUploadSize``."""

    enable_for_public: bool = False
    enable_for_anonymous_user: bool = False
    enable_for_authenticated_user: bool = True
    extensions: tuple[str, ...] = (SAFE_FILE_EXTENSIONS,)
    max_size: int = 20 * 1024 * 1024


@dataclass
class FileEvent:
    """What a file trigger sees; ``before_save_file`` may rename the file."""

    ctx: RequestContext
    name: str
    content_type: str | None = None
    size: int | None = None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FileHooks(Protocol):
    def handles(self, kind: str, class_name: str) -> bool: ...

    async def run_file_trigger(self, kind: str, event: FileEvent) -> None: ...


class NoFileHooks:
    def handles(self, kind: str, class_name: str) -> bool:
        return False

    async def run_file_trigger(self, kind: str, event: FileEvent) -> None:
        return None


@dataclass(frozen=True)
class Opened:
    """A stored file, ready to stream (or to redirect to when ``redirect`` is set)."""

    info: FileInfo
    content_type: str
    redirect: str | None = None


class FileService:
    def __init__(self, adapter: FilesAdapter, rules: UploadRules, url_base: str,
                 base_url: str | None = None) -> None:
        self.adapter = adapter
        self.rules = rules
        self.url_base = url_base  # {serverURL}/files/{appId}/
        self.base_url = base_url
        self.hooks: FileHooks = NoFileHooks()
        self.users: UserLookup | None = None  # set by the wiring; tells anonymous users from the others

    # --- names and URLs --------------------------------------------------------------

    def url(self, name: str) -> str:
        """The URL objects carry for a file: a CDN / presigned URL when configured, else Ballast's own."""
        if self.base_url:
            return f"{self.base_url.rstrip('/')}/{quote(name)}"
        return self.adapter.direct_url(name) or self.url_base + quote(name)

    @staticmethod
    def check_name(name: str) -> None:
        if len(name) > MAX_NAME:
            raise file_error(ParseCode.INVALID_FILE_NAME, "Filename too long.")
        if not NAME.match(name):
            raise file_error(ParseCode.INVALID_FILE_NAME, "Filename contains invalid characters.")

    # --- upload ----------------------------------------------------------------------

    async def check_upload(self, ctx: RequestContext, filename: str, content_type: str | None,
                           declared: int | None) -> None:
        """Every refusal Parse makes before reading the body."""
        await self._check_caller(ctx)
        self.check_name(filename)
        if not ctx.principal.is_master:
            self._check_extension(filename, content_type)
        if declared is not None and declared > self.rules.max_size:
            raise self._too_large()
        if declared == 0:
            raise file_error(ParseCode.FILE_SAVE_ERROR, "Invalid file upload.")

    async def _check_caller(self, ctx: RequestContext) -> None:
        principal = ctx.principal
        if principal.kind == PrincipalKind.READ_ONLY_MASTER:
            raise Unauthorized("read-only masterKey isn't allowed to create a file.")  # parse-server's 403
        if principal.is_master:
            return
        if principal.user_id is None:
            if not self.rules.enable_for_public:
                raise file_error(ParseCode.FILE_SAVE_ERROR, "File upload by public is disabled.")
        elif await self._is_anonymous(principal.user_id):
            if not self.rules.enable_for_anonymous_user:
                raise file_error(ParseCode.FILE_SAVE_ERROR, "File upload by anonymous user is disabled.")
        elif not self.rules.enable_for_authenticated_user:
            raise file_error(ParseCode.FILE_SAVE_ERROR, "File upload by authenticated user is disabled.")

    async def _is_anonymous(self, user_id: str) -> bool:
        """A user signed up through authData.anonymous (Parse.AnonymousUtils) and not linked to anything else."""
        user = await self.users(user_id) if self.users is not None else None
        auth_data = (user or {}).get("authData")
        return isinstance(auth_data, dict) and "anonymous" in auth_data

    def _check_extension(self, filename: str, content_type: str | None) -> None:
        extension = content_type
        if "." in filename:
            extension = filename.rsplit(".", 1)[1]
        elif content_type and "/" in content_type:
            extension = content_type.split("/", 1)[1]
        extension = re.sub(r"\s+", "", (extension or "").split(";")[0])
        if extension and not any(rule == "*" or re.search(rule, extension) for rule in self.rules.extensions):
            raise file_error(ParseCode.FILE_SAVE_ERROR, f"File upload of extension {extension} is disabled.")

    def _too_large(self) -> ParseError:
        return file_error(ParseCode.FILE_SAVE_ERROR, f"File size exceeds maximum allowed: {self.rules.max_size} bytes.")

    async def upload(self, ctx: RequestContext, filename: str, content_type: str | None,
                     chunks: AsyncIterator[bytes], declared: int | None) -> dict[str, str]:
        """Store an upload under Parse's name (random hex prefix + name); answers ``{name, url}``."""
        await self.check_upload(ctx, filename, content_type, declared)
        stored_name, content_type = _stored_name(filename, content_type)
        self._check_extension(stored_name, None)  # the extension a declared type added (``x`` + svg+xml: x.svg)
        event = FileEvent(ctx, stored_name, content_type, declared)
        if self.hooks.handles("beforeSaveFile", "@File"):
            await self.hooks.run_file_trigger("beforeSaveFile", event)
            self.check_name(event.name)
        # stored with the type it is served with (from its name), not the uploader's word
        size = await self.adapter.save(event.name, self._limited(chunks, declared), content_type_of(event.name))
        event.size, event.url = size, self.url(event.name)
        if self.hooks.handles("afterSaveFile", "@File"):
            await self.hooks.run_file_trigger("afterSaveFile", event)
        return {"name": event.name, "url": event.url}

    async def _limited(self, chunks: AsyncIterator[bytes], declared: int | None) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > self.rules.max_size:
                raise self._too_large()
            yield chunk
        if received == 0 or (declared is not None and received != declared):
            raise file_error(ParseCode.FILE_SAVE_ERROR, "Invalid file upload.")

    # --- download and delete -----------------------------------------------------------

    async def open(self, name: str) -> Opened | None:
        """A stored file by name; None when there is none (or the name could never exist)."""
        try:
            self.check_name(name)
        except ParseError:
            return None
        info = await self.adapter.stat(name)
        if info is None:
            return None
        return Opened(info, content_type_of(name), self.adapter.direct_url(name))

    def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        return self.adapter.read(name, start, end)

    async def delete(self, ctx: RequestContext, name: str) -> None:
        """Delete a file (master key only; the route checks it)."""
        if ctx.principal.is_read_only:
            raise Unauthorized("read-only masterKey isn't allowed to delete a file.")
        try:
            self.check_name(name)
        except ParseError as error:
            raise file_error(ParseCode.FILE_DELETE_ERROR, "Could not delete file.") from error
        event = FileEvent(ctx, name, content_type_of(name), None, self.url(name))
        if self.hooks.handles("beforeDeleteFile", "@File"):
            await self.hooks.run_file_trigger("beforeDeleteFile", event)
        if not await self.adapter.delete(name):
            raise file_error(ParseCode.FILE_DELETE_ERROR, "Could not delete file.")
        if self.hooks.handles("afterDeleteFile", "@File"):
            await self.hooks.run_file_trigger("afterDeleteFile", event)

    async def close(self) -> None:
        await self.adapter.close()


def _stored_name(filename: str, content_type: str | None) -> tuple[str, str | None]:
    """Parse's FilesController.createFile: add an extension from the type, or a type from the extension."""
    has_extension = "." in filename.lstrip(".")
    if not has_extension and content_type:
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip(), strict=False)
        if extension:
            filename += extension
    elif has_extension and not content_type:
        content_type = content_type_of(filename)
    return f"{secrets.token_hex(16)}_{filename}", content_type
