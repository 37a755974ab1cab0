"""Webhook intake: verify, store durably, answer 202 — with real Jira and Confluence payloads."""

import asyncio
import datetime as dt
import json

import httpx
import pytest

import bot.web
from bot.domain.signatures import hub_signature
from bot.logs import get_logger
from bot.web import build_web_app
from tests.fixtures import real_payload_bytes

SECRET = "s3cret-for-tests"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc)
ISSUE_CREATED = "pinpoint-jira/internal/testdata/jira:issue_created.json"
CONFLUENCE_PAGE = "zulip/zerver/webhooks/confluence/fixtures/page_created.json"


@pytest.fixture
async def client(store):
    app = build_web_app(
        store=store,
        jira_secret=SECRET,
        confluence_secret=SECRET,
        max_webhook_bytes=64 * 1024,
        clock=lambda: NOW,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as c:
        yield c
    await app.state.close_intake()


@pytest.fixture
def log_lines(json_logs, monkeypatch):
    # The module's logger may be cached from an earlier test: a fresh one follows this configuration.
    monkeypatch.setattr(bot.web, "log", get_logger("pulse.web"))
    return json_logs


def _signed(body: bytes, delivery: str | None = "d-1") -> dict:
    headers = {"X-Hub-Signature": hub_signature(SECRET, body), "Content-Type": "application/json"}
    if delivery:
        headers["X-Atlassian-Webhook-Identifier"] = delivery
    return headers


async def test_signed_delivery_is_stored_and_acknowledged(client, store):
    body = real_payload_bytes(ISSUE_CREATED)
    response = await client.post("/webhooks/jira", content=body, headers=_signed(body))
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery_id": "d-1"}
    (item,) = store.inbox.list()
    assert (item.source, item.delivery_id, item.status) == ("jira", "d-1", "pending")
    assert item.event_name == json.loads(body)["webhookEvent"] == "jira:issue_created"
    assert item.body.encode() == body


async def test_retried_delivery_is_deduplicated(client, store):
    body = real_payload_bytes(ISSUE_CREATED)
    first = await client.post("/webhooks/jira", content=body, headers=_signed(body))
    again = await client.post("/webhooks/jira", content=body, headers=_signed(body))
    assert (first.json()["status"], again.json()["status"]) == ("accepted", "duplicate")
    assert again.status_code == 202
    # Without a delivery id, the body's hash identifies the delivery.
    unnamed = await client.post("/webhooks/jira", content=body, headers=_signed(body, delivery=None))
    unnamed_again = await client.post("/webhooks/jira", content=body, headers=_signed(body, delivery=None))
    assert unnamed.json()["delivery_id"].startswith("sha256:")
    assert unnamed_again.json()["status"] == "duplicate"
    assert store.inbox.counts() == {"pending": 2}


async def test_url_secret_for_jira_versions_that_cannot_sign(client, store):
    body = real_payload_bytes(ISSUE_CREATED)
    ok = await client.post(f"/webhooks/jira?secret={SECRET}", content=body)
    bad = await client.post("/webhooks/jira?secret=wrong", content=body)
    assert (ok.status_code, bad.status_code) == (202, 401)
    assert store.inbox.counts() == {"pending": 1}


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, ""),
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, f"?secret={SECRET}"),  # a bad signature is not rescued
    ],
)
async def test_bad_authentication_is_401_and_stores_nothing(client, store, headers, query):
    body = real_payload_bytes(ISSUE_CREATED)
    response = await client.post(f"/webhooks/jira{query}", content=body, headers=headers)
    assert response.status_code == 401
    assert store.inbox.counts() == {}


async def test_tampered_body_is_rejected(client, store):
    body = real_payload_bytes(ISSUE_CREATED)
    headers = _signed(body)
    response = await client.post("/webhooks/jira", content=body.replace(b"ABC", b"ABD", 1) + b" ", headers=headers)
    assert response.status_code == 401
    assert store.inbox.counts() == {}


