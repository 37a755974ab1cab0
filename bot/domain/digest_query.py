"""Which Jira issues a digest needs, as JQL — narrower than the whole scope, never missing one.

A digest needs: open issues (deadlines, waiting-for-you), issues with worklogs in the budget
period, issues created or resolved since the last digest, and every issue of an unreleased
version (milestone progress counts done ones too). Logging work or resolving an issue updates
its `updated` field, so "not done, or updated since the earliest date we look at, or in an
unreleased version" covers all of them without fetching years of closed history.
"""

from __future__ import annotations

import datetime as dt

from bot.domain.accounts import Account
from bot.domain.budget import budget_period

# JQL dates are read in the Jira user's timezone, which we do not know: start a day early.
_MARGIN = dt.timedelta(days=1)


def earliest_needed(account: Account, now: dt.datetime, since: dt.datetime) -> dt.date:
    """The first day whose updates can change this digest."""
    local_since = since.astimezone(account.tz).date()
    period = budget_period(account, now)
    start = min(local_since, period.start) if period else local_since
    return start - _MARGIN


def digest_jql(account: Account, now: dt.datetime, since: dt.datetime) -> str:
    """JQL for all issues one digest of `account` can mention or count."""
    first = earliest_needed(account, now, since)
    # ORDER BY key: a stable order, so offset paging (Server/Data Center) neither skips nor
    # repeats an issue updated while we page.
    return (
        f"{account.jira.scope_jql()} AND (statusCategory != Done "
        f'OR updated >= "{first.isoformat()}" OR fixVersion in unreleasedVersions()) ORDER BY key ASC'
    )
