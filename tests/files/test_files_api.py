"""/files over HTTP (ASGI client, both engines): names, URLs, downloads, and every refusal Parse makes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.config import Settings
from tests.conftest import APP_ID

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
NAME = re.compile(r"^[0-9a-f]{32}_hello\.txt$")


@pytest.fixture
def make_client(settings: Settings) -> Client:
    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings.model_copy(update=overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/parse") as http:
                yield http

    return make


def stored(settings: Settings) -> list[str]:
    folder = settings.data_dir / "files"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def local_path(url: str) -> str:
    return url.split("/parse", 1)[1]


async def test_upload_names_the_file_as_parse_and_serves_it(
    client: httpx.AsyncClient, master_headers: dict[str, str], settings: Settings
) -> None:
    answer = await client.post("/files/hello.txt", content=b"hello world",
                               headers={**master_headers, "Content-Type": "text/plain"})
    assert answer.status_code == 201
    body = answer.json()
    assert NAME.match(body["name"])
    assert body["url"] == f"{settings.public_url}/files/{APP_ID}/{body['name']}"
    assert answer.headers["location"] == body["url"]
    got = await client.get(local_path(body["url"]))
    assert got.status_code == 200 and got.content == b"hello world"
    assert got.headers["content-type"].startswith("text/plain")
    assert got.headers["accept-ranges"] == "bytes"
    assert "max-age" in got.headers["cache-control"]
    assert got.headers["x-content-type-options"] == "nosniff"
    head = await client.head(local_path(body["url"]))
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "11"


async def test_an_extension_is_added_from_the_content_type(client: httpx.AsyncClient,
                                                         master_headers: dict[str, str]) -> None:
    answer = await client.post("/files/picture", content=b"\x89PNG", headers={**master_headers,
                                                                              "Content-Type": "image/png"})
    assert answer.json()["name"].endswith("_picture.png")


async def test_ranges_and_conditional_requests(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    saved = await client.post("/files/digits.txt", content=b"0123456789", headers=master_headers)
    url = local_path(saved.json()["url"])
    part = await client.get(url, headers={"Range": "bytes=2-5"})
    assert part.status_code == 206 and part.content == b"2345"
    assert part.headers["content-range"] == "bytes 2-5/10"
    tail = await client.get(url, headers={"Range": "bytes=-3"})
    assert tail.content == b"789"
    beyond = await client.get(url, headers={"Range": "bytes=50-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == "bytes */10"
    etag = part.headers["etag"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
    huge = "9" * 5000  # beyond what int() reads from text: a bound past any file, never a 500
    assert (await client.get(url, headers={"Range": f"bytes={huge}-"})).status_code == 416
    assert (await client.get(url, headers={"Range": f"bytes=-{huge}"})).content == b"0123456789"
    to_end = await client.get(url, headers={"Range": f"bytes=7-{huge}"})
    assert to_end.status_code == 206 and to_end.content == b"789"
    padded = await client.get(url, headers={"Range": f"bytes={'0' * 5000}3-{'0' * 5000}4"})
    assert padded.status_code == 206 and padded.content == b"34"


async def test_missing_files_and_other_apps(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"/files/{APP_ID}/0123_nothing.txt")
    assert missing.status_code == 404 and missing.text == "File not found."
    other = await client.get("/files/another-app/0123_nothing.txt")
    assert other.status_code == 403 and other.json() == {"error": "Invalid application ID."}


async def test_delete_needs_the_master_key(client: httpx.AsyncClient, headers: dict[str, str],
                                           master_headers: dict[str, str], settings: Settings) -> None:
    name = (await client.post("/files/hello.txt", content=b"x", headers=master_headers)).json()["name"]
    refused = await client.delete(f"/files/{name}", headers=headers)
    assert refused.status_code == 403 and refused.json() == {"error": "unauthorized: master key is required"}
    assert stored(settings) == [name]
    deleted = await client.delete(f"/files/{name}", headers=master_headers)
    assert deleted.status_code == 200 and deleted.content == b""
    assert stored(settings) == []
    again = await client.delete(f"/files/{name}", headers=master_headers)
    assert again.json() == {"code": 153, "error": "Could not delete file."}


async def test_who_may_upload_follows_file_upload_settings(make_client: Client, headers: dict[str, str],
                                                          settings: Settings) -> None:
    async with make_client() as http:
        refused = await http.post("/files/hello.txt", content=b"x", headers=headers)
        assert refused.json() == {"code": 130, "error": "File upload by public is disabled."}
    async with make_client(file_upload_enable_for_public=True) as http:
        assert (await http.post("/files/hello.txt", content=b"x", headers=headers)).status_code == 201
    assert len(stored(settings)) == 1


@pytest.mark.parametrize(("name", "content_type", "extension"), [
    ("page.html", "text/html", "html"), ("page.XHTML", None, "XHTML"), ("noext", "text/html", "html"),
])
async def test_forbidden_extensions_are_refused(make_client: Client, headers: dict[str, str], settings: Settings,
                                                name: str, content_type: str | None, extension: str) -> None:
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    async with make_client(file_upload_enable_for_public=True) as http:
        answer = await http.post(f"/files/{name}", content=b"<script>", headers=sent)
    assert answer.status_code == 400
    assert answer.json() == {"code": 130, "error": f"File upload of extension {extension} is disabled."}
    assert stored(settings) == []


async def test_allowed_extensions_are_configurable(make_client: Client, headers: dict[str, str]) -> None:
    async with make_client(file_upload_enable_for_public=True, file_extensions=["^(jpg|png)$"]) as http:
        assert (await http.post("/files/a.png", content=b"x", headers=headers)).status_code == 201
        assert (await http.post("/files/a.txt", content=b"x", headers=headers)).json()["code"] == 130


@pytest.mark.parametrize("name", [
    "..%2F..%2Fetc%2Fpasswd", "..%5C..%5Cwindows", "a%2Fb.txt", "%2E%2E", ".hidden", "x" * 129, "sp%00ce.txt",
])
async def test_unsafe_names_are_refused_with_invalid_file_name(
    client: httpx.AsyncClient, master_headers: dict[str, str], settings: Settings, name: str
) -> None:
    answer = await client.post(f"/files/{name}", content=b"root:x:0:0", headers=master_headers)
    assert answer.status_code == 400
    assert answer.json()["code"] == 122
    assert stored(settings) == []
    assert not (settings.data_dir.parent / "etc").exists()


async def test_a_name_is_required(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    answer = await client.post("/files", content=b"x", headers=master_headers)
    assert answer.json() == {"code": 122, "error": "Filename not provided."}


async def test_oversize_uploads_are_refused_before_and_while_streaming(
    make_client: Client, master_headers: dict[str, str], settings: Settings
) -> None:
    async def body(size: int) -> AsyncIterator[bytes]:
        for _ in range(size // 1024):
            yield b"x" * 1024

    expected = {"code": 130, "error": "File size exceeds maximum allowed: 10240 bytes."}
    async with make_client(max_upload_size=10 * 1024) as http:
        declared = await http.post("/files/big.bin", content=b"x" * 20_000, headers=master_headers)
        assert declared.json() == expected
        streamed = await http.post("/files/big.bin", content=body(64 * 1024), headers=master_headers)
        assert streamed.json() == expected  # chunked: no Content-Length, cut off at the limit
        assert (await http.post("/files/small.bin", content=b"x" * 10240, headers=master_headers)).status_code == 201
    assert len(stored(settings)) == 1


async def test_an_empty_upload_is_refused(client: httpx.AsyncClient, master_headers: dict[str, str]) -> None:
    answer = await client.post("/files/empty.txt", content=b"", headers=master_headers)
    assert answer.json() == {"code": 130, "error": "Invalid file upload."}


async def test_the_sdk_json_form_is_understood(client: httpx.AsyncClient) -> None:
    payload = {"base64": "aGVsbG8=", "_ContentType": "text/plain", "fileData": {"metadata": {}, "tags": {}},
               "_ApplicationId": APP_ID, "_MasterKey": "test-master-key", "_ClientVersion": "js8.6.2"}
    answer = await client.post("/files/hello.txt", json=payload, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 201
    got = await client.get(local_path(answer.json()["url"]))
    assert got.content == b"hello" and got.headers["content-type"].startswith("text/plain")


async def test_file_triggers_rename_veto_and_observe(client: httpx.AsyncClient, master_headers: dict[str, str],
                                                    settings: Settings) -> None:
    vetoed = await client.post("/files/forbidden.txt", content=b"x", headers=master_headers)
    assert vetoed.json() == {"code": 130, "error": "no forbidden files"}
    assert stored(settings) == []
    renamed = (await client.post("/files/rename-me.txt", content=b"x", headers=master_headers)).json()
    assert renamed["name"].endswith("_renamed-me.txt") and stored(settings) == [renamed["name"]]
    logged = (await client.post("/files/logged.txt", content=b"abc", headers=master_headers)).json()
    await client.delete(f"/files/{logged['name']}", headers=master_headers)
    found = (await client.get("/classes/CloudFileLog", headers=master_headers)).json()["results"]
    assert [(row["name"], row.get("size"), row.get("deleted")) for row in found] == [
        (logged["name"], 3, None), (logged["name"], None, True)]


async def test_objects_carry_file_urls_from_the_files_service(make_client: Client,
                                                             master_headers: dict[str, str]) -> None:
    async with make_client(files_base_url="https://cdn.example.com/assets") as http:
        name = (await http.post("/files/hello.txt", content=b"x", headers=master_headers)).json()["name"]
        ref = {"__type": "File", "name": name}
        created = (await http.post("/classes/Doc", json={"file": ref}, headers=master_headers)).json()
        doc = (await http.get(f"/classes/Doc/{created['objectId']}", headers=master_headers)).json()
    assert doc["file"] == {"__type": "File", "name": name, "url": f"https://cdn.example.com/assets/{name}"}


def test_files_live_under_the_data_dir_by_default(settings: Settings) -> None:
    from backend.services.files.config import build_files_adapter
    from backend.storage.files_local import LocalFiles

    adapter = build_files_adapter(settings)
    assert isinstance(adapter, LocalFiles) and adapter.root == (settings.data_dir / "files").resolve()
    assert Path(adapter.root).parent == settings.data_dir.resolve()


async def test_anonymous_and_authenticated_users_follow_their_own_rules(make_client: Client,
                                                                       headers: dict[str, str]) -> None:
    async def session(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, str]:
        answer = await http.post("/users", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        return {**headers, "X-Parse-Session-Token": answer.json()["sessionToken"]}

    anonymous_body = {"authData": {"anonymous": {"id": "9a1f6c2e-0000-4000-8000-000000000001"}}}
    async with make_client() as http:
        anonymous = await session(http, anonymous_body)
        refused = await http.post("/files/a.txt", content=b"x", headers=anonymous)
        assert refused.json() == {"code": 130, "error": "File upload by anonymous user is disabled."}
        member = await session(http, {"username": "ann", "password": "pw-123456"})
        assert (await http.post("/files/a.txt", content=b"x", headers=member)).status_code == 201
    async with make_client(file_upload_enable_for_anonymous_user=True,
                           file_upload_enable_for_authenticated_user=False) as http:
        anonymous = await session(http, {"authData": {"anonymous": {"id": "9a1f6c2e-0000-4000-8000-000000000002"}}})
        assert (await http.post("/files/a.txt", content=b"x", headers=anonymous)).status_code == 201
        member = await session(http, {"username": "bob", "password": "pw-123456"})
        refused = await http.post("/files/a.txt", content=b"x", headers=member)
        assert refused.json() == {"code": 130, "error": "File upload by authenticated user is disabled."}


async def test_the_json_form_with_bad_base64_stores_nothing(client: httpx.AsyncClient, settings: Settings) -> None:
    payload = {"base64": "not base64!!", "_ApplicationId": APP_ID, "_MasterKey": "test-master-key"}
    answer = await client.post("/files/hello.txt", json=payload, headers={"Content-Type": "text/plain"})
    assert answer.json() == {"code": 130, "error": "Invalid file upload."}
    assert stored(settings) == []


async def test_the_read_only_master_key_may_not_write_files(make_client: Client, settings: Settings) -> None:
    read_only = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": "read-only-key"}
    async with make_client(read_only_master_key="read-only-key") as http:
        created = await http.post("/files/a.txt", content=b"x", headers=read_only)
        assert created.status_code == 403
        assert created.json() == {"error": "read-only masterKey isn't allowed to create a file."}
        deleted = await http.delete("/files/abc_a.txt", headers=read_only)
        assert deleted.status_code == 403
        assert deleted.json() == {"error": "read-only masterKey isn't allowed to delete a file."}
    assert stored(settings) == []
