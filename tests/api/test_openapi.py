"""/openapi.json follows the live schema; /docs serves Swagger UI on it."""

from __future__ import annotations

import re

import httpx
import schemathesis


async def test_document_lists_live_classes_for_the_master_key(client: httpx.AsyncClient, headers: dict[str, str],
                                                               master_headers: dict[str, str]) -> None:
    body = {"n": 1, "owner": {"__type": "Pointer", "className": "Player", "objectId": "abcdefghij"}}
    await client.post("/classes/Match", json=body, headers=headers)
    document = (await client.get("/openapi.json", headers=master_headers)).json()
    match = document["components"]["schemas"]["Match"]
    assert match["properties"]["n"] == {"type": "number"}
    assert match["properties"]["owner"] == {"$ref": "#/components/schemas/Pointer"}
    assert {"/classes/Match", "/classes/Match/{objectId}", "/batch", "/schemas/{className}",
            "/aggregate/{className}", "/config", "/installations"} <= set(document["paths"])
    schemathesis.openapi.from_dict(document)  # a document schemathesis accepts

    await client.put("/schemas/Match", json={"fields": {"label": {"type": "String"}}}, headers=master_headers)
    again = (await client.get("/openapi.json", headers=master_headers)).json()
    assert again["components"]["schemas"]["Match"]["properties"]["label"] == {"type": "string"}


async def test_without_the_master_key_no_class_is_named(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    await client.post("/classes/Secretive", json={"n": 1}, headers=headers)
    document = (await client.get("/openapi.json", headers=headers)).json()
    assert "Secretive" not in document["components"]["schemas"]
    assert not any("Secretive" in path for path in document["paths"])
    assert "/classes/{className}" in document["paths"]


async def test_docs_page_loads_the_live_document(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "url: 'openapi.json'" in (await client.get("/docs/keys.js")).text


async def test_docs_page_works_offline_from_same_origin_files_only(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "connect-src 'self'" in policy
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(referenced) == ["docs/keys.js", "docs/swagger-ui-bundle.js", "docs/swagger-ui.css"]
    for url in referenced:  # relative to /parse/docs: served by Ballast, from the pinned package
        asset = await client.get(f"/{url}")
        assert asset.status_code == 200 and len(asset.content) > 40, url
    assert "SwaggerUIBundle" in (await client.get("/docs/swagger-ui-bundle.js")).text
    assert "<script" not in page.text.replace('<script src="docs/', "")  # no inline script for the key to meet
    for probe in ("index.html", "..%2Fpyproject.toml", "swagger-initializer.js"):
        assert (await client.get(f"/docs/{probe}")).status_code == 404
