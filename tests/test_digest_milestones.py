"""Milestones: progress, estimates, risk and recent releases (NOW = Sun 22 Nov 2026)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from bot.domain.accounts import Audience
from bot.domain.milestones import Risk, milestone, milestones_section
from bot.domain.work import Version
from tests.test_digest_samples import (
    NOW,
    UTC,
    done,
    make_account,
    make_issue,
    make_version,
    version_from_jira_ruby,
)

BERLIN = make_account().tz


def resolved_days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def issues_for_release_1() -> list:
    """Version 10000 ("1.0", 1 Dec): 4 done (3 in the last 14 days), 6 open, some estimates."""
    v = ("10000",)
    return [
        make_issue(
            1,
            fix_version_ids=v,
            original_estimate_seconds=7200,
            **done(resolved=resolved_days_ago(1)),
        ),
        make_issue(
            2,
            fix_version_ids=v,
            original_estimate_seconds=10800,
            **done(resolved=resolved_days_ago(5)),
        ),
        make_issue(3, fix_version_ids=v, **done(resolved=resolved_days_ago(13))),
        make_issue(4, fix_version_ids=v, **done(resolved=resolved_days_ago(20))),
        make_issue(5, fix_version_ids=v, original_estimate_seconds=18000),
        *(make_issue(n, fix_version_ids=v) for n in range(6, 11)),
    ]


def test_progress_estimates_and_pace_risk() -> None:
    version = make_version("10000", "1.0", dt.date(2026, 12, 1))
    m = milestone(version, issues_for_release_1(), NOW, BERLIN)
    assert (m.issues_total, m.issues_done, m.issues_open) == (10, 4, 6)
    assert m.issue_ratio == Fraction(2, 5)
    assert (m.estimate_done_seconds, m.estimate_total_seconds) == (18000, 36000)
    assert m.estimate_ratio == Fraction(1, 2)
    assert m.days_left == 9
    assert m.resolved_in_window == 3
    # 3 resolved in 14 days → 6 open need 28 days, only 9 left.
    assert m.risk is Risk.PACE
    assert m.at_risk


def test_pace_that_fits_is_not_at_risk_and_the_boundary_is_exact() -> None:
    v = ("10001",)
    issues = [
        make_issue(1, fix_version_ids=v, **done(resolved=resolved_days_ago(2))),
        make_issue(2, fix_version_ids=v),
        make_issue(3, fix_version_ids=v),
    ]
    # 1 resolved in 14 days → 2 open need exactly 28 days.
    on_time = milestone(
        make_version("10001", "1.1", NOW.date() + dt.timedelta(days=28)), issues, NOW, BERLIN
    )
    late = milestone(
        make_version("10001", "1.1", NOW.date() + dt.timedelta(days=27)), issues, NOW, BERLIN
    )
    assert on_time.risk is None
    assert late.risk is Risk.PACE
    assert on_time.estimate_ratio is None  # no estimates at all


def test_no_pace_with_open_work_is_at_risk_and_finished_work_is_not() -> None:
    v = ("10002",)
    release = make_version("10002", "1.2", dt.date(2027, 3, 1))
    stalled = milestone(release, [make_issue(1, fix_version_ids=v)], NOW, BERLIN)
    assert stalled.resolved_in_window == 0
    assert stalled.risk is Risk.PACE
    finished = milestone(
        release,
        [make_issue(1, fix_version_ids=v, **done(resolved=resolved_days_ago(30)))],
        NOW,
        BERLIN,
    )
    assert finished.risk is None
    empty = milestone(release, [], NOW, BERLIN)
    assert (empty.issues_total, empty.issue_ratio, empty.risk) == (0, None, None)


def test_overdue_version_is_at_risk_even_when_all_done() -> None:
    v = ("10003",)
    issues = [make_issue(1, fix_version_ids=v, **done(resolved=resolved_days_ago(3)))]
    m = milestone(make_version("10003", "0.9", dt.date(2026, 11, 20)), issues, NOW, BERLIN)
    assert m.days_left == -2
    assert m.risk is Risk.OVERDUE


def test_section_orders_filters_and_lists_releases() -> None:
    versions = [
        make_version("10004", "2.0", None),
        make_version("10001", "1.1", dt.date(2026, 12, 31)),
        make_version("10000", "1.0", dt.date(2026, 12, 1)),
        make_version("10003", "0.9", dt.date(2026, 11, 20)),
        make_version("10005", "0.8", dt.date(2026, 11, 16), released=True),
        make_version("10006", "0.7", dt.date(2026, 11, 10), released=True),
        make_version("10007", "0.6", dt.date(2026, 12, 2), archived=True),
        Version(id="20000", project="OTHER", name="Other 1.0", release_date=dt.date(2026, 11, 30)),
        make_version("10008", "3.0", None),  # no issues yet: nothing to report, left out
    ]
    issues = [
        *issues_for_release_1(),
        make_issue(30, fix_version_ids=("10005",), **done(resolved=resolved_days_ago(6))),
        make_issue(31, fix_version_ids=("10003",)),
        make_issue(32, fix_version_ids=("10001",), **done(resolved=resolved_days_ago(3))),
        make_issue(33, fix_version_ids=("10004",)),
    ]
    section = milestones_section(
        make_account(), Audience.INTERNAL, issues, versions, NOW, since=None
    )
    assert [m.name for m in section.milestones] == ["0.9", "1.0", "1.1", "2.0"]
    assert not section.since_last_digest
    undated = section.milestones[-1]
    assert (undated.release_date, undated.days_left, undated.risk) == (None, None, None)
    assert section.at_risk_count == 2  # 0.9 overdue, 1.0 pace; 1.1 has no open issues
    # since defaults to 7 days before NOW (15 Nov): 0.8 (16 Nov) counts, 0.7 (10 Nov) does not.
    assert [(r.name, r.issues_total) for r in section.released] == [("0.8", 1)]
    later = milestones_section(
        make_account(),
        Audience.INTERNAL,
        issues,
        versions,
        NOW,
        since=dt.datetime(2026, 11, 16, 20, tzinfo=UTC),
    )
    assert [r.name for r in later.released] == ["0.8"]  # same day counts (release dates are dates)
    latest = milestones_section(
        make_account(),
        Audience.INTERNAL,
        issues,
        versions,
        NOW,
        since=dt.datetime(2026, 11, 17, 8, tzinfo=UTC),
    )
    assert latest.released == ()


def test_withheld_issues_excluded_from_client_progress() -> None:
    v = ("10000",)
    issues = [
        *issues_for_release_1(),
        make_issue(40, fix_version_ids=v, security_level="Agency", original_estimate_seconds=36000),
        make_issue(
            41, fix_version_ids=v, labels=("internal",), **done(resolved=resolved_days_ago(1))
        ),
    ]
    versions = [make_version("10000", "1.0", dt.date(2026, 12, 1))]
    client = milestones_section(make_account(), Audience.CLIENT, issues, versions, NOW).milestones[
        0
    ]
    internal = milestones_section(
        make_account(), Audience.INTERNAL, issues, versions, NOW
    ).milestones[0]
    assert (client.issues_total, client.issues_done, client.estimate_total_seconds) == (
        10,
        4,
        36000,
    )
    assert client.resolved_in_window == 3
    assert (internal.issues_total, internal.issues_done, internal.estimate_total_seconds) == (
        12,
        5,
        72000,
    )
    assert internal.resolved_in_window == 4


def test_jql_only_scope_keeps_all_given_versions() -> None:
    from bot.domain.accounts import JiraScope

    account = make_account(jira=JiraScope(jql="labels = acme"))
    versions = [
        Version(id="20000", project="OTHER", name="Other 1.0", release_date=dt.date(2026, 11, 30))
    ]
    issues = [make_issue(40, fix_version_ids=("20000",))]
    section = milestones_section(account, Audience.INTERNAL, issues, versions, NOW)
    assert [m.name for m in section.milestones] == ["Other 1.0"]


def test_jira_ruby_version_released_same_day() -> None:
    # Real version 10000 ("1.0", release 12 Jan 2012, unreleased), seen on its release day.
    version = version_from_jira_ruby()
    now = dt.datetime.fromisoformat("2012-01-12T17:00:00+13:00")
    issue = make_issue(1, fix_version_ids=("10000",))
    m = milestone(version, [issue], now, make_account(timezone="Pacific/Auckland").tz)
    assert (m.name, m.days_left, m.issues_open) == ("1.0", 0, 1)
    assert m.risk is Risk.PACE  # open work on release day with no pace


def test_a_version_of_only_withheld_issues_is_not_shown_to_the_client() -> None:
    internal_only = make_version("10077", "Agency tooling", dt.date(2026, 12, 10))
    planned = make_version("10078", "Phase 2", dt.date(2027, 2, 1))  # no issues yet: left out for both
    shipped = make_version("10079", "Security patch", dt.date(2026, 11, 19), released=True)
    issues = [
        make_issue(50, fix_version_ids=("10077",), labels=("internal",)),
        make_issue(51, fix_version_ids=("10079",), security_level="Agency", **done(resolved=resolved_days_ago(2))),
    ]
    versions = [internal_only, planned, shipped]
    client = milestones_section(make_account(), Audience.CLIENT, issues, versions, NOW)
    internal = milestones_section(make_account(), Audience.INTERNAL, issues, versions, NOW)
    assert [m.name for m in client.milestones] == []
    assert [r.name for r in client.released] == []
    assert [m.name for m in internal.milestones] == ["Agency tooling"]
    assert [r.name for r in internal.released] == ["Security patch"]


def test_a_release_whose_issues_were_not_fetched_is_not_shown_to_the_client() -> None:
    # The digest's JQL skips done issues untouched since the window: a just-released version can
    # arrive without its issues. The client must not see its name on faith.
    shipped = make_version("10080", "Secret hotfix", dt.date(2026, 11, 19), released=True)
    client = milestones_section(make_account(), Audience.CLIENT, [], [shipped], NOW)
    internal = milestones_section(make_account(), Audience.INTERNAL, [], [shipped], NOW)
    assert [r.name for r in client.released] == []
    assert [r.name for r in internal.released] == ["Secret hotfix"]
