"""The first-response clock: business time between instants, and when a target falls due.

A task's clock runs only in the account's business hours (its weekdays and hours, in its
timezone, less the public holidays of its calendar); an emergency's runs around the clock. Both
stop while the request waits for the client (`pauses`: the spans the issue spent in one of the
account's waiting statuses; an open span has no end yet).

Business hours are wall-clock times of the local day, turned into instants per day, so a DST
change moves them with the clock on the wall; all arithmetic is on UTC instants (an aware
datetime minus another of the same zone would subtract wall-clock times).

Pure: values in, values out.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.domain.accounts import Account, Urgency
from bot.domain.calendar import holiday_dates

UTC = dt.timezone.utc
# How far `due_at` looks ahead for business time: a target that needs longer is never due.
HORIZON_DAYS = 800

Pause = tuple[dt.datetime, dt.datetime | None]


@dataclass(frozen=True)
class ClockRules:
    """When a request's clock runs."""

    tz: dt.tzinfo
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    start: dt.time = dt.time(9)
    end: dt.time = dt.time(17)
    holidays: str | None = None  # a holiday calendar code (DE-BE), see bot.domain.calendar
    around_the_clock: bool = False

    @classmethod
    def for_account(cls, account: Account, urgency: Urgency) -> ClockRules:
        """The account's clock for this urgency (an emergency: around the clock)."""
        assert account.support is not None
        hours = account.support.hours
        return cls(
            tz=zoneinfo.ZoneInfo(hours.timezone or account.timezone),
            weekdays=hours.weekday_numbers(),
            start=hours.start,
            end=hours.end,
            holidays=account.holidays,
            around_the_clock=urgency is Urgency.EMERGENCY,
        )

    def is_business_day(self, day: dt.date) -> bool:
        if day.weekday() not in self.weekdays:
            return False
        return self.holidays is None or day not in holiday_dates(self.holidays, day.year, day.year)

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The day's business hours as UTC instants, or None on a day off."""
        if not self.is_business_day(day):
            return None
        opens = dt.datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        closes = dt.datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC)
        return (opens, closes) if closes > opens else None


def _aware(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError("the support clock needs timezone-aware instants")
    return instant.astimezone(UTC)


def _windows(rules: ClockRules, since: dt.datetime, days: int) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Business windows (UTC) that end after `since`, in order, for `days` local days."""
    if rules.around_the_clock:
        yield since, since + dt.timedelta(days=days)
        return
    # A day's window can begin the evening before in UTC terms: start one local day early.
    day = since.astimezone(rules.tz).date() - dt.timedelta(days=1)
    for _ in range(days + 2):
        window = rules.window(day)
        if window is not None and window[1] > since:
            yield max(window[0], since), window[1]
        day += dt.timedelta(days=1)


def _pauses(pauses: Sequence[Pause]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """Pauses as UTC spans, sorted; an open pause (no end) runs forever."""
    return sorted(((_aware(a), _aware(b) if b is not None else None) for a, b in pauses), key=lambda p: p[0])


def _running(start: dt.datetime, end: dt.datetime, pauses: list[tuple[dt.datetime, dt.datetime | None]]
             ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The parts of [start, end) outside every pause."""
    cursor = start
    for p_start, p_end in pauses:
        if p_end is not None and p_end <= cursor:
            continue
        if p_start >= end:
            break
        if p_start > cursor:
            yield cursor, p_start
        if p_end is None:
            return
        cursor = max(cursor, p_end)
        if cursor >= end:
            return
    if cursor < end:
        yield cursor, end


def elapsed(rules: ClockRules, start: dt.datetime, end: dt.datetime, pauses: Sequence[Pause] = ()) -> dt.timedelta:
    """Clock time from `start` to `end`: business time (or all time, around the clock), less pauses."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return dt.timedelta(0)
    total = dt.timedelta(0)
    days = (end - start).days + 2
    paused = _pauses(pauses)
    for w_start, w_end in _windows(rules, start, days):
        if w_start >= end:
            break
        for r_start, r_end in _running(w_start, min(w_end, end), paused):
            total += r_end - r_start
    return total


def due_at(rules: ClockRules, start: dt.datetime, target: dt.timedelta, pauses: Sequence[Pause] = ()) -> dt.datetime | None:
    """The instant the clock reaches `target`; None while it is stopped (an open pause comes first)
    or if no business time is left within the horizon (no business day at all)."""
    start = _aware(start)
    remaining = target
    paused = _pauses(pauses)
    stopped = min((p_start for p_start, p_end in paused if p_end is None), default=None)
    for w_start, w_end in _windows(rules, start, HORIZON_DAYS):
        if stopped is not None and w_start >= stopped:
            return None  # no time counts from here until the client answers
        for r_start, r_end in _running(w_start, w_end, paused):
            if r_end - r_start >= remaining:
                return r_start + remaining
            remaining -= r_end - r_start
    return None


def share(rules: ClockRules, start: dt.datetime, now: dt.datetime, target: dt.timedelta,
          pauses: Sequence[Pause] = ()) -> float:
    """How much of the target the clock has used (1.0: due; above: breached)."""
    return elapsed(rules, start, now, pauses) / target
