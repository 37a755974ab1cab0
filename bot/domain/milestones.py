"""Milestones: progress and risk of unreleased Jira versions, and recent releases."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from bot.domain.accounts import Account, Audience
from bot.domain.audience import visible_issues
from bot.domain.lookback import default_since
from bot.domain.work import Issue, Version

PACE_WINDOW_DAYS = 14


class Risk(enum.StrEnum):
    """Why a milestone is at risk."""

    OVERDUE = "overdue"  # release date passed, version not released
    PACE = "pace"  # at the last 14 days' pace the open issues are not done by the release date


@dataclass(frozen=True, slots=True)
class Milestone:
    """One unreleased version's progress, counted over the issues the audience may see."""

    version_id: str
    project: str
    name: str
    release_date: dt.date | None
    issues_total: int
    issues_done: int
    estimate_total_seconds: int  # over issues with an original estimate only
    estimate_done_seconds: int
    days_left: int | None  # release_date - today; negative when overdue
    resolved_in_window: int  # issues of this version resolved in the last 14 days
    risk: Risk | None  # always None for versions without a release date
    start_date: dt.date | None = None  # the version's start date, when Jira has one (the timeline's bar)

    @property
    def issues_open(self) -> int:
        return self.issues_total - self.issues_done

    @property
    def at_risk(self) -> bool:
        return self.risk is not None

    @property
    def issue_ratio(self) -> Fraction | None:
        return Fraction(self.issues_done, self.issues_total) if self.issues_total else None

    @property
    def estimate_ratio(self) -> Fraction | None:
        if not self.estimate_total_seconds:
            return None
        return Fraction(self.estimate_done_seconds, self.estimate_total_seconds)


@dataclass(frozen=True, slots=True)
class ReleasedVersion:
    """A version released since the last digest."""

    version_id: str
    project: str
    name: str
    release_date: dt.date
    issues_total: int
    start_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class MilestonesSection:
    """Dated milestones with issues (soonest first), then undated ones, and recent releases."""

    today: dt.date
    milestones: tuple[Milestone, ...]
    released: tuple[ReleasedVersion, ...]
    # False when there was no previous digest: `released` then covers the default window.
    since_last_digest: bool = True

    @property
    def at_risk_count(self) -> int:
        return sum(1 for m in self.milestones if m.at_risk)


def _in_scope(version: Version, account: Account) -> bool:
    # A JQL-only scope names no projects: then the caller's versions are all in scope.
    return not account.jira.projects or version.project in account.jira.projects


def _risk(
    release_date: dt.date | None, today: dt.date, open_count: int, resolved_in_window: int
) -> Risk | None:
    if release_date is None:
        return None
    days_left = (release_date - today).days
    if days_left < 0:
        return Risk.OVERDUE
    if open_count == 0:
        return None
    # Issues per calendar day; the open ones need open / pace days, which must fit in days_left.
    pace = Fraction(resolved_in_window, PACE_WINDOW_DAYS)
    if pace == 0 or Fraction(open_count) / pace > days_left:
        return Risk.PACE
    return None


def milestone(
    version: Version, issues: Iterable[Issue], now: dt.datetime, tz: dt.tzinfo
) -> Milestone:
    """Progress and risk of one version over already audience-filtered issues."""
    today = now.astimezone(tz).date()
    window_start = now - dt.timedelta(days=PACE_WINDOW_DAYS)
    mine = [i for i in issues if version.id in i.fix_version_ids]
    done = [i for i in mine if i.done]
    estimated = [i for i in mine if i.original_estimate_seconds]
    resolved_in_window = sum(
        1 for i in done if i.resolved is not None and window_start <= i.resolved <= now
    )
    return Milestone(
        version_id=version.id,
        project=version.project,
        name=version.name,
        release_date=version.release_date,
        issues_total=len(mine),
        issues_done=len(done),
        estimate_total_seconds=sum(i.original_estimate_seconds or 0 for i in estimated),
        estimate_done_seconds=sum(i.original_estimate_seconds or 0 for i in estimated if i.done),
        days_left=(version.release_date - today).days if version.release_date else None,
        resolved_in_window=resolved_in_window,
        risk=_risk(version.release_date, today, len(mine) - len(done), resolved_in_window),
        start_date=version.start_date,
    )


def milestones_section(
    account: Account,
    audience: Audience,
    issues: Iterable[Issue],
    versions: Iterable[Version],
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> MilestonesSection:
    """Unreleased versions of the account's projects with progress, and releases since ``since``."""
    tz = account.tz
    today = now.astimezone(tz).date()
    given_since, since = since, default_since(now, since)
    since_day = since.astimezone(tz).date()
    issues = list(issues)
    seen = visible_issues(issues, audience, account)
    # A version whose every issue is withheld is internal work: its name alone would tell the
    # client it exists.
    used = {vid for i in issues for vid in i.fix_version_ids}
    visible_used = {vid for i in seen for vid in i.fix_version_ids}
    scoped = [
        v
        for v in versions
        if _in_scope(v, account) and not v.archived and (v.id not in used or v.id in visible_used)
    ]

    open_versions = [v for v in scoped if not v.released]
    dated = sorted(
        (v for v in open_versions if v.release_date is not None),
        key=lambda v: (v.release_date, v.name),
    )
    undated = [v for v in open_versions if v.release_date is None]
    # A version without issues (for this audience) has no progress to report: left out, not
    # shown as "0/0 issues done". The digest's fetch holds every issue of an unreleased version.
    milestones = tuple(m for m in (milestone(v, seen, now, tz) for v in [*dated, *undated]) if m.issues_total)

    # Releasing a version does not touch its issues, so the digest's narrowed fetch may not hold
    # them: for a client, a release is shown only when one of its issues is visibly there.
    # Versions are project-wide, the fetched issues are the account's: where a JQL narrows the
    # projects, a version with none of them may be another client's, for the internal view too.
    releasable = [v for v in scoped if (audience is Audience.INTERNAL and not account.jira.jql) or v.id in visible_used]
    released = tuple(
        ReleasedVersion(
            version_id=v.id,
            project=v.project,
            name=v.name,
            release_date=day,
            issues_total=sum(1 for i in seen if v.id in i.fix_version_ids),
            start_date=v.start_date,
        )
        for day, v in sorted(
            ((v.release_date, v) for v in releasable if v.released and v.release_date is not None),
            key=lambda dv: (dv[0], dv[1].name),
        )
        if day >= since_day
    )
    return MilestonesSection(
        today=today, milestones=milestones, released=released, since_last_digest=given_since is not None
    )
