"""The API reference page (/parse/docs) in a real browser: it renders every operation of the document and loads
nothing from outside this machine (Swagger UI ships with Ballast). Here for the browser fixtures of this folder."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page

from tests.conftest import APP_ID, MASTER_KEY
from tests.console.conftest import MASTER, Ballast

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def test_the_api_docs_render_every_operation_and_nothing_leaves_loopback(page: Page, ballast: Ballast) -> None:
    ballast.seed("GameScore", 1, score=1)
    document = ballast.http.get("/parse/openapi.json", headers=MASTER).json()
    operations = sum(len(METHODS & set(item)) for item in document["paths"].values())
    assert "/classes/GameScore" in document["paths"] and operations > 50
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/parse/docs")
    page.locator("input[name=appId]").fill(APP_ID)
    page.locator("input[name=masterKey]").fill(MASTER_KEY)
    page.get_by_role("button", name="Use", exact=True).click()  # the page reloads with the keys of this tab
    page.locator(".opblock", has_text="/classes/GameScore").first.wait_for()
    assert page.locator(".opblock").count() == operations
    assert {urlsplit(url).hostname for url in requested} == {"127.0.0.1"}, requested
