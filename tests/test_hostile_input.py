"""Deliveries nobody should send: the worker classifies each `anomalous` once, with the reason, and
leaves its neighbours alone; `pulse replay-webhook` says the same; junk generated from real payloads
never makes the worker raise."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from bot.cli.replay import replay_webhook
from bot.domain.accounts import Audience
from bot.domain.events import Outcome
from bot.domain.payload import without_nul
from bot.domain.webhooks import normalize
from bot.render.notifications import render_event
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload
from tests.test_inbox_worker import ACCOUNTS, ALPHA, ALPHA_CLIENT, ALPHA_INTERNAL, NOW, PIN, ZJ

ZC = "zulip/zerver/webhooks/confluence/fixtures"
# A number Python's json refuses to turn into an int (over 4,300 digits): written into the text.
BIG = "9" * 5000
_BIG_MARK = "\u0001big\u0001"


def body_of(payload: Any) -> str:
    """JSON text of a payload; `_BIG_MARK` strings become the 5,000-digit number."""
    return json.dumps(payload).replace(json.dumps(_BIG_MARK), BIG)


def derived(path: str, change) -> Any:
    """A real payload with one change (the change says what a hostile sender altered)."""
    payload = copy.deepcopy(real_payload(path))
    change(payload)
    return payload


def _set(payload: dict, keys: tuple, value: Any) -> None:
    node = payload
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


HOSTILE = {
    # Python refuses the integer: json.loads raises ValueError, not a JSONDecodeError.
    "5000-digit-timestamp": (f"{PIN}/jira:issue_updated.json", ("timestamp",), _BIG_MARK,
                             "body is not readable JSON: ValueError: Exceeds the limit"),
    "5000-digit-issue-id": (f"{PIN}/jira:issue_updated.json", ("issue", "id"), _BIG_MARK,
                            "body is not readable JSON: ValueError"),
    "changelog-field-is-a-number": (f"{PIN}/jira:issue_updated.json", ("changelog", "items", 0, "field"), 5,
                                    "unreadable payload: TypeError: changelog field is int, not text"),
    "changelog-items-is-an-object": (f"{PIN}/jira:issue_updated.json", ("changelog", "items"), {"field": "status"},
                                     "unreadable payload: TypeError: changelog items is dict, not a list"),
    "timestamp-is-true": (f"{PIN}/jira:issue_updated.json", ("timestamp",), True,
                          "unreadable payload: JiraEvent.timestamp_ms: bool is not an integer"),
    "timestamp-beyond-any-date": (f"{PIN}/jira:issue_updated.json", ("timestamp",), 10**30,
                                  "unreadable payload: JiraEvent.timestamp_ms: the number is out of range"),
    "comment-body-is-a-list": (f"{PIN}/comment_created.json", ("comment", "body"), ["a", "b"],
                               "unreadable payload: JiraEvent.comment.body: list is not"),
    "issue-key-longer-than-the-store-keeps": (f"{PIN}/jira:issue_updated.json", ("issue", "key"), "GOLD-" + "1" * 100,
                                              "unreadable payload: JiraEvent.issue.key: text of 105 characters, at most 64"),
    "changelog-item-is-a-list": (f"{PIN}/jira:issue_updated.json", ("changelog", "items", 0), ["status"],
                                 "unreadable payload: TypeError: a changelog item is list, not an object"),
}


def add_body(store, body: str, delivery_id: str, event: str | None) -> int:
    assert store.inbox.add("jira", delivery_id, body, event, NOW)
    return next(i.id for i in store.inbox.list() if i.delivery_id == delivery_id)


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
async def test_an_unreadable_delivery_is_anomalous_at_once_and_its_neighbours_post(store, case):
    path, keys, value, reason = case
    payload = derived(path, lambda p: _set(p, keys, value))
    slack = InMemorySlack()
    good = add_body(store, json.dumps(real_payload(f"{PIN}/jira:issue_created.json")), "d-good", "jira:issue_created")
    bad = add_body(store, body_of(payload), "d-bad", payload.get("webhookEvent"))
    worker = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW, settings=WorkerSettings(max_attempts=8))
    with capture_logs(processors=[merge_contextvars]) as logs:  # bound context, as in production
        report = await worker.run_once()
    assert report.statuses == {"done": 1, "anomalous": 1}
    got = store.inbox.get(bad)
    assert (got.status, got.attempts) == ("anomalous", 1)
    assert got.last_error.startswith(reason)
    assert store.inbox.get(good).status == "done"
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_INTERNAL]
    # The operator's log: one line on the anomalous logger, with the reason and the traceback.
    (line,) = [e for e in logs if e.get("delivery_id") == "d-bad"]
    assert line["event"] == "webhook anomalous" and line["reason"] == got.last_error
    assert isinstance(line["exc_info"], Exception)
    # Nothing is left to retry.
    later = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW + dt.timedelta(hours=2))
    assert (await later.run_once()).claimed == 0


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_replay_webhook_gives_the_same_reason_instead_of_a_traceback(tmp_path, case):
    path, keys, value, reason = case
    payload = derived(path, lambda p: _set(p, keys, value))
    file = tmp_path / "hostile.json"
    file.write_text(body_of(payload))
    result = CliRunner().invoke(replay_webhook, ["--format", "json", str(file)])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    row = json.loads(result.output)
    assert row["outcome"] == "anomalous" and row["reason"].startswith(reason)
    text = CliRunner().invoke(replay_webhook, [str(file)])
    assert text.exit_code == 0 and f"({row['reason']})" in text.output and "Traceback" not in text.output


# --- generated junk --------------------------------------------------------------------------

FIXTURES = [
    f"{PIN}/jira:issue_created.json", f"{PIN}/jira:issue_updated.json", f"{PIN}/jira:issue_updated.resolution.json",
    f"{PIN}/comment_created.json", f"{PIN}/comment_updated.json", f"{PIN}/sprint_started.json",
    f"{PIN}/issuelink_created.json", f"{ZJ}/worklog_updated.json", f"{ZC}/page_created.json",
    f"{ZC}/comment_created.json",
]
_EVENT_HINT = {f"{ZC}/page_created.json": "page_created", f"{ZC}/comment_created.json": "comment_created"}

odd_values = st.one_of(
    st.none(), st.booleans(), st.just(_BIG_MARK), st.just(""), st.just("\x00"),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.text(min_size=65, max_size=80),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a payload (objects and lists too, not only leaves)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def junk_deliveries(draw) -> tuple[str, Any]:
    """A real payload with one to three places replaced by values of another type or size."""
    path = draw(st.sampled_from(FIXTURES))
    payload = copy.deepcopy(real_payload(path))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        _set(payload, draw(st.sampled_from(paths)), draw(odd_values))
    return path, payload


def _python_payload(payload: Any) -> Any:
    """The payload as the worker's json.loads would give it (the big-number mark as a real int)."""
    return json.loads(json.dumps(payload).replace(json.dumps(_BIG_MARK), "9" * 4000))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(junk_deliveries())
