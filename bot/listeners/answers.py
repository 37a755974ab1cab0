"""Work a listener goes on with after Slack has its acknowledgement.

Bolt runs listeners before answering Slack (`process_before_response=True`): a listener acks
and hands the slow part (who is asking, Jira, the answer) to `Answers.start`, so the HTTP answer
leaves at once. (With `process_before_response=False` Bolt starts the listener as a task and
polls for its ack in 10 ms sleeps: every acknowledgement waited 10 ms or more, and under load the
answers' own work queued in front of the acks.)

Acks go first: an answer starts `delay` (50 ms) after its ack. Slack shows an error when a request
is not acknowledged within 3 s, while an answer through response_url may come minutes later; and
an answer costs two to three times the CPU of its ack (the command, rendering, an HTTP call). Started
at once, the answers of a burst of commands queued in front of the acks of the same burst on the
one event loop (benchmarks/ack.py: p50 11-14 ms, p99 50-60 ms at 20 in flight); 50 ms later, the
burst is acknowledged first. Nobody notices 50 ms in an answer.

The tasks are kept here: the event loop holds only weak references to tasks, and shutdown waits
for answers under way (`drain`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.logs import get_logger

log = get_logger("pulse.listeners")


class Answers:
    """Background answers to Slack requests that were already acknowledged."""

    def __init__(self, delay: float = 0.05) -> None:
        self._delay = delay
        self._tasks: set[asyncio.Task] = set()

    def start(self, work: Coroutine[Any, Any, None], what: str, **context: Any) -> None:
        """Run `work` after the ack; a failure is logged with its traceback (the user was acked)."""
        task = asyncio.get_running_loop().create_task(self._guarded(work, what, context))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None], what: str, context: dict[str, Any]) -> None:
        try:
            await asyncio.sleep(self._delay)  # acks first (see the module docstring)
            await work
        except Exception:
            log.exception(f"{what} failed", **context)

    async def drain(self, timeout: float) -> None:
        """Wait for answers under way (at most `timeout` seconds), then cancel what is left."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def respond(client: Any, response_url: str, **message: Any) -> None:
    """Answer through a slash command's response_url on the app's shared HTTP session (`client.session`:
    Bolt's own `respond` opened a new session, with its connection pool, for every answer)."""
    await AsyncWebhookClient(url=response_url, session=getattr(client, "session", None)).send(**message)
