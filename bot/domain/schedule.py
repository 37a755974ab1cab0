"""Digest schedule slots: which cron fire times fall in a window, and which to post or skip."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from apscheduler.triggers.cron import CronTrigger

# How far back a tick looks for missed slots (at least; a longer grace looks further).
LOOKBACK = dt.timedelta(days=1)


def slots_between(cron: str, timezone: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Fire times of `cron` (in `timezone`) with start < t <= end, as aware UTC datetimes."""
    trigger = CronTrigger.from_crontab(cron, timezone=zoneinfo.ZoneInfo(timezone))
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
    cron: str, timezone: str, grace: dt.timedelta, now: dt.datetime, claimed: set[dt.datetime]
) -> SlotPlan:
    """Decide what a tick does for one channel: post the newest unclaimed slot within grace, skip older ones."""
    window_start = now - max(LOOKBACK, grace)
    open_slots = [s for s in slots_between(cron, timezone, window_start, now) if s not in claimed]
    if not open_slots:
        return SlotPlan(None, ())
    newest = open_slots[-1]
    if now - newest <= grace:
        return SlotPlan(newest, tuple(open_slots[:-1]))
    return SlotPlan(None, tuple(open_slots))
