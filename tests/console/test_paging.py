"""Keyset paging in the browser (Debian's chromium, both engines): deep pages follow the last row, not an OFFSET."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import Ballast, sign_in


def _seqs(page: Page) -> list[int]:
    return [int(text) for text in page.locator("table.records tbody tr td:first-child").all_inner_texts()]


def test_the_audit_explorer_pages_by_cursor_without_gaps_or_repeats(page: Page, ballast: Ballast) -> None:
    _, token = ballast.agent("reader")
    for _ in range(62):
        assert ballast.call(token, "read", "list_classes", {}).status_code == 200
    sign_in(page)
    page.goto("/console/audit")
    first = _seqs(page)
    assert len(first) == 50 and first == sorted(first, reverse=True)
    page.get_by_role("link", name="Next page").click()
    assert "after=" in page.url and "page=" not in page.url
    second = _seqs(page)
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    assert len(second) == 12 and not set(first) & set(second) and max(second) < min(first)
    page.get_by_role("link", name="First page").click()
    assert _seqs(page) == first
    bad = page.request.get("/console/audit?after=1970-01-01T00:00:00.000Z|x;drop")
    assert bad.status == 400 and "cursor is malformed" in bad.text()


def test_the_inbox_pages_by_cursor_and_history_too(page: Page, ballast: Ballast) -> None:
    ballast.seed("Order", 5, status="open")
    _, token = ballast.agent("cleaner")
    asked = [ballast.ask_bulk_delete(token) for _ in range(27)]
    sign_in(page)
    first = page.locator("[data-approval]").evaluate_all("cards => cards.map(c => c.dataset.approval)")
    assert first == asked[::-1][:25]  # newest first
    page.get_by_role("link", name="Older").click()
    assert "after=" in page.url
    expect(page.locator("[data-approval]")).to_have_count(2)
    second = page.locator("[data-approval]").evaluate_all("cards => cards.map(c => c.dataset.approval)")
    assert second == asked[1::-1]
    page.goto("/console/approvals/history?status=pending")
    page.get_by_role("link", name="Older").click()
    expect(page.locator("[data-approval]")).to_have_count(2)
    assert page.request.get("/console/approvals?after=nonsense").status == 400
