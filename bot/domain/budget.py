"""Budget math: hours spent in the budget period, burn rate, forecast, thresholds, money.

Pure: the caller passes ``now`` (aware) and the issues with their worklogs. The issues must include
every issue that has worklogs in the period, not only recently updated ones.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

from bot.domain.accounts import Account, Audience
from bot.domain.audience import money_visible, visible_issues
from bot.domain.calendar import holiday_dates, nth_working_day_after, working_days
from bot.domain.roles import Handover, RoleToday, holders
from bot.domain.work import Issue

_SECONDS_PER_HOUR = 3600
_HUNDREDTH = Decimal("0.01")
_TENTH = Decimal("0.1")


class Forecast(enum.StrEnum):
    """When the budget runs out at the current pace."""

    DATE = "date"  # runs out on forecast_date, inside the period
    PAST_PERIOD_END = "past_period_end"  # lasts past the end of the period
    EXHAUSTED = "exhausted"  # nothing left (or overspent)
    NO_BURN = "no_burn"  # nothing spent yet: no pace to extrapolate
    TOO_EARLY = "too_early"  # hours spent, but no working day of the period has passed yet
    NO_LIMIT = "no_limit"  # the budget has a rate but no hours


@dataclass(frozen=True, slots=True)
class BudgetPeriod:
    """The dates a budget counts, both inclusive, in the account's timezone."""

    start: dt.date
    end: dt.date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a budget stands for one audience at one moment (hours in Decimal, 2 places)."""

    period: BudgetPeriod
    today: dt.date
    spent_seconds: int
    spent_hours: Decimal
    budget_hours: Decimal | None
    remaining_hours: Decimal | None  # negative when overspent
    percent_used: Decimal | None  # 52.5 means 52.5 %, one decimal place
    working_days_elapsed: int
    working_days_total: int
    burn_hours_per_working_day: Decimal | None
    forecast: Forecast
    forecast_date: dt.date | None  # set for DATE and PAST_PERIOD_END
    thresholds_crossed: tuple[int, ...]  # ascending, e.g. (80, 100)
    money_visible: bool
    currency: str
    rate: Decimal | None  # None unless money_visible
    spent_money: Decimal | None
    budget_money: Decimal | None
    remaining_money: Decimal | None
    mention_user_id: str | None  # who holds the budget role today (the first of them), internal audience only
    # At the current pace, what the period end leaves: hours left (positive) or missing
    # (negative), and the same in money where money is shown; None without a pace or a budget.
    end_balance_hours: Decimal | None = None
    end_balance_money: Decimal | None = None
    # The budget role today, cover applied (bot.domain.roles); internal audience only.
    budget_role: RoleToday | None = None

    @property
    def overspent(self) -> bool:
        return self.remaining_hours is not None and self.remaining_hours < 0

    @property
    def highest_threshold(self) -> int | None:
        return self.thresholds_crossed[-1] if self.thresholds_crossed else None


_FORECAST_DAYS_PAST_END = 2_600  # about ten years of working days


def budget_period(account: Account, now: dt.datetime) -> BudgetPeriod | None:
    """The period the account's budget counts at ``now``: calendar month or project dates."""
    budget = account.budget
    if budget is None:
        return None
    if budget.period == "project":
        assert budget.start is not None and budget.end is not None  # validated by Budget
        return BudgetPeriod(budget.start, budget.end)
    today = now.astimezone(account.tz).date()
    first = today.replace(day=1)
    next_first = (first + dt.timedelta(days=32)).replace(day=1)
    return BudgetPeriod(first, next_first - dt.timedelta(days=1))


def seconds_logged(
    issues: Iterable[Issue], period: BudgetPeriod, tz: dt.tzinfo, *, public_only: bool = False
) -> int:
    """Sum of worklog seconds whose start, seen in ``tz``, falls on a day of the period.

    Each worklog counts once, even if its issue was handed in twice. `public_only`: only
    worklogs known to be public (a client's numbers are computed over what it may see).
    """
    unique = {
        (issue.key, worklog.id): worklog
        for issue in issues
        for worklog in issue.worklogs
        if worklog.started.astimezone(tz).date() in period and (worklog.access.public or not public_only)
    }
    return sum(worklog.seconds for worklog in unique.values())


def _decimal(value: Fraction, quantum: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=rounding)


