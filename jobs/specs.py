"""Schedules: a ``_JobSchedule`` record checked into a ScheduleSpec, and the APScheduler trigger it means.

Parse's shape (jobName, description, params as a JSON string, startAfter,
daysOfWeek, timeOfDay, repeatMinutes) is kept as the Parse Dashboard writes
it; Ballast adds cron, intervalSeconds, timeZone, endAt, retries and
retryBackoff, timeout, maxConcurrency, misfirePolicy, misfireGraceSeconds and
paused. Which kind of schedule a record is: cron, else repeatMinutes or
intervalSeconds (interval), else timeOfDay (daily), else a single run at
startAfter. APScheduler's triggers do the calendar arithmetic (time zones, DST).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from backend.errors import InvalidValue

MISFIRE_POLICIES = ("run-once", "skip")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?Z?$")
MAX_CATCH_UP = 10_000  # fire times walked after downtime before jumping straight to now


@dataclass(frozen=True)
class ScheduleSpec:
    """One checked schedule; ``trigger`` computes its fire times."""

    object_id: str
    job_name: str
    trigger: BaseTrigger
    params: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    retry_backoff: float = 10.0
    timeout: float | None = None
    max_concurrency: int = 1
    misfire_policy: str = "run-once"
    misfire_grace: float = 60.0
    paused: bool = False
    anchor: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # fire times before this never count

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment``."""
        result: datetime | None = self.trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
        return result

    def first_from(self, moment: datetime) -> datetime | None:
        """The first fire time at or after ``moment``."""
        result: datetime | None = self.trigger.get_next_fire_time(None, moment)
        return result


def check_schedule(record: Mapping[str, Any], known_jobs: set[str] | None = None) -> ScheduleSpec:
    """A ``_JobSchedule`` record (Parse JSON) -> ScheduleSpec; raises InvalidValue naming the field."""
    job_name = record.get("jobName")
    if not isinstance(job_name, str) or not job_name:
        raise InvalidValue("jobName is required (the name of a registered job).")
    if known_jobs is not None and job_name not in known_jobs:
        raise InvalidValue(f"Cannot schedule {job_name!r}: no job of that name is registered.")
    zone = _zone(record.get("timeZone"))
    start = _moment(record.get("startAfter"), "startAfter") or _moment(record.get("createdAt"), "createdAt")
    end = _moment(record.get("endAt"), "endAt")
    if start and end and end <= start:
        raise InvalidValue("endAt must be after startAfter.")
    anchor = start or datetime.now(UTC)
    return ScheduleSpec(
        object_id=str(record.get("objectId") or ""),
        job_name=job_name,
        trigger=_trigger(record, zone, anchor, end),
        params=_params(record.get("params")),
        retries=_whole(record, "retries", 0, minimum=0),
        retry_backoff=_seconds(record, "retryBackoff", 10.0, minimum=0.0),
        timeout=_optional_seconds(record, "timeout"),
        max_concurrency=_whole(record, "maxConcurrency", 1, minimum=1),
        misfire_policy=_policy(record.get("misfirePolicy")),
        misfire_grace=_seconds(record, "misfireGraceSeconds", 60.0, minimum=0.0),
        paused=bool(record.get("paused", False)),
        anchor=anchor,
    )


def _trigger(record: Mapping[str, Any], zone: ZoneInfo, start: datetime, end: datetime | None) -> BaseTrigger:
    cron = record.get("cron")
    if cron is not None:
        return _cron(cron, zone, start, end)
    if record.get("repeatMinutes") is not None:
        minutes = _seconds(record, "repeatMinutes", 0.0, minimum=0.0)
        return _interval(minutes * 60, "repeatMinutes", zone, start, end)
    if record.get("intervalSeconds") is not None:
        return _interval(_seconds(record, "intervalSeconds", 0.0, minimum=0.0), "intervalSeconds", zone, start, end)
    if record.get("timeOfDay") is not None:
        return _daily(record.get("timeOfDay"), record.get("daysOfWeek"), zone, start, end)
    return DateTrigger(run_date=start, timezone=zone)


def _cron(expression: object, zone: ZoneInfo, start: datetime, end: datetime | None) -> CronTrigger:
    if not isinstance(expression, str) or len(expression.split()) != 5:
        raise InvalidValue(f"cron must be 5 fields (minute hour day month weekday), got {str(expression)[:64]!r}.")
    minute, hour, day, month, weekday = expression.split()
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_weekday(weekday),
            timezone=zone, start_date=start, end_date=end,
        )
    except ValueError as error:
        raise InvalidValue(f"cron {expression!r} is not valid: {error}") from error


