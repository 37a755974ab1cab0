"""What a handover tells people, as values (pure): the summary at creation, the client's line at the
start, and "while you were away" at the end — each per account, from what the bot reads anyway
(the digest's Jira issues and versions, the budget). Render puts them into words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.accounts import Account, Audience
from bot.domain.audience import issue_visible
from bot.domain.budget import BudgetStatus, budget_status
from bot.domain.roles import Handover, roles_named
from bot.domain.work import Issue, Version

# Enough to act on; the rest is a click away in Jira.
MAX_ISSUES = 15
MAX_NEW = 10


def jira_ids(account: Account, user_id: str) -> frozenset[str]:
    """The Jira identities (account ids or emails) the accounts file maps to this Slack user."""
    return frozenset(jira for jira, slack in account.people.items() if slack == user_id)


def assigned_to(issue: Issue, ids: frozenset[str]) -> bool:
    return bool(ids) and (issue.assignee_id in ids or (issue.assignee_email or "").lower() in {i.lower() for i in ids})


@dataclass(frozen=True)
class IssueNote:
    key: str
    summary: str
    status: str
    priority: str | None
    due: dt.date | None
    due_during: bool  # due within the absence
    waiting: bool  # waiting for the client
    internal: bool  # withheld from the client view (marked for the reader)


@dataclass(frozen=True)
class MilestoneNote:
    name: str
    release_date: dt.date | None
    open_issues: int  # the leaver's open issues in it


@dataclass(frozen=True)
class Summary:
    """The handover summary of one account."""

    account: Account
    handover: Handover
    roles: tuple[str, ...]  # the leaver's roles there, which pass to the cover
    issues: tuple[IssueNote, ...]  # due during the absence first, then by due date, then key
    more_issues: int  # open issues beyond MAX_ISSUES
    milestones: tuple[MilestoneNote, ...]
    budget: BudgetStatus | None  # the internal view


def _note(issue: Issue, account: Account, handover: Handover | None) -> IssueNote:
    """`handover`: mark what falls due before it ends (None: after the fact, nothing to mark)."""
    due_during = handover is not None and issue.due is not None and issue.due <= handover.end
    waiting = issue.status in account.jira.waiting_statuses
    internal = not issue_visible(issue, Audience.CLIENT, account)  # the audience policy decides
    return IssueNote(issue.key, issue.summary, issue.status, issue.priority, issue.due, due_during, waiting, internal)


def summary(
    account: Account, handover: Handover, issues: Iterable[Issue], versions: Sequence[Version], now: dt.datetime,
    handovers: Iterable[Handover] = (),
) -> Summary:
    """What the cover needs to know in `account`: the leaver's open issues (those due during the
    absence first), the milestones they carry work in, their roles, and the budget."""
    listed = list({i.key: i for i in issues}.values())
    ids = jira_ids(account, handover.from_user)
    mine = [i for i in listed if not i.done and assigned_to(i, ids)]
    notes = sorted((_note(i, account, handover) for i in mine),
                   key=lambda n: (not n.due_during, n.due or dt.date.max, n.key))
    by_version: dict[str, int] = {}
    for issue in mine:
        for version_id in issue.fix_version_ids:
            by_version[version_id] = by_version.get(version_id, 0) + 1
    milestones = tuple(sorted(
        (MilestoneNote(v.name, v.release_date, by_version[v.id]) for v in versions if v.id in by_version and not v.released),
        key=lambda m: (m.release_date or dt.date.max, m.name),
    ))
    return Summary(
        account=account, handover=handover, roles=tuple(roles_named(account, handover.from_user)),
        issues=tuple(notes[:MAX_ISSUES]), more_issues=max(0, len(notes) - MAX_ISSUES), milestones=milestones,
        budget=budget_status(account, Audience.INTERNAL, listed, now, handovers),
    )


@dataclass(frozen=True)
class WhileAway:
    """What happened in one account while someone was away (`since`..`until`, whole local days)."""

    account: Account
    handover: Handover
    since: dt.date
    until: dt.date
    done: tuple[IssueNote, ...]  # the returner's issues resolved meanwhile
    open: tuple[IssueNote, ...]  # the returner's issues still open (waiting for the client marked)
    new: tuple[IssueNote, ...]  # new requirements: issues created meanwhile
    more_new: int
    reached: tuple[MilestoneNote, ...]  # released meanwhile
    slipped: tuple[MilestoneNote, ...]  # due meanwhile, not released
    logged_hours: float  # work logged in the account meanwhile
    budget: BudgetStatus | None


def while_away(
    account: Account, handover: Handover, until: dt.date, issues: Iterable[Issue], versions: Sequence[Version],
    now: dt.datetime,
) -> WhileAway:
    """What changed in `account` from the handover's start through `until` (its end, or the cancel day)."""
    tz = account.tz
    since = handover.start
    listed = list({i.key: i for i in issues}.values())
    ids = jira_ids(account, handover.from_user)

    def during(moment: dt.datetime | None) -> bool:
        return moment is not None and since <= moment.astimezone(tz).date() <= until

    mine = [i for i in listed if assigned_to(i, ids)]
    done = [_note(i, account, None) for i in mine if i.done and during(i.resolved)]
    still = sorted((_note(i, account, None) for i in mine if not i.done), key=lambda n: (n.due or dt.date.max, n.key))
    new = sorted((_note(i, account, None) for i in listed if during(i.created)), key=lambda n: n.key)
    reached = tuple(MilestoneNote(v.name, v.release_date, 0) for v in versions
                    if v.released and v.release_date is not None and since <= v.release_date <= until)
    slipped = tuple(MilestoneNote(v.name, v.release_date, 0) for v in versions
                    if not v.released and v.release_date is not None and since <= v.release_date <= until)
    seconds = sum(w.seconds for i in listed for w in i.worklogs if during(w.started))
    return WhileAway(
        account=account, handover=handover, since=since, until=until, done=tuple(done[:MAX_ISSUES]),
        open=tuple(still[:MAX_ISSUES]), new=tuple(new[:MAX_NEW]), more_new=max(0, len(new) - MAX_NEW),
        reached=reached, slipped=slipped, logged_hours=round(seconds / 3600, 2),
        budget=budget_status(account, Audience.INTERNAL, listed, now),
    )
