"""The proof that a support request is never filed twice through a crash, at the real boundary:
a real `pulse serve` (the real atlassian-python-api Jira client, the real slack_sdk client, the
store on SQLite or PostgreSQL) is SIGKILLed from outside at the moment the fake Jira has sent its
answer to the create-issue POST — Jira has the issue, the store does not know its key yet — and
started again on the same store. The restarted process must find the issue by the request's
labels instead of creating a second one, record its key and answer the client's thread once.

How the kill lands in the window every time: the fake Jira (`FakeAtlassian.on_answered`) kills
the process from its serving thread right after the create's answer is on the wire, and the
process runs with `PULSE_TEST_HOLD_SUPPORT_RECORD` (`tests/serve_with_faults.py`): it waits before
writing the key, so the kill cannot lose a race against the record under load. The test checks
the window was hit (the store has no key after the kill) rather than assuming it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from integrations.store import db
from integrations.store.schema import support_requests
from sandbox.agency import ANNA, BEN
from sandbox.app_server import free_port
from sandbox.atlassian_server import AtlassianSeed, Call, FakeAtlassian, issue_json
from sandbox.slack_server import FakeSlack
from tests.serve_process import ServeProcess
from tests.slack_requests import SIGNING_SECRET, app_mention, signed_headers

ROOT = Path(__file__).parents[1]
HOME, CLIENT_TEAM = "T0AGENCY1", "T0ACMECORP"
CLIENT_CHANNEL, INTERNAL_CHANNEL = "C0ACMECLNT", "C0ACMEINTL"
CLIENT = "U0CLIENT01"
SUPPORT_PERSON = "U0ACMESUP1"
# The restarted process takes a dead worker's filing up once its lease (10 s) ran out, at its
# support tick (every 20 s): about 20 s after the restart, bounded here generously for a busy machine.
RECOVERY_LIMIT_S = 90.0
ACCOUNTS_YAML = f"""\
accounts:
  - key: acme
    name: ACME Shop
    language: en
    timezone: Europe/Berlin
    channels:
      - {{id: {CLIENT_CHANNEL}, audience: client}}
      - {{id: {INTERNAL_CHANNEL}, audience: internal}}
    jira:
      projects: [ACME]
    roles:
      support: {SUPPORT_PERSON}
    support:
      project: SUP
      issue_type: Task
      priority: {{emergency: Highest, task: Medium}}
      first_response: {{emergency: 1h, task: 4h}}
"""


class Serve(ServeProcess):
    """`pulse serve` started again on the same store and port; `start` waits until it serves."""

    def __init__(self, env: dict[str, str], cwd: Path, port: int) -> None:
        super().__init__(env, cwd)
        self.port = port

    def start(self, **extra: str) -> float:
        started = super().start(**extra)
        _wait(self.healthy, 60, lambda: f"not serving: {self.tail()}")
        return started

    def healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def _wait(predicate: Callable[[], bool], timeout: float, message: Callable[[], str] = lambda: "timed out") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message())
        time.sleep(0.1)


def _mention(port: int, text: str, ts: str) -> None:
    """A Slack Connect client's mention in the shared channel, signed as Slack signs it."""
    body = app_mention(text, user_id=CLIENT, channel_id=CLIENT_CHANNEL, home_team=HOME, user_team=CLIENT_TEAM, ts=ts)
    answer = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, timeout=10,
                        headers=signed_headers(body, content_type="application/json"))
    assert answer.status_code == 200, answer.text


def _requests(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(support_requests).order_by(support_requests.c.id)))


def _is_create(call: Call) -> bool:
    return call.method == "POST" and re.fullmatch(r"/rest/api/(?:2|3|latest)/issue", call.path) is not None


def _key_answers(slack: FakeSlack, thread_ts: str, key: str) -> list[dict]:
    """The bot's answers in the request's thread that name the issue's key."""
    return [m for m in slack.posted(CLIENT_CHANNEL) if m.get("thread_ts") == thread_ts and key in (m.get("text") or "")]


def _world(tmp_path: Path, request: pytest.FixtureRequest, backend: str):
    database_url = (f"sqlite:///{tmp_path / 'pulse.db'}" if backend == "sqlite"
                    else request.getfixturevalue("fresh_postgres_url"))
    (tmp_path / "accounts.yaml").write_text(ACCOUNTS_YAML)
    db.upgrade(database_url)
    return database_url


