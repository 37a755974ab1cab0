"""Budget math, hand-checked (NOW = Sunday 22 Nov 2026 in Berlin; 15 of 21 working days)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.domain.accounts import Audience, Budget
from bot.domain.budget import (
    BudgetPeriod,
    Forecast,
    budget_period,
    budget_status,
)
from bot.domain.calendar import holiday_dates, nth_working_day_after, working_days
from tests.test_digest_samples import (
    NOW,
    UTC,
    log,
    make_account,
    make_issue,
    worklogs_from_jira_ruby,
)

INTERNAL = Audience.INTERNAL
CLIENT = Audience.CLIENT


def nov(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_working_days_count_monday_to_friday() -> None:
    assert working_days(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == 21
    assert working_days(dt.date(2026, 11, 1), dt.date(2026, 11, 22)) == 15
    assert working_days(dt.date(2026, 11, 7), dt.date(2026, 11, 8)) == 0  # a weekend
    assert working_days(dt.date(2026, 11, 9), dt.date(2026, 11, 8)) == 0
    assert nth_working_day_after(dt.date(2026, 11, 27), 1) == dt.date(2026, 11, 30)  # Fri → Mon
    assert nth_working_day_after(dt.date(2026, 11, 22), 5) == dt.date(2026, 11, 27)


def test_monthly_period_is_the_calendar_month_in_the_account_timezone() -> None:
    # 23:30 UTC on 31 Oct is already 00:30 on 1 Nov in Berlin (CET, +1 since 25 Oct).
    now = dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert budget_period(make_account(), now) == BudgetPeriod(
        dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    )
    assert budget_period(make_account(timezone="UTC"), now) == BudgetPeriod(
        dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    )


def test_month_boundary_worklogs_counted_by_account_timezone() -> None:
    issue = make_issue(
        1,
        worklogs=(
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 10, 31, 22, 30, tzinfo=UTC), 3, "1"
            ),  # Oct 23:30
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC), 2, "2"
            ),  # Nov 00:30
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 11, 30, 22, 59, tzinfo=UTC), 1, "3"
            ),  # Nov 23:59
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 11, 30, 23, 0, tzinfo=UTC), 4, "4"
            ),  # Dec 00:00
        ),
    )
    berlin = budget_status(make_account(), INTERNAL, [issue], NOW)
    assert berlin is not None
    assert berlin.spent_seconds == 3 * 3600
    assert berlin.spent_hours == Decimal("3.00")
    utc = budget_status(make_account(timezone="UTC"), INTERNAL, [issue], NOW)
    assert utc is not None
    assert utc.spent_hours == Decimal("5.00")  # in UTC both 30 Nov worklogs are November


def test_monthly_budget_numbers_lasting_past_period_end() -> None:
    issues = [
        make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(3), 20, "1"),)),
        make_issue(
            2,
            worklogs=(
                log("SAMPLEPROJECT-2", nov(10), 12, "2"),
                log("SAMPLEPROJECT-2", nov(20), 9.5, "3"),
            ),
        ),
        make_issue(3),  # no worklogs at all
    ]
    status = budget_status(make_account(), INTERNAL, issues, NOW)
    assert status is not None
    assert status.period == BudgetPeriod(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert status.today == dt.date(2026, 11, 22)
    assert status.spent_hours == Decimal("41.50")
    assert status.budget_hours == Decimal("80.00")
    assert status.remaining_hours == Decimal("38.50")
    assert status.percent_used == Decimal("51.8")  # 41.5 / 80 = 51.875 %, rounded down
    assert (status.working_days_elapsed, status.working_days_total) == (15, 21)
    assert status.burn_hours_per_working_day == Decimal("2.77")  # 41.5 / 15 = 2.7667
    # 38.5 h / (41.5/15 h per day) = 13.92 → the 14th working day after Sunday 22 Nov = 10 Dec.
    assert status.forecast is Forecast.PAST_PERIOD_END
    assert status.forecast_date == dt.date(2026, 12, 10)
    assert status.thresholds_crossed == ()
    assert not status.overspent
    assert status.money_visible
    assert (status.spent_money, status.budget_money, status.remaining_money) == (
        Decimal("3942.50"),
        Decimal("7600.00"),
        Decimal("3657.50"),
    )
    assert status.mention_user_id == "U0BUDGET"
    # The pace over the 6 working days left (23–27 and 30 Nov): 38.5 − 6 × 41.5/15 = 21.9 h left
    # at the period end, × €95 = €2,080.50.
    assert (status.end_balance_hours, status.end_balance_money) == (Decimal("21.90"), Decimal("2080.50"))
    from bot.render.digest import render_budget

    text = render_budget(status, make_account(), "en").text
    assert "At this pace about 21.9 h (€2,080.50) will be left at the period end." in text
    assert "past the period end" not in text
    client = budget_status(make_account(), Audience.CLIENT, issues, NOW)
    assert client.end_balance_money is None
    assert "At this pace about 21.9 h will be left at the period end." in render_budget(client, make_account(), "en").text
    assert "К концу периода" not in render_budget(client, make_account(), "ru").text
    assert "При таком темпе к концу периода останется около 21,9 ч." in render_budget(client, make_account(), "ru").text


def test_forecast_date_inside_the_period() -> None:
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(16), 60),))]
    status = budget_status(make_account(), INTERNAL, issues, NOW)
    assert status is not None
    # 60 h in 15 working days = 4 h/day; 20 h left = 5 working days after Sun 22 Nov = Fri 27 Nov.
    assert status.burn_hours_per_working_day == Decimal("4.00")
    assert status.percent_used == Decimal("75.0")
    assert status.forecast is Forecast.DATE
    assert status.forecast_date == dt.date(2026, 11, 27)


def test_overspent_budget() -> None:
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(2), 90),))]
    status = budget_status(make_account(), INTERNAL, issues, NOW)
    assert status is not None
    assert status.remaining_hours == Decimal("-10.00")
    assert status.percent_used == Decimal("112.5")
    assert status.overspent
    assert status.forecast is Forecast.EXHAUSTED
    assert status.forecast_date is None
    assert status.thresholds_crossed == (80, 100)
    assert status.highest_threshold == 100
    assert status.remaining_money == Decimal("-950.00")


def test_exactly_at_threshold_is_crossed() -> None:
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(2), 64),))]
    status = budget_status(make_account(), INTERNAL, issues, NOW)
    assert status is not None
    assert status.percent_used == Decimal("80.0")
    assert status.thresholds_crossed == (80,)


def test_zero_burn() -> None:
    status = budget_status(make_account(), INTERNAL, [make_issue(1)], NOW)
    assert status is not None
    assert status.spent_hours == Decimal("0.00")
    assert status.burn_hours_per_working_day == Decimal("0.00")
    assert status.percent_used == Decimal("0.0")
    assert status.forecast is Forecast.NO_BURN
    assert status.forecast_date is None
    assert status.remaining_hours == Decimal("80.00")


def test_no_working_day_elapsed_yet_gives_no_burn_rate() -> None:
    # Sunday 1 Nov: hours logged on the weekend, but no working day has passed to divide by:
    # too early for a forecast (not "no hours spent", which would contradict the 3 h shown).
    now = dt.datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(1, 8), 3),))]
    status = budget_status(make_account(), INTERNAL, issues, now)
    assert status is not None
    assert status.working_days_elapsed == 0
    assert status.burn_hours_per_working_day is None
    assert status.forecast is Forecast.TOO_EARLY
    assert status.spent_hours == Decimal("3.00")


def test_nothing_spent_yet_is_no_burn() -> None:
    now = dt.datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
    status = budget_status(make_account(), INTERNAL, [make_issue(1)], now)
    assert status is not None and status.forecast is Forecast.NO_BURN


def test_a_shown_percentage_never_claims_what_the_exact_one_has_not_reached() -> None:
    # 99.96 h of 100 h: 99.96 % is 99.9 % (not 100.0 %), and no 100 % threshold.
    account = make_account(budget=Budget(hours=Decimal("100"), thresholds=[80, 100]))
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(2, 9), Decimal("99.96")),))]
    status = budget_status(account, INTERNAL, issues, dt.datetime(2026, 11, 20, 9, tzinfo=UTC))
    assert status is not None
    assert status.percent_used == Decimal("99.9")
    assert status.thresholds_crossed == (80,)


def test_project_budget_excludes_worklogs_outside_its_dates() -> None:
    account = make_account(
        budget=Budget(
            period="project",
            start=dt.date(2026, 11, 2),
            end=dt.date(2026, 11, 13),
            hours=Decimal("40"),
        )
    )
    issue = make_issue(
        1,
        worklogs=(
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC), 5, "1"
            ),  # before start
            log("SAMPLEPROJECT-1", dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC), 8, "2"),
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 11, 13, 22, 59, tzinfo=UTC), 2, "3"
            ),  # 23:59 Berlin
            log(
                "SAMPLEPROJECT-1", dt.datetime(2026, 11, 13, 23, 0, tzinfo=UTC), 3, "4"
            ),  # 14 Nov Berlin
        ),
    )
    now = dt.datetime(2026, 11, 5, 12, 0, tzinfo=UTC)  # Thursday: 4 working days elapsed
    status = budget_status(account, INTERNAL, [issue], now)
    assert status is not None
    assert status.period == BudgetPeriod(dt.date(2026, 11, 2), dt.date(2026, 11, 13))
    assert status.spent_hours == Decimal("10.00")
    assert (status.working_days_elapsed, status.working_days_total) == (4, 10)
    assert status.burn_hours_per_working_day == Decimal("2.50")
    # 30 h left at 2.5 h/day = 12 working days after Thu 5 Nov = Mon 23 Nov, after the end (13 Nov).
    assert status.forecast is Forecast.PAST_PERIOD_END
    assert status.forecast_date == dt.date(2026, 11, 23)
    assert status.percent_used == Decimal("25.0")
    # No rate: no money, even internally.
    assert not status.money_visible
    assert status.spent_money is None


def test_project_budget_after_its_end_counts_all_its_working_days() -> None:
    account = make_account(
        budget=Budget(
            period="project",
            start=dt.date(2026, 11, 2),
            end=dt.date(2026, 11, 13),
            hours=Decimal("40"),
        )
    )
    issue = make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(3), 20),))
    status = budget_status(account, INTERNAL, [issue], NOW)
    assert status is not None
    assert status.working_days_elapsed == 10
    assert status.burn_hours_per_working_day == Decimal("2.00")
    assert status.forecast is Forecast.PAST_PERIOD_END


def test_withheld_issues_are_not_in_client_sums() -> None:
    issues = [
        make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(2), 4),)),
        make_issue(
            2, security_level="Internal only", worklogs=(log("SAMPLEPROJECT-2", nov(3), 10),)
        ),
        make_issue(3, labels=("internal",), worklogs=(log("SAMPLEPROJECT-3", nov(4), 5),)),
    ]
    client = budget_status(make_account(), CLIENT, issues, NOW)
    internal = budget_status(make_account(), INTERNAL, issues, NOW)
    assert client is not None and internal is not None
    assert client.spent_hours == Decimal("4.00")
    assert client.percent_used == Decimal("5.0")
    assert internal.spent_hours == Decimal("19.00")


def test_money_hidden_from_client_unless_allowed() -> None:
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(2), 10),))]
    hidden = budget_status(make_account(), CLIENT, issues, NOW)
    assert hidden is not None
    assert not hidden.money_visible
    assert (hidden.rate, hidden.spent_money, hidden.budget_money, hidden.remaining_money) == (
        None,
        None,
        None,
        None,
    )
    assert hidden.mention_user_id is None  # the budget owner is only pinged internally
    shown = budget_status(
        make_account(
            budget=Budget(hours=Decimal("80"), rate=Decimal("95"), show_money_to_client=True)
        ),
        CLIENT,
        issues,
        NOW,
    )
    assert shown is not None
    assert shown.money_visible
    assert shown.spent_money == Decimal("950.00")
    assert shown.rate == Decimal("95")


def test_rate_without_hours_has_no_limit() -> None:
    account = make_account(budget=Budget(rate=Decimal("120.50")))
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", nov(2), 1.5),))]
    status = budget_status(account, INTERNAL, issues, NOW)
    assert status is not None
    assert status.forecast is Forecast.NO_LIMIT
    assert (status.budget_hours, status.remaining_hours, status.percent_used) == (None, None, None)
    assert status.spent_money == Decimal("180.75")
    assert status.thresholds_crossed == ()


def test_no_budget() -> None:
    assert budget_status(make_account(budget=None), INTERNAL, [], NOW) is None


def test_jira_ruby_worklogs_in_auckland() -> None:
    # Real worklogs (18w 2d, 4d, 3d = 792 h at 8 h/day) started 11 and 12 Jan 2012, +13:00.
    issue = make_issue(1, worklogs=worklogs_from_jira_ruby())
    account = make_account(timezone="Pacific/Auckland", budget=Budget(hours=Decimal("800")))
    now = dt.datetime.fromisoformat("2012-01-12T17:00:00+13:00")  # Thursday
    status = budget_status(account, INTERNAL, [issue], now)
    assert status is not None
    assert status.period == BudgetPeriod(dt.date(2012, 1, 1), dt.date(2012, 1, 31))
    assert status.spent_hours == Decimal("792.00")
    assert status.percent_used == Decimal("99.0")
    assert status.working_days_elapsed == 9  # 2–6 and 9–12 Jan
    assert status.burn_hours_per_working_day == Decimal("88.00")
    assert status.forecast is Forecast.DATE
    assert status.forecast_date == dt.date(2012, 1, 13)  # 8 h left, < 1 day at 88 h/day
    assert status.thresholds_crossed == (80,)


def test_public_holidays_of_the_accounts_calendar_are_not_working_days() -> None:
    berlin = holiday_dates("DE-BE", 2026, 2026)
    assert dt.date(2026, 12, 25) in berlin and dt.date(2026, 3, 8) in berlin  # Women's Day: Berlin only
    assert dt.date(2026, 3, 8) not in holiday_dates("DE", 2026, 2026)
    # December 2026: 23 weekdays, Christmas Day on a Friday (Boxing Day is a Saturday).
    assert working_days(dt.date(2026, 12, 1), dt.date(2026, 12, 31)) == 23
    assert working_days(dt.date(2026, 12, 1), dt.date(2026, 12, 31), berlin) == 22
    # Thu 24 Dec + 1 working day is Mon 28 Dec in Berlin, not Fri 25.
    assert nth_working_day_after(dt.date(2026, 12, 24), 1) == dt.date(2026, 12, 25)
    assert nth_working_day_after(dt.date(2026, 12, 24), 1, berlin) == dt.date(2026, 12, 28)


def test_budget_pace_and_forecast_skip_the_accounts_public_holidays() -> None:
    # Mon 7 Dec 2026, 9:00 in Berlin: 5 working days elapsed; 40 of 80 h logged.
    now = dt.datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    issue = make_issue("ACME-1", worklogs=[log("ACME-1", dt.datetime(2026, 12, 1, 9, tzinfo=UTC), 40)])
    plain = budget_status(make_account(), INTERNAL, [issue], now)
    berlin = budget_status(make_account(holidays="DE-BE"), INTERNAL, [issue], now)
    assert (plain.working_days_total, berlin.working_days_total) == (23, 22)
    assert plain.burn_hours_per_working_day == berlin.burn_hours_per_working_day == Decimal("8.00")
    # 40 h left at 8 h a day: 5 more working days; 14 Dec either way (no holiday in that week).
    assert plain.forecast_date == berlin.forecast_date == dt.date(2026, 12, 14)


def test_a_forecast_across_christmas_skips_it() -> None:
    # Mon 21 Dec 2026: 15 working days elapsed in both (Berlin has no December holiday before the 25th).
    now = dt.datetime(2026, 12, 21, 20, 0, tzinfo=UTC)
    issue = make_issue("ACME-1", worklogs=[log("ACME-1", dt.datetime(2026, 12, 1, 9, tzinfo=UTC), 60)])
    account = make_account(budget=Budget(hours=Decimal("80"), rate=Decimal("95")))
    plain = budget_status(account, INTERNAL, [issue], now)
    berlin = budget_status(make_account(holidays="DE-BE"), INTERNAL, [issue], now)
    assert plain.working_days_elapsed == berlin.working_days_elapsed == 15
    # 20 h left at 4 h a day: 5 working days after Mon 21 Dec: Mon 28 Dec, or Tue 29 Dec without Christmas Day.
    assert plain.forecast_date == dt.date(2026, 12, 28)
    assert berlin.forecast_date == dt.date(2026, 12, 29)


def test_an_unknown_holiday_calendar_is_a_config_error_naming_the_field() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="holidays") as err:
        make_account(holidays="XX-YY")
    assert "use a country code like DE, or a state like DE-BE" in str(err.value)


def test_a_forecast_years_away_is_past_the_period_end_without_walking_there() -> None:
    # A 2026 project budget of 500 h with one minute logged on 5 Jan, seen on 30 Jun: millions of days.
    budget = Budget(hours=Decimal("500"), rate=Decimal("95"), period="project",
                    start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    issue = make_issue("ACME-1", worklogs=[log("ACME-1", dt.datetime(2026, 1, 5, 9, tzinfo=UTC), 1 / 60)])
    status = budget_status(make_account(budget=budget, holidays="DE-BE"), INTERNAL, [issue],
                           dt.datetime(2026, 6, 30, 12, tzinfo=UTC))
    assert (status.forecast, status.forecast_date) == (Forecast.PAST_PERIOD_END, None)


def test_holiday_codes_yaml_would_misread_are_asked_for_in_quotes() -> None:
    import pytest
    from pydantic import ValidationError

    from bot.accounts_file import parse_accounts
    from bot.errors import ConfigError

    for raw in ("NO", "ON", "49"):  # Norway; YAML booleans and numbers
        text = f"""accounts:
  - key: acme
    name: Acme
    timezone: Europe/Oslo
    holidays: {raw}
    channels: [{{id: C0CLIENT1, audience: client}}]
    jira: {{projects: [ACME]}}
"""
        with pytest.raises(ConfigError) as err:
            parse_accounts(text, "accounts.yaml")
        assert "line 5: accounts[0].holidays: write the calendar code in quotes" in str(err.value), str(err.value)
    assert make_account(holidays="NO").holidays == "NO"  # quoted, Norway is fine
    with pytest.raises(ValidationError, match="name the state after the dash"):
        make_account(holidays="DE-")
