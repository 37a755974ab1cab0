"""What a handover tells people, as values (pure): the summary at creation, the client's line at the
start, and "while you were away" at the end — each per account, from what the bot reads anyway
(the digest's Jira issues and versions, the budget). Render puts them into words.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain.accounts import Account, Audience
from bot.domain.audience import issue_visible
from bot.domain.budget import BudgetStatus, budget_status
from bot.domain.facts import comment_marked_public, read_comment_access, service_desk_fact
from bot.domain.roles import Handover, roles_named
from bot.domain.work import Issue, Version

# Enough to act on; the rest is a click away in Jira.
MAX_ISSUES = 15
MAX_NEW = 10
# Comments in the summary: the last few client-visible ones on the first few listed issues the
# client can see (one Jira call per issue: at most MAX_COMMENT_ISSUES calls per account).
MAX_COMMENT_ISSUES = 5
COMMENTS_PER_ISSUE = 3
COMMENTS_ASKED = 10  # the newest this many per issue are asked for; the visible ones among them shown
# "While you were away": the client's answers on at most this many issues (one call each).
MAX_ANSWER_ISSUES = 10
ANSWERS_ASKED = 20
MAX_ANSWERS = 10
EXCERPT_LINES = 2
EXCERPT_CHARS = 160
# Jira Cloud's accountType of a Service Desk portal customer: positively the client's.
CLIENT_ACCOUNT_TYPE = "customer"


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
class CommentNote:
    """A few words of one Jira comment (or a client's request from Slack: `issue_key` may be None)."""

    issue_key: str | None
    who: str
    at: dt.datetime
    text: str  # the first lines, cut short
    source: str = "jira"  # "jira" | "slack"


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
    # Issue key -> its last client-visible comments, oldest first (see `with_comments`).
    comments: Mapping[str, tuple[CommentNote, ...]] = field(default_factory=dict)


# --- comments ------------------------------------------------------------------------------------


def client_visible_comment(comment: Any, project_type: str | None) -> bool:
    """Could the client read this comment? Only when positively known: no role or group
    `visibility`, not a Service Desk internal note (`jsdPublic` false, `sd.public.comment`
    internal), and in a Service Desk project (or one of unknown type) marked public. Anything
    unreadable is not client-visible — so an internal comment is never labelled as one."""
    if not read_comment_access(comment).public:
        return False
    return service_desk_fact(project_type, comment_marked_public(comment)).public


def _moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def excerpt(body: Any, lines: int = EXCERPT_LINES, chars: int = EXCERPT_CHARS) -> str | None:
    """The first `lines` non-empty lines joined by " / ", cut at `chars` ("…" where cut);
    None for a body that is not text (an ADF document from the v3 API, nothing)."""
    if not isinstance(body, str):
        return None
    found = [line.strip() for line in body.replace("\r", "\n").split("\n") if line.strip()]
    if not found:
        return None
    text = " / ".join(found[:lines])
    if len(text) > chars:
        return text[: chars - 1].rstrip() + "…"
    return text + " …" if len(found) > lines else text


def _comment_note(issue_key: str, comment: Mapping[str, Any], lines: int) -> CommentNote | None:
    at = _moment(comment.get("created"))
    text = excerpt(comment.get("body"), lines)
    if at is None or text is None:
        return None
    author = comment.get("author")
    who = author.get("displayName") if isinstance(author, Mapping) else None
    return CommentNote(issue_key, who if isinstance(who, str) and who.strip() else "?", at, text)


def comment_issues(s: Summary) -> list[str]:
    """The issues whose comments the summary shows: the first few listed that the client can see
    (a comment on an issue withheld from the client was never read by the client)."""
    return [n.key for n in s.issues if not n.internal][:MAX_COMMENT_ISSUES]


def with_comments(
    s: Summary, raw: Mapping[str, Sequence[Any]], issues: Iterable[Issue],
) -> Summary:
    """The summary with each issue's last client-visible comments (`raw`: issue key -> comments as
    Jira returns them, oldest first)."""
    types = {i.key: i.project_type for i in issues}
    allowed = set(comment_issues(s))
    found: dict[str, tuple[CommentNote, ...]] = {}
    for key, comments in raw.items():
        if key not in allowed:
            continue
        notes = [note for c in comments if isinstance(c, Mapping) and client_visible_comment(c, types.get(key))
                 and (note := _comment_note(key, c, EXCERPT_LINES)) is not None]
        if notes:
            found[key] = tuple(notes[-COMMENTS_PER_ISSUE:])
    return dataclasses.replace(s, comments=found)


def client_author(comment: Mapping[str, Any], account: Account) -> bool:
    """Is the comment's author positively the client's? A Jira account the accounts file names as a
    client person (`jira.client_users`), or a Service Desk portal customer (`accountType`
    "customer"); never someone `people:` maps to the agency, an app, a licensed user not named as
    the client's, or an author Jira does not describe (fail closed: no agency words are passed
    off as the client's decision)."""
    author = comment.get("author")
    if not isinstance(author, Mapping):
        return False
    ids = {str(author[k]) for k in ("accountId", "key", "name", "emailAddress") if isinstance(author.get(k), str)}
    if not ids or ids & {str(p) for p in account.people} or ids & {p.lower() for p in account.people}:
        return False
    if ids & set(account.jira.client_users):
        return True
    return author.get("accountType") == CLIENT_ACCOUNT_TYPE


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
    # Answers and decisions from the client meanwhile (see `client_answers`), oldest first.
    answers: tuple[CommentNote, ...] = ()
    more_answers: int = 0


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


def absence_period(account: Account, since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first day 00:00, the day after the last 00:00) in the account's timezone."""
    return (dt.datetime.combine(since, dt.time(), account.tz),
            dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), account.tz))


