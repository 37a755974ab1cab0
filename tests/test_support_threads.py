"""The request's thread is the conversation: its issue's status changes and public comments reach
the thread through the notification pipeline (audience policy included), in the right account's
channel only — also when two accounts share one support project."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from bot.domain.access import Role
from bot.domain.links import SiteLinks
from bot.services.exactly_once import OncePoster
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from bot.services.support import SupportService
from sandbox.agency import sandbox_accounts
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload

PIN = "pinpoint-jira/internal/testdata"
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)
ACCOUNTS = sandbox_accounts()
ACME_CLIENT, ACME_INTERNAL, GLOBEX_CLIENT = "C0ACMECLNT", "C0ACMEINTL", "C0GLXCLNT1"
ACME_THREAD, GLOBEX_THREAD = "1796025600.000100", "1796025601.000100"


@pytest.fixture
async def world(sqlite_store):
    jira, slack = InMemoryJira(), InMemorySlack()
    poster = OncePoster(sqlite_store, slack, lambda: NOW, "w1", dt.timedelta(minutes=2))
    service = SupportService(accounts=ACCOUNTS, store=sqlite_store, jira=jira, slack=slack, poster=poster,
                             clock=lambda: NOW, links=SiteLinks(jira="https://agency.atlassian.net"))
    for key, channel, thread in (("acme-shop", ACME_CLIENT, ACME_THREAD), ("globex", GLOBEX_CLIENT, GLOBEX_THREAD)):
        account = ACCOUNTS.by_key(key)
        await service.open_request(account, account.channel(channel), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                   text="Bitte helfen", source_ts=thread, thread_ts=thread,
                                   urgency=__import__("bot.domain.accounts", fromlist=["Urgency"]).Urgency.TASK)
    assert sorted(jira.created) == ["SUP-1", "SUP-2"]
    slack.messages.clear()
    worker = InboxWorker(sqlite_store, ACCOUNTS, slack, jira, clock=lambda: NOW, settings=WorkerSettings(),
                         links=SiteLinks(jira="https://agency.atlassian.net"), support=service)
    return sqlite_store, jira, slack, worker


def _status_change(key: str, request_id: int, component: str, to: str, labels=None) -> dict:
    body = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.json"))
    body["issue"]["key"] = key
    fields = body["issue"]["fields"]
    fields["project"].update(key="SUP", name="Support")
    fields["labels"] = labels if labels is not None else ["pulse-support", f"pulse-req-{request_id}"]
    fields["components"] = [{"name": component}]
    # Globex keeps an issue type internal: the policy decides on the untranslated name.
    fields["issuetype"].update(name="Task", untranslatedName="Task")
    fields["status"]["name"] = to
    body["changelog"]["items"] = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1",
                                   "fromString": "To Do", "to": "3", "toString": to}]
    body["timestamp"] = int((NOW + dt.timedelta(hours=1)).timestamp() * 1000)
    return body


def _comment(key: str, *, public: bool, body_text: str = "Wir kümmern uns darum.") -> dict:
    body = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    body["issue"]["key"] = key
    body["issue"]["fields"]["project"].update(key="SUP", name="Support")
    body["comment"]["body"] = body_text
    body["comment"]["created"] = "2026-11-30T10:30:00.000+0100"
    body["comment"]["jsdPublic"] = public
    if not public:
        body["comment"]["visibility"] = {"type": "role", "value": "Administrators"}
    return body


def _add(store, payload: dict, delivery_id: str) -> None:
    assert store.inbox.add("jira", delivery_id, json.dumps(payload), payload["webhookEvent"], NOW)


async def test_a_status_change_reaches_the_request_thread_of_its_account_only(world):
    store, jira, slack, worker = world
    _add(store, _status_change("SUP-1", 1, "ACME", "In Progress"), "d-1")
    _add(store, _status_change("SUP-2", 2, "GLOBEX", "In Progress"), "d-2")
    report = await worker.run_once()
    assert report.statuses == {"done": 2}
    # The shared project's webhooks are routed by each account's component: every channel of the
    # owning account hears of its issue (the client channel in the request's thread), no other.
    acme = {m["channel"] for m in slack.messages if "SUP-1" in m["text"]}
    globex = {m["channel"] for m in slack.messages if "SUP-2" in m["text"]}
    assert acme == {ACME_CLIENT, ACME_INTERNAL} and globex == {GLOBEX_CLIENT, "C0GLXINTL1"}
    assert slack.in_channel(ACME_CLIENT)[0]["thread_ts"] == ACME_THREAD
    assert slack.in_channel(GLOBEX_CLIENT)[0]["thread_ts"] == GLOBEX_THREAD
    assert len(slack.messages) == 4
    # Processed again (a retry after a crash): nothing twice.
    for item in store.inbox.list():
        store.inbox.requeue(item.id, NOW)
    await worker.run_once()
    assert len(slack.messages) == 4


async def test_an_issue_moved_to_another_accounts_component_leaves_the_first_account(world):
    store, jira, slack, worker = world
    # The agency moved SUP-1 to Globex's component (and label): ACME hears nothing more of it, not
    # even in the request's thread; Globex's channels follow the component, outside any thread.
    _add(store, _status_change("SUP-1", 2, "GLOBEX", "In Progress"), "d-1")
    await worker.run_once()
    assert slack.in_channel(ACME_CLIENT) == slack.in_channel(ACME_INTERNAL) == []
    assert [m["thread_ts"] for m in slack.in_channel(GLOBEX_CLIENT)] == [None]


async def test_an_issue_of_the_shared_project_without_a_readable_component_reaches_nobody(world):
    store, jira, slack, worker = world
    body = _status_change("SUP-1", 1, "ACME", "In Progress")
    body["issue"]["fields"]["components"] = [{"id": "10000"}]  # no name: not known to be ACME's
    _add(store, body, "d-1")
    await worker.run_once()
    assert slack.messages == []


async def test_waiting_for_the_client_pauses_and_done_resolves(world):
    store, jira, slack, worker = world
    _add(store, _status_change("SUP-1", 1, "ACME", "Waiting for customer"), "d-1")
    await worker.run_once()
    row = store.support.get(1)
    assert row.jira_status == "Waiting for customer" and row.pauses == [(NOW + dt.timedelta(hours=1), None)]


async def test_a_public_comment_is_posted_and_counts_an_internal_one_does_neither(world):
    store, jira, slack, worker = world
    _add(store, _comment("SUP-1", public=False, body_text="internal: check logs"), "d-1")
    await worker.run_once()
    assert slack.in_channel(ACME_CLIENT) == [] and store.support.get(1).first_response_at is None
    _add(store, _comment("SUP-1", public=True), "d-2")
    await worker.run_once()
    [posted] = slack.in_channel(ACME_CLIENT)
    assert posted["thread_ts"] == ACME_THREAD and "Wir kümmern uns darum." in posted["text"]
    assert store.support.get(1).first_response_at == dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.timezone.utc)
    assert slack.in_channel(GLOBEX_CLIENT) == []


async def test_an_estimate_above_the_project_work_size_is_told_politely_and_pings_the_backlog_role_once(world):
    store, jira, slack, worker = world
    body = _status_change("SUP-1", 1, "ACME", "In Progress")
    body["changelog"]["items"] = [{"field": "timeoriginalestimate", "fieldtype": "jira", "fieldId": "timeoriginalestimate",
                                   "from": None, "fromString": None, "to": str(24 * 3600), "toString": "24h"}]
    _add(store, body, "d-1")
    await worker.run_once()
    told = [m for m in slack.in_channel(ACME_CLIENT) if "Projektarbeit" in m["text"]]
    assert len(told) == 1 and told[0]["thread_ts"] == ACME_THREAD and "<@U0ACMEPO01>" in told[0]["text"]
    assert store.support.get(1).project_work
    body["timestamp"] += 1000
    _add(store, body, "d-2")
    await worker.run_once()
    assert len([m for m in slack.messages if "Projektarbeit" in m["text"]]) == 1
