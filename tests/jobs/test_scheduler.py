"""One instance on a driven clock (both engines): schedules fire on time, retries, timeouts, cancel, progress."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from backend.context import RequestContext
from jobs.records import moment
from tests.jobs.conftest import START, Gates, Instance, eventually

MASTER = RequestContext.system()


async def schedule(one: Instance, **fields: Any) -> str:
    created = await one.jobs.create_schedule(MASTER, {"startAfter": START.isoformat(), **fields})
    await one.jobs.scheduler.refresh()
    return str(created["objectId"])


async def runs_of(one: Instance, schedule_id: str) -> list[dict[str, Any]]:
    return await one.jobs.records.find_runs({"scheduleId": schedule_id}, order="scheduledAt", limit=1000)


async def test_cron_schedule_fires_at_its_times_and_never_between(one: Instance) -> None:
    sid = await schedule(one, jobName="hello", cron="*/15 * * * *")
    for minutes in (0, 7, 14, 15, 29, 30):
        await one.run_at(START + timedelta(minutes=minutes, seconds=1))
    runs = await runs_of(one, sid)
    assert [moment(run["scheduledAt"]) for run in runs] == [START + timedelta(minutes=m) for m in (0, 15, 30)]
    assert {run["status"] for run in runs} == {"succeeded"}
    assert runs[0]["message"] == "hi there" and runs[0]["source"] == "schedule"


async def test_interval_schedule_fires_every_interval(one: Instance) -> None:
    sid = await schedule(one, jobName="hello", intervalSeconds=5, params={"name": "ops"})
    for second in range(0, 21):
        await one.run_at(START + timedelta(seconds=second))
    runs = await runs_of(one, sid)
    assert [moment(run["scheduledAt"]) for run in runs] == [START + timedelta(seconds=5 * n) for n in range(5)]
    assert runs[-1]["message"] == "hi ops"


async def test_failed_attempts_are_retried_with_exponential_backoff(one: Instance) -> None:
    sid = await schedule(one, jobName="flaky", intervalSeconds=3600, retries=3, retryBackoff=10,
                         params={"succeedOn": 3})
    [task] = await one.tick(START)
    await eventually(lambda: one.clock.waiting, "the first backoff")
    [run] = await runs_of(one, sid)
    assert run["status"] == "running" and run["attempts"] == 2 and "retrying in 10s" in run["message"]
    await one.clock.advance(10)  # attempt 2 fails too; the next wait is twice as long
    await eventually(lambda: one.clock.waiting, "the second backoff")
    await one.clock.advance(19)
    assert not task.done()
    await one.clock.advance(1)
    await task
    [run] = await runs_of(one, sid)
    assert (run["status"], run["attempts"], run["message"]) == ("succeeded", 3, "ok on attempt 3")
    assert [line for line in run["log"] if "attempt" in line][:3] == [
        "INFO: attempt 1", "ERROR: ValueError: not yet (attempt 1)", "INFO: attempt 2"]


async def test_a_job_that_raises_fails_clearly_and_the_schedule_goes_on(one: Instance) -> None:
    sid = await schedule(one, jobName="boom", intervalSeconds=60, retries=1, retryBackoff=1)
    for fire in (START, START + timedelta(seconds=60)):
        [task] = await one.tick(fire)
        await eventually(lambda: one.clock.waiting, "the backoff")
        await one.clock.advance(1)
        await task
    runs = await runs_of(one, sid)
    assert [(r["status"], r["attempts"], r["error"]) for r in runs] == [("failed", 2, "RuntimeError: kaboom")] * 2


async def test_a_hanging_job_is_timed_out_and_the_scheduler_keeps_going(one: Instance) -> None:
    hung = await schedule(one, jobName="hang", intervalSeconds=3600, timeout=30)
    fine = await schedule(one, jobName="hello", intervalSeconds=60)
    tasks = await one.tick(START)
    await eventually(lambda: one.clock.waiting, "the timeout timer")
    await one.clock.advance(30)
    for task in tasks:
        await task
    await one.run_at(START + timedelta(seconds=60))
    [run] = await runs_of(one, hung)
    assert run["status"] == "timed out" and run["error"] == "Timed out after 30s." and run["finishedAt"]
    assert [r["status"] for r in await runs_of(one, fine)] == ["succeeded", "succeeded"]


async def test_progress_and_log_lines_show_while_the_job_runs(one: Instance, gates: Gates) -> None:
    run_id = await one.jobs.start(MASTER, "gated", {"gate": "progress"})

    async def progressed() -> bool:
        run = await one.jobs.status(MASTER, run_id)
        return run.get("progress") == "1/2 rows" and run["status"] == "running"

    await eventually(progressed, "progress written while running")
    gates["progress"].set()
    run = await one.jobs.wait(run_id)
    assert (run["status"], run["progress"], run["message"]) == ("succeeded", "2/2 rows", "done")
    assert run["log"] == ["INFO: half way"] and run["durationMs"] >= 0 and run["finishedAt"]


async def test_cancel_is_cooperative_first(one: Instance) -> None:
    run_id = await one.jobs.start(MASTER, "polite")
    await eventually(lambda: run_id in one.jobs.runner.active, "the run started")
    await one.jobs.cancel(MASTER, run_id)
    run = await one.jobs.wait(run_id)
    assert run["status"] == "cancelled" and run["message"].startswith("stopped after")


async def test_cancel_stops_a_job_that_ignores_it_after_the_grace_time(one: Instance) -> None:
    run_id = await one.jobs.start(MASTER, "hang")
    await eventually(lambda: one.jobs.runner.active.get(run_id) and one.jobs.runner.active[run_id].job,
                     "the job is running")
    await one.jobs.cancel(MASTER, run_id)
    await eventually(lambda: one.clock.waiting, "the grace timer")
    await one.clock.advance(5)
    run = await one.jobs.wait(run_id)
    assert run["status"] == "cancelled" and "did not stop" in run["error"]


async def test_cancel_asked_through_the_record_reaches_the_run_at_its_heartbeat(one: Instance) -> None:
    run_id = await one.jobs.start(MASTER, "polite")
    await eventually(lambda: run_id in one.jobs.runner.active, "the run started")
    await one.jobs.records.update_run(run_id, {"cancelRequested": True})  # what another instance's cancel does
    await one.jobs.runner.heartbeat()
    assert (await one.jobs.wait(run_id))["status"] == "cancelled"


async def test_max_concurrency_skips_a_fire_while_the_last_run_is_still_running(one: Instance, gates: Gates) -> None:
    sid = await schedule(one, jobName="gated", intervalSeconds=60, params={"gate": "slow"})
    first = await one.tick(START)
    await eventually(lambda: one.jobs.runner.active, "the first run")
    await one.run_at(START + timedelta(seconds=60))
    gates["slow"].set()
    for task in first:
        await task
    runs = await runs_of(one, sid)
    assert [r["status"] for r in runs] == ["succeeded", "skipped"]
    assert "maxConcurrency 1" in runs[1]["message"]


async def test_paused_schedules_do_not_fire_until_resumed(one: Instance) -> None:
    sid = await schedule(one, jobName="hello", intervalSeconds=60)
    await one.jobs.pause(MASTER, sid)
    await one.jobs.scheduler.refresh()
    await one.run_at(START + timedelta(seconds=1))
    await one.run_at(START + timedelta(seconds=61))
    assert await runs_of(one, sid) == []
    await one.jobs.resume(MASTER, sid)
    await one.clock.set(START + timedelta(seconds=90))
    await one.jobs.scheduler.refresh()
    await one.run_at(START + timedelta(seconds=120))
    assert [moment(r["scheduledAt"]) for r in await runs_of(one, sid)] == [START + timedelta(seconds=120)]


async def test_a_broken_schedule_row_is_reported_and_the_others_still_fire(one: Instance) -> None:
    await one.jobs.records.create_schedule({"jobName": "hello", "cron": "not a cron"})  # written around the API
    await one.jobs.records.create_schedule({"jobName": "gone", "intervalSeconds": 60})
    good = await schedule(one, jobName="hello", intervalSeconds=60)
    await one.run_at(START)
    assert len(await runs_of(one, good)) == 1
    problems = " | ".join(one.jobs.scheduler.invalid.values())
    assert "cron 'not a cron' is not valid" in problems or "cron must be 5 fields" in problems
    assert "Cannot schedule 'gone'" in problems
    listing = {job["name"]: job for job in await one.jobs.list_jobs(MASTER)}
    described = [s for s in listing["hello"]["schedules"] if "problem" in s]
    assert len(described) == 1 and described[0]["nextFire"] is None


async def test_run_history_lists_runs_newest_first_with_their_outcome(one: Instance) -> None:
    ids = []
    for name in ("hello", "boom", "sync"):
        ids.append(await one.jobs.start(MASTER, name))
        await asyncio.sleep(0.002)  # dates are to the millisecond: runs started within one have no order
    for run_id in ids:
        await one.jobs.wait(run_id)
    history = await one.jobs.runs(MASTER, limit=10)
    assert [(r["jobName"], r["status"]) for r in history] == [
        ("sync", "succeeded"), ("boom", "failed"), ("hello", "succeeded")]
    assert history[0]["message"] == "from a thread" and history[1]["error"] == "RuntimeError: kaboom"
    assert history[1]["message"] == "kaboom"  # as Parse: the thrown text is the failed run's message
    assert [r["objectId"] for r in await one.jobs.runs(MASTER, status="failed")] == [ids[1]]


@pytest.mark.parametrize("policy", ["run-once", "skip"])
async def test_restart_keeps_schedules_and_history_and_handles_a_misfire_per_policy(
    settings: Any, registry: Any, policy: str
) -> None:
    from tests.jobs.conftest import open_instance

    async with open_instance(settings, registry, "before") as before:
        sid = await schedule(before, jobName="hello", intervalSeconds=600, misfirePolicy=policy,
                             misfireGraceSeconds=60)
        await before.run_at(START)
    # down from 09:00 to 09:35: the 09:10, 09:20 and 09:30 fires were missed
    async with open_instance(settings, registry, "after", start=START + timedelta(minutes=35)) as after:
        await after.jobs.scheduler.refresh()
        assert [s["objectId"] for s in await after.jobs.schedules(MASTER)] == [sid]
        await after.run_at(START + timedelta(minutes=35))
        await after.run_at(START + timedelta(minutes=40))
        runs = await runs_of(after, sid)
    fired = [moment(r["scheduledAt"]) for r in runs]
    if policy == "run-once":
        assert fired == [START, START + timedelta(minutes=30), START + timedelta(minutes=40)]
        assert runs[1]["message"] == "hi there"  # the job's own message wins; the misfire is on the claim
    else:
        assert fired == [START, START + timedelta(minutes=40)]


async def test_a_job_started_by_an_agent_runs_as_that_agent_and_only_it_sees_the_run(one: Instance) -> None:
    from backend.context import Principal, PrincipalKind
    from backend.errors import MasterKeyRequired, ObjectNotFound, OperationForbidden

    agent = RequestContext(Principal(PrincipalKind.AGENT, agent_id="agent-7", roles=frozenset({"ops"})))
    run_id = await one.jobs.start(agent, "whoami", {})
    run = await one.jobs.wait(run_id)
    assert (run["message"], run["source"], run["principal"]["agentId"]) == ("agent:agent-7", "agent", "agent-7")
    assert (await one.jobs.status(agent, run_id))["objectId"] == run_id
    other = RequestContext(Principal(PrincipalKind.AGENT, agent_id="agent-8"))
    with pytest.raises(ObjectNotFound):
        await one.jobs.status(other, run_id)
    user = RequestContext(Principal(PrincipalKind.USER, user_id="u1"))
    with pytest.raises(MasterKeyRequired):
        await one.jobs.start(user, "hello", {})
    from backend.context import READ_ONLY_MASTER

    with pytest.raises(OperationForbidden, match="read-only"):
        await one.jobs.start(RequestContext(READ_ONLY_MASTER), "hello", {})
