"""Inbox worker on SQLite and PostgreSQL: real payloads → channel messages, exactly once, with
threads, bursts, lookups, retries, dead letters, outcomes and budget alerts."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re

import pytest
from structlog.contextvars import merge_contextvars

from bot.domain.accounts import Account, AccountsConfig, Audience, Budget, Channel, ConfluenceScope, JiraScope, Roles
from bot.domain.links import SiteLinks
from bot.domain.work import Issue, Worklog
from bot.errors import UpstreamError
from bot.services.inbox_worker import InboxWorker, WorkerSettings, post_key
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload

PIN = "pinpoint-jira/internal/testdata"
ZJ = "zulip/zerver/webhooks/jira/fixtures"
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
ALPHA_CLIENT, ALPHA_INTERNAL, BETA_CLIENT = "C0ALPHA01", "C0ALPHA02", "C0BETA001"


def _account(key, projects, space, client, internal, **extra) -> Account:
    return Account(
        key=key, name=key.title(), timezone="Europe/Berlin",
        channels=[Channel(id=client, audience=Audience.CLIENT), Channel(id=internal, audience=Audience.INTERNAL)],
        jira=JiraScope(projects=projects), confluence=ConfluenceScope(space=space), **extra,
    )


ALPHA = _account(
    "alpha", ["TES", "GOLD"], "FI", ALPHA_CLIENT, ALPHA_INTERNAL,
    budget=Budget(hours=10, thresholds=[80, 100]), roles=Roles(budget="U0BUDGET"),
)
BETA = _account("beta", ["INDEV"], "ENG", BETA_CLIENT, "C0BETA002")
ACCOUNTS = AccountsConfig(accounts=[ALPHA, BETA])


def issue(key: str, **changes) -> Issue:
    base = Issue(key=key, project=key.split("-")[0], summary="Test issue", issue_type="Bug",
                 status="To Do", status_category="new", created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    return dataclasses.replace(base, **changes)


def add(store, path_or_payload, delivery_id: str, event: str | None = None) -> int:
    payload = real_payload(path_or_payload) if isinstance(path_or_payload, str) else path_or_payload
    assert store.inbox.add("jira", delivery_id, json.dumps(payload), event or payload.get("webhookEvent"), NOW)
    return next(i.id for i in store.inbox.list() if i.delivery_id == delivery_id)


# JIRA_URL and CONFLUENCE_URL as the sites most fixtures come from (pinpoint's Jira Cloud,
# taxonomies-for-confluence's wiki): links are built from these, never from a payload.
SITES = SiteLinks(jira="https://pinpt-hq.atlassian.net", confluence="https://dalstonsemantics.atlassian.net/wiki")


def worker(store, slack, jira=None, confluence=None, **settings) -> InboxWorker:
    return InboxWorker(store, ACCOUNTS, slack, jira, clock=lambda: NOW, settings=WorkerSettings(**settings),
                       confluence=confluence, links=SITES)


async def test_issue_created_reaches_both_channels_once_and_only_its_account(store):
    slack = InMemorySlack()
    item = add(store, f"{PIN}/jira:issue_created.json", "d-1")
    report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 1} and report.messages == 2
    # Channels post in parallel: compare as a set.
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_INTERNAL]
    assert all("GOLD-189" in m["text"] for m in slack.messages)
    assert store.inbox.get(item).status == "done"
    # At-least-once processing: the same delivery processed again posts nothing new.
    store.inbox.requeue(item, NOW)
    again = await worker(store, slack).run_once()
    assert (again.messages, again.skipped_already_posted, len(slack.messages)) == (0, 2, 2)


async def test_crash_after_posting_before_marking_done_does_not_repost(store):
    slack = InMemorySlack()
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    w = worker(store, slack)
    (item,) = store.inbox.claim_due(NOW, 10, dt.timedelta(minutes=5))
    work = await w._normalize(item)
    poster = w._poster(ACCOUNTS)
    plan = await poster.plan([work], await w._subscriptions())
    await poster.post_all(plan.outgoing)  # posted and recorded, then the process "dies"
    assert len(slack.messages) == 2 and store.inbox.get(item.id).status == "pending"
    later = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW + dt.timedelta(minutes=6))
    report = await later.run_once()
    assert (report.claimed, report.messages, len(slack.messages)) == (1, 0, 2)
    assert store.inbox.get(item.id).status == "done"


async def test_follow_ups_reply_in_the_issue_thread(store):
    slack = InMemorySlack()
    first = real_payload(f"{PIN}/jira:issue_updated.json")  # GOLD-137 description edited
    second = copy.deepcopy(first)
    second["timestamp"] = first["timestamp"] + 60_000  # derived: the same edit a minute later
    add(store, first, "d-1")
    add(store, second, "d-2")
    await worker(store, slack).run_once()
    internal = slack.in_channel(ALPHA_INTERNAL)
    assert len(internal) == 2
    assert internal[0]["thread_ts"] is None
    assert internal[1]["thread_ts"] == internal[0]["ts"]
    assert store.threads.get(ALPHA_INTERNAL, "GOLD-137") == internal[0]["ts"]
    # Client defaults do not include description edits.
    assert slack.in_channel(ALPHA_CLIENT) == []


J2M_STATUS = "jira-to-matrix/test/fixtures/webhooks/issue/updated/status-changed.json"


def status_change_of_gold_189(to_status: str, n: int) -> dict:
    """jira-to-matrix's INDEV-6 "To Do → In Progress", derived: moved onto pinpoint's GOLD-189,
    with another target status when asked (and a distinct timestamp, so each one is its own change)."""
    payload = copy.deepcopy(real_payload(J2M_STATUS))
    payload["timestamp"] = 1_595_886_387_039 + n * 60_000
    issue_ = payload["issue"]
    issue_["key"], issue_["id"] = "GOLD-189", "10189"
    issue_["fields"]["project"]["key"] = "GOLD"
    issue_["fields"]["status"]["name"] = to_status
    item = payload["changelog"]["items"][0]
    item["fromString"], item["toString"] = ("To Do", to_status) if n == 1 else ("In Progress", to_status)
    return payload


def _status_context(text: str) -> dict:
    return {"type": "context", "block_id": "pulse_thread_status", "elements": [{"type": "mrkdwn", "text": text}]}


async def test_status_change_reply_also_shows_the_status_on_the_thread_parent(store):
    slack = InMemorySlack()
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    add(store, status_change_of_gold_189("In Progress", 1), "d-2")
    report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 2}
    for channel in (ALPHA_CLIENT, ALPHA_INTERNAL):
        parent, reply = slack.in_channel(channel)
        assert (parent["thread_ts"], reply["thread_ts"]) == (None, parent["ts"])
        assert "In Progress" in reply["text"]
        (update,) = [u for u in slack.updates if u["channel"] == channel]
        # The parent as first posted, plus one status line.
        assert update == dict(channel=channel, ts=parent["ts"], text=parent["text"],
                              blocks=[*parent["blocks"], _status_context("Status: In Progress")])
    assert len(slack.updates) == 2


async def test_a_later_status_change_replaces_the_status_line_instead_of_adding_one(store):
    slack = InMemorySlack()
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    add(store, status_change_of_gold_189("In Progress", 1), "d-2")
    await worker(store, slack).run_once()
    add(store, status_change_of_gold_189("In Review", 2), "d-3")
    await worker(store, slack).run_once()
    parent, first, second = slack.in_channel(ALPHA_INTERNAL)
    assert (first["thread_ts"], second["thread_ts"]) == (parent["ts"], parent["ts"])
    updates = [u for u in slack.updates if u["channel"] == ALPHA_INTERNAL]
    assert [u["blocks"] for u in updates] == [
        [*parent["blocks"], _status_context("Status: In Progress")],
        [*parent["blocks"], _status_context("Status: In Review")],
    ]
    assert store.threads.parent(ALPHA_INTERNAL, "GOLD-189").blocks == parent["blocks"]


async def test_status_line_is_in_the_account_language(store):
    slack = InMemorySlack()
    german = ACCOUNTS.model_copy(update={"accounts": [ALPHA.model_copy(update={"language": "de"}), BETA]})
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    add(store, status_change_of_gold_189("In Arbeit", 1), "d-2")
    await InboxWorker(store, german, slack, None, clock=lambda: NOW, settings=WorkerSettings()).run_once()
    parent = slack.in_channel(ALPHA_INTERNAL)[0]
    (update,) = [u for u in slack.updates if u["channel"] == ALPHA_INTERNAL]
    assert update["blocks"] == [*parent["blocks"], _status_context("Status: In Arbeit")]


async def test_a_failed_parent_update_still_posts_the_reply_once(store):
    from structlog.testing import capture_logs

    slack = InMemorySlack(fail_next_update=[UpstreamError("slack", "message_not_found", retryable=False)] * 2)
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    add(store, status_change_of_gold_189("In Progress", 1), "d-2")
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 2} and report.messages == 4
    assert slack.updates == [] and slack.fail_next_update == []
    warnings = [e for e in logs if e["event"].startswith("could not show the new status")]
    assert sorted((e["log_level"], e["channel"], e["error"]) for e in warnings) == [
        ("warning", ALPHA_CLIENT, "UpstreamError: slack: message_not_found"),
        ("warning", ALPHA_INTERNAL, "UpstreamError: slack: message_not_found"),
    ]
    for channel in (ALPHA_CLIENT, ALPHA_INTERNAL):
        parent, reply = slack.in_channel(channel)
        assert reply["thread_ts"] == parent["ts"]
    # Processed again (an at-least-once retry): nothing is posted or updated a second time.
    for item in store.inbox.list():
        store.inbox.requeue(item.id, NOW)
    again = await worker(store, slack).run_once()
    assert (again.messages, len(slack.messages), slack.updates) == (0, 4, [])


async def test_trimmed_comment_issue_is_looked_up_in_one_batched_query(store):
    slack = InMemorySlack()
    jira = InMemoryJira({"TES-1": issue("TES-1")})
    add(store, f"{PIN}/comment_created.json", "d-1")
    add(store, f"{PIN}/comment_updated.json", "d-2")
    report = await worker(store, slack, jira).run_once()
    # One issue lookup, and one changelog of the issue for both comments (the history check).
    assert jira.jql == ["key in (TES-1)"] and jira.made("changelog") == ["TES-1"] and report.jira_calls == 2
    client = slack.in_channel(ALPHA_CLIENT)
    assert len(client) == 1 and "commented on" in client[0]["text"]  # client default: created only
    assert len(slack.in_channel(ALPHA_INTERNAL)) == 2


async def test_secret_issue_comment_never_reaches_the_client(store):
    slack = InMemorySlack()
    jira = InMemoryJira({"TES-1": issue("TES-1", security_level="Internal")})
    add(store, f"{PIN}/comment_created.json", "d-1")
    await worker(store, slack, jira).run_once()
    assert slack.in_channel(ALPHA_CLIENT) == [] and len(slack.in_channel(ALPHA_INTERNAL)) == 1


async def test_not_handled_outcomes_are_recorded_and_logged(store):
    from structlog.testing import capture_logs

    slack = InMemorySlack()
    ignored = add(store, f"{PIN}/board_created.json", "d-1")
    anomalous = add(store, "zulip/zerver/webhooks/confluence/fixtures/example_anomalous_payload.json", "d-2", "x")
    store.inbox.add("jira", "d-3", "not json", None, NOW)
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await worker(store, slack).run_once()
    assert report.statuses == {"ignored": 1, "anomalous": 2}
    assert store.inbox.get(ignored).status == "ignored"
    assert store.inbox.get(anomalous).status == "anomalous"
    assert store.inbox.get(anomalous).last_error == "neither a Jira nor a Confluence webhook body"
    assert sorted(e["event"] for e in logs if e["event"].startswith("webhook ")) == [
        "webhook anomalous", "webhook anomalous", "webhook ignored"]
    assert slack.messages == []


async def test_a_burst_becomes_one_summary_per_channel_listing_every_issue(store):
    slack = InMemorySlack()
    base = real_payload(f"{PIN}/jira:issue_created.json")
    keys = [f"GOLD-{500 + n}" for n in range(25)]
    for n, key in enumerate(keys):
        payload = copy.deepcopy(base)  # derived from the real capture: 25 issues created in bulk
        payload["issue"]["key"] = key
        payload["issue"]["id"] = str(30000 + n)
        add(store, payload, f"d-{n}")
    report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 25} and report.messages == 2
    for channel in (ALPHA_CLIENT, ALPHA_INTERNAL):
        (summary,) = slack.in_channel(channel)
        assert all(k in summary["text"] for k in keys)
        assert summary["text"].startswith("25 updates in 25 issues")
    assert slack.in_channel(BETA_CLIENT) == []
    # Every event of the burst is recorded: a replay of the whole batch posts nothing.
    for item in store.inbox.list(limit=100):
        store.inbox.requeue(item.id, NOW)
    assert (await worker(store, slack).run_once()).messages == 0


async def test_retryable_slack_failure_backs_off_then_dead_letters(store):
    slack = InMemorySlack()
    item = add(store, f"{PIN}/jira:issue_created.json", "d-1")
    w = worker(store, slack, max_attempts=2, backoff_base=dt.timedelta(seconds=30))
    slack.fail_next = [UpstreamError("slack", "ratelimited", retryable=True, retry_after=90)]
    report = await w.run_once()
    got = store.inbox.get(item)
    assert report.statuses == {"retry": 1}
    # A rate limit is no failed attempt (it never brings the delivery closer to the dead letters).
    assert (got.status, got.attempts, got.last_error) == ("pending", 0, "slack: ratelimited")
    # Not due yet: the next try comes when Retry-After (90 s) says.
    assert store.inbox.claim_due(NOW + dt.timedelta(seconds=89), 10, dt.timedelta(minutes=5)) == []
    slack.fail_next = [UpstreamError("slack", "internal_error", retryable=True)]
    late = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW + dt.timedelta(seconds=91),
                       settings=WorkerSettings(max_attempts=1))
    report = await late.run_once()
    got = store.inbox.get(item)
    assert report.statuses == {"dead": 1}
    assert (got.status, got.attempts, got.last_error) == ("dead", 1, "slack: internal_error")
    # Channels post independently: the one that worked is not repeated by the retry.
    assert len(slack.messages) == 1


async def test_permanent_slack_error_dead_letters_at_once(store):
    slack = InMemorySlack(fail_next=[UpstreamError("slack", "channel_not_found", retryable=False)])
    item = add(store, f"{PIN}/jira:issue_created.json", "d-1")
    await worker(store, slack).run_once()
    # One channel is gone; the other still got its message, and the error is kept for `inbox show`.
    assert len(slack.messages) == 1
    assert store.inbox.get(item).status == "dead"
    assert store.inbox.get(item).last_error == "slack: channel_not_found"


async def test_jira_down_during_lookup_retries_the_delivery(store):
    slack = InMemorySlack()
    jira = InMemoryJira()
    jira.error = UpstreamError("jira", "503", retryable=True)
    item = add(store, f"{PIN}/comment_created.json", "d-1")
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"retry": 1} and slack.messages == []
    assert store.inbox.get(item).status == "pending"


def _worklog(key: str, hours: float, day: int) -> Worklog:
    return Worklog(id=f"w{day}", issue_key=key, started=dt.datetime(2026, 11, day, 10, tzinfo=dt.UTC),
                   seconds=int(hours * 3600))


async def test_worklog_over_a_threshold_alerts_once_per_threshold_and_period(store):
    slack = InMemorySlack()
    # 8.5 h of a 10 h budget in November: 85 % → the 80 % threshold.
    gold = issue("GOLD-7", worklogs=(_worklog("GOLD-7", 5, 3), _worklog("GOLD-7", 3.5, 20)))
    jira = InMemoryJira({"GOLD-7": gold}, by_id={"10014": gold})
    add(store, f"{ZJ}/worklog_created.json", "d-1")
    report = await worker(store, slack, jira).run_once()
    assert report.alerts == 1
    assert jira.jql == ["id = 10014", 'project in (TES, GOLD) AND worklogDate >= "2026-10-31"']
    (alert,) = [m for m in slack.messages if "budget" in m["text"]]
    assert alert["channel"] == ALPHA_INTERNAL  # alert_client is off
    assert alert["text"].splitlines() == [
        "⚠️ Alpha: 80% of the budget used",
        "8.5 h of 10 h used (85%) in Nov 1, 2026 – Nov 30, 2026.",
        "cc <@U0BUDGET>",
    ]
    # Worklogs are not in the internal defaults: the alert is the only message.
    assert len(slack.messages) == 1
    add(store, f"{ZJ}/worklog_updated.json", "d-2")
    report = await worker(store, slack, jira).run_once()
    assert report.alerts == 0 and len(slack.messages) == 1
    assert store.budget_alerts.sent("alpha", "2026-11-01..2026-11-30") == {80}


async def test_client_gets_the_alert_only_when_the_account_says_so(store):
    slack = InMemorySlack()
    alpha = ALPHA.model_copy(update={"budget": Budget(hours=10, alert_client=True)})
    accounts = AccountsConfig(accounts=[alpha, BETA])
    gold = issue("GOLD-7", worklogs=(_worklog("GOLD-7", 11, 3),))
    jira = InMemoryJira({"GOLD-7": gold}, by_id={"10014": gold})
    add(store, f"{ZJ}/worklog_created.json", "d-1")
    w = InboxWorker(store, accounts, slack, jira, clock=lambda: NOW)
    await w.run_once()
    client, internal = slack.in_channel(ALPHA_CLIENT), slack.in_channel(ALPHA_INTERNAL)
    assert [m["text"].splitlines()[0] for m in client + internal] == [
        "⚠️ Alpha: 100% of the budget used", "⚠️ Alpha: 100% of the budget used"]
    assert "cc <@U0BUDGET>" not in client[0]["text"] and "cc <@U0BUDGET>" in internal[0]["text"]
    assert store.budget_alerts.sent("alpha", "2026-11-01..2026-11-30") == {80, 100}


async def test_confluence_cloud_event_uses_the_hint_from_the_url(store):
    slack = InMemorySlack()
    body = real_payload("taxonomies-for-confluence/src/test/resources/requests/PageTrashed.json")
    store.inbox.add("confluence", "c-1", json.dumps(body), "page_trashed", NOW)
    await worker(store, slack).run_once()
    (message,) = slack.messages
    assert message["channel"] == ALPHA_INTERNAL and "to the trash" in message["text"]


async def test_stored_subscription_replaces_the_defaults(store):
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_INTERNAL, "alpha", {"text": "issue_created issuetype=Epic"}, "U1", NOW)
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    await worker(store, slack).run_once()
    assert len(slack.messages) == 1


def test_post_keys_stay_within_the_column_and_dedupe_comments_across_deliveries():
    from bot.domain.webhooks import normalize

    (event,) = normalize(real_payload(f"{PIN}/jira:issue_updated.json")).events
    key = post_key("x" * 128, ALPHA_INTERNAL, event)
    assert len(key) == 199 and key.startswith("delivery:xxx")
    (comment,) = normalize(real_payload(f"{PIN}/comment_created.json")).events
    assert post_key("d-1", "C1", comment) == post_key("d-2", "C1", comment) == "event:C1:jira:comment_created:comment:19259"


async def test_client_alert_counts_only_what_the_client_may_see(store):
    slack = InMemorySlack()
    alpha = ALPHA.model_copy(update={"budget": Budget(hours=10, alert_client=True)})
    accounts = AccountsConfig(accounts=[alpha, BETA])
    # 5 h on a public issue, 5 h on an issue with a security level: internal 100 %, client 50 %.
    public = issue("GOLD-7", worklogs=(_worklog("GOLD-7", 5, 3),))
    hidden = issue("GOLD-8", security_level="Internal", worklogs=(_worklog("GOLD-8", 5, 4),))
    jira = InMemoryJira({"GOLD-7": public, "GOLD-8": hidden}, by_id={"10014": public})
    add(store, f"{ZJ}/worklog_created.json", "d-1")
    w = InboxWorker(store, accounts, slack, jira, clock=lambda: NOW)
    await w.run_once()
    (internal,) = slack.in_channel(ALPHA_INTERNAL)
    assert internal["text"].splitlines()[:2] == [
        "⚠️ Alpha: 100% of the budget used", "10 h of 10 h used (100%) in Nov 1, 2026 – Nov 30, 2026."]
    # 50 % crosses no client threshold: the client hears nothing (and nothing of the hidden 5 h).
    assert slack.in_channel(ALPHA_CLIENT) == []
    assert store.budget_alerts.sent("alpha", "2026-11-01..2026-11-30") == {80, 100}
    assert store.budget_alerts.sent("alpha", "2026-11-01..2026-11-30", "client") == set()
    # 3 h more on the public issue: client 8 h = 80 % → the client's own 80 % alert, once.
    jira.put(issue("GOLD-7", worklogs=(_worklog("GOLD-7", 5, 3), _worklog("GOLD-7", 3, 20))))
    add(store, f"{ZJ}/worklog_updated.json", "d-2")
    await InboxWorker(store, accounts, slack, jira, clock=lambda: NOW).run_once()
    (client,) = slack.in_channel(ALPHA_CLIENT)
    assert client["text"].splitlines() == [
        "⚠️ Alpha: 80% of the budget used", "8 h of 10 h used (80%) in Nov 1, 2026 – Nov 30, 2026."]
    assert len(slack.in_channel(ALPHA_INTERNAL)) == 1  # internal already alerted at 100 %
    assert store.budget_alerts.sent("alpha", "2026-11-01..2026-11-30", "client") == {80}


# (An unreadable payload is no longer retried: it is `anomalous` at once, tests/test_hostile_input.py.)
@pytest.mark.parametrize("stage", ["render", "post"])
async def test_an_unexpected_error_in_one_delivery_leaves_the_others_alone(store, monkeypatch, stage):
    from structlog.testing import capture_logs

    import bot.services.notification_posting as notification_posting

    slack = InMemorySlack()
    good = add(store, f"{PIN}/jira:issue_created.json", "d-good")  # GOLD-189, both channels
    bad = add(store, f"{PIN}/jira:issue_updated.json", "d-bad")  # GOLD-137, internal only
    if stage == "render":
        real_render = notification_posting.render_event

        def render_event(event, audience, account, *args, **kwargs):
            if event.issue_key == "GOLD-137":
                raise RuntimeError("boom")
            return real_render(event, audience, account, *args, **kwargs)

        monkeypatch.setattr(notification_posting, "render_event", render_event)
    else:
        real_post = slack.post_message

        async def post_message(channel, text, blocks=None, thread_ts=None, post_key=None):
            if "GOLD-137" in text:
                raise RuntimeError("boom")
            return await real_post(channel, text, blocks, thread_ts, post_key)

        monkeypatch.setattr(slack, "post_message", post_message)
    w = worker(store, slack, max_attempts=2, backoff_base=dt.timedelta(seconds=30))
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await w.run_once()
    assert report.statuses == {"done": 1, "retry": 1}
    assert store.inbox.get(good).status == "done"
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_INTERNAL]
    got = store.inbox.get(bad)
    assert (got.status, got.attempts, got.last_error) == ("pending", 1, "RuntimeError: boom")
    assert [e["exc_info"] for e in logs if e.get("delivery_id") == "d-bad" and e.get("exc_info")] == [True]
    # Backed off (30 s), then dead-lettered once its attempts are used up, error text kept.
    assert store.inbox.claim_due(NOW + dt.timedelta(seconds=29), 10, dt.timedelta(minutes=5)) == []
    later = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW + dt.timedelta(seconds=31),
                        settings=WorkerSettings(max_attempts=2))
    assert (await later.run_once()).statuses == {"dead": 1}
    got = store.inbox.get(bad)
    assert (got.status, got.attempts, got.last_error) == ("dead", 2, "RuntimeError: boom")
    assert len(slack.messages) == 2


async def test_every_edit_of_a_comment_is_posted_once(store):
    slack = InMemorySlack()
    jira = InMemoryJira({"TES-1": issue("TES-1")})
    first = real_payload(f"{PIN}/comment_updated.json")  # comment 19259 edited at 15:14:50.725
    second = copy.deepcopy(first)  # derived: the same comment edited again a minute later
    second["timestamp"] = first["timestamp"] + 60_000
    second["comment"]["updated"] = "2020-07-28T15:15:50.725-0700"
    second["comment"]["body"] = "edited twice"
    # Jira also tells the second edit inside jira:issue_updated (later, with its own timestamp).
    copy_in_issue_updated = copy.deepcopy(second)
    copy_in_issue_updated.update(webhookEvent="jira:issue_updated", issue_event_type_name="issue_comment_edited",
                                 timestamp=second["timestamp"] + 150)
    add(store, first, "d-1")
    add(store, second, "d-2")
    add(store, copy_in_issue_updated, "d-3")
    await worker(store, slack, jira).run_once()
    assert [m["text"].splitlines()[0] for m in slack.in_channel(ALPHA_INTERNAL)] == [
        "Robin Diddams edited a comment on <https://pinpt-hq.atlassian.net/browse/TES-1|TES-1> Test issue"] * 2
    # An edit that arrives again later (another batch) is still not repeated.
    add(store, dict(second), "d-4")
    assert (await worker(store, slack, jira).run_once()).messages == 0


def test_comment_post_keys_tell_edits_apart_but_not_the_two_copies_of_a_new_comment():
    from bot.domain.webhooks import normalize

    (edit,) = normalize(real_payload(f"{PIN}/comment_updated.json")).events
    later = dataclasses.replace(edit, comment=dataclasses.replace(edit.comment, updated="2020-07-28T15:15:50.725-0700"))
    assert post_key("d-1", "C1", edit) == "event:C1:jira:comment_updated:comment:19259:2020-07-28T15:14:50.725-0700"
    assert post_key("d-2", "C1", later) != post_key("d-1", "C1", edit)
    (created,) = normalize(real_payload(f"{PIN}/comment_created.json")).events
    assert post_key("d-1", "C1", created) == "event:C1:jira:comment_created:comment:19259"


ZC = "zulip/zerver/webhooks/confluence/fixtures"


@pytest.mark.parametrize(
    ("path", "source", "reason"),
    [
        # Data Center bodies name the page only by id: without a Confluence client, no space.
        (f"{ZC}/page_created.json", "confluence", "Confluence Data Center body names the content only by id"),
        # Sprint bodies name only the board: without a Jira client, no project.
        (f"{PIN}/sprint_started.json", "jira", "sprint event names only its board"),
    ],
)
async def test_events_no_port_can_route_are_unsupported_not_silently_done(store, path, source, reason):
    from structlog.testing import capture_logs

    slack = InMemorySlack()
    body = real_payload(path)
    store.inbox.add(source, "d-1", json.dumps(body), body.get("webhookEvent") or body.get("event"), NOW)
    (item,) = store.inbox.list()
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await worker(store, slack, jira=None, confluence=None).run_once()
    assert report.statuses == {"unsupported": 1} and slack.messages == []
    got = store.inbox.get(item.id)
    assert got.status == "unsupported" and got.last_error.startswith(reason)
    (logged,) = [e for e in logs if e["event"] == "webhook unsupported"]
    # Captured before the processors run, the logger's name may still be under `logger_name`.
    assert logged.get("logger", logged.get("logger_name")) == "pulse.webhooks.unsupported"
    assert logged["reason"] == got.last_error


def _add_as(store, source: str, path_or_payload, delivery_id: str) -> int:
    body = real_payload(path_or_payload) if isinstance(path_or_payload, str) else path_or_payload
    assert store.inbox.add(source, delivery_id, json.dumps(body), body.get("webhookEvent") or body.get("event"), NOW)
    return next(i.id for i in store.inbox.list() if i.delivery_id == delivery_id)


async def test_sprint_started_reaches_only_the_internal_channel_of_the_boards_project(store):
    slack = InMemorySlack()
    jira = InMemoryJira(boards={81: "TES"})  # board 81 sits in project TES (account alpha)
    started = _add_as(store, "jira", f"{PIN}/sprint_started.json", "d-1")
    closed = _add_as(store, "jira", f"{PIN}/sprint_closed.json", "d-2")  # the same board
    report = await worker(store, slack, jira).run_once()
    # One board, one lookup, for both deliveries.
    assert jira.made("board_project") == ["81"] and report.jira_calls == 1
    assert report.statuses == {"done": 2}
    assert [store.inbox.get(i).status for i in (started, closed)] == ["done", "done"]
    # Client defaults leave sprints out (bot.domain.subscriptions.CLIENT_DEFAULT): internal only.
    assert slack.in_channel(ALPHA_CLIENT) == [] and slack.in_channel(BETA_CLIENT) == []
    assert sorted(m["text"] for m in slack.in_channel(ALPHA_INTERNAL)) == [
        "Sprint *TSD Sprint 1* closed", "Sprint *TSD Sprint 1* started, ends Jul 21, 2020"]
    assert len(slack.messages) == 2


async def test_sprint_reaches_a_client_channel_only_when_it_subscribed_to_sprints(store):
    from bot.domain.subscriptions import CLIENT_DEFAULT, EVENT_GROUPS

    assert not (EVENT_GROUPS["sprints"] & CLIENT_DEFAULT.events)
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "sprints"}, "U1", NOW)
    slack = InMemorySlack()
    _add_as(store, "jira", f"{PIN}/sprint_started.json", "d-1")
    await worker(store, slack, InMemoryJira(boards={81: "TES"})).run_once()
    assert [m["text"] for m in slack.in_channel(ALPHA_CLIENT)] == ["Sprint *TSD Sprint 1* started, ends Jul 21, 2020"]
    assert len(slack.in_channel(ALPHA_INTERNAL)) == 1


async def test_a_failing_board_lookup_fails_only_its_own_deliveries(store):
    slack = InMemorySlack()
    other_board = copy.deepcopy(real_payload(f"{PIN}/sprint_started.json"))
    other_board["sprint"].update(id=193, name="Beta Sprint 4", originBoardId=82)  # derived: another board
    jira = InMemoryJira(boards={82: "INDEV"},
                        errors={"board_project:81": UpstreamError("jira", "HTTP 503", retryable=True, status=503)})
    failing = _add_as(store, "jira", f"{PIN}/sprint_started.json", "d-1")
    fine = _add_as(store, "jira", other_board, "d-2")
    report = await worker(store, slack, jira).run_once()
    assert sorted(jira.made("board_project")) == ["81", "82"]
    assert report.statuses == {"retry": 1, "done": 1}
    assert store.inbox.get(failing).status == "pending" and store.inbox.get(failing).last_error == "jira: HTTP 503"
    assert store.inbox.get(fine).status == "done"
    assert [(m["channel"], m["text"]) for m in slack.messages] == [("C0BETA002", "Sprint *Beta Sprint 4* started, ends Jul 21, 2020")]


async def test_a_board_in_no_project_is_unsupported_with_the_reason(store):
    slack = InMemorySlack()
    item = _add_as(store, "jira", f"{PIN}/sprint_started.json", "d-1")
    report = await worker(store, slack, InMemoryJira(boards={})).run_once()  # 404 or a user's board: None
    assert report.statuses == {"unsupported": 1} and slack.messages == []
    assert store.inbox.get(item).last_error == (
        "board 81 is in no project we can see (deleted, not visible to the bot, or a user's board)")


def _dc_confluence(**kwargs):
    from tests.fakes.confluence import InMemoryConfluence

    # The real Data Center REST responses the zulip payloads were enriched from (all in space ENG).
    contents = {c["id"]: c for c in (real_payload(f"{ZC}/{name}_api_response.json") for name in ("page", "blog", "comment"))}
    return InMemoryConfluence(contents=contents, **kwargs)


async def test_confluence_dc_page_created_reaches_the_account_owning_the_space(store):
    slack = InMemorySlack()
    # zulip's tests answer the user lookup of these payloads (userKey abc123) with this response.
    confluence = _dc_confluence(read_restrictions={"123456": False},
                                users={"abc123": real_payload(f"{ZC}/user_api_response.json")})
    item = _add_as(store, "confluence", f"{ZC}/page_created.json", "d-1")
    report = await worker(store, slack, InMemoryJira(), confluence).run_once()
    # The content names its space, the user their name; then, since the client channel wants
    # page_created, the content's restrictions.
    assert confluence.calls == [("content", "123456"), ("user", "abc123"), ("read_restricted", "123456")]
    assert report.confluence_calls == 3
    assert report.statuses == {"done": 1} and store.inbox.get(item).status == "done"
    # Space ENG belongs to beta: both its channels (client defaults include page_created), no one else.
    assert sorted(m["channel"] for m in slack.messages) == [BETA_CLIENT, "C0BETA002"]
    assert all("Architecture Overview" in m["text"] for m in slack.messages)
    assert all(m["text"].startswith("John Smith created the page") for m in slack.messages)


async def test_a_failed_user_lookup_costs_only_the_name(store):
    slack = InMemorySlack()
    confluence = _dc_confluence(read_restrictions={"123456": False})

    def user(user_id):
        confluence.calls.append(("user", user_id))
        raise UpstreamError("confluence", "HTTP 503", retryable=True, status=503)

    confluence.user = user
    item = _add_as(store, "confluence", f"{ZC}/page_created.json", "d-1")
    report = await worker(store, slack, InMemoryJira(), confluence).run_once()
    assert ("user", "abc123") in confluence.calls
    # Posted now, not retried for a name: the actor is named as well as the payload allows.
    assert report.statuses == {"done": 1} and store.inbox.get(item).status == "done"
    assert len(slack.messages) == 2
    assert not any("abc123" in m["text"] for m in slack.messages)
    assert all("<https://dalstonsemantics.atlassian.net/wiki/pages/viewpage.action?pageId=123456|Architecture Overview>"
               in m["text"] for m in slack.messages)


async def test_confluence_dc_lookups_are_one_per_content_id_and_fail_only_their_deliveries(store):
    slack = InMemorySlack()
    confluence = _dc_confluence(read_restrictions={"123456": False})
    contents, failing_id = confluence.contents, "234567"

    def content(content_id):  # the blog post's lookup fails; the others answer
        confluence.calls.append(("content", content_id))
        if content_id == failing_id:
            raise UpstreamError("confluence", "HTTP 503", retryable=True, status=503)
        return contents.get(content_id)

    confluence.content = content
    ids = {name: _add_as(store, "confluence", f"{ZC}/{name}.json", f"d-{name}")
           for name in ("page_created", "page_updated", "comment_created", "blog_created")}
    gone = copy.deepcopy(real_payload(f"{ZC}/page_created.json"))
    gone["page"]["id"] = 999999  # derived: a page deleted before the worker got to it
    ids["gone"] = _add_as(store, "confluence", gone, "d-gone")
    report = await worker(store, slack, InMemoryJira(), confluence).run_once()
    # Two deliveries name page 123456: one call for it, and one restriction lookup (the client
    # wants page events, not comments; the blog post never got its space). Three deliveries
    # of one user: one user lookup (the blog post's author waits with their delivery).
    assert sorted(confluence.calls) == [
        *[("content", c) for c in ("123456", "234567", "789012", "999999")], ("read_restricted", "123456"),
        ("user", "abc123")]
    assert report.confluence_calls == 6
    assert {k: store.inbox.get(i).status for k, i in ids.items()} == {
        "page_created": "done", "page_updated": "done", "comment_created": "done",
        "blog_created": "pending", "gone": "unsupported"}
    assert store.inbox.get(ids["blog_created"]).last_error == "confluence: HTTP 503"
    assert store.inbox.get(ids["gone"]).last_error == "Confluence content 999999 not found or not visible to the bot"
    # Internal gets all three; the client defaults: page created and updated, not comments.
    assert len(slack.in_channel("C0BETA002")) == 3 and len(slack.in_channel(BETA_CLIENT)) == 2


async def test_sprint_and_dc_page_through_the_real_clients_and_the_fake_server(store):
    from integrations.confluence import AtlassianConfluence
    from integrations.jira import AtlassianJira
    from sandbox.atlassian_server import AtlassianSeed, FakeAtlassian, board_json

    user = dict(real_payload(f"{ZC}/user_api_response.json"), userKey="abc123")  # derived: the payload's key
    seed = AtlassianSeed(
        boards=[board_json(81, "TSD board", {"id": "10000", "key": "TES", "name": "Test"})],
        contents=[real_payload(f"{ZC}/page_api_response.json")],
        users=[user],
    )
    slack = InMemorySlack()
    _add_as(store, "jira", f"{PIN}/sprint_started.json", "d-1")
    _add_as(store, "confluence", f"{ZC}/page_created.json", "d-2")
    with FakeAtlassian(seed) as fake:
        jira = AtlassianJira(fake.url, user="bot@agency.example", api_token="t")
        confluence = AtlassianConfluence(fake.url, api_token="pat", cloud=False)
        try:
            report = await worker(store, slack, jira, confluence).run_once()
        finally:
            jira.close()
            confluence.close()
        calls = sorted((c.method, c.path, c.status) for c in fake.calls)
    # The page's content, its author, then its restrictions (no ancestors in the stored response: one call).
    assert calls == [("GET", "/rest/agile/1.0/board/81", 200), ("GET", "/rest/api/content/123456", 200),
                     ("GET", "/rest/api/content/123456", 200), ("GET", "/rest/api/user", 200)]
    assert report.statuses == {"done": 2} and (report.jira_calls, report.confluence_calls) == (1, 3)
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_INTERNAL, BETA_CLIENT, "C0BETA002"]
    assert all(m["text"].startswith("John Smith created the page")
               for m in slack.messages if m["channel"] in (BETA_CLIENT, "C0BETA002"))


# The account id of the actor in taxonomies' Confluence Cloud payloads.
CLOUD_ACTOR = "557058:d092c978-5ab7-4c8a-8d87-32ffac22c584"


async def test_confluence_cloud_page_names_its_actor_by_account_id(store):
    from tests.fakes.confluence import InMemoryConfluence

    slack = InMemorySlack()
    body = real_payload("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json")  # space FI
    store.inbox.add("confluence", "c-1", json.dumps(body), "page_created", NOW)
    # As `GET /wiki/rest/api/user?accountId=` answers (Cloud hides the email unless allowed).
    user = {"type": "known", "accountId": CLOUD_ACTOR, "accountType": "atlassian", "email": "",
            "publicName": "Ada", "displayName": "Ada Example"}
    confluence = InMemoryConfluence(read_restrictions={"294914": False}, users={CLOUD_ACTOR: user})
    report = await worker(store, slack, confluence=confluence).run_once()
    assert report.statuses == {"done": 1}
    assert confluence.calls == [("user", CLOUD_ACTOR), ("read_restricted", "294914")]
    assert sorted((m["channel"], m["text"].split(" <")[0]) for m in slack.messages) == [
        (ALPHA_CLIENT, "Ada Example created the page"), (ALPHA_INTERNAL, "Ada Example created the page")]


async def test_an_unknown_confluence_user_is_someone(store):
    from tests.fakes.confluence import InMemoryConfluence

    slack = InMemorySlack()
    body = real_payload("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json")
    store.inbox.add("confluence", "c-1", json.dumps(body), "page_created", NOW)
    confluence = InMemoryConfluence(read_restrictions={"294914": False})  # the user lookup finds nobody
    report = await worker(store, slack, confluence=confluence).run_once()
    assert report.statuses == {"done": 1}
    # Never the raw account id: "someone" (the renderer's word, capitalised at the start).
    assert sorted((m["channel"], m["text"].split(" <")[0]) for m in slack.messages) == [
        (ALPHA_CLIENT, "Someone created the page"), (ALPHA_INTERNAL, "Someone created the page")]
    assert not any(CLOUD_ACTOR in m["text"] for m in slack.messages)


TAX = "taxonomies-for-confluence/src/test/resources/requests"


def _cloud_page(store, name: str, delivery_id: str, hint: str, content_id: int | None = None) -> int:
    body = copy.deepcopy(real_payload(f"{TAX}/{name}.json"))  # space FI (alpha), page 294914
    if content_id is not None:
        # Derived: another page of the same space.
        body["page"].update(id=content_id, title=f"Page {content_id}")
    assert store.inbox.add("confluence", delivery_id, json.dumps(body), hint, NOW)
    return next(i.id for i in store.inbox.list() if i.delivery_id == delivery_id)


async def test_restricted_confluence_page_reaches_internal_but_not_the_client(store):
    from tests.fakes.confluence import InMemoryConfluence

    slack = InMemorySlack()
    item = _cloud_page(store, "PageCreated", "c-1", "page_created")
    # e.g. "Internal: pricing strategy" in the client's own space, restricted to staff.
    confluence = InMemoryConfluence(read_restrictions={"294914": True})
    report = await worker(store, slack, confluence=confluence).run_once()
    assert report.statuses == {"done": 1} and store.inbox.get(item).status == "done"
    assert confluence.calls == [("user", CLOUD_ACTOR), ("read_restricted", "294914")] and report.confluence_calls == 2
    assert [m["channel"] for m in slack.messages] == [ALPHA_INTERNAL]


async def test_page_under_a_restricted_ancestor_does_not_reach_the_client(store):
    from tests.fakes.confluence import InMemoryConfluence

    slack = InMemorySlack()
    _cloud_page(store, "PageUpdated", "c-1", "page_updated")
    # The page has no restriction of its own; its grandparent has one, and Confluence inherits it.
    confluence = InMemoryConfluence(read_restrictions={"294914": False, "1001": False, "1000": True},
                                    parents={"294914": "1001", "1001": "1000"})
    report = await worker(store, slack, confluence=confluence).run_once()
    assert report.statuses == {"done": 1}
    assert [m["channel"] for m in slack.messages] == [ALPHA_INTERNAL]


async def test_confluence_events_reach_no_client_without_a_confluence_client(store):
    slack = InMemorySlack()
    _cloud_page(store, "PageCreated", "c-1", "page_created")
    report = await worker(store, slack, confluence=None).run_once()
    # No port, no evidence: withheld from the client, internal unaffected.
    assert report.statuses == {"done": 1} and [m["channel"] for m in slack.messages] == [ALPHA_INTERNAL]


async def test_failed_restriction_lookup_retries_only_its_delivery(store):
    from tests.fakes.confluence import InMemoryConfluence

    slack = InMemorySlack()
    failing = _cloud_page(store, "PageCreated", "c-1", "page_created")
    fine = _cloud_page(store, "PageCreated", "c-2", "page_created", content_id=294915)
    confluence = InMemoryConfluence(read_restrictions={"294914": False, "294915": False})
    confluence.restriction_errors["294914"] = UpstreamError("confluence", "HTTP 503", retryable=True, status=503)
    report = await worker(store, slack, confluence=confluence).run_once()
    assert sorted(confluence.calls) == [("read_restricted", "294914"), ("read_restricted", "294915"), ("user", CLOUD_ACTOR)]
    assert report.statuses == {"done": 1, "retry": 1}
    got = store.inbox.get(failing)
    assert (got.status, got.attempts, got.last_error) == ("pending", 1, "confluence: HTTP 503")
    assert store.inbox.get(fine).status == "done"
    # Like the version rule: the failing delivery waits whole (internal too), the other is told.
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_INTERNAL]
    # The retry, once Confluence answers, tells both channels about the first page too.
    confluence.restriction_errors.clear()
    confluence.calls.clear()
    late = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW + dt.timedelta(hours=1),
                       settings=WorkerSettings(), confluence=confluence)
    report = await late.run_once()
    assert report.statuses == {"done": 1}
    assert confluence.calls == [("user", CLOUD_ACTOR), ("read_restricted", "294914")]
    assert store.inbox.get(failing).status == "done"
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_CLIENT, ALPHA_INTERNAL, ALPHA_INTERNAL]


async def test_no_restriction_lookup_when_no_client_channel_wants_the_event(store):
    slack = InMemorySlack()
    # The client channel subscribed to Jira issues only; internal keeps its defaults.
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "issue_created"}, "U1", NOW)
    _cloud_page(store, "PageCreated", "c-1", "page_created")
    dc_comment = _add_as(store, "confluence", f"{ZC}/comment_created.json", "d-1")  # ENG: beta, client defaults skip comments
    confluence = _dc_confluence()
    report = await worker(store, slack, confluence=confluence).run_once()
    # The content and the two actors; no restrictions.
    assert confluence.calls == [("content", "789012"), ("user", "abc123"), ("user", CLOUD_ACTOR)]
    assert report.confluence_calls == 3
    assert report.statuses == {"done": 2} and store.inbox.get(dc_comment).status == "done"
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_INTERNAL, "C0BETA002"]


async def test_cloud_pages_restricted_by_a_parent_through_the_real_client_and_the_fake_server(store):
    from integrations.confluence import AtlassianConfluence
    from sandbox.atlassian_server import AtlassianSeed, FakeAtlassian

    def page(content_id: str, title: str) -> dict:
        # Derived from zulip's real v1 page response: moved to space FI under a new id.
        base = copy.deepcopy(real_payload(f"{ZC}/page_api_response.json"))
        base.update(id=content_id, title=title)
        base["space"]["key"] = "FI"
        return base

    seed = AtlassianSeed(
        contents=[page("294913", "Internal"), page("294914", "Internal: pricing strategy"), page("294920", "Roadmap")],
        parents={"294914": "294913"},
        read_restrictions={"294913": {"group": ["agency-staff"]}},
    )
    slack = InMemorySlack()
    under_restricted = _cloud_page(store, "PageCreated", "c-1", "page_created")  # page 294914
    open_page = _cloud_page(store, "PageCreated", "c-2", "page_created", content_id=294920)
    with FakeAtlassian(seed) as fake:
        confluence = AtlassianConfluence(fake.url, user="bot@agency.example", api_token="t", cloud=True)
        try:
            report = await worker(store, slack, confluence=confluence).run_once()
        finally:
            confluence.close()
        calls = [(c.path, c.status) for c in fake.calls]
    # 294914: its content (no restriction of its own), then its parent's read restriction (found);
    # 294920: its content only (no ancestors).
    # (First the actor, one lookup for both: unknown to the fake, so "someone".)
    assert calls == [
        ("/wiki/rest/api/user", 404),
        ("/wiki/rest/api/content/294914", 200),
        ("/wiki/rest/api/content/294913/restriction/byOperation/read", 200),
        ("/wiki/rest/api/content/294920", 200),
    ]
    assert report.statuses == {"done": 2} and report.confluence_calls == 3
    assert {i: store.inbox.get(i).status for i in (under_restricted, open_page)} == dict.fromkeys(
        (under_restricted, open_page), "done")
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_INTERNAL, ALPHA_INTERNAL]
    assert ["Page 294920" in m["text"] for m in slack.in_channel(ALPHA_CLIENT)] == [True]
    assert sorted("Page 294920" in m["text"] for m in slack.in_channel(ALPHA_INTERNAL)) == [False, True]


def _comment_on(key: str, n: int) -> dict:
    payload = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))  # derived: same comment on another issue
    payload["issue"]["key"] = key
    payload["issue"]["id"] = str(20000 + n)
    payload["comment"]["id"] = str(30000 + n)
    return payload


async def test_one_invisible_key_fails_only_its_own_delivery(store):
    slack = InMemorySlack()
    jira = InMemoryJira({k: issue(k) for k in ("TES-1", "TES-3")}, invisible={"TES-2"})
    items = {k: add(store, _comment_on(k, n), f"d-{k}") for n, k in enumerate(("TES-1", "TES-2", "TES-3"))}
    report = await worker(store, slack, jira).run_once()
    assert jira.jql == ["key in (TES-1, TES-2, TES-3)", "key in (TES-1)", "key in (TES-2)", "key in (TES-3)"]
    assert report.statuses == {"done": 2, "dead": 1}
    assert [store.inbox.get(items[k]).status for k in ("TES-1", "TES-2", "TES-3")] == ["done", "dead", "done"]
    assert store.inbox.get(items["TES-2"]).last_error == (
        "jira: HTTP 400: An issue with key 'TES-2' does not exist for field 'key'.")
    assert sorted(re.search(r"TES-\d", m["text"]).group() for m in slack.in_channel(ALPHA_CLIENT)) == ["TES-1", "TES-3"]


async def test_a_failing_chunk_does_not_stop_the_next_chunks(store):
    slack = InMemorySlack()
    jira = InMemoryJira({k: issue(k) for k in ("TES-1", "TES-2", "TES-3")},
                        errors={"key:TES-2": UpstreamError("jira", "HTTP 503", retryable=True, status=503)})
    items = {k: add(store, _comment_on(k, n), f"d-{k}") for n, k in enumerate(("TES-1", "TES-2", "TES-3"))}
    report = await worker(store, slack, jira, jql_keys_per_query=2).run_once()
    assert jira.jql == ["key in (TES-1, TES-2)", "key in (TES-3)"]  # a 503 is retried later, not split
    assert report.statuses == {"retry": 2, "done": 1}
    assert [store.inbox.get(items[k]).status for k in ("TES-1", "TES-2", "TES-3")] == ["pending", "pending", "done"]


async def test_one_projects_version_lookup_failing_does_not_fail_the_others(store):
    from bot.domain.work import Version

    slack = InMemorySlack()
    jira = InMemoryJira({}, [Version(id="10000", project="GOLD", name="1.0", released=True)],
                        errors={"fetch_versions:TES": UpstreamError("jira", "HTTP 503", retryable=True, status=503)})
    released = add(store, "putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json", "d-1")
    other = copy.deepcopy(real_payload("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json"))
    other["version"]["id"] = "10099"  # derived: a version of a project whose lookup failed
    unknown = add(store, other, "d-2")
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"done": 1, "retry": 1}
    assert store.inbox.get(released).status == "done" and store.inbox.get(unknown).status == "pending"
    assert store.inbox.get(unknown).last_error == "jira: HTTP 503"
    # Version 10000 has no issue at all: nothing shows the client it is theirs, so only the
    # internal channel hears of it.
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_INTERNAL]


VERSION_RELEASED = "putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json"  # version 10000, "1.0"


def _gold_version_jira(*issues: Issue) -> InMemoryJira:
    from bot.domain.work import Version

    return InMemoryJira(issues, [Version(id="10000", project="GOLD", name="1.0", released=True)])


async def test_version_of_internal_issues_only_does_not_reach_the_client(store):
    slack = InMemorySlack()
    jira = _gold_version_jira(issue("GOLD-9", labels=("internal",), fix_version_ids=("10000",)),
                              issue("GOLD-10", labels=("internal",)))  # a public issue in no version
    add(store, VERSION_RELEASED, "d-1")
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"done": 1}
    assert jira.jql == ["fixVersion = 10000"]
    assert slack.in_channel(ALPHA_CLIENT) == []
    assert [m["text"] for m in slack.in_channel(ALPHA_INTERNAL)] == [
        "Milestone *1.0* released on Sep 9, 2020"]


async def test_version_with_one_client_visible_issue_reaches_the_client(store):
    slack = InMemorySlack()
    jira = _gold_version_jira(issue("GOLD-9", labels=("internal",), fix_version_ids=("10000",)),
                              issue("GOLD-11", fix_version_ids=("10000",)))
    add(store, VERSION_RELEASED, "d-1")
    second = copy.deepcopy(real_payload(VERSION_RELEASED))
    second["timestamp"] += 1000  # derived: the same release told again a second later
    add(store, second, "d-2")
    await worker(store, slack, jira).run_once()
    assert jira.jql == ["fixVersion = 10000"]  # one lookup per distinct version in the batch
    assert [m["text"] for m in slack.in_channel(ALPHA_CLIENT)] == [
        "Milestone *1.0* released on Sep 9, 2020"] * 2


async def test_version_issue_lookup_failing_retries_only_that_delivery(store):
    slack = InMemorySlack()
    jira = _gold_version_jira()
    jira.error = UpstreamError("jira", "HTTP 503", retryable=True, status=503)
    version = add(store, VERSION_RELEASED, "d-1")
    other = add(store, f"{PIN}/jira:issue_created.json", "d-2")  # complete issue: needs no lookup
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"retry": 1, "done": 1}
    assert (store.inbox.get(version).status, store.inbox.get(version).last_error) == ("pending", "jira: HTTP 503")
    assert store.inbox.get(other).status == "done"
    assert all("GOLD-189" in m["text"] for m in slack.messages) and len(slack.messages) == 2


async def test_version_events_no_client_channel_wants_need_no_issue_lookup(store):
    slack = InMemorySlack()
    jira = _gold_version_jira()
    updated = copy.deepcopy(real_payload(VERSION_RELEASED))
    updated["webhookEvent"] = "jira:version_updated"  # derived: client defaults leave updates out
    add(store, updated, "d-1")
    await worker(store, slack, jira).run_once()
    assert jira.jql == []
    assert [m["channel"] for m in slack.messages] == [ALPHA_INTERNAL]


async def test_budget_alert_counts_work_logged_in_the_first_hour_of_the_period(store):
    slack = InMemorySlack()
    # 1 Nov 00:30 in Berlin (the account's day that counts) is still 31 Oct in UTC.
    first_hour = Worklog(id="w1", issue_key="GOLD-7", started=dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC),
                         seconds=int(8.5 * 3600))
    gold = issue("GOLD-7", worklogs=(first_hour,))
    jira = InMemoryJira({"GOLD-7": gold}, by_id={"10014": gold})
    add(store, f"{ZJ}/worklog_created.json", "d-1")
    report = await worker(store, slack, jira).run_once()
    assert report.alerts == 1
    # The same one-day margin as the digest query (bot.domain.digest_query.earliest_needed).
    assert jira.jql[-1] == 'project in (TES, GOLD) AND worklogDate >= "2026-10-31"'
    (alert,) = slack.in_channel(ALPHA_INTERNAL)
    assert alert["text"].splitlines()[:2] == [
        "⚠️ Alpha: 80% of the budget used", "8.5 h of 10 h used (85%) in Nov 1, 2026 – Nov 30, 2026."]


def test_the_worker_reads_the_one_shared_clock(store):
    import bot.clock
    import bot.services.inbox_worker as inbox_worker

    now = bot.clock.utc_now()
    assert now.tzinfo is dt.timezone.utc
    assert inbox_worker.utc_now is bot.clock.utc_now
    assert InboxWorker(store, ACCOUNTS, InMemorySlack()).clock is bot.clock.utc_now


async def test_a_post_that_cannot_be_recorded_stops_its_channel_for_the_batch(store, monkeypatch):
    import sqlalchemy as sa
    from structlog.testing import capture_logs

    slack = InMemorySlack()
    first = real_payload(f"{PIN}/jira:issue_updated.json")  # GOLD-137 description edited: internal only
    items = [add(store, first, "d-1")]
    for n in (1, 2):
        later = copy.deepcopy(first)
        later["timestamp"] = first["timestamp"] + n * 60_000  # derived: the same edit n minutes later
        items.append(add(store, later, f"d-{n + 1}"))

    def database_down(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO posts", {}, Exception("server closed the connection"))

    monkeypatch.setattr(store.posts, "answer", database_down)  # Slack's answer cannot be recorded
    w = worker(store, slack)
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await w.run_once()
    # Slack has the first message; posting on would leave more messages nobody can account for.
    assert [m["channel"] for m in slack.messages] == [ALPHA_INTERNAL]
    assert report.messages == 0 and report.statuses == {"retry": 3}
    assert [store.inbox.get(i).status for i in items] == ["pending"] * 3
    (logged,) = [e for e in logs if e["event"].startswith("posted to Slack but")]
    assert (logged["log_level"], logged["channel"], logged["exc_info"]) == ("error", ALPHA_INTERNAL, True)
    # The database is back: the retry finds the first message in Slack (its intent was left open)
    # instead of posting it again, and posts the other two.
    monkeypatch.undo()
    for i in items:
        store.inbox.requeue(i, NOW)
    report = await w.run_once()
    assert report.statuses == {"done": 3} and report.messages == 2
    assert [m["channel"] for m in slack.messages] == [ALPHA_INTERNAL] * 3
    assert len({m["post_key"] for m in slack.messages}) == 3
    assert [s["channel"] for s in slack.searches] == [ALPHA_INTERNAL]


class GatedSlack(InMemorySlack):
    """Slack whose answer to a post waits for the test: the message is in Slack, the ts is not back."""

    def __init__(self):
        super().__init__()
        self.in_flight = __import__("asyncio").Event()
        self.answer = __import__("asyncio").Event()

    async def post_message(self, channel, text, blocks=None, thread_ts=None, post_key=None):
        ts = await super().post_message(channel, text, blocks, thread_ts=thread_ts, post_key=post_key)
        self.in_flight.set()
        await self.answer.wait()
        return ts


async def test_stopping_the_worker_lets_the_post_in_flight_finish_and_be_recorded(store):
    import asyncio

    from bot.services.inbox_worker import run_inbox_worker, stop_inbox_worker

    slack = GatedSlack()
    item = add(store, f"{PIN}/jira:issue_created.json", "d-1")
    settings = WorkerSettings(burst_window=dt.timedelta(0))
    task, stop = run_inbox_worker(InboxWorker(store, ACCOUNTS, slack, None, lambda: NOW, settings))
    await asyncio.wait_for(slack.in_flight.wait(), timeout=30)  # a guard against hanging, not a timing
    stopping = asyncio.create_task(stop_inbox_worker(task, stop, timeout=30))
    while not stop.is_set():
        await asyncio.sleep(0)
    assert not task.done()  # the batch is still waiting for Slack
    slack.answer.set()
    assert await stopping is True
    assert task.done() and not task.cancelled()
    posted = sorted(m["channel"] for m in slack.messages)
    assert posted == [ALPHA_CLIENT, ALPHA_INTERNAL] and store.inbox.get(item).status == "done"
    # The next process (lease long expired) finds every post recorded and repeats none.
    store.inbox.requeue(item, NOW)
    again = InMemorySlack()
    report = await InboxWorker(store, ACCOUNTS, again, None, lambda: NOW + dt.timedelta(minutes=6), settings).run_once()
    assert (report.claimed, report.skipped_already_posted, again.messages) == (1, 2, [])


async def test_stopping_a_worker_stuck_past_the_timeout_cancels_it(store):
    import asyncio

    from bot.services.inbox_worker import run_inbox_worker, stop_inbox_worker

    slack = GatedSlack()  # Slack never answers
    add(store, f"{PIN}/jira:issue_created.json", "d-1")
    task, stop = run_inbox_worker(InboxWorker(store, ACCOUNTS, slack, None, lambda: NOW, WorkerSettings(burst_window=dt.timedelta(0))))
    await asyncio.wait_for(slack.in_flight.wait(), timeout=30)
    assert await stop_inbox_worker(task, stop, timeout=0.01) is False
    assert task.cancelled()


async def test_a_link_to_another_accounts_issue_reaches_only_the_internal_channel(store):
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "issuelink_created"}, "U1", NOW)
    add(store, f"{PIN}/issuelink_created.json", "d-1")  # TES-1 (id 20192) blocks issue id 20734
    jira = InMemoryJira(by_id={"20192": issue("TES-1"),
                           "20734": issue("INDEV-7", summary="Beta: acquisition of Alpha's competitor")})
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"done": 1}
    assert [(m["channel"], m["text"]) for m in slack.messages] == [
        (ALPHA_INTERNAL, "<https://pinpt-hq.atlassian.net/browse/TES-1|TES-1> Test issue blocks "
                         "<https://pinpt-hq.atlassian.net/browse/INDEV-7|INDEV-7>")]


async def test_the_edit_that_makes_an_issue_public_reaches_only_the_internal_channel(store):
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "all"}, "U1", NOW)
    # pinpoint's real type change (TES-20), its changelog replaced: the internal label removed
    # and the issue renamed in one edit, with a comment made in that edit.
    p = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.type.json"))
    p["changelog"]["items"] = [
        {"field": "labels", "fieldtype": "jira", "from": None, "fromString": "internal", "to": None, "toString": ""},
        {"field": "summary", "fieldtype": "jira", "from": None,
         "fromString": "Internal: Alpha overbilled 40h in Oct, hide from client", "to": None, "toString": "Billing review"},
    ]
    p["comment"] = copy.deepcopy(real_payload(f"{PIN}/comment_created.json")["comment"])
    p["issue_event_type_name"] = "issue_commented"
    add(store, p, "d-1")
    report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 1}
    assert slack.in_channel(ALPHA_CLIENT) == []
    texts = [m["text"] for m in slack.in_channel(ALPHA_INTERNAL)]
    assert len(texts) == 3 and "Internal: Alpha overbilled 40h in Oct" in texts[1]


async def test_a_move_from_another_accounts_project_reaches_only_the_internal_channel(store):
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "all"}, "U1", NOW)
    p = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.project.json"))
    for it in p["changelog"]["items"]:
        if it["field"] == "Key":
            it["fromString"] = "INDEV-82"  # the real capture moved TES-82; INDEV is beta's
    add(store, p, "d-1")
    report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 1}
    assert [(m["channel"], m["text"]) for m in slack.messages] == [
        (ALPHA_INTERNAL, "INDEV-82 moved to <https://pinpt-hq.atlassian.net/browse/GOLD-208|GOLD-208> Test issue")]


COMMENT_KEY = "jira:comment_created:comment:19259"


def _edit_that_makes_public_with_comment() -> dict:
    """pinpoint's real TES-20 type change, its changelog replaced: the `internal` label removed,
    with the real comment 19259 made in that edit."""
    p = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.type.json"))
    p["changelog"]["items"] = [
        {"field": "labels", "fieldtype": "jira", "from": None, "fromString": "internal", "to": None, "toString": ""}]
    p["comment"] = copy.deepcopy(real_payload(f"{PIN}/comment_created.json")["comment"])
    p["issue_event_type_name"] = "issue_commented"
    return p


def _comment_twin() -> dict:
    """The real comment_created (comment 19259), derived: on TES-20 (id 11925), as Jira sends it
    besides the `jira:issue_updated` above."""
    p = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    p["issue"]["key"], p["issue"]["id"] = "TES-20", "11925"
    p["issue"]["self"] = p["issue"]["self"].rsplit("/", 1)[0] + "/11925"
    return p


def _comment_messages(slack, channel) -> list[dict]:
    return [m for m in slack.in_channel(channel) if m["text"].startswith("Robin Diddams commented on ")]


async def test_the_comment_twin_of_the_edit_that_made_the_issue_public_never_reaches_the_client(store):
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "all"}, "U1", NOW)
    jira = InMemoryJira({"TES-20": issue("TES-20")})  # public by the time the twin is looked up
    add(store, _edit_that_makes_public_with_comment(), "d-1")
    first = await worker(store, slack, jira).run_once()
    assert first.statuses == {"done": 1}
    assert slack.in_channel(ALPHA_CLIENT) == [] and len(_comment_messages(slack, ALPHA_INTERNAL)) == 1
    # Remembered as handled for the client channel only, with no message.
    marker = store.posts.get(f"event:{ALPHA_CLIENT}:{COMMENT_KEY}")
    assert (marker.channel_id, marker.ts, marker.thread_ts) == (ALPHA_CLIENT, None, None)

    add(store, _comment_twin(), "d-2")  # a later batch
    second = await worker(store, slack, jira).run_once()
    assert (second.statuses, second.messages, second.skipped_already_posted) == ({"done": 1}, 0, 2)
    assert slack.in_channel(ALPHA_CLIENT) == [] and len(_comment_messages(slack, ALPHA_INTERNAL)) == 1


async def test_a_comment_twin_ahead_of_its_edit_in_one_batch_is_withheld_too(store):
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "all"}, "U1", NOW)
    add(store, _comment_twin(), "d-1")
    add(store, _edit_that_makes_public_with_comment(), "d-2")
    report = await worker(store, slack, InMemoryJira({"TES-20": issue("TES-20")})).run_once()
    assert report.statuses == {"done": 2}
    assert slack.in_channel(ALPHA_CLIENT) == [] and len(_comment_messages(slack, ALPHA_INTERNAL)) == 1


@pytest.mark.parametrize("labels_at_lookup, client_comments", [((), 1), (("internal",), 0)])
async def test_a_comment_twin_a_batch_ahead_of_its_edit_goes_by_the_issue_as_looked_up(
    store, labels_at_lookup, client_comments
):
    # The comment_created alone cannot know that its edit makes the issue public: it reaches the
    # client only if the lookup showed the issue public already (the edit was made, its webhook is
    # late); while the lookup still shows it internal, the client gets nothing. Either way the
    # edit, arriving later, adds nothing for the client and no second copy for the internal channel.
    slack = InMemorySlack()
    store.subscriptions.add(ALPHA_CLIENT, "alpha", {"text": "all"}, "U1", NOW)
    jira = InMemoryJira({"TES-20": issue("TES-20", labels=labels_at_lookup)})
    add(store, _comment_twin(), "d-1")
    await worker(store, slack, jira).run_once()
    assert len(_comment_messages(slack, ALPHA_CLIENT)) == client_comments
    assert len(slack.in_channel(ALPHA_CLIENT)) == client_comments
    add(store, _edit_that_makes_public_with_comment(), "d-2")
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"done": 1}
    assert len(slack.in_channel(ALPHA_CLIENT)) == client_comments
    assert len(_comment_messages(slack, ALPHA_INTERNAL)) == 1


# --- mentions by email (issue 4) ------------------------------------------------------------

ROBIN = "557058:8b6b268b-17b3-407b-8974-bed4042fa709"


def _mentioning_robin(path: str, email: str | None) -> dict:
    # Derived from the real capture (no public one mentions anyone): the body mentions Robin, the
    # comment's author, who is in the payload with an email as Jira shows it to a permitted app.
    payload = copy.deepcopy(real_payload(path))
    payload["comment"]["body"] = f"Ping [~accountid:{ROBIN}] please"
    if email:
        payload["comment"]["author"]["emailAddress"] = email
    return payload


def _new_comment(payload: dict, comment_id: str) -> dict:
    # A comment is posted once per channel by its id: another comment for a later batch.
    payload["comment"]["id"] = comment_id
    return payload


class CountingLookup:
    """A PeopleLookup answering from a dict, recording every email asked."""

    def __init__(self, known: dict[str, str], error: Exception | None = None):
        self.known, self.error, self.asked = known, error, []

    async def lookup(self, email: str) -> str | None:
        self.asked.append(email)
        if self.error:
            raise self.error
        return self.known.get(email)


async def test_a_mentioned_person_known_to_slack_by_email_becomes_a_slack_mention(store):
    from integrations.slack import SlackUsersByEmail, make_web_client
    from sandbox.slack_server import FakeSlack

    slack = InMemorySlack()
    add(store, _mentioning_robin(f"{PIN}/comment_created.json", "robin@pinpoint.example"), "d-1")
    with FakeSlack() as fake:
        fake.add_user("U0ROBIN01", email="robin@pinpoint.example")
        users = SlackUsersByEmail(make_web_client(fake.token, fake.api_url))
        w = InboxWorker(store, ACCOUNTS, slack, InMemoryJira({"TES-1": issue("TES-1")}), clock=lambda: NOW,
                        people_lookup=users)
        report = await w.run_once()
        asked = [c.args["email"] for c in fake.calls_to("users.lookupByEmail")]
    assert report.statuses == {"done": 1} and asked == ["robin@pinpoint.example"]
    for channel in (ALPHA_CLIENT, ALPHA_INTERNAL):
        (message,) = slack.in_channel(channel)
        assert message["text"].splitlines()[1] == "> Ping <@U0ROBIN01> please"
    assert ROBIN not in json.dumps(slack.messages)


@pytest.mark.parametrize("make_lookup", [
    lambda: CountingLookup({}), lambda: CountingLookup({}, RuntimeError("slack client bug")), lambda: None,
], ids=["unknown", "lookup-raises", "no-lookup"])
async def test_a_mentioned_person_slack_does_not_know_stays_a_plain_name(store, make_lookup):
    lookup = make_lookup()
    slack = InMemorySlack()
    add(store, _mentioning_robin(f"{PIN}/comment_created.json", "robin@pinpoint.example"), "d-1")
    w = InboxWorker(store, ACCOUNTS, slack, InMemoryJira({"TES-1": issue("TES-1")}), clock=lambda: NOW,
                    people_lookup=lookup)
    report = await w.run_once()
    assert report.statuses == {"done": 1}
    assert [m["text"].splitlines()[1] for m in slack.in_channel(ALPHA_INTERNAL)] == ["> Ping @Robin Diddams please"]
    assert ROBIN not in json.dumps(slack.messages)
    if lookup is not None:
        assert lookup.asked == ["robin@pinpoint.example"]


async def test_one_lookup_per_person_per_batch_and_none_for_people_mapped_or_without_email(store):
    slack = InMemorySlack()
    lookup = CountingLookup({"robin@pinpoint.example": "U0ROBIN01"})
    add(store, _mentioning_robin(f"{PIN}/comment_created.json", "robin@pinpoint.example"), "d-1")
    add(store, _mentioning_robin(f"{PIN}/comment_updated.json", "robin@pinpoint.example"), "d-2")
    w = InboxWorker(store, ACCOUNTS, slack, InMemoryJira({"TES-1": issue("TES-1")}), clock=lambda: NOW,
                    people_lookup=lookup)
    await w.run_once()
    assert lookup.asked == ["robin@pinpoint.example"]
    assert [m["text"].splitlines()[1] for m in slack.in_channel(ALPHA_INTERNAL)] == ["> Ping <@U0ROBIN01> please"] * 2
    # Mapped in the account's configuration (the configured id wins), or without an email: no lookup.
    mapped = AccountsConfig(accounts=[ALPHA.model_copy(update={"people": {ROBIN: "U0CONFIG1"}}), BETA])
    for delivery, payload, accounts in (
        ("d-4", _new_comment(_mentioning_robin(f"{PIN}/comment_created.json", "robin@pinpoint.example"), "90001"), mapped),
        ("d-5", _new_comment(_mentioning_robin(f"{PIN}/comment_created.json", None), "90002"), ACCOUNTS),
    ):
        lookup.asked.clear()
        add(store, payload, delivery)
        before = len(slack.in_channel(ALPHA_INTERNAL))
        await InboxWorker(store, accounts, slack, InMemoryJira({"TES-1": issue("TES-1")}), clock=lambda: NOW,
                          people_lookup=lookup).run_once()
        new = slack.in_channel(ALPHA_INTERNAL)[before:]
        assert lookup.asked == []
        assert [m["text"].splitlines()[1] for m in new] == [
            "> Ping <@U0CONFIG1> please" if accounts is mapped else "> Ping @Robin Diddams please"]


async def test_a_payload_naming_another_host_links_to_the_configured_site_and_is_logged(store):
    from structlog.testing import capture_logs

    # pinpoint's real issue_created, its `self` URLs as Jira Cloud sends them to apps
    # (api.atlassian.com/ex/jira/<cloudId>/…) and one pointing somewhere else entirely.
    payload = copy.deepcopy(real_payload(f"{PIN}/jira:issue_created.json"))
    payload["issue"]["self"] = "https://api.atlassian.com/ex/jira/8f2c1b7e/rest/api/2/issue/10189"
    payload["user"]["self"] = "https://evil.example/rest/api/2/user?accountId=1"
    add(store, payload, "d-foreign")
    slack = InMemorySlack()
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await worker(store, slack).run_once()
    assert report.statuses == {"done": 1}
    texts = [m["text"] for m in slack.messages]
    assert texts and all("<https://pinpt-hq.atlassian.net/browse/GOLD-189|GOLD-189>" in t for t in texts)
    assert not any("api.atlassian.com" in t or "evil.example" in t for t in texts)
    anomalies = [(e["log_level"], e["logger_name"], e["delivery_id"], e["field"], e["host"]) for e in logs
                 if e.get("logger_name") == "pulse.webhooks.anomalous"]
    assert anomalies == [
        ("warning", "pulse.webhooks.anomalous", "d-foreign", "issue.self", "api.atlassian.com"),
        ("warning", "pulse.webhooks.anomalous", "d-foreign", "user.self", "evil.example"),
    ]


@pytest.mark.parametrize(("answer", "client_gets"), [
    (issue("TES-19", summary="Panic happen!"), True),  # Jira says: no level
    (issue("TES-19", summary="Panic happen!", security_level="Internal"), False),
])
async def test_an_unreadable_security_level_is_looked_up_and_jira_decides(store, answer, client_gets):
    # pinpoint's real resolution change, its security level in a shape no spec allows ({}).
    payload = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.resolution.json"))
    payload["issue"]["fields"]["security"] = {}
    add(store, payload, "d-unreadable")
    slack, jira = InMemorySlack(), InMemoryJira({"TES-19": answer})
    report = await worker(store, slack, jira).run_once()
    assert report.statuses == {"done": 1} and jira.jql == ["key in (TES-19)"]
    assert bool(slack.in_channel(ALPHA_CLIENT)) is client_gets
    assert len(slack.in_channel(ALPHA_INTERNAL)) == 1