def _cron_weekday(field_text: str) -> str:
    """Crontab numbers Sunday 0 (or 7); APScheduler 3 numbers Monday 0, so say the names instead."""
    return re.sub(r"\d+", lambda m: _DAY_NAMES[int(m.group())] if int(m.group()) <= 7 else m.group(), field_text)


def _interval(seconds: float, name: str, zone: ZoneInfo, start: datetime, end: datetime | None) -> IntervalTrigger:
    if seconds <= 0:
        raise InvalidValue(f"{name} must be greater than 0.")
    return IntervalTrigger(seconds=seconds, start_date=start, end_date=end, timezone=zone)


def _daily(value: object, days: object, zone: ZoneInfo, start: datetime, end: datetime | None) -> CronTrigger:
    match = _TIME_OF_DAY.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InvalidValue("timeOfDay must look like HH:MM or HH:MM:SS.")
    weekday = "*"
    if days is not None:
        if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise InvalidValue("daysOfWeek must be a list of numbers 0 (Sunday) to 6 (Saturday).")
        weekday = ",".join(_DAY_NAMES[d] for d in sorted(set(days)))
    return CronTrigger(
        hour=int(match.group(1)), minute=int(match.group(2)), second=int(match.group(3) or 0),
        day_of_week=weekday, timezone=zone, start_date=start, end_date=end,
    )


def _zone(value: object) -> ZoneInfo:
    if value is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidValue(f"timeZone {str(value)[:64]!r} is not a known IANA time zone.") from error


def _moment(value: object, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping) and value.get("__type") == "Date":
        value = value.get("iso")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidValue(f"{name} must be an ISO 8601 date, got {str(value)[:64]!r}.") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _params(value: object) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise InvalidValue("params must be a JSON object (or a string holding one).") from error
    if not isinstance(value, dict):
        raise InvalidValue("params must be a JSON object (or a string holding one).")
    return value


def _number(record: Mapping[str, Any], name: str) -> float | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"{name} must be a number.")
    return float(value)


def _seconds(record: Mapping[str, Any], name: str, default: float, *, minimum: float) -> float:
    value = _number(record, name)
    if value is None:
        return default
    if value < minimum:
        raise InvalidValue(f"{name} must not be negative.")
    return value


def _optional_seconds(record: Mapping[str, Any], name: str) -> float | None:
    value = _number(record, name)
    if value is not None and value <= 0:
        raise InvalidValue(f"{name} must be greater than 0 seconds.")
    return value


def _whole(record: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = _number(record, name)
    if value is None:
        return default
    if value != int(value) or value < minimum:
        raise InvalidValue(f"{name} must be a whole number of at least {minimum}.")
    return int(value)


def _policy(value: object) -> str:
    if value is None:
        return "run-once"
    if value not in MISFIRE_POLICIES:
        raise InvalidValue(f"misfirePolicy must be one of {', '.join(MISFIRE_POLICIES)}.")
    return str(value)


def due_times(spec: ScheduleSpec, next_fire: datetime | None, now: datetime) -> tuple[list[datetime], datetime | None]:
    """Fire times from ``next_fire`` up to ``now`` (bounded), and the first fire time after ``now``."""
    due: list[datetime] = []
    moment = next_fire
    while moment is not None and moment <= now:
        due.append(moment)
        if len(due) >= MAX_CATCH_UP:  # a long outage of a fast schedule: stop walking, jump ahead
            return due, spec.first_from(now + timedelta(microseconds=1))
        moment = spec.next_after(moment)
    return due, moment


def plan_fires(spec: ScheduleSpec, due: list[datetime], now: datetime) -> list[tuple[datetime, bool]]:
    """Which due times to run, as (fire time, was it a misfire), per the schedule's misfire policy.

    Within the grace time a fire is on time and runs. Older fires were missed
    (the server was down or stalled): "run-once" runs the latest of them once,
    unless an on-time fire runs anyway (APScheduler's coalesce); "skip" drops them.
    """
    grace = timedelta(seconds=spec.misfire_grace)
    on_time = [moment for moment in due if now - moment <= grace]
    missed = [moment for moment in due if now - moment > grace]
    if missed and not on_time and spec.misfire_policy == "run-once":
        return [(missed[-1], True)]
    return [(moment, False) for moment in on_time]
