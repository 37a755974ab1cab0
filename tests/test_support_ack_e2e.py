"""The proof that a support request filed by @mention is never lost between Slack's acknowledgement
and its answer (#13, "never lost"): Slack does not send an acknowledged event again.

A real `pulse serve` (the store on SQLite or PostgreSQL) acknowledges two mentions — a request
whose urgency is to be asked, and an emergency to be filed at once — and is SIGKILLed from outside
as soon as the test has Slack's 200s, before anything answered them. `PULSE_TEST_HOLD_ANSWERS`
(`tests/serve_with_faults.py`) holds every answer back for 30 s, so the kill lands in the window
every time; the test checks that it did (no request stored, nothing posted, nothing created).
Started again on the same store, the process must answer both from what it recorded before the
ack: one urgency question in the first thread, one Jira issue and one key answer for the emergency.
Slack's retries of a mention (`X-Slack-Retry-Num`, the same event id) answer nothing twice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bot.render.support import URGENCY_ACTION
from integrations.store import db
from integrations.store.schema import webhook_inbox
from sandbox.app_server import free_port
from sandbox.atlassian_server import FakeAtlassian
from sandbox.slack_server import FakeSlack
from tests.slack_requests import app_mention, signed_headers
from tests.test_support_crash_e2e import (
    CLIENT,
    CLIENT_CHANNEL,
    CLIENT_TEAM,
    HOME,
    Serve,
    _env,
    _is_create,
    _requests,
    _seed,
    _slack,
    _wait,
    _world,
)

# Recovery: a held request older than the grace (15 s) is taken up at the next support tick (every 20 s).
RECOVERY_LIMIT_S = 120.0


def _mention(port: int, text: str, ts: str, retry: int | None = None) -> None:
    """A Slack Connect client's mention, signed as Slack signs it; `retry`: Slack's nth retry of it."""
    body = app_mention(text, user_id=CLIENT, channel_id=CLIENT_CHANNEL, home_team=HOME, user_team=CLIENT_TEAM, ts=ts)
    headers = signed_headers(body, content_type="application/json")
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    answer = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, timeout=10, headers=headers)
    assert answer.status_code == 200, answer.text


def _in_thread(slack: FakeSlack, thread_ts: str) -> list[dict]:
    return [m for m in slack.posted(CLIENT_CHANNEL) if m.get("thread_ts") == thread_ts]


def _questions(slack: FakeSlack, thread_ts: str) -> list[dict]:
    """The urgency questions (the messages with the urgency buttons) in a thread."""
    return [m for m in _in_thread(slack, thread_ts) if URGENCY_ACTION in json.dumps(m.get("blocks") or [])]


def _intents(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        query = sa.select(webhook_inbox.c.delivery_id, webhook_inbox.c.status).where(webhook_inbox.c.source == "slack")
        return [(r.delivery_id, r.status) for r in conn.execute(query.order_by(webhook_inbox.c.id))]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_mention_acknowledged_then_killed_is_filed_once_after_restart(tmp_path: Path, request, backend):
    database_url = _world(tmp_path, request, backend)
    port = free_port()
    engine = db.create_engine(database_url)
    now = int(time.time())
    asked_ts, emergency_ts, replayed_ts = f"{now}.000100", f"{now}.000200", f"{now}.000300"
    with _slack() as slack, FakeAtlassian(_seed()) as jira:
        jira.open_projects.add("SUP")
        serve = Serve(_env(slack, jira, port, tmp_path, database_url), tmp_path, port)
        try:
            serve.start(PULSE_TEST_HOLD_ANSWERS="30")
            _mention(port, "request The newsletter has a typo in the footer", asked_ts)
            _mention(port, "emergency The checkout is down, customers cannot pay", emergency_ts)
            serve.kill()  # Slack has both acks; nothing has answered them yet

            # The window was hit: nothing was stored as a request, asked, posted or created.
            assert _requests(engine) == []
            assert slack.posted(CLIENT_CHANNEL) == []
            assert [c for c in jira.calls if _is_create(c)] == []

            serve.start()
            _wait(lambda: len(_requests(engine)) == 2 and _requests(engine)[1].state == "filed",
                  RECOVERY_LIMIT_S, serve.tail)
            _wait(lambda: bool(_questions(slack, asked_ts)), 30, serve.tail)
            key = _requests(engine)[1].issue_key
            _wait(lambda: any(key in (m.get("text") or "") for m in _in_thread(slack, emergency_ts)), 30, serve.tail)

            # Slack's retries: of a request answered after the restart, and of a new one right away.
            _mention(port, "request The newsletter has a typo in the footer", asked_ts, retry=1)
            _mention(port, "request Please add our new logo", replayed_ts)
            _mention(port, "request Please add our new logo", replayed_ts, retry=1)
            _mention(port, "request Please add our new logo", replayed_ts, retry=2)
            _wait(lambda: bool(_questions(slack, replayed_ts)), 30, serve.tail)
            _wait(lambda: all(status == "done" for _, status in _intents(engine)), 30, serve.tail)
            time.sleep(1.0)  # room for a wrong second question, create or answer to show up
            stored = _requests(engine)
            creates = [c for c in jira.calls if _is_create(c)]
            issues = jira.issues_in("SUP")
            asked, emergency, replayed = (_questions(slack, t) for t in (asked_ts, emergency_ts, replayed_ts))
            key_answers = [m for m in _in_thread(slack, emergency_ts) if key in (m.get("text") or "")]
            intents = _intents(engine)
        finally:
            serve.stop()
            engine.dispose()
        events = serve.events()

    assert [(r.source_ts, r.urgency, r.state) for r in stored] == [
        (asked_ts, None, "asked"), (emergency_ts, "emergency", "filed"), (replayed_ts, None, "asked")]
    assert len(asked) == 1 and len(replayed) == 1, (asked, replayed)  # one question each
    assert len(emergency) == 0
    assert len(creates) == 1 and [i["key"] for i in issues] == [key]  # the emergency, filed once
    assert len(key_answers) == 1, key_answers
    assert intents == [(f"mention:{CLIENT_CHANNEL}:{ts}", "done") for ts in (asked_ts, emergency_ts, replayed_ts)]
    recovered = [e for e in events if e["event"] == "recorded slack request answered after a restart"]
    assert sorted(e["intent"] for e in recovered) == [f"mention:{CLIENT_CHANNEL}:{ts}" for ts in (asked_ts, emergency_ts)]
    recorded = [e for e in events if e["event"] == "slack request recorded"]
    assert [e["new"] for e in recorded] == [True, True, False, True, False, False]
    assert [e for e in events if e["level"] in ("error", "critical")] == []
