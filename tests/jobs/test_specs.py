"""Schedules as rules: fire times of cron, interval and daily schedules, misfire policy, bad input (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.errors import InvalidValue
from jobs.specs import ScheduleSpec, check_schedule, due_times, plan_fires

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # Monday


def spec(**fields: object) -> ScheduleSpec:
    return check_schedule({"objectId": "s1", "jobName": "hello", "startAfter": T0.isoformat(), **fields})


def times(schedule: ScheduleSpec, count: int) -> list[datetime]:
    found: list[datetime] = []
    moment = schedule.first_from(schedule.anchor)
    while moment is not None and len(found) < count:
        found.append(moment)
        moment = schedule.next_after(moment)
    return found


def test_cron_fires_on_its_minutes_and_weekdays() -> None:
    fires = times(spec(cron="30 9 * * 1-5"), 6)  # weekdays 09:30, crontab numbering (1 = Monday)
    assert [f.strftime("%a %H:%M") for f in fires] == [
        "Mon 09:30", "Tue 09:30", "Wed 09:30", "Thu 09:30", "Fri 09:30", "Mon 09:30"]


def test_cron_sunday_is_zero_as_in_crontab() -> None:
    assert times(spec(cron="0 12 * * 0"), 1)[0].strftime("%a") == "Sun"


def test_cron_follows_the_time_zone_across_dst() -> None:
    schedule = check_schedule({"objectId": "s", "jobName": "j", "cron": "0 9 * * *", "timeZone": "Europe/Paris",
                               "startAfter": "2030-03-29T00:00:00Z"})
    fires = times(schedule, 3)
    # 09:00 in Paris is 08:00 UTC until summer time starts (Sunday 31 March 2030), then 07:00
    assert [f.astimezone(UTC).hour for f in fires] == [8, 8, 7]


def test_interval_fires_every_n_seconds_from_start() -> None:
    fires = times(spec(intervalSeconds=5), 4)
    assert fires == [T0 + timedelta(seconds=5 * n) for n in range(4)]


def test_parse_repeat_minutes_and_time_of_day() -> None:
    assert times(spec(repeatMinutes=15), 2)[1] - times(spec(repeatMinutes=15), 2)[0] == timedelta(minutes=15)
    daily = times(spec(timeOfDay="10:15:00", daysOfWeek=[2, 4]), 3)  # Tuesday and Thursday
    assert [f.strftime("%a %H:%M") for f in daily] == ["Tue 10:15", "Thu 10:15", "Tue 10:15"]


def test_single_run_at_start_after_and_end_bounds_a_schedule() -> None:
    assert times(spec(), 5) == [T0]
    bounded = times(spec(intervalSeconds=60, endAt=(T0 + timedelta(minutes=2)).isoformat()), 10)
    assert len(bounded) == 3


@pytest.mark.parametrize(("fields", "says"), [
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "every day"}, "cron"),
    ({"intervalSeconds": -5}, "intervalSeconds"),
    ({"intervalSeconds": 0}, "intervalSeconds"),
    ({"repeatMinutes": -1}, "repeatMinutes"),
    ({"timeZone": "Mars/Olympus"}, "timeZone"),
    ({"timeOfDay": "25:00"}, "timeOfDay"),
    ({"daysOfWeek": [9], "timeOfDay": "10:00"}, "daysOfWeek"),
    ({"retries": -1}, "retries"),
    ({"timeout": 0}, "timeout"),
    ({"maxConcurrency": 0}, "maxConcurrency"),
    ({"misfirePolicy": "sometimes"}, "misfirePolicy"),
    ({"params": "not json"}, "params"),
    ({"startAfter": "yesterday"}, "startAfter"),
    ({"endAt": "2000-01-01T00:00:00Z"}, "endAt"),
])
def test_bad_schedules_are_refused_naming_the_field(fields: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidValue, match=says):
        spec(**fields)


def test_unknown_job_name_is_refused() -> None:
    with pytest.raises(InvalidValue, match="no job of that name"):
        check_schedule({"jobName": "nope", "cron": "* * * * *"}, known_jobs={"hello"})


def test_misfire_run_once_runs_the_latest_missed_fire_once() -> None:
    schedule = spec(intervalSeconds=600, misfireGraceSeconds=60)
    now = T0 + timedelta(minutes=35)
    due, following = due_times(schedule, T0 + timedelta(minutes=10), now)
    assert len(due) == 3 and following == T0 + timedelta(minutes=40)
    assert plan_fires(schedule, due, now) == [(T0 + timedelta(minutes=30), True)]


def test_misfire_skip_runs_nothing_missed_but_on_time_fires_still_run() -> None:
    schedule = spec(intervalSeconds=600, misfirePolicy="skip", misfireGraceSeconds=60)
    late = T0 + timedelta(minutes=35)
    assert plan_fires(schedule, due_times(schedule, T0 + timedelta(minutes=10), late)[0], late) == []
    on_time = T0 + timedelta(minutes=30, seconds=20)
    due = due_times(schedule, T0 + timedelta(minutes=10), on_time)[0]
    assert plan_fires(schedule, due, on_time) == [(T0 + timedelta(minutes=30), False)]
