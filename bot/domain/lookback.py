"""Where "since the last digest" starts when there was no last digest."""

from __future__ import annotations

import datetime as dt

DEFAULT_LOOKBACK = dt.timedelta(days=7)


def default_since(now: dt.datetime, since: dt.datetime | None) -> dt.datetime:
    """The channel's last digest time, or a week before ``now`` for a first digest."""
    return since if since is not None else now - DEFAULT_LOOKBACK
