"""The whole digest: audience filtering end to end, changes since the last digest, JSON form."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from bot.domain.accounts import Audience
from bot.domain.budget import Forecast
from bot.domain.digest import build_digest, changes_section
from bot.render.digest import digest_to_json
from tests.test_digest_samples import (
    NOW,
    PROJECT,
    UTC,
    done,
    issues_from_jira_ruby,
    log,
    make_account,
    make_issue,
    make_version,
)


def many_issues() -> list:
    """150 issues: every 5th is withheld (alternately security level and internal label).

    Each issue logs 1 h on 2 Nov, is due 30 Nov, belongs to version 10000; the first 60 are done,
    resolved 3 days ago; issues 1–30 were created 2 days ago.
    """
    issues = []
    for n in range(1, 151):
        withheld: dict = {}
        if n % 10 == 5:
            withheld = {"security_level": "Internal"}
        elif n % 10 == 0:
            withheld = {"labels": ("internal",)}
        state = done(resolved=NOW - dt.timedelta(days=3)) if n <= 60 else {}
        created = NOW - dt.timedelta(days=2) if n <= 30 else dt.datetime(2026, 10, 1, tzinfo=UTC)
        issues.append(
            make_issue(
                n,
                created=created,
                due=dt.date(2026, 11, 30),
                fix_version_ids=("10000",),
                worklogs=(
                    log(f"{PROJECT}-{n}", dt.datetime(2026, 11, 2, 9, tzinfo=UTC), 1, str(n)),
                ),
                **withheld,
                **state,
            )
        )
    return issues


def test_more_than_100_issues_client_versus_internal() -> None:
    versions = [make_version("10000", "1.0", dt.date(2026, 12, 18))]
    client = build_digest(make_account(), Audience.CLIENT, many_issues(), versions, NOW, None)
    internal = build_digest(make_account(), Audience.INTERNAL, many_issues(), versions, NOW, None)

    # 30 of 150 are withheld: 120 visible to the client.
    assert client.budget is not None and internal.budget is not None
    assert client.budget.spent_hours == Decimal("120.00")
    assert internal.budget.spent_hours == Decimal("150.00")
    assert client.budget.forecast is Forecast.EXHAUSTED  # 120 h of 80 h
    assert client.budget.thresholds_crossed == (80, 100)
    assert client.budget.spent_money is None and internal.budget.spent_money == Decimal("14250.00")

    m_client, m_internal = client.milestones.milestones[0], internal.milestones.milestones[0]
    assert (m_client.issues_total, m_client.issues_done) == (120, 48)
    assert (m_internal.issues_total, m_internal.issues_done) == (150, 60)

    assert len(client.deadlines.items) == 72  # open visible issues: 120 - 48
    assert len(internal.deadlines.items) == 90
    assert client.deadlines.waiting == ()
    assert internal.deadlines.waiting is None

    assert len(client.changes.created) == 24 and len(internal.changes.created) == 30
    assert len(client.changes.resolved) == 48 and len(internal.changes.resolved) == 60
    visible_keys = {i.key for i in client.deadlines.items} | {i.key for i in client.changes.created}
    assert f"{PROJECT}-5" not in visible_keys and f"{PROJECT}-10" not in visible_keys
    assert client.audience is Audience.CLIENT
    assert client.since == NOW - dt.timedelta(days=7)


def test_changes_since_last_digest() -> None:
    since = dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    issues = [
        make_issue(1, created=since - dt.timedelta(minutes=1)),  # just before: not new
        make_issue(2, created=since),  # exactly at the last digest: it was in that one, not new now
        make_issue(3, created=NOW - dt.timedelta(hours=1)),
        make_issue(4, **done(resolved=since + dt.timedelta(hours=5))),
        make_issue(5, **done(resolved=since - dt.timedelta(days=1))),  # resolved before
        make_issue(6, resolved=since + dt.timedelta(hours=1)),  # reopened: resolution cleared late
        make_issue(7, created=NOW + dt.timedelta(hours=1)),  # clock skew: after now, not counted
    ]
    section = changes_section(make_account(), Audience.INTERNAL, issues, NOW, since)
    assert section.since == since
    assert [i.key for i in section.created] == [f"{PROJECT}-3"]
    assert [i.key for i in section.resolved] == [f"{PROJECT}-4"]
    assert section.resolved[0].when == since + dt.timedelta(hours=5)


def test_first_digest_looks_back_seven_days_on_real_issues() -> None:
    # jira-ruby's 11 issues were created 14–15 Dec 2011 (+13:00). Seen on 21 Dec at 15:00, 7 days
    # back is 14 Dec 15:00: the five created earlier on 14 Dec (1, 4–7) are not new.
    account = make_account(timezone="Pacific/Auckland")
    now = dt.datetime.fromisoformat("2011-12-21T15:00:00+13:00")
    section = changes_section(account, Audience.CLIENT, issues_from_jira_ruby(), now, None)
    assert [i.key for i in section.created] == [
        "SAMPLEPROJECT-8",
        "SAMPLEPROJECT-9",
        "SAMPLEPROJECT-10",
        "SAMPLEPROJECT-11",
        "SAMPLEPROJECT-12",
        "SAMPLEPROJECT-13",
    ]
    assert section.resolved == ()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_digest(make_account(), Audience.CLIENT, [], [], dt.datetime(2026, 11, 22, 10), None)


def test_digest_to_json_is_consistent() -> None:
    versions = [make_version("10000", "1.0", dt.date(2026, 12, 18))]
    digest = build_digest(make_account(), Audience.INTERNAL, many_issues()[:3], versions, NOW, None)
    data = digest_to_json(digest)
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert data["audience"] == "internal"
    assert data["generated_at"] == "2026-11-22T10:00:00+00:00"
    assert data["since"] == "2026-11-15T10:00:00+00:00"
    assert data["today"] == "2026-11-22"
    budget = data["budget"]
    assert budget["period"] == {"start": "2026-11-01", "end": "2026-11-30"}
    assert budget["spent_hours"] == "3.00"
    assert budget["percent_used"] == "3.7"  # 3.75 %, rounded down
    assert budget["forecast"] == "past_period_end"
    assert budget["spent_money"] == "285.00"
    assert budget["thresholds_crossed"] == []
    milestone = data["milestones"]["milestones"][0]
    assert milestone["release_date"] == "2026-12-18"
    assert milestone["risk"] is None  # all three done
    assert data["deadlines"]["items"] == []
    assert data["deadlines"]["waiting"] is None
    resolved = data["changes"]["resolved"]
    assert [r["key"] for r in resolved] == [f"{PROJECT}-1", f"{PROJECT}-2", f"{PROJECT}-3"]
    assert resolved[0]["due"] == "2026-11-30"
    assert resolved[0]["when"] == "2026-11-19T10:00:00+00:00"


def test_the_whole_client_digest_hides_a_version_whose_every_issue_is_withheld() -> None:
    # Through build_digest, not only the section: the digest must hand the section every issue.
    from bot.domain.digest import build_digest
    from tests.test_digest_samples import make_account, make_issue, make_version

    internal_only = make_version("10077", "Agency tooling", dt.date(2026, 12, 10))
    issues = [make_issue(50, fix_version_ids=("10077",), labels=("internal",))]
    client = build_digest(make_account(), Audience.CLIENT, issues, [internal_only], NOW)
    internal = build_digest(make_account(), Audience.INTERNAL, issues, [internal_only], NOW)
    assert [m.name for m in client.milestones.milestones] == []
    assert [m.name for m in internal.milestones.milestones] == ["Agency tooling"]


def test_an_issue_at_a_slot_is_news_in_exactly_one_of_two_consecutive_digests() -> None:
    slot = dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    issues = [make_issue(2, created=slot), make_issue(4, **done(resolved=slot))]
    first = changes_section(make_account(), Audience.INTERNAL, issues, slot, slot - dt.timedelta(days=7))
    second = changes_section(make_account(), Audience.INTERNAL, issues, NOW, slot)
    assert ([i.key for i in first.created], [i.key for i in first.resolved]) == ([f"{PROJECT}-2"], [f"{PROJECT}-4"])
    assert (second.created, second.resolved) == ((), ())


def test_an_issue_handed_in_twice_counts_once() -> None:
    from bot.domain.budget import budget_status
    from tests.test_digest_samples import log

    issue = make_issue(1, worklogs=(log(f"{PROJECT}-1", dt.datetime(2026, 11, 3, 9, tzinfo=UTC), 3, "501"),))
    digest = build_digest(make_account(), Audience.INTERNAL, [issue, issue], [], NOW)
    assert digest.budget.spent_hours == Decimal("3.00")
    assert budget_status(make_account(), Audience.INTERNAL, [issue, issue], NOW).spent_hours == Decimal("3.00")


def test_shown_money_parts_add_up() -> None:
    # 41 h 03 min at 87.50: spent 41.05 h = 3,591.88 (3,591.875 rounded), budget 80 h = 7,000.00,
    # left 3,408.12 — not 3,408.13, which two separate roundings gave.
    from bot.domain.accounts import Budget
    from bot.domain.budget import budget_status
    from tests.test_digest_samples import log

    account = make_account(budget=Budget(hours=Decimal("80"), rate=Decimal("87.50"), currency="EUR"))
    issue = make_issue(1, worklogs=(log(f"{PROJECT}-1", dt.datetime(2026, 11, 3, 9, tzinfo=UTC), 41.05, "502"),))
    status = budget_status(account, Audience.INTERNAL, [issue], NOW)
    assert (status.spent_money, status.budget_money, status.remaining_money) == (
        Decimal("3591.88"), Decimal("7000.00"), Decimal("3408.12"),
    )
    assert status.spent_money + status.remaining_money == status.budget_money
