"""Insights in the browser (Debian's chromium, both engines): after known agent calls, the right numbers and bars."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import MASTER, Ballast, sign_in
from tests.console.test_browser import shot


def test_insights_count_calls_denials_writes_and_approvals(page: Page, ballast: Ballast) -> None:
    ballast.seed("Order", 5, status="open")
    ballast.seed("Note", 2)
    _, busy = ballast.agent("busy")
    limited = ballast.http.post("/agent/v1/admin/agents", json={"name": "limited", "grants": ["read:*"]},
                                headers=MASTER).json()["token"]
    for _ in range(4):
        assert ballast.call(busy, "read", "list_classes", {}).status_code == 200
    for _ in range(3):  # not granted: denied by the grant rule
        assert ballast.call(limited, "write", "bulk_delete", {"className": "Order", "where": {}}).status_code == 403
    approval_id = ballast.ask_bulk_delete(busy)  # over the cap: waits for a human
    assert ballast.admin("POST", f"/approvals/{approval_id}/deny", json={"reason": "no"}).status_code == 200
    ballast.ask_bulk_delete(busy)  # and one still pending
    assert ballast.call(busy, "write", "bulk_delete", {"className": "Note", "where": {}}).status_code == 200
    sign_in(page)
    page.goto("/console/insights?window=1h")
    expect(page.get_by_role("heading", name="Insights")).to_be_visible()
    expect(page.locator("#total-calls")).to_have_text("11")  # 10 calls and the admin's denial, each a record
    expect(page.locator("#pending")).to_have_text("1")
    expect(page.locator("#decided")).to_have_text("1")
    expect(page.locator("#median")).to_have_text("0 s")
    busy_row = page.locator("#by-agent tr[data-name='busy']")
    limited_row = page.locator("#by-agent tr[data-name='limited']")
    expect(busy_row.locator("td.calls")).to_have_text("8")
    expect(page.locator("#total-writes")).to_have_text("1")
    expect(limited_row.locator("td.denied")).to_have_text("3")
    tool_row = page.locator("#by-tool tr[data-name='list_classes']")
    expect(tool_row.locator("td.calls")).to_have_text("4")
    expect(tool_row.locator("td.ok")).to_have_text("4")
    expect(page.locator("#by-tool tr[data-name='bulk_delete'] td.calls")).to_have_text("7")
    expect(page.locator("#by-tool tr[data-name='bulk_delete'] td.denied")).to_have_text("4")
    rules = page.locator("#by-rule tbody tr")
    expect(rules).to_have_count(2)  # the grant the limited agent lacks, and the admin's denial
    expect(rules.filter(has_text="grant").locator("td.calls")).to_have_text("3")
    bars = page.locator(".timeline g.bucket")
    assert sum(int(bars.nth(n).get_attribute("data-calls") or 0) for n in range(bars.count())) == 11
    assert int(bars.last.get_attribute("data-denied") or 0) == 4  # the calls just made fall in the last bucket
    widths = [float(row.locator("rect.calls").get_attribute("width") or 0) for row in (busy_row, limited_row)]
    assert widths == [100.0, round(100 * 3 / 8, 2)]  # bars scale to the busiest agent
    shot(page, "insights")
    page.get_by_role("link", name="last 30d").click()
    expect(page.locator("#total-calls")).to_have_text("11")
    answer = page.request.get("/console/insights")
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    assert "style=" not in answer.text() and "<script>" not in answer.text()
