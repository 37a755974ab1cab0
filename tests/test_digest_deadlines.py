"""Deadlines and the client's waiting list (NOW = Sun 22 Nov 2026, horizon 14 days → 6 Dec)."""

from __future__ import annotations

import datetime as dt

from bot.domain.accounts import Audience, JiraScope
from bot.domain.deadlines import deadlines_section, issue_sort_key
from tests.test_digest_samples import (
    NOW,
    PROJECT,
    done,
    issues_from_jira_ruby,
    make_account,
    make_issue,
)


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def sample_issues() -> list:
    return [
        make_issue(1, due=d(11, 20), assignee="Ann"),  # 2 days overdue
        make_issue(2, due=d(11, 22)),  # today
        make_issue(3, due=d(12, 6), assignee="Bob"),  # last day of the horizon
        make_issue(4, due=d(12, 7)),  # beyond the horizon
        make_issue(5, due=d(10, 1)),  # long overdue
        make_issue(6, due=d(11, 1), **done()),  # done: never a deadline
        make_issue(7),  # no due date
        make_issue(10, due=d(11, 25)),
        make_issue(9, due=d(11, 25)),
    ]


def test_overdue_first_then_by_due_date_within_horizon() -> None:
    section = deadlines_section(make_account(), Audience.INTERNAL, sample_issues(), NOW)
    assert section.today == d(11, 22)
    assert section.horizon_days == 14
    assert [(i.key.split("-")[1], i.days_left) for i in section.items] == [
        ("5", -52),
        ("1", -2),
        ("2", 0),
        ("9", 3),  # natural key order: 9 before 10 on the same day
        ("10", 3),
        ("3", 14),
    ]
    assert section.overdue_count == 2
    assert section.items[1].assignee == "Ann"
    assert section.items[1].overdue and not section.items[2].overdue
    assert section.waiting is None  # internal channels get no "waiting for you" list


def test_horizon_comes_from_the_account() -> None:
    account = make_account(jira=JiraScope(projects=[PROJECT], deadline_horizon_days=3))
    section = deadlines_section(account, Audience.INTERNAL, sample_issues(), NOW)
    assert [i.key for i in section.items] == [f"{PROJECT}-{n}" for n in (5, 1, 2, 9, 10)]


def test_client_waiting_list_and_withheld_issues() -> None:
    issues = [
        *sample_issues(),
        make_issue(20, status="Waiting for customer", due=d(11, 30)),
        make_issue(21, status="WAITING FOR CUSTOMER"),  # Jira status names vary in case
        make_issue(22, assignee="Anna (ACME)", assignee_id="557058:client-anna", due=d(11, 24)),
        make_issue(
            23, **done(status="Waiting for customer")
        ),  # done category: not waiting any more
        make_issue(24, status="Waiting for customer", labels=("internal",)),  # withheld
        make_issue(25, due=d(11, 21), security_level="Internal"),  # withheld overdue issue
    ]
    client = deadlines_section(make_account(), Audience.CLIENT, issues, NOW)
    assert client.waiting is not None
    assert [i.key for i in client.waiting] == [f"{PROJECT}-22", f"{PROJECT}-20", f"{PROJECT}-21"]
    assert f"{PROJECT}-25" not in [i.key for i in client.items]
    assert client.overdue_count == 2
    internal = deadlines_section(make_account(), Audience.INTERNAL, issues, NOW)
    assert internal.overdue_count == 3
    assert f"{PROJECT}-25" in [i.key for i in internal.items]


def test_issue_sort_key_is_natural() -> None:
    keys = ["ACME-10", "ACME-9", "ABC-100", "ACME-1"]
    assert sorted(keys, key=issue_sort_key) == ["ABC-100", "ACME-1", "ACME-9", "ACME-10"]


def test_jira_ruby_issues_without_due_dates() -> None:
    # Real search result: 11 open issues, only SAMPLEPROJECT-1 has a due date (14 Dec 2011).
    account = make_account(timezone="Pacific/Auckland")
    now = dt.datetime.fromisoformat("2011-12-15T16:00:00+13:00")
    section = deadlines_section(account, Audience.CLIENT, issues_from_jira_ruby(), now)
    assert [(i.key, i.due, i.days_left, i.assignee) for i in section.items] == [
        ("SAMPLEPROJECT-1", dt.date(2011, 12, 14), -1, "admin")
    ]
    assert section.waiting == ()
