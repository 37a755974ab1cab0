"""What the charts draw, as plain values (pure): a budget burn-up and a milestone timeline.

The figures are the digest's: the burn-up's spent line counts what `budget.seconds_logged`
counts (only worklogs the audience may see), its forecast runs at `BudgetStatus`'s pace per
working day, and its days are the account's working days (weekends and public holidays left out:
hours logged on them count on the next working day). The timeline is the `MilestonesSection` of
the audience (a client's never names an all-internal version). Money is never part of a chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.domain.accounts import Account, Audience
from bot.domain.audience import visible_issues
from bot.domain.budget import BudgetStatus
from bot.domain.calendar import holiday_dates, is_working_day
from bot.domain.milestones import MilestonesSection
from bot.domain.work import Issue


@dataclass(frozen=True, slots=True)
class BurnUp:
    """Hours over the period's working days: spent so far, the budget, and the forecast onwards."""

    days: tuple[dt.date, ...]  # every working day of the period
    spent: tuple[Decimal, ...]  # cumulative hours at the end of each working day up to today
    budget_hours: Decimal | None
    forecast: tuple[Decimal, ...]  # from today's spent on, one value per remaining working day (today included)
    today: dt.date
    audience: Audience

    @property
    def forecast_days(self) -> tuple[dt.date, ...]:
        """The days of `forecast`: from the last elapsed working day to the period's end."""
        return self.days[len(self.spent) - 1:] if self.forecast else ()


def working_dates(start: dt.date, end: dt.date, holidays: frozenset[dt.date]) -> list[dt.date]:
    days = []
    day = start
    while day <= end:
        if is_working_day(day, holidays):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def burn_up(account: Account, status: BudgetStatus, issues: Iterable[Issue], audience: Audience) -> BurnUp:
    """The burn-up of the budget `status` (computed for `audience` from the same `issues`)."""
    period, tz = status.period, account.tz
    holidays = holiday_dates(account.holidays, period.start.year, period.end.year) if account.holidays else frozenset()
    days = working_dates(period.start, period.end, holidays)
    # The same worklogs budget_status counts, by local day.
    logged: dict[dt.date, int] = {}
    seen: set[tuple[str, str]] = set()
    for issue in visible_issues(issues, audience, account):
        for worklog in issue.worklogs:
            day = worklog.started.astimezone(tz).date()
            if day not in period or (issue.key, worklog.id) in seen:
                continue
            if audience is Audience.CLIENT and not worklog.access.public:
                continue
            seen.add((issue.key, worklog.id))
            logged[day] = logged.get(day, 0) + worklog.seconds
    elapsed = [d for d in days if d <= status.today]
    spent: list[Decimal] = []
    total, pending = 0, sorted(logged.items())
    for day in elapsed:
        while pending and pending[0][0] <= day:
            total += pending.pop(0)[1]
        spent.append((Decimal(total) / 3600).quantize(Decimal("0.01")))
    forecast: list[Decimal] = []
    burn = status.burn_hours_per_working_day
    if burn is not None and spent and len(elapsed) < len(days):
        start = spent[-1]
        forecast = [start + burn * n for n in range(len(days) - len(elapsed) + 1)]
    return BurnUp(tuple(days), tuple(spent), status.budget_hours, tuple(forecast), status.today, audience)


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One milestone on the timeline: a bar from `start` (when Jira has one) to `due`, a marker at
    `due` (at risk, released or open), its progress."""

    name: str
    due: dt.date
    done: int
    total: int
    at_risk: bool
    start: dt.date | None = None
    released: bool = False

    @property
    def release_date(self) -> dt.date:
        return self.due


@dataclass(frozen=True, slots=True)
class Timeline:
    today: dt.date
    points: tuple[TimelinePoint, ...]  # dated milestones, released and open, by due date


def timeline(section: MilestonesSection) -> Timeline:
    """The dated milestones of an (audience-filtered) milestones section: the open ones and those
    released in its window. Nothing else: a client's section never names an all-internal version,
    so neither does its timeline (fail closed: only what the client view already shows)."""
    points = [
        TimelinePoint(m.name, m.release_date, m.issues_done, m.issues_total, m.at_risk, m.start_date)
        for m in section.milestones if m.release_date is not None
    ]
    points += [
        TimelinePoint(r.name, r.release_date, r.issues_total, r.issues_total, False, r.start_date, released=True)
        for r in section.released
    ]
    return Timeline(section.today, tuple(sorted(points, key=lambda p: (p.due, p.name))))
