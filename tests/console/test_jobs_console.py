"""Jobs in the browser (Debian's chromium, both engines): retry a failed run, edit a schedule with inline errors."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.console.conftest import MASTER, Ballast, sign_in
from tests.console.test_browser import shot


def test_a_failed_run_stands_out_and_is_retried_with_its_params(page: Page, ballast: Ballast) -> None:
    started = ballast.http.post("/parse/jobs/flaky", headers=MASTER, json={"attempt": "first"})
    assert started.status_code == 200, started.text
    sign_in(page)
    page.goto("/console/jobs")
    failed = page.locator("tr.run-failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".status")).to_contain_text("the upstream was down")
    failed.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Retrying flaky")
    expect(page.locator("tr.run-failed")).to_have_count(2)
    runs = ballast.http.get("/parse/classes/_JobStatus", headers=MASTER, params={"order": "createdAt"}).json()
    assert [(run["jobName"], run["source"]) for run in runs["results"]][-1] == ("flaky", "console")
    assert [run["params"] for run in runs["results"]] == [{"attempt": "first"}] * 2
    events = ballast.http.get("/parse/classes/_SecurityEvent", headers=MASTER,
                              params={"where": json.dumps({"event": "job.retry"})}).json()["results"]
    assert [(event["actor"], event["details"]["retryOf"]) for event in events] == [
        ("admin:alice", runs["results"][0]["objectId"])]


def test_a_schedule_is_edited_and_bad_input_is_shown_at_its_form(page: Page, ballast: Ballast) -> None:
    made = ballast.http.post("/parse/cloud_code/jobs", headers=MASTER, json={"job_schedule": {
        "jobName": "countdown", "cron": "0 3 * * *"}})
    assert made.status_code == 201, made.text
    schedule_id = made.json()["objectId"]
    sign_in(page)
    page.goto("/console/jobs")
    page.get_by_text("Edit schedule").click()
    form = page.locator(f"#edit-{schedule_id}")
    for cron, interval, params, problem in (("every day", "", "", "cron"), ("", "", "", "cron line or an interval"),
                                            ("", "-5", "", "whole number"), ("", "60", "[1]", "JSON object")):
        form.get_by_label("Cron").fill(cron)
        form.get_by_label("or every (seconds)").fill(interval)
        form.get_by_label("Params (JSON)").fill(params)
        form.get_by_role("button", name="Save schedule").click()
        form = page.locator(f"#edit-{schedule_id}")
        expect(form.get_by_role("alert")).to_contain_text(problem)
        expect(form.get_by_label("Cron")).to_have_value(cron)  # what was typed stays, to be corrected
        expect(form.get_by_label("Cron")).to_have_attribute("aria-invalid", "true")
    shot(page, "schedule-error")
    [stored] = ballast.http.get("/parse/cloud_code/jobs", headers=MASTER).json()
    assert stored.get("cron") == "0 3 * * *" and not stored.get("intervalSeconds")
    form.get_by_label("Cron").fill("")
    form.get_by_label("or every (seconds)").fill("3600")
    form.get_by_label("Params (JSON)").fill('{"region": "eu"}')
    form.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("status")).to_have_text(f"Schedule {schedule_id} saved.")
    [stored] = ballast.http.get("/parse/cloud_code/jobs", headers=MASTER).json()
    assert stored["intervalSeconds"] == 3600 and "cron" not in stored
    assert json.loads(stored["params"]) == {"region": "eu"}
    expect(page.locator(".schedule").first).to_contain_text("3600 s")
