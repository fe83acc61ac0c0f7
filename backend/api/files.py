"""/files: upload (streamed), download (content type, ranges, caching, or a redirect), delete (master key)."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from backend.api.responses import ParseJSON
from backend.deps import Ctx, MasterCtx, Svc
from backend.errors import ParseCode, error_for_code
from backend.services.files.service import Opened
from backend.storage.files import FILE_SECURITY_HEADERS, disposition

router = APIRouter(tags=["files"])
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@router.post("/files")
async def upload_without_name() -> None:
    raise error_for_code(int(ParseCode.INVALID_FILE_NAME), "Filename not provided.")


@router.post("/files/{filename:path}")
async def upload_file(filename: str, request: Request, ctx: Ctx, svc: Svc) -> ParseJSON:
    """The body is streamed to the adapter; it is never held whole in memory."""
    declared = request.headers.get("content-length")
    length = int(declared) if declared is not None and declared.isdigit() else None
    content_type = request.headers.get("content-type") or None
    saved = await svc.files.upload(ctx, filename, content_type, _body(request), length)
    return ParseJSON(saved, status_code=201, headers={"Location": saved["url"]})


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:  # the adapter discards what it had; nobody is left to answer
        raise error_for_code(int(ParseCode.FILE_SAVE_ERROR), "Invalid file upload.") from None


@router.head("/files/{app_id}/{name:path}", include_in_schema=False)
@router.get("/files/{app_id}/{name:path}")
async def download_file(app_id: str, name: str, request: Request, svc: Svc) -> Response:
    if app_id != svc.settings.application_id:
        return ParseJSON({"error": "Invalid application ID."}, status_code=403)
    opened = await svc.files.open(name)
    if opened is None:
        return PlainTextResponse("File not found.", status_code=404)
    if opened.redirect is not None:
        return RedirectResponse(opened.redirect, status_code=302, headers=FILE_SECURITY_HEADERS)
    headers = _headers(opened, svc.settings.files_cache_control)
    if opened.info.etag and request.headers.get("if-none-match") == opened.info.etag:
        return Response(status_code=304, headers=headers)
    size = opened.info.size
    wanted = _range(request.headers.get("range"), size)
    if wanted is None:
        headers["content-range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    start, end, partial = wanted
    headers["content-length"] = str(end - start + 1 if size else 0)
    if partial:
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        return Response(status_code=206 if partial else 200, headers=headers, media_type=opened.content_type)
    body = svc.files.read(name, start, end) if size else _empty()
    return StreamingResponse(body, status_code=206 if partial else 200, headers=headers,
                             media_type=opened.content_type)


async def _empty() -> AsyncIterator[bytes]:
    yield b""


def _headers(opened: Opened, cache_control: str) -> dict[str, str]:
    """User files come from the API's origin: never sniffed, sandboxed as a page, runnable types downloaded."""
    headers = {"accept-ranges": "bytes", "cache-control": cache_control, **FILE_SECURITY_HEADERS,
               "content-disposition": disposition(opened.content_type)}
    if opened.info.etag:
        headers["etag"] = opened.info.etag
    if opened.info.modified is not None:
        headers["last-modified"] = opened.info.modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return headers


def _range(header: str | None, size: int) -> tuple[int, int, bool] | None:
    """(start, end inclusive, partial?) for a single ``bytes=`` range; None when it cannot be satisfied."""
    whole = (0, max(size - 1, 0), False)
    match = RANGE.match(header.strip()) if header else None
    if match is None or (not match.group(1) and not match.group(2)):
        return whole  # no range, or one we do not serve (several ranges): the whole file, as RFC 9110 allows
    first, last = _offset(match.group(1)), _offset(match.group(2))
    if first is None:
        start, end = max(size - (last or 0), 0), size - 1
    else:
        start, end = first, min(last, size - 1) if last is not None else size - 1
    if start >= size or start > end:
        return None
    return start, end, True


def _offset(digits: str) -> int | None:
    """A range bound; one beyond any file is any huge number (int() refuses over 4,300 digits: a 500)."""
    if not digits:
        return None
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) < 19 else sys.maxsize


@router.delete("/files/{name:path}")
async def delete_file(name: str, ctx: MasterCtx, svc: Svc) -> Response:
    await svc.files.delete(ctx, name)
    return Response(status_code=200)  # parse-server answers an empty 200
