"""The admin console in a real browser (Debian's chromium), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import MASTER_KEY
from tests.console.conftest import MASTER, PASSWORD, VIEWER, Ballast, Form, sign_in

SHOTS = os.environ.get("BALLAST_CONSOLE_SCREENSHOTS")  # a folder: the main pages are saved there as PNGs


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"console16-{name}.png"), full_page=True)


def test_an_over_cap_delete_appears_live_is_approved_runs_once_and_is_audited(page: Page, ballast: Ballast) -> None:
    sign_in(page)
    expect(page.get_by_role("heading", name="Approvals inbox")).to_be_visible()
    expect(page.get_by_text("Nothing waits for a decision.")).to_be_visible()
    ballast.seed("Order", 5, status="open")
    _, token = ballast.agent("cleaner")
    approval_id = ballast.ask_bulk_delete(token)
    card = page.locator(f"[data-approval='{approval_id}']")
    expect(card).to_be_visible()  # no reload: the event stream brought it
    expect(card).to_contain_text("bulk_delete by cleaner")
    expect(card.locator("caption")).to_contain_text("Preview: 5 objects")
    shot(page, "inbox")
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text(f"{approval_id}: executed")
    expect(page.locator(f"[data-approval='{approval_id}']")).to_have_count(0)
    assert ballast.count("Order") == 0
    again = ballast.admin("POST", f"/approvals/{approval_id}/approve")
    assert again.status_code == 400 and "only once" in again.json()["error"]
    page.goto("/console/audit?decision=approved")
    row = page.locator("table.records tbody tr").first
    expect(row).to_contain_text("bulk_delete")
    expect(row).to_contain_text("admin:alice")
    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#chain")).to_contain_text("Chain verified")
    shot(page, "audit")


def test_a_denied_request_keeps_its_reason_and_changes_nothing(page: Page, ballast: Ballast) -> None:
    ballast.seed("Order", 4, status="open")
    _, token = ballast.agent("cleaner")
    approval_id = ballast.ask_bulk_delete(token)
    sign_in(page)
    card = page.locator(f"[data-approval='{approval_id}']")
    card.get_by_label("Reason").fill("not during the sale")
    card.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("status")).to_contain_text(f"{approval_id}: denied")
    assert ballast.count("Order") == 4
    page.goto("/console/approvals/history?status=denied")
    decided = page.locator(f"[data-approval='{approval_id}']")
    expect(decided).to_contain_text("not during the sale")
    expect(decided).to_contain_text("admin:alice")
    shot(page, "history")


def test_a_card_decided_elsewhere_disappears_without_reload(page: Page, ballast: Ballast) -> None:
    ballast.seed("Order", 4, status="open")
    _, token = ballast.agent("cleaner")
    approval_id = ballast.ask_bulk_delete(token)
    sign_in(page)
    expect(page.locator(f"[data-approval='{approval_id}']")).to_be_visible()
    assert ballast.admin("POST", f"/approvals/{approval_id}/deny", json={"reason": "cli"}).status_code == 200
    expect(page.locator(f"[data-approval='{approval_id}']")).to_have_count(0)


def test_a_stale_preview_says_so_and_cannot_be_approved(page: Page, ballast: Ballast) -> None:
    ballast.seed("Order", 4, status="open")
    _, token = ballast.agent("cleaner")
    approval_id = ballast.ask_bulk_delete(token)
    ballast.seed("Order", 1, status="new")  # one more object matches now: the preview no longer holds
    sign_in(page)
    card = page.locator(f"[data-approval='{approval_id}']")
    expect(card).to_contain_text("Stale preview")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    forced = page.request.post(f"/console/approvals/{approval_id}/approve", form={"csrf": csrf or ""})
    assert forced.ok and "refused" in forced.text()
    assert ballast.count("Order") == 5
    shot(page, "stale")


def test_an_agent_suspended_from_the_console_is_refused_on_its_next_call(page: Page, ballast: Ballast) -> None:
    agent_id, token = ballast.agent("reader")
    assert ballast.call(token, "read", "list_classes", {}).status_code == 200
    sign_in(page)
    page.get_by_role("link", name="Agents").click()
    expect(page).to_have_title("Agents · Ballast")
    page.get_by_role("button", name="Suspend reader").click()
    expect(page.locator(f"#agent-{agent_id} .status")).to_have_text("suspended")
    refused = ballast.call(token, "read", "list_classes", {})
    assert refused.status_code in (401, 403) and "suspended" in refused.text
    shot(page, "agents")
    page.get_by_role("button", name="Resume reader").click()
    expect(page.locator(f"#agent-{agent_id} .status")).to_have_text("active")
    assert ballast.call(token, "read", "list_classes", {}).status_code == 200


def test_a_new_agent_token_is_shown_once_and_works(page: Page, ballast: Ballast) -> None:
    sign_in(page)
    page.goto("/console/agents")
    page.get_by_label("Name", exact=True).fill("helper")
    page.get_by_role("button", name="Create agent").click()
    token = page.locator("#new-token").inner_text().strip()
    assert ballast.call(token, "read", "list_classes", {}).status_code == 200
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)


def test_a_job_run_now_shows_progress_then_success(page: Page, ballast: Ballast) -> None:
    sign_in(page)
    page.goto("/console/jobs")
    page.get_by_role("button", name="Run countdown now").click()
    run = page.locator("tr.run-running").first
    expect(run.locator(".progress")).to_contain_text("/5 steps")
    shot(page, "jobs")
    expect(page.locator("tr.run-succeeded").first).to_be_visible()
    expect(page.locator("tr.run-succeeded .progress").first).to_contain_text("5/5 steps")


def test_a_user_without_admin_rights_cannot_sign_in_or_reach_any_route(page: Page, ballast: Ballast) -> None:
    signup = ballast.http.post("/parse/users", json={"username": "eve", "password": "pw-eve-123"},
                               headers={"X-Parse-Application-Id": "test-app"})
    assert signup.status_code == 201, signup.text
    sign_in(page, "eve", "pw-eve-123")
    expect(page.get_by_role("alert")).to_have_text("Sign-in failed.")
    sign_in(page, "master", MASTER_KEY)  # the master key is no console password: it stays out of browsers
    expect(page.get_by_role("alert")).to_have_text("Sign-in failed.")
    shot(page, "signin")
    assert not [cookie for cookie in page.context.cookies() if cookie["name"] == "ballast_console"]
    for path in ("/console", "/console/approvals", "/console/approvals/cards", "/console/approvals/history",
                 "/console/audit", "/console/audit/export", "/console/agents", "/console/jobs", "/console/jobs/runs"):
        page.goto(path)
        assert page.url.endswith("/console/signin"), path
    session = signup.json()["sessionToken"]
    for path in ("/console/events", "/console/agents"):
        answer = page.request.get(path, headers={"X-Parse-Session-Token": session}, max_redirects=0)
        assert answer.status in (303, 403), path
    changes = ("/console/agents", "/console/approvals/x/approve", "/console/policy/read-only",
               "/console/jobs/countdown/run")
    for path in changes:
        answer = page.request.post(path, form={"name": "x"}, headers={"X-Parse-Session-Token": session})
        assert answer.status == 403, path


def test_changes_without_the_csrf_token_are_refused(page: Page, ballast: Ballast) -> None:
    agent_id, _ = ballast.agent("reader")
    sign_in(page)
    cookie = next(cookie for cookie in page.context.cookies() if cookie["name"] == "ballast_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    forms: tuple[Form, ...] = ({}, {"csrf": "forged"})
    for form in forms:
        refused = page.request.post(f"/console/agents/{agent_id}/suspend", form=form)
        assert refused.status == 403
        policy = page.request.post("/console/policy/read-only", form={"state": "on", **form})
        assert policy.status == 403
    assert ballast.admin("GET", f"/agents/{agent_id}").json()["status"] == "active"
    assert ballast.admin("GET", "/policy").json()["config"]["readOnly"] is False
    answer = page.request.get("/console/approvals")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "unsafe-inline" not in answer.headers["content-security-policy"]


def test_every_console_action_is_a_security_record_naming_the_admin(page: Page, ballast: Ballast) -> None:
    agent_id, _ = ballast.agent("reader")
    sign_in(page)
    page.goto("/console/agents")
    page.get_by_role("button", name="Suspend reader").click()
    expect(page.locator(f"#agent-{agent_id} .status")).to_have_text("suspended")
    found = ballast.http.get("/parse/classes/_SecurityEvent", headers=MASTER,
                             params={"where": '{"event":"agent.suspend"}'})
    [event] = found.json()["results"]
    assert (event["actor"], event["target"], event["details"]["via"]) == ("admin:alice", agent_id, "console")
    logins = ballast.http.get("/parse/classes/_SecurityEvent", headers=MASTER,
                              params={"where": '{"event":"admin.login","ok":true}'})
    assert [event["actor"] for event in logins.json()["results"]] == ["admin:alice"]


def test_a_viewer_may_look_but_not_change(page: Page, ballast: Ballast) -> None:
    agent_id, _ = ballast.agent("reader")
    sign_in(page, VIEWER, PASSWORD)
    expect(page.get_by_text("victor (viewer)")).to_be_visible()
    page.goto("/console/agents")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    refused = page.request.post(f"/console/agents/{agent_id}/suspend", form={"csrf": csrf})
    assert refused.status == 403
    assert ballast.admin("GET", f"/agents/{agent_id}").json()["status"] == "active"


def test_sign_out_ends_the_session_everywhere(page: Page, ballast: Ballast) -> None:
    sign_in(page)
    expect(page.get_by_role("heading", name="Approvals inbox")).to_be_visible()
    [cookie] = [cookie for cookie in page.context.cookies() if cookie["name"] == "ballast_console"]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    replayed = page.request.get("/console/agents", headers={"Cookie": f"ballast_console={cookie['value']}"},
                                max_redirects=0)
    assert replayed.status == 303 and replayed.headers["location"].endswith("/console/signin")


def test_policy_versions_and_the_read_only_switch_come_from_the_console(page: Page, ballast: Ballast) -> None:
    ballast.seed("Order", 1, status="open")
    _, token = ballast.agent("writer")
    sign_in(page)
    page.goto("/console/agents")
    page.get_by_role("button", name="Make every agent read-only").click()
    expect(page.get_by_role("status")).to_contain_text("Agents read-only on.")
    write = ballast.call(token, "write", "bulk_delete", {"className": "Order", "where": {}, "limit": 1})
    assert write.status_code == 403 and "read" in write.text.lower(), write.text
    page.get_by_label("Rates, budgets").fill('{"readOnly": false, "approvalTtl": 600}')
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("status")).to_contain_text("Policy version 2 saved.")
    policy = ballast.admin("GET", "/policy").json()
    assert (policy["version"], policy["config"]["approvalTtl"], policy["config"]["readOnly"]) == (2, 600, False)
    expect(page.locator("table.versions tbody tr").first).to_contain_text("admin:alice")
    page.get_by_label("Rates, budgets").fill('{"approvalTtl": -5}')
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid policy")
    assert ballast.admin("GET", "/policy").json()["version"] == 2
    shot(page, "policy")


def test_schedules_are_disabled_and_enabled_and_failed_sign_ins_show(page: Page, ballast: Ballast) -> None:
    made = ballast.http.post("/parse/cloud_code/jobs", headers=MASTER, json={"job_schedule": {
        "jobName": "countdown", "cron": "0 3 * * *"}})
    assert made.status_code == 201, made.text
    sign_in(page, "mallory", "not-a-password")
    sign_in(page)
    page.goto("/console/jobs")
    page.get_by_role("button", name="Disable").click()
    expect(page.locator(".schedule")).to_contain_text("(paused)")
    [stored] = ballast.http.get("/parse/cloud_code/jobs", headers=MASTER).json()
    assert stored["paused"] is True
    page.get_by_role("button", name="Enable").click()
    expect(page.locator(".schedule")).not_to_contain_text("(paused)")
    page.goto("/console/security?failed=true")
    expect(page.locator("table.records tbody tr").first).to_contain_text("admin:mallory")
    shot(page, "security")
