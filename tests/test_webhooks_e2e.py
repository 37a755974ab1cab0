"""End to end over loopback: signed Jira deliveries POSTed to the running ASGI app (uvicorn), the
inbox worker posting through the real slack_sdk client to the fake Slack server; the worker is
killed mid-burst and a new one finishes: every event appears exactly once."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import threading
import time

import httpx
import pytest
import uvicorn

from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
from bot.domain.links import SiteLinks
from bot.domain.signatures import hub_signature
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from bot.web import build_web_app
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from sandbox.slack_server import FakeSlack
from tests.fixtures import real_payload

SECRET = "e2e-secret"
PIN = "pinpoint-jira/internal/testdata"
CLIENT, INTERNAL = "C0GOLDCLI", "C0GOLDINT"
ACCOUNTS = AccountsConfig(accounts=[
    Account(key="gold", name="Gold", timezone="Europe/Berlin", jira=JiraScope(projects=["GOLD"]),
            channels=[Channel(id=CLIENT, audience=Audience.CLIENT), Channel(id=INTERNAL, audience=Audience.INTERNAL)]),
])
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


class Server:
    """The ASGI app under uvicorn on 127.0.0.1 in a thread (a free port)."""

    def __init__(self, app) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(500):  # bounded: 5 s
            if self.server.started:
                break
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class KillSwitch:
    """A SlackPort wrapper: after `after` posts, further posts hang (as a dying process would)."""

    def __init__(self, inner: SlackWeb, after: int) -> None:
        self.inner, self.after, self.started, self.posts = inner, after, 0, 0
        self.reached = asyncio.Event()
        self.find_post = inner.find_post

    async def post_message(self, channel, text, blocks=None, thread_ts=None, post_key=None):
        # Reserve before awaiting: channels post in parallel, and exactly `after` may go out.
        if self.started >= self.after:
            await asyncio.Event().wait()  # never returns: the task is cancelled here
        self.started += 1
        ts = await self.inner.post_message(channel, text, blocks, thread_ts=thread_ts, post_key=post_key)
        self.posts += 1
        if self.posts >= self.after:
            self.reached.set()
        return ts


def _recorded(store) -> int:
    import sqlalchemy as sa

    from integrations.store.schema import posts

    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(posts).where(posts.c.state == "done")).scalar()


def _deliveries(n: int) -> list[tuple[str, bytes]]:
    base = real_payload(f"{PIN}/jira:issue_created.json")
    out = []
    for i in range(n):
        payload = copy.deepcopy(base)  # derived from the real capture: n issues created
        payload["issue"]["key"] = f"GOLD-{700 + i}"
        payload["issue"]["id"] = str(40000 + i)
        out.append((f"e2e-{i}", json.dumps(payload).encode()))
    return out


async def test_kill_mid_burst_and_restart_posts_every_event_exactly_once(store):
    clock = Clock()
    app = build_web_app(store=store, jira_secret=SECRET, confluence_secret=SECRET,
                        max_webhook_bytes=256 * 1024, clock=clock)
    deliveries = _deliveries(20)
    with FakeSlack() as fake, Server(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            for delivery_id, body in deliveries + deliveries[:3]:  # Jira retries three of them
                response = await http.post("/webhooks/jira", content=body, headers={
                    "X-Hub-Signature": hub_signature(SECRET, body), "X-Atlassian-Webhook-Identifier": delivery_id,
                    "Content-Type": "application/json"})
                assert response.status_code == 202
            forged = await http.post("/webhooks/jira", content=deliveries[0][1],
                                     headers={"X-Hub-Signature": "sha256=" + "0" * 64})
            assert forged.status_code == 401
        assert store.inbox.counts() == {"pending": 20}

        fake.fail("chat.postMessage", 429, retry_after=0)  # slack_sdk honours Retry-After and retries
        slack = SlackWeb(make_web_client(fake.token, fake.api_url), ChannelPacer(0.0))
        # Threshold above the batch: every event is its own message, so the kill lands mid-stream.
        settings = WorkerSettings(burst_window=dt.timedelta(0), burst_threshold=1000, poll_seconds=0.01)
        switch = KillSwitch(slack, after=13)
        site = SiteLinks(jira="https://pinpt-hq.atlassian.net")  # JIRA_URL: where the fixture is from
        first = InboxWorker(store, ACCOUNTS, switch, None, clock, settings, links=site)
        stop = asyncio.Event()
        task = asyncio.create_task(first.run_forever(stop))
        await asyncio.wait_for(switch.reached.wait(), timeout=30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(fake.posted()) == 13
        # The records were handed to threads before the cancel; let them commit (bounded wait).
        for _ in range(500):
            if _recorded(store) == 13:
                break
            await asyncio.sleep(0.01)
        assert _recorded(store) == 13
        assert store.inbox.counts() == {"pending": 20}  # nothing marked done: the crash came first

        clock.now = START + dt.timedelta(minutes=6)  # the dead worker's lease has run out
        second = InboxWorker(store, ACCOUNTS, slack, None, clock, settings, links=site)
        report = await second.run_once()
        assert (report.claimed, report.skipped_already_posted, report.messages) == (20, 13, 27)

    assert store.inbox.counts() == {"done": 20}
    for channel in (CLIENT, INTERNAL):
        texts = [m["text"] for m in fake.posted(channel)]
        keys = sorted(t.split("|")[1].split(">")[0] for t in texts)
        assert keys == sorted(f"GOLD-{700 + i}" for i in range(20))  # each exactly once
    assert len(fake.calls_to("chat.postMessage")) == 41  # 40 accepted + the one 429
