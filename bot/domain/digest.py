"""The account digest: budget, milestones, deadlines and what changed, for one audience.

Entry point ``build_digest``; the section builders (``budget_status``, ``milestones_section``,
``deadlines_section``, ``changes_section``) serve ``/pulse budget|milestones|deadlines`` alone.
Every section filters the issues by audience itself, so none can leak withheld work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.accounts import Account, Audience
from bot.domain.audience import visible_issues
from bot.domain.budget import BudgetStatus, budget_status
from bot.domain.deadlines import (
    DeadlinesSection,
    IssueLine,
    deadlines_section,
    hidden_from_client,
    issue_line,
    issue_sort_key,
)
from bot.domain.lookback import default_since
from bot.domain.milestones import MilestonesSection, milestones_section
from bot.domain.roles import Handover
from bot.domain.work import Issue, Version

__all__ = [
    "BudgetStatus",
    "ChangesSection",
    "DeadlinesSection",
    "Digest",
    "IssueLine",
    "MilestonesSection",
    "budget_status",
    "build_digest",
    "changes_section",
    "deadlines_section",
    "default_since",
    "milestones_section",
]


@dataclass(frozen=True, slots=True)
class ChangesSection:
    """Issues created and issues resolved since the channel's last digest (oldest first)."""

    since: dt.datetime
    created: tuple[IssueLine, ...]
    resolved: tuple[IssueLine, ...]
    # False when there was no previous digest: the lists cover the default window (a preview,
    # a command, a channel's first digest), and say so instead of "since the last digest".
    since_last_digest: bool = True


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one channel's digest says, already filtered for its audience."""

    account_key: str
    account_name: str
    audience: Audience
    generated_at: dt.datetime
    today: dt.date
    since: dt.datetime
    budget: BudgetStatus | None
    milestones: MilestonesSection
    deadlines: DeadlinesSection
    changes: ChangesSection
    # Support requests of the period (`bot.domain.support_figures`); None: the account files none.
    support: SupportFigures | None = None


if TYPE_CHECKING:
    from bot.domain.support_figures import SupportFigures


def changes_section(
    account: Account,
    audience: Audience,
    issues: Iterable[Issue],
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> ChangesSection:
    """Issues created since ``since`` and issues done since then (``None``: the last 7 days)."""
    given_since, since = since, default_since(now, since)
    today = now.astimezone(account.tz).date()
    seen = visible_issues(issues, audience, account)
    # Half-open (since, now]: an issue created exactly at a slot belongs to that slot's digest,
    # not also to the next one (whose `since` is that slot).
    created = sorted(
        (i for i in seen if since < i.created <= now),
        key=lambda i: (i.created, issue_sort_key(i.key)),
    )
    resolved = sorted(
        (i for i in seen if i.done and i.resolved is not None and since < i.resolved <= now),
        key=lambda i: (i.resolved, issue_sort_key(i.key)),
    )
    return ChangesSection(
        since=since,
        since_last_digest=given_since is not None,
        created=tuple(issue_line(i, today, when=i.created, client_hidden=hidden_from_client(i, audience, account))
                      for i in created),
        resolved=tuple(issue_line(i, today, when=i.resolved, client_hidden=hidden_from_client(i, audience, account))
                       for i in resolved),
    )


def build_digest(
    account: Account,
    audience: Audience,
    issues: Iterable[Issue],
    versions: Iterable[Version],
    now: dt.datetime,
    since: dt.datetime | None = None,
    handovers: Iterable[Handover] = (),
) -> Digest:
    """The whole digest for a channel of ``audience`` at ``now`` (aware), since its last digest;
    ``handovers`` (not cancelled) name the budget role as held today."""
    if now.tzinfo is None or (since is not None and since.tzinfo is None):
        raise ValueError("now and since must be timezone-aware")
    # Every section filters by audience itself and is given all issues: the milestones section
    # needs the withheld ones to recognise an all-internal version (and hide its name). An issue
    # returned twice (offset paging while Jira changes underneath) counts once.
    issues = list({issue.key: issue for issue in issues}.values())
    return Digest(
        account_key=account.key,
        account_name=account.name,
        audience=audience,
        generated_at=now,
        today=now.astimezone(account.tz).date(),
        since=default_since(now, since),
        budget=budget_status(account, audience, issues, now, handovers),
        milestones=milestones_section(account, audience, issues, list(versions), now, since),
        deadlines=deadlines_section(account, audience, issues, now),
        changes=changes_section(account, audience, issues, now, since),
    )
