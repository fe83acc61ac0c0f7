"""Safe files by default (both engines, local disk and moto's S3): active content is refused as Parse 9 does
(code 130); what is served can never run as a page of the API's origin (nosniff, CSP sandbox, attachment)."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID
from tests.files.conftest import MotoS3, s3_settings

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"file_upload_enable_for_public": True, "jobs_enabled": False,
                                                 **changes}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
            yield http


def files_on_disk(settings: Settings) -> list[str]:
    folder = settings.data_dir / "files"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(("name", "content_type", "extension"), [
    ("x.svg", "image/svg+xml", "svg"), ("x.SVG", None, "SVG"), ("x.svgz", None, "svgz"),
    ("x.xml", "application/xml", "xml"), ("x.html", "text/html", "html"), ("x.xhtml", None, "xhtml"),
    ("x.htm", None, "htm"), ("x.shtml", None, "shtml"), ("x.js", None, "js"), ("x.mjs", None, "mjs"),
    ("x.xsl", None, "xsl"), ("noext", "image/svg+xml", "svg+xml"), ("noext", "text/html; charset=utf-8", "html"),
    ("noext", "application/xhtml+xml", "xhtml+xml"), ("noext", "text/javascript", "javascript"),
])
async def test_active_content_is_refused_by_default(settings: Settings, headers: dict[str, str], name: str,
                                                    content_type: str | None, extension: str) -> None:
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    async with serving(settings) as http:
        answer = await http.post(f"/files/{name}", content=SVG, headers=sent)
        assert (answer.status_code, answer.json()) == (
            400, {"code": 130, "error": f"File upload of extension {extension} is disabled."})
        assert files_on_disk(settings) == []
        fine = await http.post("/files/photo.png", content=b"\x89PNG", headers=headers)  # others still served
        assert fine.status_code == 201 and len(files_on_disk(settings)) == 1


async def test_a_type_that_adds_an_active_extension_is_refused_too(settings: Settings,
                                                                   headers: dict[str, str]) -> None:
    """A nameless upload is checked by its declared subtype and again by the extension that type gives it."""
    async with serving(settings, file_extensions=["^(?!(?i:svg|js|html?|xml)$)"]) as http:
        answer = await http.post("/files/noext", content=SVG, headers={**headers, "Content-Type": "image/svg+xml"})
        assert answer.json()["code"] == 130  # subtype svg+xml passes this pattern; the name .svg does not
        assert files_on_disk(settings) == []


async def test_served_files_never_run_as_pages_of_the_api_origin(settings: Settings,
                                                                 headers: dict[str, str]) -> None:
    async with serving(settings, file_extensions=["*"]) as http:  # an app that allows everything again
        svg = (await http.post("/files/x.svg", content=SVG, headers=headers)).json()
        png = (await http.post("/files/x.png", content=b"\x89PNG", headers=headers)).json()
        lied = (await http.post("/files/x.txt", content=b"<script>1</script>",
                                headers={**headers, "Content-Type": "text/html"})).json()
        for saved, kind, disposition in ((svg, "image/svg+xml", "attachment"), (png, "image/png", "inline"),
                                         (lied, "text/plain", "inline")):
            got = await http.get(f"/files/{APP_ID}/{saved['name']}")
            assert got.status_code == 200
            assert got.headers["content-type"].split(";")[0] == kind
            assert got.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in got.headers["content-security-policy"]
            assert "default-src 'none'" in got.headers["content-security-policy"]
            assert got.headers["content-disposition"] == disposition
        head = await http.head(f"/files/{APP_ID}/{svg['name']}")
        assert head.headers["content-disposition"] == "attachment"


async def test_s3_stores_and_presigns_the_same_protections(settings: Settings, headers: dict[str, str],
                                                           moto_s3: MotoS3) -> None:
    configured = s3_settings(settings, moto_s3, s3_presigned_urls=True)
    async with serving(configured, file_extensions=["*"]) as http:
        svg = (await http.post("/files/x.svg", content=SVG, headers=headers)).json()
        html = {**headers, "Content-Type": "text/html"}
        lied = (await http.post("/files/y.txt", content=b"<b>", headers=html)).json()
        redirect = await http.get(f"/files/{APP_ID}/{svg['name']}")
        assert redirect.status_code == 302 and redirect.headers["x-content-type-options"] == "nosniff"
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect.headers["location"]).query)
        assert query["response-content-disposition"] == ["attachment"]
    s3 = moto_s3.client()
    stored = s3.head_object(Bucket=configured.s3_bucket, Key="files/" + svg["name"])
    assert (stored["ContentType"], stored["ContentDisposition"]) == ("image/svg+xml", "attachment")
    stored = s3.head_object(Bucket=configured.s3_bucket, Key="files/" + lied["name"])
    assert (stored["ContentType"], stored["ContentDisposition"]) == ("text/plain", "inline")


async def test_s3_refuses_active_content_by_default_and_stores_nothing(settings: Settings, headers: dict[str, str],
                                                                       moto_s3: MotoS3) -> None:
    configured = s3_settings(settings, moto_s3)
    async with serving(configured) as http:
        answer = await http.post("/files/x.svg", content=SVG, headers=headers)
        assert answer.json()["code"] == 130
    assert configured.s3_bucket is not None  # s3_settings made a fresh bucket
    assert moto_s3.keys(configured.s3_bucket) == []
