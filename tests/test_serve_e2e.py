"""`pulse serve`'s app over real HTTP: real uvicorn, real Bolt/slack_sdk, real atlassian client, loopback fakes."""

import datetime as dt
import json
import time

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from bot.app import build_runtime
from bot.domain.signatures import hub_signature
from bot.settings import JiraSettings, Settings, SlackSettings
from sandbox.agency import build_sandbox
from sandbox.app_server import free_port, serving
from sandbox.atlassian_server import FakeAtlassian
from sandbox.slack_server import FakeSlack
from tests.fixtures import real_payload_bytes
from tests.slack_requests import SIGNING_SECRET, signed_headers, slash_command

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
HOOK_SECRET = "hook-secret"


def _settings(tmp_path, slack_url, jira_url):
    return Settings(
        slack=SlackSettings(bot_token="xoxb-fake-token", signing_secret=SIGNING_SECRET, api_url=slack_url),
        jira=JiraSettings(url=jira_url, user="bot@agency.example", api_token="t", cloud=True, webhook_secret=HOOK_SECRET),
        database_url=f"sqlite:///{tmp_path / 'pulse.db'}",
        scheduler_enabled=False,
    )


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def running(tmp_path):
    sandbox = build_sandbox(NOW)
    with FakeSlack() as slack, FakeAtlassian(sandbox.seed) as jira:
        slack.add_user("U0MEMBER01")
        settings = _settings(tmp_path, slack.api_url, jira.url)
        from integrations.store import db

        db.upgrade(settings.database_url)
        started = time.monotonic()
        # Time runs from NOW, so the worker's burst window can pass.
        runtime = build_runtime(settings, accounts=sandbox.accounts, clock=lambda: NOW + dt.timedelta(seconds=time.monotonic() - started))
        with serving(runtime.asgi()) as url:
            yield url, slack, runtime


