import datetime as dt

from bot.domain.digest_query import digest_jql
from sandbox.agency import sandbox_accounts

ACCOUNTS = sandbox_accounts()
UTC = dt.timezone.utc


def test_monthly_budget_reaches_back_to_the_month_start_in_the_accounts_timezone():
    acme = ACCOUNTS.by_key("acme-shop")
    # 23:30 UTC on Oct 31 is already November 1st in Berlin: the period starts Nov 1.
    now = dt.datetime(2026, 11, 20, 9, tzinfo=UTC)
    since = dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert digest_jql(acme, now, since) == (
        'project in (ACME) AND (statusCategory != Done OR updated >= "2026-10-31" '
        "OR fixVersion in unreleasedVersions()) ORDER BY key ASC"
    )


def test_project_budget_reaches_back_to_the_project_start():
    northwind = ACCOUNTS.by_key("northwind")
    now = dt.datetime(2026, 11, 20, 9, tzinfo=UTC)
    jql = digest_jql(northwind, now, now - dt.timedelta(days=7))
    assert 'updated >= "2026-08-31"' in jql
    assert jql.startswith("project in (NW) AND (")


def test_a_long_gap_since_the_last_digest_reaches_further_back():
    acme = ACCOUNTS.by_key("acme-shop")
    now = dt.datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert 'updated >= "2026-09-30"' in digest_jql(acme, now, dt.datetime(2026, 10, 1, 8, tzinfo=UTC))
