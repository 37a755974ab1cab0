"""Group commit: many concurrent callers, one database transaction per batch.

While one batch is being written, new callers queue up; the next write takes all of them. Idle,
a caller waits for one transaction as before; under load, the cost of a transaction is shared by everyone who arrived meanwhile. Each caller still gets its own answer
only after its row is durably stored — or an error (the webhook then answers 5xx and Jira retries).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any

from bot.logs import get_logger

log = get_logger("pulse.store.group_commit")


class GroupCommit:
    """Batches `await write(rows) -> written keys` calls; `await submit(row, key)` returns `key in written`.

    `on_written(rows, written)` runs after each committed batch (the intake logs there: one line
    per batch instead of one per request).
    """

    def __init__(
        self,
        write: Callable[[list[Any]], Awaitable[Iterable[Hashable]]],
        max_batch: int = 500,
        on_written: Callable[[list[Any], set[Hashable]], None] | None = None,
    ):
        self._write = write
        self._max_batch = max_batch
        self._on_written = on_written
        self._pending: list[tuple[Any, Hashable, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._closed = False

    async def submit(self, row: Any, key: Hashable) -> bool:
        if self._closed:
            raise RuntimeError("intake is shutting down")
        future = asyncio.get_running_loop().create_future()
        self._pending.append((row, key, future))
        if self._writer is None or self._writer.done():
            # A fresh context: the writer serves every caller, so it must not carry the log
            # context (source, delivery id) of the one request that happened to start it.
            self._writer = asyncio.create_task(self._drain(), context=contextvars.Context())
        # A caller that goes away (the client disconnected) cancels only its own future: the
        # batch is written by the writer task, for everyone in it, its row included.
        return await future

    async def aclose(self) -> None:
        """Take no more rows; wait for the batch being written (then the writer may be closed)."""
        self._closed = True
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _drain(self) -> None:
        batch: list[tuple[Any, Hashable, asyncio.Future]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                await self._write_batch(batch)
                batch = []
        except BaseException:
            # Cancelled at shutdown: nobody may wait forever (they answer 5xx; Jira retries).
            for _, _, future in [*batch, *self._pending]:
                if not future.done():
                    future.set_exception(RuntimeError("intake is shutting down"))
            self._pending = []
            raise

    async def _write_batch(self, batch: list[tuple[Any, Hashable, asyncio.Future]]) -> None:
        try:
            rows = [row for row, _, _ in batch]
            written = set(await self._write(rows))
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][2].done():  # its caller may have gone away (cancelled)
                    batch[0][2].set_exception(exc)
                return
            # One bad row must not fail its neighbours: write them one by one instead.
            log.warning("batch write failed; retrying row by row", rows=len(batch), error=str(exc))
            for item in batch:
                await self._write_batch([item])
            return
        for _, key, future in batch:
            if not future.done():
                future.set_result(key in written)
        if self._on_written is not None:
            try:
                self._on_written(rows, written)
            except Exception:  # e.g. a log write failed: the rows are stored, the writer goes on
                log.exception("after-write callback failed", rows=len(rows))
