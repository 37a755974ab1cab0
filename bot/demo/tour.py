"""`pulse demo`: the bot's main job on the sandbox agency, with no credentials at all.

It starts the same loopback fakes the tests use (Jira + Confluence, Slack), points the real
atlassian-python-api and slack_sdk clients at them, posts every linked channel's digest through
the real digest service into a fresh SQLite store, and prints what each channel received. Then
it POSTs four signed Jira webhooks over HTTP to the real intake (uvicorn on loopback) and lets the
real inbox worker turn them into notifications: the client channel and the internal one get
different messages about the same issue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import requests

from bot.app import Ports, assemble, build_inbox_worker
from bot.clock import utc_now
from bot.demo.handover import run_handover_demo
from bot.demo.portfolio import show_portfolio
from bot.demo.support import run_support_demo
from bot.domain.access import Role
from bot.domain.commands import available
from bot.domain.links import SiteLinks
from bot.domain.signatures import hub_signature
from bot.render.help import render_help
from bot.services.digests import DigestService
from bot.settings import Settings
from bot.web import build_web_app
from integrations.jira import AtlassianJira
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from integrations.store.store import Store
from sandbox.agency import build_sandbox
from sandbox.app_server import serving
from sandbox.atlassian_server import SITE, FakeAtlassian
from sandbox.slack_server import FakeSlack
from sandbox.webhooks import ISSUE_KEY, sandbox_deliveries


async def _post_all(service: DigestService, sandbox, now: dt.datetime, echo: Callable[[str], None]) -> int:
    # All channels at once, as a scheduler tick does: an account's channels share one Jira fetch.
    jobs = [(a, c) for a in sandbox.accounts.accounts for c in a.channels]
    results = await asyncio.gather(*(service.run_slot(a, c, now) for a, c in jobs))
    for (account, channel), result in zip(jobs, results, strict=True):
        echo(f"\n━━ {channel.name or channel.id} · {account.name} · audience: {channel.audience.value} ━━")
        echo(f"(posted {result.messages} message(s) to Slack; {result.jira_calls} Jira calls)\n")
        echo(result.text)
    return sum(r.jira_calls for r in results)


WEBHOOK_SECRET = "sandbox-webhook-secret"
_SLACK_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")


@contextlib.asynccontextmanager
async def _closing_intake(app):
    yield
    await app.state.close_intake()


def _deliver(url: str, bodies: list[dict]) -> list[int]:
    statuses = []
    with requests.Session() as http:
        for n, body in enumerate(bodies, 1):
            raw = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", "X-Hub-Signature": hub_signature(WEBHOOK_SECRET, raw),
                       "X-Atlassian-Webhook-Identifier": f"sandbox-delivery-{n}"}
            statuses.append(http.post(f"{url}/webhooks/jira", data=raw, headers=headers, timeout=10).status_code)
    return statuses


def _notify(ports: Ports, sandbox, now: dt.datetime, slack_fake: FakeSlack, echo: Callable[[str], None]) -> None:
    app = build_web_app(store=ports.store, jira_secret=WEBHOOK_SECRET, confluence_secret=None,
                        max_webhook_bytes=1024 * 1024, clock=lambda: now, lifespan=_closing_intake)
    with serving(app) as url:
        statuses = _deliver(url, sandbox_deliveries(sandbox.seed, now))
    echo(f"\n━━ Jira webhooks → notifications ━━\n{len(statuses)} signed deliveries about {ISSUE_KEY} "
         f"POSTed to /webhooks/jira: HTTP {', '.join(map(str, statuses))}; then one pass of the inbox worker.")
    before = len(slack_fake.posted())
    # A minute later: past the burst window in which the worker waits for more of the same.
    worker = build_inbox_worker(dataclasses.replace(ports, clock=lambda: now + dt.timedelta(minutes=1)))
    report = asyncio.run(worker.run_once())
    account = sandbox.accounts.by_project(ISSUE_KEY.split("-")[0])
    posted = slack_fake.posted()[before:]
    for channel in account.channels:
        echo(f"\n{channel.name or channel.id} ({channel.audience.value}):")
        for message in (m for m in posted if m.get("channel") == channel.id):
            indent = "    ↳ " if message.get("thread_ts") else "  • "
            text = _SLACK_LINK.sub(r"\2", str(message.get("text")))  # <url|ACME-1> reads as ACME-1 here
            echo(indent + text.replace("\n", "\n" + " " * len(indent)))
    done = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    alert = (" and raised a budget alert (internal channel, budget person mentioned)" if report.alerts
             else "; no budget threshold was crossed")
    echo(f"\n(worker: {done}, {report.jira_calls} Jira call(s). The restricted comment reached only the internal "
         f"channel. The logged time is not announced by default: it counts toward the budget{alert}.)")


def run_demo(echo: Callable[[str], None], now: dt.datetime | None = None, chart: Path | None = None) -> None:
    """Post and print the digests of every sandbox channel, the portfolio overview (and one chart,
    written to `chart`, else into the demo's throwaway folder), the notifications of a few webhooks,
    then the help each kind of user sees."""
    now = now or utc_now().replace(second=0, microsecond=0)
    sandbox = build_sandbox(now)
    echo(f"Account Pulse demo — sandbox agency, {len(sandbox.accounts.accounts)} accounts, as of {now:%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory() as tmp, FakeAtlassian(sandbox.seed) as jira_fake, FakeSlack() as slack_fake:
        slack_fake.add_channels_of(sandbox.accounts)
        client = make_web_client(slack_fake.token, slack_fake.api_url)
        # The bot as `pulse serve` assembles it, on ports made of the sandbox's stage.
        ports = Ports(
            accounts=sandbox.accounts,
            store=Store.open(f"sqlite:///{Path(tmp) / 'pulse.db'}", migrate=True),
            jira=AtlassianJira(jira_fake.url, user="sandbox@agency.example", api_token="sandbox"),
            clock=lambda: now,
            slack=SlackWeb(client, ChannelPacer(0)),
            slack_client=client,
            links=SiteLinks(jira=SITE),
        )
        runtime = assemble(Settings(_env_file=None, scheduler_enabled=False), ports)
        service, table = runtime.digests, runtime.commands
        assert service is not None and table is not None  # assemble makes both
        try:
            try:
                calls = asyncio.run(_post_all(service, sandbox, now, echo))
                commands = table.table
                digests = len(slack_fake.posted())
                echo(f"\n{digests} digest message(s) posted, {calls} Jira call(s) in all.")
                show_portfolio(runtime, now, echo, chart or Path(tmp) / "burn-up.png")
                if runtime.handover_steps is not None:  # before the digest service closes: it reads Jira
                    run_handover_demo(table, runtime.handover_steps, slack_fake, now, echo)
            finally:
                service.close()
            _notify(ports, sandbox, now, slack_fake, echo)
            if runtime.support is not None:
                run_support_demo(runtime.support, jira_fake, slack_fake, now, echo)
        finally:
            ports.close()
    for role, mention in ((Role.ADMIN, None), (Role.EXTERNAL, "Account Pulse")):
        text, _ = render_help(available(role, commands), mention)
        echo(f"\n/pulse help for an agency {role.name.lower()}:\n{text}" if mention is None
             else f"\n@Account Pulse help for a Slack Connect client:\n{text}")
    # Every answer is in the language of the channel's account, its command words too.
    text, _ = render_help(available(Role.EXTERNAL, commands), "Account Pulse", "de")
    echo(f"\n@Account Pulse hilfe for a Slack Connect client of a German account:\n{text}")