async def test_not_json_and_too_large(client, store):
    not_json = b"<xml/>"
    assert (await client.post("/webhooks/jira", content=not_json, headers=_signed(not_json))).status_code == 400
    array = b"[1, 2]"
    assert (await client.post("/webhooks/jira", content=array, headers=_signed(array))).status_code == 400
    # Only the event's name is read at intake, but the whole body must be JSON, and UTF-8.
    for bad, reason in [
        (b'{"webhookEvent": "jira:issue_created", "issue": {"fields": [1, 2,]}}', "body is not JSON"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"key": tru}}', "body is not JSON"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"key": "\xff"}}', "body is not UTF-8 text"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"key": "A-1"}', "body is not JSON"),
        (b'{"webhookEvent": "jira:issue_created", "issue": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body is nested too deeply"),
    ]:
        response = await client.post("/webhooks/jira", content=bad, headers=_signed(bad))
        assert (response.status_code, response.json()) == (400, {"error": reason}), bad
    huge = b'{"a": "' + b"x" * 70_000 + b'"}'
    assert (await client.post("/webhooks/jira", content=huge, headers=_signed(huge))).status_code == 413
    assert store.inbox.counts() == {}


async def test_confluence_endpoint_stores_data_center_event_name(client, store):
    body = real_payload_bytes(CONFLUENCE_PAGE)
    response = await client.post("/webhooks/confluence", content=body, headers=_signed(body, "c-1"))
    assert response.status_code == 202
    (item,) = store.inbox.list()
    assert (item.source, item.event_name) == ("confluence", json.loads(body)["event"])


async def test_without_a_configured_secret_nothing_is_accepted(store):
    app = build_web_app(store=store, jira_secret=None, confluence_secret=None, max_webhook_bytes=1024, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as c:
        response = await c.post("/webhooks/jira", content=b"{}")
    assert response.status_code == 401
    assert store.inbox.counts() == {}


async def test_healthz_reports_database_and_inbox(client, store):
    store.inbox.add("jira", "x", "{}", None, NOW)
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "inbox": {"pending": 1}}


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    from integrations.store.store import Store

    broken = Store.open(f"sqlite:///{tmp_path}/missing-dir/pulse.db")
    app = build_web_app(store=broken, jira_secret=SECRET, confluence_secret=None, max_webhook_bytes=1024, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as c:
        response = await c.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}


async def test_accepted_deliveries_are_logged_once_each_in_their_batch_lines(client, store, log_lines):
    body = real_payload_bytes(ISSUE_CREATED)
    await client.post("/webhooks/jira", content=body, headers=_signed(body, "d-1"))
    await asyncio.gather(
        *(client.post("/webhooks/jira", content=body, headers=_signed(body, d)) for d in ["d-1", "d-2", "d-3"])
    )
    accepted = [line for line in log_lines() if line["event"] == "webhooks accepted"]
    assert 2 <= len(accepted) <= 4  # concurrent deliveries share a line when they share a commit
    logged = sorted(d for line in accepted for d in line["deliveries"])
    assert logged == ["jira/d-1", "jira/d-1", "jira/d-2", "jira/d-3"]
    assert [d for line in accepted for d in line["duplicates"]] == ["jira/d-1"]
    assert sum(line["count"] for line in accepted) == 4
    assert accepted[0]["deliveries"] == ["jira/d-1"] and accepted[0]["duplicates"] == []
    assert accepted[0]["events"] == {"jira:issue_created": 1}
    assert accepted[0]["bytes"] == len(body)


async def test_a_delivery_that_cannot_be_stored_is_503_and_logged(tmp_path, log_lines):
    from integrations.store.store import Store

    broken = Store.open(f"sqlite:///{tmp_path}/missing-dir/pulse.db")
    app = build_web_app(store=broken, jira_secret=SECRET, confluence_secret=None, max_webhook_bytes=64 * 1024, clock=lambda: NOW)
    body = real_payload_bytes(ISSUE_CREATED)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as c:
        response = await c.post("/webhooks/jira", content=body, headers=_signed(body, "d-9"))
    assert response.status_code == 503  # not 202: Jira keeps it and retries
    assert response.headers["retry-after"] == "30"
    assert "retry" in response.json()["error"]
    (line,) = [line for line in log_lines() if line["event"] == "webhook not stored"]
    assert (line["level"], line["delivery_id"], line["webhook_event"]) == ("error", "d-9", "jira:issue_created")
    assert "unable to open database file" in line["error"]


async def test_an_event_name_that_is_not_a_string_is_kept_as_text(client, store):
    body = b'{"webhookEvent": 42, "issue": {"key": "A-1"}}'
    assert (await client.post("/webhooks/jira", content=body, headers=_signed(body))).status_code == 202
    (item,) = store.inbox.list()
    assert item.event_name == "42"  # the worker then reports it as anomalous, with the body kept