def budget_status(
    account: Account, audience: Audience, issues: Iterable[Issue], now: dt.datetime,
    handovers: Iterable[Handover] = (),
) -> BudgetStatus | None:
    """The budget section for this audience; None when the account has no budget. `handovers`:
    those not cancelled, so that the budget role is named as it is held today (cover applied)."""
    budget = account.budget
    period = budget_period(account, now)
    if budget is None or period is None:
        return None
    tz = account.tz
    today = now.astimezone(tz).date()
    spent_seconds = seconds_logged(visible_issues(issues, audience, account), period, tz,
                                   public_only=audience is Audience.CLIENT)
    spent = Fraction(spent_seconds, _SECONDS_PER_HOUR)

    # Public holidays of the account's calendar, through the year after the period (a forecast may run on).
    holidays = holiday_dates(account.holidays, period.start.year, period.end.year + 1) if account.holidays else frozenset()
    last_elapsed = min(today, period.end)
    elapsed = working_days(period.start, last_elapsed, holidays)
    burn = spent / elapsed if elapsed else None

    budget_hours = Fraction(budget.hours) if budget.hours is not None else None
    remaining = budget_hours - spent if budget_hours is not None else None

    forecast_date: dt.date | None = None
    # Working days after today until the period ends: the pace runs on for these.
    days_to_end = working_days(last_elapsed + dt.timedelta(days=1), period.end, holidays)
    end_balance = remaining - burn * days_to_end if remaining is not None and burn else None
    if remaining is None:
        forecast = Forecast.NO_LIMIT
    elif remaining <= 0:
        forecast = Forecast.EXHAUSTED
    elif spent == 0:
        forecast = Forecast.NO_BURN
    elif not burn:
        # e.g. a month that starts on a weekend, or a project not started yet: no pace to use.
        forecast = Forecast.TOO_EARLY
    else:
        # The day the last remaining hour is burnt, counting whole working days after today.
        days_needed = math.ceil(remaining / burn)
        days_left = days_to_end
        forecast = Forecast.DATE if days_needed <= days_left else Forecast.PAST_PERIOD_END
        # Past the period's end the date is only informative: not walked to when years away (a
        # minute logged in January against a big project budget would be millions of days).
        if days_needed <= days_left + _FORECAST_DAYS_PAST_END:
            forecast_date = nth_working_day_after(last_elapsed, days_needed, holidays)

    crossed: tuple[int, ...] = ()
    percent = None
    if budget_hours is not None:
        percent = spent * 100 / budget_hours
        crossed = tuple(t for t in budget.thresholds if percent >= t)

    show_money = money_visible(audience, account)
    rate = Decimal(budget.rate) if show_money and budget.rate is not None else None
    # Shown parts are derived from shown parts, so they always add up: remaining = budget − spent
    # as displayed (hours to the hundredth), and money is displayed hours × rate.
    spent_shown = _decimal(spent, _HUNDREDTH)
    budget_shown = _decimal(budget_hours, _HUNDREDTH) if budget_hours is not None else None
    remaining_shown = budget_shown - spent_shown if budget_shown is not None else None

    def money(hours: Decimal | None) -> Decimal | None:
        if rate is None or hours is None:
            return None
        return (hours * rate).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)

    spent_money, budget_money = money(spent_shown), money(budget_shown)
    role = holders(account, "budget", today, handovers) if audience is Audience.INTERNAL else None
    end_balance_shown = _decimal(end_balance, _HUNDREDTH) if end_balance is not None else None
    remaining_money = budget_money - spent_money if budget_money is not None and spent_money is not None else None

    return BudgetStatus(
        period=period,
        today=today,
        spent_seconds=spent_seconds,
        spent_hours=spent_shown,
        budget_hours=budget_shown,
        remaining_hours=remaining_shown,
        # Down: 99.96 % used must not read as 100 % (nor 79.96 % as the 80 % threshold).
        percent_used=_decimal(percent, _TENTH, ROUND_FLOOR) if percent is not None else None,
        working_days_elapsed=elapsed,
        working_days_total=working_days(period.start, period.end, holidays),
        burn_hours_per_working_day=_decimal(burn, _HUNDREDTH) if burn is not None else None,
        forecast=forecast,
        forecast_date=forecast_date,
        thresholds_crossed=crossed,
        money_visible=show_money,
        currency=budget.currency,
        rate=budget.rate if rate is not None else None,
        spent_money=spent_money,
        budget_money=budget_money,
        remaining_money=remaining_money,
        mention_user_id=role.user_ids[0] if role is not None and role.user_ids else None,
        budget_role=role,
        end_balance_hours=end_balance_shown,
        end_balance_money=money(end_balance_shown),
    )
