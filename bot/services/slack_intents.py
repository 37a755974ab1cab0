"""Slack requests recorded before Slack is told they arrived: never lost to a crash.

Slack does not send an acknowledged event again. A support request filed by @mention used to be
acknowledged first and stored ~50 ms later (`bot.listeners.answers`): a process killed in between
lost it. Now the listener records the raw request (the event and who sent it, from which team) in
the durable inbox with status `held` **before** it acknowledges, and settles the row (`done`) once
its answer ran. A row nobody settled (the process died, or its answer failed) is taken up by
`recover` — the support tick, also right after a restart — and answered by the same code; the
answer is idempotent in the store (a request is keyed by its channel and message ts, its posts by
key), so an answer that did run before the crash is not repeated.

The row's key is the Slack message (channel and ts), not Slack's event id: a retry of the event
(`X-Slack-Retry-Num`) or the same message delivered twice records nothing new, and its answer is
left to the first delivery's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.logs import get_logger
from integrations.store.inbox import SLACK_REQUESTS
from integrations.store.intake import InboxAppender, open_appender
from integrations.store.store import Store

log = get_logger("pulse.intents")

SOURCE = SLACK_REQUESTS
# A held row younger than this belongs to an answer that may still be running in a live process.
GRACE = dt.timedelta(seconds=15)
# How long a recovering worker holds a row while it answers it.
LEASE = dt.timedelta(minutes=2)
# A row whose answer failed this many times is given up (`dead`, listed by `pulse inbox`).
MAX_ATTEMPTS = 5

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class SlackIntents:
    def __init__(self, store: Store, clock: Callable[[], dt.datetime], owner: str,
                 appender: InboxAppender | None = None) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        # The intake's driver-level insert on the event loop (no thread hop: a busy thread pool
        # cannot delay the ack); None where it cannot write (an in-memory database): one row in a thread.
        self.appender = appender
        self.handlers: dict[str, Handler] = {}

    @classmethod
    def for_store(cls, store: Store, clock: Callable[[], dt.datetime], owner: str) -> SlackIntents:
        engine = store.engine
        file_or_server = engine.dialect.name == "postgresql" or engine.url.database not in (None, "", ":memory:")
        return cls(store, clock, owner, open_appender(engine, status="held") if file_or_server else None)

    def handle(self, kind: str, handler: Handler) -> None:
        """How a recorded request of `kind` is answered (by the listener that records it)."""
        self.handlers[kind] = handler

    async def record(self, kind: str, key: str, payload: dict[str, Any]) -> bool:
        """Store the request durably; False if it was recorded before (Slack's retry). Raises if
        the store cannot take it: then Slack is not acknowledged, and sends the event again."""
        delivery_id = f"{kind}:{key}"[:128]
        body = json.dumps({"kind": kind, "payload": payload})
        now = self.clock()
        started = time.perf_counter()
        if self.appender is not None:
            row = {"source": SOURCE, "delivery_id": delivery_id, "body": body, "event_name": kind, "received_at": now}
            new = bool(await self.appender.append([row]))
        else:
            new = await asyncio.to_thread(self.store.inbox.hold, SOURCE, delivery_id, body, now)
        log.info("slack request recorded", intent=delivery_id, new=new,
                 ms=round((time.perf_counter() - started) * 1000, 2))
        return new

    async def settle(self, kind: str, key: str) -> None:
        """The request was answered: nothing left to recover."""
        await asyncio.to_thread(self.store.inbox.settle, SOURCE, f"{kind}:{key}"[:128])

    async def recover(self) -> int:
        """Answer the held requests nobody settled; how many were answered."""
        now = self.clock()
        items = await asyncio.to_thread(self.store.inbox.claim_held, SOURCE, now - GRACE, now, LEASE, self.owner)
        answered = 0
        for item in items:
            try:
                record = json.loads(item.body)
                handler = self.handlers[record["kind"]]
                await handler(record["payload"])
            except Exception as exc:
                dead = item.attempts >= MAX_ATTEMPTS
                log.exception("recorded slack request not answered", intent=item.delivery_id, dead=dead)
                if dead:
                    await asyncio.to_thread(self.store.inbox.settle, SOURCE, item.delivery_id, "dead",
                                            f"{type(exc).__name__}: {exc}"[:500])
                continue  # else: its lease runs out and the next tick tries again
            await asyncio.to_thread(self.store.inbox.settle, SOURCE, item.delivery_id)
            answered += 1
            log.info("recorded slack request answered after a restart", intent=item.delivery_id)
        return answered

    async def aclose(self) -> None:
        if self.appender is not None:
            await self.appender.aclose()
