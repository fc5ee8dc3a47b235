"""When schedules run: cron expressions on a zone's wall clock across clock changes,
intervals, and the expressions and zones refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scanpulse.core.exceptions import Invalid
from scanpulse.schedules import timing

BERLIN = ZoneInfo("Europe/Berlin")


def next_after(expression: str, zone: str, after: datetime) -> datetime:
    return timing.cron_next(timing.crontab(expression, ZoneInfo(zone)), after)


def test_a_daily_time_stays_on_the_wall_clock_across_both_clock_changes() -> None:
    # 03:00 in Berlin: 02:00 UTC in winter (CET), 01:00 UTC in summer (CEST)
    before_spring = datetime(2026, 3, 28, 4, 0, tzinfo=BERLIN)
    assert next_after("0 3 * * *", "Europe/Berlin", before_spring) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    before_autumn = datetime(2026, 10, 24, 4, 0, tzinfo=BERLIN)
    assert next_after("0 3 * * *", "Europe/Berlin", before_autumn) == datetime(
        2026, 10, 25, 2, 0, tzinfo=UTC
    )
    # ... and the next one after that is a day of 23 (or 25) hours later, not 24
    spring_run = next_after("0 3 * * *", "Europe/Berlin", before_spring)
    assert next_after("0 3 * * *", "Europe/Berlin", spring_run) == datetime(
        2026, 3, 30, 1, 0, tzinfo=UTC
    )


def test_a_time_the_spring_change_skips_runs_once_an_hour_later() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026 (02:00 CET → 03:00 CEST)
    after = datetime(2026, 3, 28, 4, 0, tzinfo=BERLIN)
    first = next_after("30 2 * * *", "Europe/Berlin", after)
    assert first == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert next_after("30 2 * * *", "Europe/Berlin", first) == datetime(
        2026, 3, 30, 0, 30, tzinfo=UTC
    )


def test_the_same_expression_in_another_zone_runs_at_another_instant() -> None:
    after = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert next_after("0 9 * * 1-5", "UTC", after) == datetime(2026, 7, 2, 9, 0, tzinfo=UTC)
    assert next_after("0 9 * * 1-5", "America/New_York", after) == datetime(
        2026, 7, 1, 13, 0, tzinfo=UTC
    )
    assert next_after("0 9 * * 1-5", "Asia/Tokyo", after) == datetime(2026, 7, 2, 0, 0, tzinfo=UTC)


def test_every_minute_is_the_next_minute() -> None:
    after = datetime(2026, 7, 1, 12, 0, 40, tzinfo=UTC)
    assert next_after("* * * * *", "Europe/Berlin", after) == datetime(
        2026, 7, 1, 12, 1, tzinfo=UTC
    )


def test_an_interval_counts_real_time() -> None:
    after = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # across Berlin's spring change
    assert timing.interval_next(6, "hours", after) == after + timedelta(hours=6)
    assert timing.interval_next(90, "minutes", after) == after + timedelta(minutes=90)
    assert timing.interval_next(2, "days", after) == after + timedelta(days=2)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("0 3 * *", "has 5 fields"),
        ("0 3 * * * *", "has 5 fields"),
        ("", "has 5 fields"),
        ("61 * * * *", "Invalid cron expression"),
        ("0 25 * * *", "Invalid cron expression"),
        ("*/0 * * * *", "Invalid cron expression"),
        ("0 0 31 2 *", "Invalid cron expression"),
        ("0 0 * * funday", "Invalid cron expression"),
        ("-1 * * * *", "Invalid cron expression"),
    ],
)
def test_invalid_cron_expressions_name_the_field(expression: str, says: str) -> None:
    with pytest.raises(Invalid) as refused:
        timing.crontab(expression, ZoneInfo("UTC"))
    assert list(refused.value.fields) == ["cron"]
    assert says in refused.value.fields["cron"][0]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "europe/berlin", "CEST"])
def test_unknown_zones_name_the_field(zone: str) -> None:
    with pytest.raises(Invalid) as refused:
        timing.parse_zone(zone)
    assert list(refused.value.fields) == ["timezone"]
    assert "IANA name" in refused.value.message


def test_iana_zones_are_accepted() -> None:
    assert timing.parse_zone("Europe/Berlin") == BERLIN
    assert timing.parse_zone("UTC") == ZoneInfo("UTC")
