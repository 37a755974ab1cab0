"""Charts reach Slack through its current upload flow and exactly once: the internal digest's
burn-up in its thread, `/pulse budget`'s chart in the answer, `pulse digest --chart` on disk."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.app import build_commands
from bot.domain.access import Role
from bot.services.charts import Charts
from bot.services.commands import Asker
from bot.services.digests import DigestService
from integrations.slack import SlackWeb, make_web_client
from sandbox.agency import build_sandbox
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.test_cli import ROOT, _pulse

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
SANDBOX = build_sandbox(NOW)


def test_an_upload_takes_slacks_three_steps_and_shares_the_file_nowhere():
    async def upload(slack):
        return await SlackWeb(make_web_client(slack.token, slack.api_url)).upload_file("c.png", b"\x89PNG" + b"x" * 500, "t")

    with FakeSlack() as slack:
        file_id = asyncio.run(upload(slack))
        assert [c.method for c in slack.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
        assert slack.calls_to("files.upload") == []
        record = slack.files[file_id]
        assert record["completed"] and record["content"] == b"\x89PNG" + b"x" * 500 and record["channel"] is None


async def test_the_internal_digest_gets_its_burn_up_once_the_client_digest_none(sqlite_store):
    slack = InMemorySlack()
    service = DigestService(jira=InMemoryJira.from_seed(SANDBOX.seed), slack=slack, store=sqlite_store, clock=lambda: NOW)
    service.charts = Charts(slack)
    account = SANDBOX.accounts.by_key("acme-shop")
    client, internal = account.channels
    try:
        await service.run_slot(account, internal, NOW)
        await service.run_slot(account, client, NOW)
        # The burn-up (the milestone timeline follows it: tests/test_timeline_chart.py).
        chart = [m for m in slack.messages if any(b.get("type") == "image" and b["alt_text"].endswith("Budgetverlauf")
                                                  for b in m["blocks"] or [])]
        assert len(chart) == 1 and chart[0]["channel"] == internal.id and chart[0]["thread_ts"] is not None
        assert chart[0]["blocks"][0]["slack_file"] == {"id": "F00000001"} and len(slack.files) == 2
        assert slack.files[0]["content"].startswith(b"\x89PNG")
        # The slot again (a retry after a crash): nothing uploaded or posted twice.
        count = len(slack.messages)
        await service._post_chart(account, await service.fetch(account, NOW, NOW - dt.timedelta(days=7)), NOW,
                                  internal.id, f"digest:{internal.id}:{NOW.isoformat()}:chart", chart[0]["thread_ts"])
        assert len(slack.messages) == count and len(slack.files) == 2
    finally:
        service.close()


async def test_budget_answers_carry_the_audiences_chart():
    slack = InMemorySlack()
    service = DigestService(jira=InMemoryJira.from_seed(SANDBOX.seed), slack=slack, store=None, clock=lambda: NOW)
    service.charts = Charts(slack)
    commands = build_commands(SANDBOX.accounts, service, None, lambda: NOW)
    try:
        internal = await commands.run("budget", Asker("U0MEMBER01", "C0ACMEINTL", Role.MEMBER))
        client = await commands.run("budget", Asker("U0CLIENT01", "C0ACMECLNT", Role.EXTERNAL, via_mention=True))
    finally:
        service.close()
    for reply in (internal, client):
        assert reply.blocks[-1]["type"] == "image" and reply.blocks[-1]["alt_text"] == "ACME Shop GmbH — Budgetverlauf"
    # Two charts, each drawn for its audience: the client's counts fewer hours (no internal work).
    assert len(slack.files) == 2 and slack.files[0]["content"] != slack.files[1]["content"]


def test_pulse_digest_writes_a_chart_locally(tmp_path):
    from sandbox.atlassian_server import FakeAtlassian

    with FakeAtlassian(SANDBOX.seed) as jira:
        env = {
            "JIRA_URL": jira.url, "JIRA_USER": "bot@agency.example", "JIRA_API_TOKEN": "t", "JIRA_CLOUD": "true",
            "PULSE_ACCOUNTS_FILE": str(ROOT / "config" / "accounts.example.yaml"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        }
        out = tmp_path / "burn.png"
        result = _pulse("digest", "--account", "northwind", "--audience", "internal", "--chart", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert f"chart written to {out}" in result.stdout and out.read_bytes().startswith(b"\x89PNG")
