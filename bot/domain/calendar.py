"""Working days: Monday to Friday, less the account's public holidays (python-holidays calendars)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection

import holidays as holiday_calendars


@functools.lru_cache(maxsize=64)
def holiday_dates(code: str, first_year: int, last_year: int) -> frozenset[dt.date]:
    """Public holidays of a country ("DE") or a country's state or region ("DE-BE", "US-NY",
    "GB-ENG") from first_year to last_year; ValueError naming a code no calendar knows."""
    country, dash, subdivision = code.strip().upper().partition("-")
    if dash and not subdivision:
        raise ValueError(f"{code!r} is not a holiday calendar: name the state after the dash, e.g. DE-BE, or just DE")
    try:
        calendar = holiday_calendars.country_holidays(
            country, subdiv=subdivision or None, years=range(first_year, last_year + 1)
        )
    except NotImplementedError:
        raise ValueError(
            f"{code!r} is not a holiday calendar: use a country code like DE, or a state like DE-BE"
        ) from None
    return frozenset(calendar)


def check_calendar(code: str) -> None:
    """Raise ValueError (saying what to write instead) unless `code` names a holiday calendar."""
    holiday_dates(code, 2000, 2000)  # any year: the code is what is checked


def is_working_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def working_days(start: dt.date, end: dt.date, holidays: Collection[dt.date] = ()) -> int:
    """Number of working days from start to end, both inclusive (0 if end < start)."""
    if end < start:
        return 0
    total_days = (end - start).days + 1
    weeks, rest = divmod(total_days, 7)
    count = weeks * 5
    for offset in range(rest):
        if is_working_day(start + dt.timedelta(days=weeks * 7 + offset)):
            count += 1
    return count - sum(1 for h in holidays if start <= h <= end and h.weekday() < 5)


def nth_working_day_after(day: dt.date, n: int, holidays: Collection[dt.date] = ()) -> dt.date:
    """The n-th working day after ``day`` (n >= 1), not counting ``day`` itself."""
    current = day
    while n > 0:
        current += dt.timedelta(days=1)
        if is_working_day(current, holidays):
            n -= 1
    return current
