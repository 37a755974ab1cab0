"""Digest schedule slots: which cron fire times fall in a window, and which to post or skip."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from apscheduler.triggers.cron import CronTrigger

# How far back a tick looks for missed slots (at least; a longer grace looks further).
LOOKBACK = dt.timedelta(days=1)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_EXAMPLE = "'0 9 * * mon' (Mondays 09:00) or '30 8 * * mon-fri' (weekdays 08:30)"
_CRON_FIELDS = ("minute", "hour", "day of month", "month", "weekday")
# A date the "does it ever fire" check starts from; any fixed date does (the rule is the calendar's).
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """The scheduler's own reading of a 5-field crontab (raises ValueError when it has none)."""
    return CronTrigger.from_crontab(cron, timezone=zoneinfo.ZoneInfo(timezone))


def cron_problem(cron: str) -> str | None:
    """What is wrong with a digest schedule, in words an operator can act on; None when it is fine.

    Checked with APScheduler's parser, the one the scheduler uses, so that what passes here
    cannot fail at the first tick of `pulse serve`.
    """
    fields = cron.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"{cron!r} has {len(fields)} field(s); a schedule has 5: minute hour day-of-month month weekday"
    for part in fields[4].lower().split(","):
        for token in part.partition("/")[0].split("-"):  # a step (mon-fri/2) may be a number
            if token.isdigit():
                # APScheduler 3 counts weekdays from Monday = 0, crontab from Sunday = 0: '1'
                # would silently mean Tuesday. Names mean the same everywhere.
                return f"{cron!r}: write the weekday as a name ({', '.join(WEEKDAYS)}), not a number"
            if token not in ("*", "?") and token not in WEEKDAYS:
                guess = next((d for d in WEEKDAYS if token[:2] == d[:2] and (token.startswith(d) or d.startswith(token))), None)
                hint = f"; did you mean {guess!r}?" if guess else f" (weekdays are {', '.join(WEEKDAYS)})"
                return f"{cron!r}: {token!r} is not a weekday{hint}"
    try:
        trigger = cron_trigger(cron, "UTC")
    except ValueError as exc:
        field = _failing_field(fields)
        where = f"the {field} field: " if field else ""
        return f"{cron!r}: {where}{exc}"
    if trigger.get_next_fire_time(None, _EPOCH) is None:
        return f"{cron!r} never fires (no such date)"
    return None


def _failing_field(fields: list[str]) -> str | None:
    """Which of the five fields APScheduler refuses (its message quotes only the value)."""
    for i, name in enumerate(_CRON_FIELDS):
        probe = ["*"] * 5
        probe[i] = fields[i]
        try:
            CronTrigger.from_crontab(" ".join(probe), timezone=dt.timezone.utc)
        except ValueError:
            return name
    return None


def slots_between(cron: str, timezone: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Fire times of `cron` (in `timezone`) with start < t <= end, as aware UTC datetimes."""
    trigger = cron_trigger(cron, timezone)
    slots: list[dt.datetime] = []
    fire = trigger.get_next_fire_time(None, start + dt.timedelta(microseconds=1))
    while fire is not None and fire <= end:
        slots.append(fire.astimezone(dt.timezone.utc))
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
    return slots


@dataclass(frozen=True)
class SlotPlan:
    post: dt.datetime | None  # the slot to post now (the newest one still within grace)
    skip: tuple[dt.datetime, ...]  # missed slots too old to post (or superseded by a newer one)


def plan_slots(
    cron: str,
    timezone: str,
    grace: dt.timedelta,
    now: dt.datetime,
    claimed: set[dt.datetime],
    since: dt.datetime | None = None,
) -> SlotPlan:
    """Decide what a tick does for one channel: post the newest unclaimed slot within grace, skip older ones.

    `since` is when the bot first scheduled this channel: slots due before it were not missed,
    the bot was not there; they are left alone silently. Only the last one before `since`, if
    it was still within grace then, is the bot's to post (as at any start).
    """
    window_start = now - max(LOOKBACK, grace)
    slots = slots_between(cron, timezone, window_start, now)
    if since is not None:
        before = [s for s in slots if s < since]
        slots = [s for s in before[-1:] if since - s <= grace] + [s for s in slots if s >= since]
    open_slots = [s for s in slots if s not in claimed]
    if not open_slots:
        return SlotPlan(None, ())
    newest = open_slots[-1]
    if now - newest <= grace:
        return SlotPlan(newest, tuple(open_slots[:-1]))
    return SlotPlan(None, tuple(open_slots))
