"""The weekly overview of a manager's accounts (pure): who gets one, when, and under which key.

Everyone who holds a role in at least one account today (in their own right or as cover; people,
not user groups) gets one direct message a week listing their accounts by need of attention — the
Home's rows, from the stored snapshots. Its moment is a cron (default Monday 08:00) read in the
person's accounts' timezone: the one most of their accounts share (ties: the first account's by
key); their language is chosen the same way. The key is the person and the ISO week of that
moment, so a person gets at most one a week, also when their accounts (and so their timezone)
change within the week, or the cron fires more than once a week.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.accounts import Account
from bot.domain.roles import Handover, all_roles, today_at
from bot.domain.schedule import plan_slots

DEFAULT_CRON = "0 8 * * mon"
# How late a missed weekly overview is still sent (the bot was down on Monday morning).
GRACE = dt.timedelta(hours=12)


@dataclass(frozen=True)
class Recipient:
    user_id: str
    account_keys: tuple[str, ...]  # where they hold a role today, by key
    timezone: str
    language: str


def _most_common(values: Sequence[str]) -> str:
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)  # ties: the first (accounts by key)


def recipients(accounts: Iterable[Account], now: dt.datetime, handovers: Iterable[Handover]) -> list[Recipient]:
    """The people holding a role in at least one account today (cover applied), by user id."""
    handovers = list(handovers)
    held: dict[str, list[Account]] = {}
    for account in sorted(accounts, key=lambda a: a.key):
        for role in all_roles(account, today_at(account, now), handovers).values():
            for user in role.user_ids:
                if user.startswith(("U", "W")) and account not in held.setdefault(user, []):
                    held[user].append(account)
    return [
        Recipient(user, tuple(a.key for a in mine), _most_common([a.timezone for a in mine]),
                  _most_common([a.language for a in mine]))
        for user, mine in sorted(held.items())
    ]


def week_key(recipient: Recipient, cron: str, now: dt.datetime, grace: dt.timedelta = GRACE) -> str | None:
    """The key of the overview due for `recipient` now (the newest slot of `cron` in their
    timezone within `grace`), or None when none is due."""
    slot = plan_slots(cron, recipient.timezone, grace, now, set()).post
    if slot is None:
        return None
    year, week, _ = slot.astimezone(zoneinfo.ZoneInfo(recipient.timezone)).isocalendar()
    return f"weekly-overview:{recipient.user_id}:{year}-W{week:02d}"
