"""Account health across the portfolio: a verdict per account (ok, watch, at risk) with its reasons.

Pure. The figures are the digest's own, never recomputed: `assess` reads an internal `Digest`
(budget from `budget.py`, milestones from `milestones.py`, overdue and waiting-for-client from
`deadlines.py`) and adds one thing the digest does not say, how long nothing the client can see
has happened (`last_client_activity`, over `audience.visible_issues`). Each account's thresholds
are its `health:` settings (`accounts.HealthThresholds`).

`AccountHealth` is also what the store keeps as the account's snapshot (`to_json`/`from_json`):
the Home tab and `/pulse accounts` read snapshots, never Jira. `worsenings` compares two
snapshots and names each change for the worse with a stable key (bad news is told once per change).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.domain.accounts import Account, Audience
from bot.domain.audience import visible_issues
from bot.domain.budget import Forecast
from bot.domain.digest import Digest
from bot.domain.milestones import Milestone, Risk
from bot.domain.work import Issue


class Verdict(enum.IntEnum):
    """Ordered: a higher verdict needs more attention."""

    OK = 0
    WATCH = 1
    AT_RISK = 2


class Concern(enum.StrEnum):
    """What a reason is about (its words are `portfolio.reason.<value>` in the catalog)."""

    BUDGET_EXHAUSTED = "budget_exhausted"  # nothing left, or overspent
    BUDGET_RUNS_OUT = "budget_runs_out"  # at the current pace it runs out before the period ends
    BUDGET_THRESHOLD = "budget_threshold"  # one of the budget's alert thresholds crossed
    MILESTONE_OVERDUE = "milestone_overdue"  # release date passed, not released
    MILESTONE_AT_RISK = "milestone_at_risk"  # behind the pace its release date needs
    OVERDUE = "overdue"  # open issues past their due date
    WAITING_FOR_CLIENT = "waiting_for_client"
    QUIET = "quiet"  # nothing client-visible happened for a while
    # HOOK (support requests, once they exist): open requests past their first-response target.
    SUPPORT_BREACHES = "support_breaches"


# The budget's concerns, strongest first: a row names one of them at most.
_BUDGET_ORDER = (Concern.BUDGET_EXHAUSTED, Concern.BUDGET_RUNS_OUT, Concern.BUDGET_THRESHOLD)


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a verdict: what, how bad, and the facts its sentence names (JSON values)."""

    concern: Concern
    level: Verdict
    facts: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NextMilestone:
    name: str
    release_date: dt.date | None
    days_left: int | None
    done: int
    total: int
    at_risk: bool
    version_id: str


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """An account's health at `computed_at`: the verdict, its reasons (worst first) and the figures
    a row shows. Internal figures: never shown in a client channel."""

    account_key: str
    account_name: str
    key_account: bool
    computed_at: dt.datetime
    today: dt.date
    verdict: Verdict
    reasons: tuple[Reason, ...]
    percent_used: Decimal | None = None  # of the budget's hours
    percent_elapsed: Decimal | None = None  # of the period's working days
    forecast: str | None = None  # budget.Forecast's value
    forecast_date: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    next_milestone: NextMilestone | None = None
    overdue: int = 0
    waiting_for_client: int = 0
    quiet_days: int | None = None  # None: nothing client-visible in what was fetched
    # Slack users with open issues of the account (Jira assignees through `people`): their "mine".
    assignees: tuple[str, ...] = ()
    # Open support requests (and client messages awaiting an answer); None: not counted.
    support_open: int | None = None
    # The snapshot may be out of date: a webhook changed the account since (set by the store).
    stale: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "account_key": self.account_key,
            "account_name": self.account_name,
            "key_account": self.key_account,
            "computed_at": self.computed_at.isoformat(),
            "today": self.today.isoformat(),
            "verdict": int(self.verdict),
            "reasons": [{"concern": r.concern.value, "level": int(r.level), "facts": dict(r.facts)} for r in self.reasons],
            "percent_used": str(self.percent_used) if self.percent_used is not None else None,
            "percent_elapsed": str(self.percent_elapsed) if self.percent_elapsed is not None else None,
            "forecast": self.forecast,
            "forecast_date": _day_json(self.forecast_date),
            "period_start": _day_json(self.period_start),
            "period_end": _day_json(self.period_end),
            "next_milestone": None if self.next_milestone is None else {
                "name": self.next_milestone.name,
                "release_date": _day_json(self.next_milestone.release_date),
                "days_left": self.next_milestone.days_left,
                "done": self.next_milestone.done,
                "total": self.next_milestone.total,
                "at_risk": self.next_milestone.at_risk,
                "version_id": self.next_milestone.version_id,
            },
            "overdue": self.overdue,
            "waiting_for_client": self.waiting_for_client,
            "quiet_days": self.quiet_days,
            "assignees": list(self.assignees),
            "support_open": self.support_open,
        }

    def last_activity(self) -> dt.date | None:
        """The day of the last client-visible activity this snapshot saw (None: none seen)."""
        return self.today - dt.timedelta(days=self.quiet_days) if self.quiet_days is not None else None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, stale: bool = False) -> AccountHealth:
        milestone = data.get("next_milestone")
        return cls(
            account_key=data["account_key"],
            account_name=data["account_name"],
            key_account=bool(data.get("key_account")),
            computed_at=dt.datetime.fromisoformat(data["computed_at"]),
            today=dt.date.fromisoformat(data["today"]),
            verdict=Verdict(data["verdict"]),
            reasons=tuple(Reason(Concern(r["concern"]), Verdict(r["level"]), dict(r.get("facts") or {}))
                          for r in data.get("reasons", [])),
            percent_used=_decimal_json(data.get("percent_used")),
            percent_elapsed=_decimal_json(data.get("percent_elapsed")),
            forecast=data.get("forecast"),
            forecast_date=_day_from_json(data.get("forecast_date")),
            period_start=_day_from_json(data.get("period_start")),
            period_end=_day_from_json(data.get("period_end")),
            next_milestone=None if milestone is None else NextMilestone(
                name=milestone["name"], release_date=_day_from_json(milestone.get("release_date")),
                days_left=milestone.get("days_left"), done=milestone["done"], total=milestone["total"],
                at_risk=bool(milestone["at_risk"]), version_id=milestone["version_id"],
            ),
            overdue=int(data.get("overdue", 0)),
            waiting_for_client=int(data.get("waiting_for_client", 0)),
            quiet_days=data.get("quiet_days"),
            assignees=tuple(data.get("assignees", ())),
            support_open=data.get("support_open"),
            stale=stale,
        )

    def reason(self, concern: Concern) -> Reason | None:
        return next((r for r in self.reasons if r.concern is concern), None)


