"""Group commit: many concurrent callers, one database transaction per batch.

While one batch is being written (in a worker thread), new callers queue up; the next write takes
all of them. Idle, a caller waits for one transaction as before; under load, the cost of a
transaction is shared by everyone who arrived meanwhile. Each caller still gets its own answer
only after its row is durably stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from concurrent.futures import ThreadPoolExecutor


class GroupCommit:
    """Batches `write(rows) -> results` calls; `await submit(row, key)` returns `key in results`."""

    def __init__(self, write: Callable[[list[Any]], Iterable[Hashable]], max_batch: int = 500):
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[Any, Hashable, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        # One writer thread: batches are written one after another anyway, and a dedicated
        # thread costs less per hop than the shared pool.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")

    async def submit(self, row: Any, key: Hashable) -> bool:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((row, key, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # shield: a client that disconnects must not cancel the write others are waiting for.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                rows = [row for row, _, _ in batch]
                written = set(await asyncio.get_running_loop().run_in_executor(self._thread, self._write, rows))
            except Exception as exc:  # every caller of this batch gets the error (→ 5xx, Jira retries)
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, key, future in batch:
                if not future.done():
                    future.set_result(key in written)
