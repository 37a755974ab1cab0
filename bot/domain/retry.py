"""How long to wait before trying a failed thing again: capped exponential backoff. Pure.

Shared by the loops that retry on their own clock: handover steps (`bot.services.handover_steps`,
attempts stored per step), support request filing (`bot.services.support`) and webhook deliveries
(`bot.services.inbox_worker`, `WorkerSettings.backoff_base`/`backoff_cap`).

    backoff(1, base=1 min, cap=1 h)   # 1 min after the first failure
    backoff(3, base=1 min, cap=1 h)   # 4 min after the third
    backoff(99, base=1 min, cap=1 h)  # never more than the cap (and never an overflow)
"""

from __future__ import annotations

import datetime as dt


def backoff(attempts: int, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """The wait after `attempts` failures in a row: `base` after the first, doubled after each
    further one, at most `cap` (doubled step by step, so a huge count cannot overflow)."""
    delay = base
    for _ in range(max(0, attempts - 1)):
        if delay >= cap:
            break
        delay *= 2
    return min(delay, cap)