def _day_json(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day_from_json(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _decimal_json(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def last_client_activity(account: Account, issues: Iterable[Issue]) -> dt.datetime | None:
    """When something the client can see last happened: an issue created or done, or time logged
    publicly, over the issues the client view shows (None: nothing in what was fetched)."""
    moments = []
    for issue in visible_issues(issues, Audience.CLIENT, account):
        moments.append(issue.created)
        if issue.resolved is not None:
            moments.append(issue.resolved)
        moments.extend(w.started for w in issue.worklogs if w.access.public)
    return max(moments, default=None)


def assignees_in_slack(account: Account, issues: Iterable[Issue]) -> tuple[str, ...]:
    """Slack ids of the people with open issues of the account (assignees the `people` map names)."""
    found = {
        account.people[issue.assignee_id]
        for issue in issues
        if not issue.done and issue.assignee_id is not None and issue.assignee_id in account.people
    }
    return tuple(sorted(found))


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")) if whole else None


def _budget_reason(digest: Digest, account: Account) -> Reason | None:
    """At most one budget reason: used up, runs out before the period ends (at risk when its use
    is far ahead of the working days elapsed), or an alert threshold crossed."""
    status = digest.budget
    if status is None or status.budget_hours is None:
        return None
    used = status.percent_used
    if status.forecast is Forecast.EXHAUSTED:
        return Reason(Concern.BUDGET_EXHAUSTED, Verdict.AT_RISK, {"percent": str(used)})
    if status.forecast is Forecast.DATE and status.forecast_date is not None:
        elapsed = _percent(status.working_days_elapsed, status.working_days_total)
        far_ahead = used is not None and elapsed is not None and used - elapsed >= account.health.budget_ahead_risk
        return Reason(Concern.BUDGET_RUNS_OUT, Verdict.AT_RISK if far_ahead else Verdict.WATCH,
                      {"date": status.forecast_date.isoformat(), "percent": str(used)})
    if status.highest_threshold is not None:
        return Reason(Concern.BUDGET_THRESHOLD, Verdict.WATCH, {"threshold": status.highest_threshold})
    return None


def _milestone_reason(at_risk: Milestone | None, account: Account) -> Reason | None:
    if at_risk is None:
        return None
    facts: dict[str, str | int] = {"name": at_risk.name, "version_id": at_risk.version_id}
    if at_risk.release_date is not None:
        facts["date"] = at_risk.release_date.isoformat()
    if at_risk.risk is Risk.OVERDUE:
        return Reason(Concern.MILESTONE_OVERDUE, Verdict.AT_RISK, facts)
    soon = at_risk.days_left is not None and at_risk.days_left <= account.health.milestone_risk_days
    return Reason(Concern.MILESTONE_AT_RISK, Verdict.AT_RISK if soon else Verdict.WATCH, facts)


def _count_reason(concern: Concern, count: int, watch: int, risk: int | None) -> Reason | None:
    if count < watch:
        return None
    level = Verdict.AT_RISK if risk is not None and count >= risk else Verdict.WATCH
    return Reason(concern, level, {"count": count})


def assess(
    account: Account,
    digest: Digest,
    issues: Iterable[Issue],
    *,
    support_open: int | None = None,
    support_breaches: int | None = None,
    known_activity: dt.date | None = None,
) -> AccountHealth:
    """The account's health from its internal digest (and the issues it was built from), and its
    support requests: open ones, and those past their first-response target (None: not counted).

    `known_activity`: the day of the last client-visible activity an earlier snapshot saw. A fetch
    holds done issues only back to its `since` (a daily digest's: since the last digest), so an
    issue resolved a few days ago may be missing from it; activity once seen is not forgotten, or
    every narrow fetch would call the account quiet (false bad news, a flapping verdict)."""
    if digest.audience is not Audience.INTERNAL:
        raise ValueError("health is judged on the internal digest (the whole picture)")
    issues = list(issues)
    limits = account.health
    today = digest.today
    milestones = digest.milestones.milestones
    last = last_client_activity(account, issues)
    last_day = last.astimezone(account.tz).date() if last is not None else None
    if known_activity is not None and (last_day is None or known_activity > last_day):
        last_day = known_activity
    quiet_days = (today - last_day).days if last_day is not None else None

    reasons = [
        _budget_reason(digest, account),
        _milestone_reason(next((m for m in milestones if m.at_risk), None), account),
        _count_reason(Concern.OVERDUE, digest.deadlines.overdue_count, limits.overdue_watch, limits.overdue_risk),
        _count_reason(Concern.WAITING_FOR_CLIENT, digest.deadlines.waiting_for_client, limits.waiting_watch, None),
        _count_reason(Concern.QUIET, quiet_days, limits.quiet_watch_days, limits.quiet_risk_days)
        if quiet_days is not None else Reason(Concern.QUIET, Verdict.WATCH, {}),
        _count_reason(Concern.SUPPORT_BREACHES, support_breaches, 1, 1) if support_breaches else None,
    ]
    found = sorted((r for r in reasons if r is not None), key=lambda r: -r.level)  # stable: worst first
    status = digest.budget
    first = milestones[0] if milestones else None
    return AccountHealth(
        account_key=account.key,
        account_name=account.name,
        key_account=account.key_account,
        computed_at=digest.generated_at,
        today=today,
        verdict=max((r.level for r in found), default=Verdict.OK),
        reasons=tuple(found),
        percent_used=status.percent_used if status else None,
        percent_elapsed=_percent(status.working_days_elapsed, status.working_days_total) if status else None,
        forecast=status.forecast.value if status else None,
        forecast_date=status.forecast_date if status else None,
        period_start=status.period.start if status else None,
        period_end=status.period.end if status else None,
        next_milestone=None if first is None else NextMilestone(
            name=first.name, release_date=first.release_date, days_left=first.days_left,
            done=first.issues_done, total=first.issues_total, at_risk=first.at_risk, version_id=first.version_id,
        ),
        overdue=digest.deadlines.overdue_count,
        waiting_for_client=digest.deadlines.waiting_for_client,
        quiet_days=quiet_days,
        assignees=assignees_in_slack(account, issues),
        support_open=support_open,
    )


def attention_order(health: AccountHealth) -> tuple[int, int, int, str]:
    """Sort key: worst verdict first, key accounts first among equals, then more at-risk and
    watch reasons, then by name."""
    at_risk = sum(1 for r in health.reasons if r.level is Verdict.AT_RISK)
    return (-health.verdict, -int(health.key_account), -(at_risk * 100 + len(health.reasons)),
            health.account_name.casefold())


def by_attention(healths: Iterable[AccountHealth]) -> list[AccountHealth]:
    return sorted(healths, key=attention_order)


class Scope(enum.StrEnum):
    """Which accounts a portfolio view lists."""

    MINE = "mine"  # where the user holds a role or has open issues
    KEY = "key"
    AT_RISK = "at-risk"
    ALL = "all"


def select(
    healths: Iterable[AccountHealth], scope: Scope, *, mine: Collection[str] = ()
) -> list[AccountHealth]:
    """The accounts of `scope` by need of attention (`mine`: the keys of the user's accounts)."""
    chosen = [
        h for h in healths
        if scope is Scope.ALL
        or (scope is Scope.MINE and h.account_key in mine)
        or (scope is Scope.KEY and h.key_account)
        or (scope is Scope.AT_RISK and h.verdict is Verdict.AT_RISK)
    ]
    return by_attention(chosen)


# --- bad news travels first ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Worsening:
    """A change for the worse between two snapshots. `key` names the change itself (the same
    change computed again, after a restart too, has the same key): it is told once."""

    account_key: str
    reason: Reason
    was: Reason | None
    key: str


def _identity(reason: Reason, health: AccountHealth) -> str:
    """What makes this reason the same news: the milestone and its date, the budget period (and the
    threshold or the level), the level of a count."""
    facts = reason.facts
    if reason.concern in (Concern.MILESTONE_AT_RISK, Concern.MILESTONE_OVERDUE):
        return f"{facts.get('version_id')}@{facts.get('date', '-')}:{int(reason.level)}"
    if reason.concern is Concern.BUDGET_THRESHOLD:
        return f"{health.period_start}:{facts.get('threshold')}"
    if reason.concern in (Concern.BUDGET_EXHAUSTED, Concern.BUDGET_RUNS_OUT):
        return f"{health.period_start}:{int(reason.level)}"
    return f"{int(reason.level)}@{health.today.isoformat()}"


# Within the same level, an overdue count that rose by this many is news too (a jump).
OVERDUE_JUMP = 3


def worsenings(before: AccountHealth | None, after: AccountHealth) -> list[Worsening]:
    """What got worse from `before` to `after`: a reason that is new or whose level rose, a
    stronger budget concern (the forecast moved before the period end), another or a slipped
    milestone at risk, a higher budget threshold, an overdue count that jumped. Nothing when there
    is no earlier snapshot (a first look is not a change: the digest tells it). Improvements are
    not news here: the digest tells them."""
    if before is None:
        return []
    found = []
    for reason in after.reasons:
        was = before.reason(reason.concern)
        stronger = False
        if was is None and reason.concern in _BUDGET_ORDER:
            # The budget names one concern at most: compare with the one it had.
            was = next((r for c in _BUDGET_ORDER if (r := before.reason(c)) is not None), None)
            if was is not None:
                if _BUDGET_ORDER.index(was.concern) < _BUDGET_ORDER.index(reason.concern):
                    continue  # milder than before: not news
                stronger = True
        worse = stronger or was is None or reason.level > was.level
        if was is not None and reason.concern in (Concern.MILESTONE_AT_RISK, Concern.MILESTONE_OVERDUE):
            # Another milestone at risk, or the same one slipped to a later date.
            worse = worse or (was.facts.get("version_id"), was.facts.get("date")) != (
                reason.facts.get("version_id"), reason.facts.get("date"))
        if was is not None and reason.concern is Concern.BUDGET_THRESHOLD:
            worse = worse or int(reason.facts.get("threshold", 0)) > int(was.facts.get("threshold", 0))
        key = f"{reason.concern.value}:{_identity(reason, after)}"
        if was is not None and reason.concern is Concern.OVERDUE and not worse:
            worse = int(reason.facts.get("count", 0)) - int(was.facts.get("count", 0)) >= OVERDUE_JUMP
            key = f"{reason.concern.value}:{reason.facts.get('count')}@{after.today.isoformat()}"
        if worse:
            found.append(Worsening(after.account_key, reason, was, key))
    return found