def test_normalize_and_render_never_raise_on_junk(junk):
    path, payload = junk
    delivery = normalize(_python_payload(payload), _EVENT_HINT.get(path))
    if delivery.outcome is Outcome.ANOMALOUS:
        assert delivery.reason
        return
    for event in delivery.events:
        for audience in (Audience.CLIENT, Audience.INTERNAL):
            render_event(event, audience, ALPHA)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(junk_deliveries(), min_size=1, max_size=6))
async def test_the_worker_classifies_each_junk_delivery_exactly_once_and_never_raises(store, batch):
    with store.engine.begin() as conn:
        from integrations.store.schema import metadata

        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    ids = []
    for n, (path, payload) in enumerate(batch):
        event = payload.get("webhookEvent") if isinstance(payload, dict) else None
        # The event name as the intake stores it (NUL replaced, at most 80 characters).
        name = without_nul(event)[:80] if isinstance(event, str) and event else _EVENT_HINT.get(path)
        ids.append(add_body(store, body_of(payload), f"junk-{n}", name))
    report = await InboxWorker(store, ACCOUNTS, InMemorySlack(), None, clock=lambda: NOW).run_once()
    assert report.claimed == len(ids) == sum(report.statuses.values())
    statuses = {store.inbox.get(i).status for i in ids}
    # Nothing left pending for a retry that would fail alike; nothing dead-lettered.
    assert statuses <= {"done", "ignored", "unsupported", "anomalous"}, report.statuses


