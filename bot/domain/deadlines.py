"""Deadlines: open issues due soon or overdue, and what waits for the client."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.accounts import Account, Audience
from bot.domain.audience import issue_visible, visible_issues
from bot.domain.work import Issue


@dataclass(frozen=True, slots=True)
class IssueLine:
    """An issue as a digest lists it."""

    key: str
    summary: str
    status: str
    assignee: str | None = None
    due: dt.date | None = None
    days_left: int | None = None  # due - today; negative when overdue
    when: dt.datetime | None = None  # created or resolved, for the change lists
    # Listed in an internal digest although the client view withholds it: marked there, so
    # nobody quotes it in the shared channel by mistake.
    client_hidden: bool = False

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True, slots=True)
class DeadlinesSection:
    """Overdue and upcoming deadlines; ``waiting`` is None for internal channels."""

    today: dt.date
    horizon_days: int
    items: tuple[IssueLine, ...]  # overdue first, then by due date
    waiting: tuple[IssueLine, ...] | None
    # Open issues (visible to the audience) waiting for the client, in either audience: the
    # status glance counts them; only client channels get the list itself.
    waiting_for_client: int = 0

    @property
    def overdue_count(self) -> int:
        return sum(1 for item in self.items if item.overdue)


def issue_sort_key(key: str) -> tuple[str, int]:
    """Orders ACME-2 before ACME-10 (plain string order would not)."""
    match = re.fullmatch(r"(.*?)-(\d+)", key)
    if match is None:
        return (key, 0)
    return (match.group(1), int(match.group(2)))


def issue_line(
    issue: Issue, today: dt.date, when: dt.datetime | None = None, *, client_hidden: bool = False
) -> IssueLine:
    """One issue as a list line, with days left to its due date."""
    days_left = (issue.due - today).days if issue.due is not None else None
    return IssueLine(
        key=issue.key,
        summary=issue.summary,
        status=issue.status,
        assignee=issue.assignee,
        due=issue.due,
        days_left=days_left,
        when=when,
        client_hidden=client_hidden,
    )


def hidden_from_client(issue: Issue, audience: Audience, account: Account) -> bool:
    """In an internal channel's list: does the client view withhold this issue?"""
    return audience is Audience.INTERNAL and not issue_visible(issue, Audience.CLIENT, account)


def _is_waiting_for_client(issue: Issue, account: Account) -> bool:
    scope = account.jira
    waiting = {s.casefold() for s in scope.waiting_statuses}
    return issue.status.casefold() in waiting or (
        issue.assignee_id is not None and issue.assignee_id in scope.client_users
    )


def deadlines_section(
    account: Account, audience: Audience, issues: Iterable[Issue], now: dt.datetime
) -> DeadlinesSection:
    """Open issues overdue or due within the account's horizon, plus the client's to-do list."""
    today = now.astimezone(account.tz).date()
    horizon = account.jira.deadline_horizon_days
    last_day = today + dt.timedelta(days=horizon)
    open_issues = [i for i in visible_issues(issues, audience, account) if not i.done]

    due = [i for i in open_issues if i.due is not None and i.due <= last_day]
    due.sort(key=lambda i: (i.due, issue_sort_key(i.key)))  # overdue sorts first: earlier date
    items = tuple(issue_line(i, today, client_hidden=hidden_from_client(i, audience, account)) for i in due)

    waiting = None
    if audience is Audience.CLIENT:
        mine = [i for i in open_issues if _is_waiting_for_client(i, account)]
        # Dated items first (soonest first), undated after, stable by key.
        mine.sort(key=lambda i: (i.due is None, i.due or today, issue_sort_key(i.key)))
        waiting = tuple(issue_line(i, today) for i in mine)

    waiting_count = sum(1 for i in open_issues if _is_waiting_for_client(i, account))
    return DeadlinesSection(
        today=today, horizon_days=horizon, items=items, waiting=waiting, waiting_for_client=waiting_count
    )
