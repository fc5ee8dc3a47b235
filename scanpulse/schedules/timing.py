"""When a schedule runs: the rules of its cron expression or interval, in its time zone.

The rules are Celery's, through the schedule objects of django-celery-beat
(``CrontabSchedule(...).schedule``: a time-zone-aware ``crontab``; an interval is Celery's
``schedule``), so that the embedded server's thread and production's ``celery beat`` agree on
every due time — no cron parser of our own. A cron expression is read in its zone's wall
clock: ``0 3 * * *`` in Europe/Berlin is 03:00 Berlin time in summer and in winter (01:00 and
02:00 UTC). Across a change of the clock, Celery's rules give: a time the spring change skips
(02:30 on the last Sunday of March in Berlin) runs once, an hour later by the wall clock; a
time the autumn change repeats runs once, at its first occurrence. An interval counts real
time from the previous run (or from when the schedule was created or changed), whatever the
zone.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from celery import schedules
from celery.utils.time import ffwd
from django_celery_beat.tzcrontab import TzAwareCrontab

from scanpulse.core.exceptions import Invalid

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
PERIODS = {"minutes": 60, "hours": 3600, "days": 86400}
# How far ahead a cron expression must match at least once (e.g. ``0 0 29 2 *``: 29 February,
# once in up to eight years).
_HORIZON = timedelta(days=366 * 8 + 2)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name`` (e.g. ``Europe/Berlin``, ``UTC``), or ``Invalid`` naming
    the ``timezone`` field."""
    if name not in _zones():
        message = f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC."
        raise Invalid(message, fields={"timezone": [message]})
    return zoneinfo.ZoneInfo(name)


def split_cron(expression: str) -> dict[str, str]:
    """The five fields of a cron expression (minute hour day-of-month month day-of-week)."""
    parts = expression.split()
    if len(parts) != len(CRON_FIELDS):
        message = (
            f"A cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"not {len(parts)}: e.g. '0 3 * * *' for 03:00 every day."
        )
        raise Invalid(message, fields={"cron": [message]})
    return dict(zip(CRON_FIELDS, parts, strict=True))


def crontab(expression: str, zone: zoneinfo.ZoneInfo) -> TzAwareCrontab:
    """Celery's crontab for ``expression`` in ``zone``; ``Invalid`` naming the ``cron`` field
    when Celery cannot read it or it never matches."""
    fields = split_cron(expression)
    try:
        schedule = TzAwareCrontab(tz=zone, **fields)
    except Exception as exc:  # ValueError, celery.schedules.ParseException, …
        message = f"Invalid cron expression {expression!r}: {exc}"
        raise Invalid(message, fields={"cron": [message]}) from None
    now = datetime.now(UTC)
    try:
        first = cron_next(schedule, now)
    except (RuntimeError, ValueError, OverflowError):
        first = None
    if first is None or first - now > _HORIZON:
        message = f"The cron expression {expression!r} matches no date in the next eight years."
        raise Invalid(message, fields={"cron": [message]})
    return schedule


def cron_next(schedule: TzAwareCrontab, after: datetime) -> datetime:
    """The first time after ``after`` that the crontab matches, in UTC."""
    last = after.astimezone(schedule.tz)
    start, delta, _now = schedule.remaining_delta(last, ffwd=ffwd)
    return (start + delta).astimezone(UTC)


def interval(every: int, period: str) -> schedules.schedule:
    if period not in PERIODS:
        message = f"The period is one of {', '.join(PERIODS)}."
        raise Invalid(message, fields={"period": [message]})
    if every < 1:
        message = "An interval is at least 1."
        raise Invalid(message, fields={"every": [message]})
    return schedules.schedule(timedelta(seconds=every * PERIODS[period]))


def interval_next(every: int, period: str, after: datetime) -> datetime:
    return (after + timedelta(seconds=every * PERIODS[period])).astimezone(UTC)