# --- NUL characters -----------------------------------------------------------------------------

JIRA_SECRET = "hostile-secret"


async def _deliver(http, payload: Any, delivery_id: str) -> None:
    from bot.domain.signatures import hub_signature

    body = json.dumps(payload).encode()  # json.dumps writes NUL as the escape \u0000, as Jira would
    assert b"\\u0000" in body
    response = await http.post("/webhooks/jira", content=body, headers={
        "X-Hub-Signature": hub_signature(JIRA_SECRET, body), "X-Atlassian-Webhook-Identifier": delivery_id,
        "Content-Type": "application/json"})
    assert response.status_code == 202, response.text


def _with_nul(payload: dict, n: int) -> dict:
    """Derived from pinpoint's GOLD-189: the summary and reporter's name carry NUL. (An issue key
    with NUL is not of Jira's key shape: that delivery is anomalous, see below.)"""
    payload = copy.deepcopy(payload)
    payload["issue"]["fields"]["summary"] = "Null\u0000byte in the summary"
    payload["user"]["displayName"] = "Robin\u0000Diddams"
    payload["timestamp"] += n * 60_000
    return payload


async def test_text_with_nul_is_stored_posted_once_and_later_events_reply_in_its_thread(store):
    import httpx

    from bot.web import build_web_app
    from integrations.slack import ChannelPacer, SlackWeb, make_web_client
    from sandbox.slack_server import FakeSlack

    app = build_web_app(store=store, jira_secret=JIRA_SECRET, confluence_secret=None,
                        max_webhook_bytes=256 * 1024, clock=lambda: NOW)
    created = _with_nul(real_payload(f"{PIN}/jira:issue_created.json"), 0)
    # The same issue edited twice later (jira-to-matrix's status change, moved onto GOLD-189).
    from tests.test_inbox_worker import status_change_of_gold_189

    changes = []
    for n, status in ((1, "In Progress"), (2, "Done")):
        change = status_change_of_gold_189(status, n)
        change["issue"]["fields"]["summary"] = "Null\u0000byte in the summary"
        changes.append(change)
    with FakeSlack() as fake:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as http:
            await _deliver(http, created, "nul-1")
            await _deliver(http, {**created, "webhookEvent": "jira:issue_created\u0000"}, "nul-event-name")
            await _deliver(http, {**created, "issue": {**created["issue"], "key": "GOLD-189\u0000"}}, "nul-key")
            slack = SlackWeb(make_web_client(fake.token, fake.api_url), ChannelPacer(0.0))
            report = await InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW).run_once()
            assert report.statuses == {"done": 1, "unsupported": 1, "anomalous": 1}, report.statuses
            await _deliver(http, changes[0], "nul-2")
            await _deliver(http, changes[1], "nul-3")
            report = await InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW).run_once()
            assert report.statuses == {"done": 2}, report.statuses
            # Processed again (at-least-once): nothing is posted twice.
            for item in store.inbox.list():
                store.inbox.requeue(item.id, NOW)
            again = await InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW).run_once()
            assert again.messages == 0
        await app.state.close_intake()
        for channel in (ALPHA_CLIENT, ALPHA_INTERNAL):
            parent, *replies = fake.posted(channel)
            assert "\x00" not in parent["text"] and "Null\ufffdbyte in the summary" in parent["text"]
            assert "thread_ts" not in parent
            thread = store.threads.get(channel, "GOLD-189")
            assert thread is not None
            assert [r.get("thread_ts") for r in replies] == [thread, thread]
