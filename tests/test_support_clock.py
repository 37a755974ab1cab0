"""The first-response clock: named cases (weekend, holiday, outside hours, DST, pauses) and properties."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.support_clock import ClockRules, due_at, elapsed, share

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = dt.timezone.utc
TASK = ClockRules(tz=BERLIN, holidays="DE-BE")  # Mon-Fri 9-17
EMERGENCY = ClockRules(tz=BERLIN, holidays="DE-BE", around_the_clock=True)
H = dt.timedelta(hours=1)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def test_a_task_filed_friday_afternoon_is_due_monday():
    # Friday 2026-11-27 16:00: one hour on Friday, three on Monday.
    assert due_at(TASK, berlin(2026, 11, 27, 16), 4 * H) == berlin(2026, 11, 30, 12)
    assert elapsed(TASK, berlin(2026, 11, 27, 16), berlin(2026, 11, 30, 9)) == 1 * H


def test_a_public_holiday_does_not_count():
    # Monday 2027-03-08 is International Women's Day, a public holiday in Berlin (DE-BE) only.
    assert due_at(TASK, berlin(2027, 3, 5, 16), 4 * H) == berlin(2027, 3, 9, 12)
    assert due_at(ClockRules(tz=BERLIN, holidays="DE-BY"), berlin(2027, 3, 5, 16), 4 * H) == berlin(2027, 3, 8, 12)
    assert elapsed(TASK, berlin(2027, 3, 8, 0), berlin(2027, 3, 9, 0)) == dt.timedelta(0)


def test_outside_business_hours_the_clock_waits_for_the_morning():
    # Wednesday 20:00: the clock starts Thursday 9:00.
    assert due_at(TASK, berlin(2026, 11, 25, 20), 4 * H) == berlin(2026, 11, 26, 13)
    assert elapsed(TASK, berlin(2026, 11, 25, 20), berlin(2026, 11, 26, 8, 59)) == dt.timedelta(0)
    # Early morning counts from 9:00 the same day.
    assert due_at(TASK, berlin(2026, 11, 26, 6), 1 * H) == berlin(2026, 11, 26, 10)


def test_an_emergency_runs_around_the_clock_and_weekends():
    assert due_at(EMERGENCY, berlin(2026, 11, 28, 23, 30), 1 * H) == berlin(2026, 11, 29, 0, 30)  # a Saturday night


def test_dst_change_counts_real_time_around_the_clock_and_local_hours_in_business_time():
    # Berlin leaves summer time on Sunday 2026-10-25 at 03:00 CEST -> 02:00 CET.
    start = dt.datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # Saturday 23:30 CEST
    due = due_at(EMERGENCY, start, 4 * H)
    assert due == dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET: 3 wall-clock hours, 4 real ones
    # Business hours follow the wall clock: Monday's 9:00 CET is 08:00 UTC (Friday's 9:00 CEST was 07:00).
    assert due_at(TASK, berlin(2026, 10, 23, 16), 2 * H) == dt.datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert TASK.window(dt.date(2026, 10, 23)) == (dt.datetime(2026, 10, 23, 7, tzinfo=UTC), dt.datetime(2026, 10, 23, 15, tzinfo=UTC))
    assert TASK.window(dt.date(2026, 10, 26)) == (dt.datetime(2026, 10, 26, 8, tzinfo=UTC), dt.datetime(2026, 10, 26, 16, tzinfo=UTC))


def test_waiting_for_the_client_pauses_the_clock():
    start = berlin(2026, 11, 23, 9)  # Monday
    pauses = [(berlin(2026, 11, 23, 10), berlin(2026, 11, 23, 14))]
    assert elapsed(TASK, start, berlin(2026, 11, 23, 15), pauses) == 2 * H
    assert due_at(TASK, start, 4 * H, pauses) == berlin(2026, 11, 23, 17)
    # Still waiting: no due time, and the share stands still.
    still = [(berlin(2026, 11, 23, 10), None)]
    assert due_at(TASK, start, 4 * H, still) is None
    assert share(TASK, start, berlin(2026, 11, 25, 12), 4 * H, still) == 0.25


def test_share_of_the_target():
    start = berlin(2026, 11, 23, 9)
    assert share(TASK, start, berlin(2026, 11, 23, 12), 4 * H) == 0.75
    assert share(TASK, start, berlin(2026, 11, 24, 10), 4 * H) == 2.25  # breached


# -- properties

_instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)
)
_rules = st.builds(
    ClockRules,
    tz=st.sampled_from([BERLIN, zoneinfo.ZoneInfo("America/New_York"), zoneinfo.ZoneInfo("Asia/Kolkata")]),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    start=st.sampled_from([dt.time(0), dt.time(8, 30), dt.time(9)]),
    end=st.sampled_from([dt.time(12), dt.time(17), dt.time(23, 59)]),
    holidays=st.sampled_from([None, "DE-BE", "US"]),
    around_the_clock=st.booleans(),
)
_targets = st.integers(1, 3 * 24 * 60).map(lambda m: dt.timedelta(minutes=m))


@settings(max_examples=60, deadline=None)
@given(_rules, _instants, _instants, _instants)
def test_elapsed_adds_up_and_never_exceeds_the_wall_clock(rules, a, b, c):
    a, b, c = sorted((a, b, c))
    assert elapsed(rules, a, b) + elapsed(rules, b, c) == elapsed(rules, a, c)
    assert dt.timedelta(0) <= elapsed(rules, a, c) <= c - a
    if rules.around_the_clock:
        assert elapsed(rules, a, c) == c - a


@settings(max_examples=60, deadline=None)
@given(_rules, _instants, _targets, st.lists(st.tuples(_instants, st.integers(1, 5000)), max_size=3))
def test_due_at_is_the_first_instant_the_target_is_reached(rules, start, target, raw_pauses):
    pauses = [(p, p + dt.timedelta(minutes=m)) for p, m in raw_pauses]
    due = due_at(rules, start, target, pauses)
    assert due is not None  # every rule set has business days
    assert elapsed(rules, start, due, pauses) == target
    assert elapsed(rules, start, due - dt.timedelta(microseconds=1), pauses) < target
