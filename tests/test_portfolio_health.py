"""Account health (pure): the verdict and its reasons from the digest's own figures, the
account's thresholds, the order of attention, the snapshot's JSON, and what counts as worse."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from bot.accounts_file import parse_accounts
from bot.domain.accounts import Audience, HealthThresholds
from bot.domain.digest import build_digest
from bot.domain.portfolio import (
    AccountHealth,
    Concern,
    Reason,
    Scope,
    Verdict,
    assess,
    by_attention,
    select,
    worsenings,
)
from bot.errors import ConfigError
from tests.test_digest_samples import NOW, PROJECT, done, log, make_account, make_issue, make_version

UTC = dt.UTC
# NOW is Sunday 22 Nov 2026 in Berlin: 15 of November's 21 working days have passed (71.4 %).
RECENT = NOW - dt.timedelta(days=1)


def _health(issues, versions=(), **account):
    acct = make_account(**account)
    digest = build_digest(acct, Audience.INTERNAL, issues, list(versions), NOW)
    return assess(acct, digest, issues)


def _spent(hours: float):
    # One issue created recently (client-visible activity), with `hours` logged this month.
    return make_issue(1, created=RECENT, worklogs=(log(f"{PROJECT}-1", dt.datetime(2026, 11, 3, 9, tzinfo=UTC), hours),))


def test_a_quiet_budget_on_pace_with_recent_work_is_ok():
    health = _health([_spent(40)])  # 50 % of 80 h at 71 % of the month: lasts past the end
    assert health.verdict is Verdict.OK and health.reasons == ()
    assert health.percent_used == 50 and health.percent_elapsed == Decimal("71.4")
    assert health.forecast == "past_period_end" and health.quiet_days == 1


def test_a_budget_running_out_before_the_period_end_is_watch_then_at_risk_when_far_ahead():
    slightly = _health([_spent(60)])  # 75 %: 3.6 points ahead, runs out before Nov 30
    assert slightly.verdict is Verdict.WATCH
    (reason,) = slightly.reasons
    assert reason.concern is Concern.BUDGET_RUNS_OUT and reason.facts["date"] == slightly.forecast_date.isoformat()
    assert slightly.forecast_date < dt.date(2026, 11, 30)
    far = _health([_spent(72)])  # 90 %: 18.6 points ahead
    assert far.verdict is Verdict.AT_RISK and far.reasons[0].concern is Concern.BUDGET_RUNS_OUT
    # The margin is the account's: 20 points keep it at watch.
    assert _health([_spent(72)], health=HealthThresholds(budget_ahead_risk=20)).verdict is Verdict.WATCH
    gone = _health([_spent(81)])
    assert gone.verdict is Verdict.AT_RISK and gone.reasons[0].concern is Concern.BUDGET_EXHAUSTED


def test_milestones_at_risk_soon_or_overdue_are_at_risk_far_ones_watch():
    soon = make_version("1", "Launch", dt.date(2026, 11, 30))
    late = make_version("2", "Phase 2", dt.date(2027, 2, 1))
    issues = [_spent(10), make_issue(2, fix_version_ids=("1",)), make_issue(3, fix_version_ids=("2",))]
    health = _health(issues, [soon, late])
    reason = health.reason(Concern.MILESTONE_AT_RISK)
    assert reason is not None and reason.level is Verdict.AT_RISK and reason.facts["name"] == "Launch"
    assert health.next_milestone is not None and health.next_milestone.name == "Launch"
    far = _health([_spent(10), make_issue(3, fix_version_ids=("2",))], [late])
    assert far.reason(Concern.MILESTONE_AT_RISK).level is Verdict.WATCH
    overdue = _health([_spent(10), make_issue(2, fix_version_ids=("1",))], [make_version("1", "Beta", dt.date(2026, 11, 1))])
    assert overdue.reason(Concern.MILESTONE_OVERDUE).level is Verdict.AT_RISK


def test_overdue_waiting_and_quiet_follow_the_thresholds():
    overdue = [make_issue(10 + n, due=dt.date(2026, 11, 1)) for n in range(5)]
    waiting = [make_issue(20 + n, status="Waiting for customer") for n in range(3)]
    health = _health([_spent(10), *overdue, *waiting])
    assert health.overdue == 5 and health.reason(Concern.OVERDUE).level is Verdict.AT_RISK
    assert health.reason(Concern.WAITING_FOR_CLIENT).level is Verdict.WATCH
    assert health.waiting_for_client == 3
    lenient = _health([_spent(10), *overdue], health=HealthThresholds(overdue_watch=2, overdue_risk=6))
    assert lenient.reason(Concern.OVERDUE).level is Verdict.WATCH

    old = dt.datetime(2026, 11, 2, 9, tzinfo=UTC)
    quiet = _health([make_issue(1, created=old)])
    assert quiet.quiet_days == 20 and quiet.reason(Concern.QUIET).level is Verdict.AT_RISK
    # Internal work is not client-visible activity: it does not make the account look busy.
    hidden = make_issue(2, created=RECENT, labels=("internal",))
    assert _health([make_issue(1, created=old), hidden]).quiet_days == 20
    # Time logged on a client-visible issue is activity.
    logged = make_issue(1, created=old, worklogs=(log(f"{PROJECT}-1", RECENT, 1),))
    assert _health([logged]).quiet_days == 1


def test_the_health_is_judged_on_the_internal_digest_only():
    account = make_account()
    client = build_digest(account, Audience.CLIENT, [], [], NOW)
    with pytest.raises(ValueError):
        assess(account, client, [])


def test_assignees_are_slack_users_through_the_people_map():
    issues = [make_issue(1, assignee_id="557058:dev", created=RECENT), make_issue(2, assignee_id="557058:gone", **done())]
    health = _health(issues, people={"557058:dev": "U0DEV00001", "557058:gone": "U0GONE0001"})
    assert health.assignees == ("U0DEV00001",)  # a done issue makes nobody's account "mine"


def _fake(key, verdict, key_account=False, reasons=()):
    return AccountHealth(account_key=key, account_name=key.title(), key_account=key_account, computed_at=NOW,
                         today=NOW.date(), verdict=verdict, reasons=tuple(reasons))


def test_accounts_are_sorted_by_need_of_attention_key_accounts_first_among_equals():
    risk = Reason(Concern.OVERDUE, Verdict.AT_RISK, {"count": 9})
    watch = Reason(Concern.QUIET, Verdict.WATCH, {"count": 8})
    accounts = [
        _fake("alpha", Verdict.OK), _fake("beta", Verdict.WATCH, reasons=[watch]),
        _fake("gamma", Verdict.AT_RISK, reasons=[risk]), _fake("delta", Verdict.AT_RISK, reasons=[risk, watch]),
        _fake("omega", Verdict.WATCH, key_account=True, reasons=[watch]),
    ]
    assert [h.account_key for h in by_attention(accounts)] == ["delta", "gamma", "omega", "beta", "alpha"]
    assert [h.account_key for h in select(accounts, Scope.KEY)] == ["omega"]
    assert [h.account_key for h in select(accounts, Scope.AT_RISK)] == ["delta", "gamma"]
    assert [h.account_key for h in select(accounts, Scope.MINE, mine={"alpha", "beta"})] == ["beta", "alpha"]


def test_the_snapshot_survives_json():
    soon = make_version("1", "Launch", dt.date(2026, 11, 30))
    health = _health([_spent(72), make_issue(2, fix_version_ids=("1",), assignee_id="a")], [soon],
                     people={"a": "U0DEV00001"}, key_account=True)
    import json

    again = AccountHealth.from_json(json.loads(json.dumps(health.to_json())))
    assert again == health


def test_worse_is_news_once_per_change_better_is_not():
    before = _health([_spent(40)])
    after = _health([_spent(60)])  # the forecast moved before the period end
    (news,) = worsenings(before, after)
    assert news.reason.concern is Concern.BUDGET_RUNS_OUT and news.was is None
    assert worsenings(after, _health([_spent(60)])) == []  # the same again: nothing new
    assert [w.key for w in worsenings(before, after)] == [news.key]  # computed again: the same key
    assert worsenings(after, before) == []  # better: saved for the digest
    assert worsenings(None, after) == []  # a first look is no change
    far = _health([_spent(72)])
    (level_up,) = worsenings(after, far)
    assert level_up.reason.level is Verdict.AT_RISK and level_up.key != news.key
    assert worsenings(far, after) == []


def test_a_milestone_slipping_and_an_overdue_jump_are_news():
    v1 = make_version("1", "Launch", dt.date(2026, 11, 30))
    slipped = dataclasses.replace(v1, release_date=dt.date(2026, 12, 2))
    issues = [_spent(10), make_issue(2, fix_version_ids=("1",))]
    before, after = _health(issues, [v1]), _health(issues, [slipped])
    (news,) = worsenings(before, after)
    assert news.reason.concern is Concern.MILESTONE_AT_RISK and "2026-12-02" in news.key

    def overdue(n):
        return [_spent(10)] + [make_issue(10 + i, due=dt.date(2026, 11, 1)) for i in range(n)]

    six, seven, nine = _health(overdue(6)), _health(overdue(7)), _health(overdue(9))
    assert worsenings(six, seven) == []  # one more, same level: the digest tells it
    (jump,) = worsenings(six, nine)
    assert jump.reason.concern is Concern.OVERDUE and jump.reason.facts["count"] == 9


def test_health_thresholds_are_checked_with_the_accounts_file():
    text = """
accounts:
  - key: acme
    name: ACME
    timezone: Europe/Berlin
    key_account: true
    channels: [{id: C0ACME0001, audience: internal}]
    jira: {projects: [ACME]}
    health: {overdue_watch: 5, overdue_risk: 2, quiet_watch_days: 3}
"""
    with pytest.raises(ConfigError) as err:
        parse_accounts(text, "accounts.yaml")
    assert "overdue_watch (5) is above overdue_risk (2)" in str(err.value)
    config = parse_accounts(text.replace("overdue_watch: 5, ", ""), "accounts.yaml")
    account = config.accounts[0]
    assert account.key_account and account.health.quiet_watch_days == 3 and account.health.overdue_risk == 2
    with pytest.raises(ConfigError) as typo:
        parse_accounts(text.replace("overdue_watch", "overdue_wach"), "accounts.yaml")
    assert "did you mean 'overdue_watch'" in str(typo.value)