def test_health_webhook_and_signed_command_over_real_http(running):
    url, slack, runtime = running
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"

    body = real_payload_bytes("pinpoint-jira/internal/testdata/jira:issue_created.json")
    hook = httpx.post(f"{url}/webhooks/jira", content=body, headers={"X-Hub-Signature": hub_signature(HOOK_SECRET, body)})
    assert hook.status_code == 202
    assert sum(runtime.store.inbox.counts().values()) == 1
    # The inbox worker runs inside `pulse serve` and drains the delivery.
    # (It holds deliveries for its 10 s burst window first, to coalesce bulk edits.)
    assert _wait(lambda: "pending" not in runtime.store.inbox.counts(), timeout=25)
    assert httpx.post(f"{url}/webhooks/jira", content=body).status_code == 401

    form = slash_command("budget", user_id="U0MEMBER01", channel_id="C0ACMEINTL", team_id=slack.team_id, response_url=slack.response_url("r"))
    answer = httpx.post(f"{url}/slack/events", content=form, headers=signed_headers(form, content_type="application/x-www-form-urlencoded"))
    assert answer.status_code == 200
    assert _wait(lambda: slack.responses())
    assert slack.responses()[0]["text"].startswith("*Budget")
    assert slack.calls_to("auth.test")  # Bolt authorised against the fake Slack

    unsigned = httpx.post(f"{url}/slack/events", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 401


def test_slack_unreachable_at_start_up_is_logged_and_retried_not_a_crash(tmp_path):
    sandbox = build_sandbox(NOW)
    dead_slack = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    with FakeAtlassian(sandbox.seed) as jira, capture_logs() as logs:
        settings = _settings(tmp_path, dead_slack, jira.url)
        from integrations.store import db

        db.upgrade(settings.database_url)
        runtime = build_runtime(settings, accounts=sandbox.accounts, clock=lambda: NOW)
        runtime.client.retry_handlers.clear()  # fail fast in the test; the start-up loop retries
        with serving(runtime.asgi()) as url:
            assert _wait(lambda: any(e["event"] == "slack unreachable, retrying" for e in logs))
            assert httpx.get(f"{url}/healthz").status_code == 200


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_pulse_serve_command_starts_migrates_takes_a_webhook_and_stops_cleanly(tmp_path, request, database):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    database_url = (
        f"sqlite:///{tmp_path / 'pulse.db'}" if database == "sqlite" else request.getfixturevalue("postgres_database_url")
    )
    port = free_port()
    with FakeSlack() as slack, FakeAtlassian(build_sandbox(NOW).seed) as jira:
        # A workspace set up as the README says: every linked channel exists with the bot in it,
        # client channels shared with the client (the start-up check finds nothing to fail).
        sandbox_channels = [c for a in build_sandbox(NOW).accounts.accounts for c in a.channels]
        for channel in sandbox_channels:
            slack.add_channel(channel.id, channel.name.lstrip("#"), is_ext_shared=channel.audience == "client")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "JIRA_", "PULSE_", "DATABASE_URL"))}
        env.update(
            SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url,
            JIRA_URL=jira.url, JIRA_USER="bot@agency.example", JIRA_API_TOKEN="t", JIRA_CLOUD="true",
            JIRA_WEBHOOK_SECRET=HOOK_SECRET, PORT=str(port), PULSE_HOST="127.0.0.1",
            PULSE_ACCOUNTS_FILE=str(Path(__file__).parents[1] / "config" / "accounts.example.yaml"),
            DATABASE_URL=database_url, PULSE_SCHEDULER="false",
        )
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--log-json", "serve"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def healthy():
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            assert _wait(healthy, timeout=30), proc.stderr.read() if proc.poll() is not None else "not healthy"
            assert _wait(lambda: slack.calls_to("auth.test"))
            body = real_payload_bytes("pinpoint-jira/internal/testdata/jira:issue_created.json")
            delivery = f"serve-{database}-{time.time_ns()}"
            hook = httpx.post(f"http://127.0.0.1:{port}/webhooks/jira", content=body, headers={
                "X-Hub-Signature": hub_signature(HOOK_SECRET, body), "X-Atlassian-Webhook-Identifier": delivery})
            assert (hook.status_code, hook.json()["status"]) == (202, "accepted")
            # The start-up check (pulse doctor's checks) runs in the background after start.
            assert _wait(lambda: len(slack.calls_to("conversations.info")) == len(sandbox_channels), timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=20)
        # uvicorn re-raises the SIGTERM it handled after a graceful shutdown.
        assert proc.returncode in (0, -signal.SIGTERM), stderr
        lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        events = [line["event"] for line in lines]
        assert "pulse started" in events
        assert "Application shutdown complete." in events
        (accepted,) = [line for line in lines if line["event"] == "webhooks accepted"]
        assert accepted["deliveries"] == [f"jira/{delivery}"]
        checked = [line for line in lines if line["event"] == "start-up check"]
        assert {line["verdict"] for line in checked} <= {"ok", "warn"} and len(checked) >= len(sandbox_channels)
        # The intake's connection closed with the app: nothing went wrong on the way out.
        assert [line for line in lines if line["level"] in ("error", "critical")] == [], stderr
        assert "Traceback" not in stderr and "Warning" not in stderr, stderr
        # No secret ever reaches the log.
        for secret in (slack.token, SIGNING_SECRET, HOOK_SECRET):
            assert secret not in stderr
        if database == "sqlite":
            assert (tmp_path / "pulse.db").exists()


def test_socket_mode_answers_a_slash_command_without_a_public_url(tmp_path):
    import urllib.parse

    from tests.fake_socket_mode import FakeSocketMode
    from tests.slack_requests import slash_command

    sandbox = build_sandbox(NOW)
    with FakeSlack() as slack, FakeAtlassian(sandbox.seed) as jira, FakeSocketMode() as socket:
        slack.add_user("U0MEMBER01")
        slack.socket_url = socket.url
        settings = _settings(tmp_path, slack.api_url, jira.url)
        settings = settings.model_copy(
            update={"slack": settings.slack.model_copy(update={"app_token": SecretStr(slack.app_token), "signing_secret": None})}
        )
        from integrations.store import db

        db.upgrade(settings.database_url)
        runtime = build_runtime(settings, accounts=sandbox.accounts, clock=lambda: NOW)
        with serving(runtime.asgi()) as url:
            assert socket.wait_connected(), "the bot did not open a Socket Mode connection"
            # Webhooks and health are still served over HTTP; there is no Slack HTTP endpoint.
            assert httpx.get(f"{url}/healthz").status_code == 200
            assert httpx.post(f"{url}/slack/events", content=b"{}").status_code == 404
            form = slash_command("help", user_id="U0MEMBER01", channel_id="C0ACMEINTL", team_id=slack.team_id,
                                 response_url=slack.response_url("sm"))
            payload = dict(urllib.parse.parse_qsl(form))
            socket.send({"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
                         "payload": payload})
            assert socket.wait_for(lambda: any(m.get("envelope_id") == "env-1" for m in socket.received))
            assert _wait(lambda: slack.responses())
            assert "`/pulse hilfe`" in slack.responses()[0]["text"]  # ACME is a German account
            assert slack.calls_to("apps.connections.open")
