"""`pulse demo`: the bot's main job on the sandbox agency, with no credentials at all.

It starts the same loopback fakes the tests use (Jira + Confluence, Slack), points the real
atlassian-python-api and slack_sdk clients at them, posts every linked channel's digest through
the real digest service into a fresh SQLite store, and prints what each channel received.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

from bot.clock import utc_now
from bot.app import build_commands
from bot.domain.access import Role
from bot.domain.commands import available
from bot.render.help import render_help
from bot.sandbox import build_sandbox
from bot.services.digests import DigestService
from integrations.fake_atlassian import FakeAtlassian
from integrations.fake_slack import FakeSlack
from integrations.jira import AtlassianJira
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from integrations.store.store import Store


async def _post_all(service: DigestService, sandbox, now: dt.datetime, echo: Callable[[str], None]) -> int:
    # All channels at once, as a scheduler tick does: an account's channels share one Jira fetch.
    jobs = [(a, c) for a in sandbox.accounts.accounts for c in a.channels]
    results = await asyncio.gather(*(service.run_slot(a, c, now) for a, c in jobs))
    for (account, channel), result in zip(jobs, results, strict=True):
        echo(f"\n━━ {channel.name or channel.id} · {account.name} · audience: {channel.audience.value} ━━")
        echo(f"(posted {result.messages} message(s) to Slack; {result.jira_calls} Jira calls)\n")
        echo(result.text)
    return sum(r.jira_calls for r in results)


def run_demo(echo: Callable[[str], None], now: dt.datetime | None = None) -> None:
    """Post and print the digests of every sandbox channel, then the help each kind of user sees."""
    now = now or utc_now().replace(second=0, microsecond=0)
    sandbox = build_sandbox(now)
    echo(f"Account Pulse demo — sandbox agency, {len(sandbox.accounts.accounts)} accounts, as of {now:%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory() as tmp, FakeAtlassian(sandbox.seed) as jira_fake, FakeSlack() as slack_fake:
        store = Store.open(f"sqlite:///{Path(tmp) / 'pulse.db'}", migrate=True)
        slack = SlackWeb(make_web_client(slack_fake.token, slack_fake.api_url), ChannelPacer(0))
        with AtlassianJira(jira_fake.url, user="sandbox@agency.example", api_token="sandbox") as jira:
            service = DigestService(jira=jira, slack=slack, store=store, clock=lambda: now, jira_browse_url=jira_fake.url)
            try:
                calls = asyncio.run(_post_all(service, sandbox, now, echo))
                commands = build_commands(sandbox.accounts, service, store, lambda: now).table
            finally:
                service.close()
        store.close()
        echo(f"\n{len(slack_fake.posted())} Slack message(s) posted, {calls} Jira call(s) in all.")
    for role, mention in ((Role.ADMIN, None), (Role.EXTERNAL, "Account Pulse")):
        text, _ = render_help(available(role, commands), mention)
        echo(f"\n/pulse help for an agency {role.name.lower()}:\n{text}" if mention is None
             else f"\n@Account Pulse help for a Slack Connect client:\n{text}")