def answer_issues(account: Account, handover: Handover, until: dt.date, issues: Iterable[Issue]) -> list[str]:
    """The issues whose comments are read for the client's answers: those the client can see that
    are the returner's, or were created or changed during the absence; the returner's first, then
    the latest changed; at most MAX_ANSWER_ISSUES (one Jira call each)."""
    start, end = absence_period(account, handover.start, until)
    ids = jira_ids(account, handover.from_user)
    listed = list({i.key: i for i in issues}.values())

    def touched(issue: Issue) -> bool:
        return any(m is not None and m >= start for m in (issue.created, issue.updated))

    picked = [i for i in listed if issue_visible(i, Audience.CLIENT, account) and (assigned_to(i, ids) or touched(i))]
    far_past = dt.datetime.min.replace(tzinfo=dt.UTC)
    picked.sort(key=lambda i: (not assigned_to(i, ids), -(i.updated or far_past).timestamp(), i.key))
    return [i.key for i in picked[:MAX_ANSWER_ISSUES]]


def client_answers(
    w: WhileAway, raw: Mapping[str, Sequence[Any]], issues: Iterable[Issue], from_slack: Iterable[CommentNote] = (),
) -> WhileAway:
    """`w` with the client's answers during the absence: client-visible Jira comments (on the
    issues of `answer_issues`) by authors positively the client's (`client_author`), and the
    client's own requests from Slack (`from_slack`, the support feature's), the first line each."""
    start, end = absence_period(w.account, w.since, w.until)
    types = {i.key: i.project_type for i in issues}
    allowed = set(answer_issues(w.account, w.handover, w.until, issues))
    found: list[CommentNote] = []
    for key, comments in raw.items():
        if key not in allowed:
            continue
        for c in comments:
            if not isinstance(c, Mapping) or not client_visible_comment(c, types.get(key)) or not client_author(c, w.account):
                continue
            note = _comment_note(key, c, 1)
            if note is not None and start <= note.at < end:
                found.append(note)
    found.extend(n for n in from_slack if start <= n.at < end)
    found.sort(key=lambda n: (n.at, n.issue_key or ""))
    return dataclasses.replace(w, answers=tuple(found[:MAX_ANSWERS]), more_answers=max(0, len(found) - MAX_ANSWERS))