def _env(slack: FakeSlack, jira: FakeAtlassian, port: int, tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "JIRA_", "PULSE_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url,
        JIRA_URL=jira.url, JIRA_USER="bot@agency.example", JIRA_API_TOKEN="t", JIRA_CLOUD="true",
        JIRA_WEBHOOK_SECRET="support-crash-hook", PORT=str(port), PULSE_HOST="127.0.0.1",
        PULSE_ACCOUNTS_FILE=str(tmp_path / "accounts.yaml"), DATABASE_URL=database_url, PULSE_SCHEDULER="false",
        PYTHONPATH=str(ROOT),
    )
    return env


def _seed() -> AtlassianSeed:
    """The account's own project (the start-up check reads it); the support project starts empty."""
    seed = AtlassianSeed()
    seed.issues.append(issue_json("70001", "ACME-1", "Checkout redesign", project_id="20001", project_name="Acme",
                                  created=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3), assignee=BEN,
                                  reporter=ANNA))
    return seed


def _slack() -> FakeSlack:
    slack = FakeSlack(team_id=HOME)
    slack.add_user(CLIENT, team_id=CLIENT_TEAM, name="Clara Client")
    slack.add_user(SUPPORT_PERSON, name="Sam Support")
    slack.add_channel(CLIENT_CHANNEL, "acme", is_ext_shared=True)
    slack.add_channel(INTERNAL_CHANNEL, "acme-team")
    return slack


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_between_jiras_answer_and_our_record_files_once_after_restart(tmp_path, request, backend):
    database_url = _world(tmp_path, request, backend)
    port = free_port()
    engine = db.create_engine(database_url)
    with _slack() as slack, FakeAtlassian(_seed()) as jira:
        jira.open_projects.add("SUP")
        serve = Serve(_env(slack, jira, port, tmp_path, database_url), tmp_path, port)
        killed = threading.Event()

        def kill_on_create(call: Call) -> None:
            # Jira has created the issue and its answer is on the wire: kill the bot now, from outside.
            if _is_create(call) and call.status == 200 and not killed.is_set():
                assert serve.proc is not None
                os.kill(serve.proc.pid, signal.SIGKILL)
                killed.set()

        try:
            serve.start(PULSE_TEST_HOLD_SUPPORT_RECORD="30")
            jira.on_answered = kill_on_create
            mention_ts = f"{int(time.time())}.000100"
            _mention(port, "emergency The checkout is down, customers cannot pay", mention_ts)
            assert killed.wait(timeout=60), serve.tail()
            serve.kill()  # reaped: it died of the SIGKILL the fake Jira sent
            jira.on_answered = None

            # The window was hit: Jira has the issue, the store has the request without its key.
            [stored] = _requests(engine)
            assert (stored.state, stored.issue_key) == ("filing", None)
            label = f"pulse-req-{stored.id}"
            [created] = [i for i in jira.issues_in("SUP") if label in i["fields"]["labels"]]
            assert _key_answers(slack, mention_ts, created["key"]) == []

            serve.start()
            _wait(lambda: _requests(engine)[0].state == "filed", RECOVERY_LIMIT_S, serve.tail)
            _wait(lambda: bool(_key_answers(slack, mention_ts, _requests(engine)[0].issue_key)), 30, serve.tail)
            time.sleep(1.0)  # room for a wrong second answer or a second create to show up
            [stored] = _requests(engine)
            issues = [i for i in jira.issues_in("SUP") if label in i["fields"]["labels"]]
            creates = [c for c in jira.calls if _is_create(c)]
            answers = _key_answers(slack, mention_ts, created["key"])
        finally:
            serve.stop()
            engine.dispose()
        events = serve.events()

    assert [i["key"] for i in issues] == [created["key"]]  # exactly one issue with the request's label
    assert len(creates) == 1  # the restarted process searched and adopted it, it did not create again
    assert stored.issue_key == created["key"] and stored.state == "filed"
    assert len(answers) == 1, answers  # the client got exactly one key answer in the thread
    assert any(e["event"] == "support issue found by its request label, not created again" for e in events)
    assert [e for e in events if e["level"] in ("error", "critical")] == []
