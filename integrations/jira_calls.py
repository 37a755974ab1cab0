"""Count the HTTP calls one unit of work (a digest) makes to Jira, even across worker threads.

A ContextVar holds the counter: `asyncio.to_thread` copies the context into its thread, and the
adapter copies it into its own pool's threads, so concurrent digests each count only their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator


class CallCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


_current: contextvars.ContextVar[CallCounter | None] = contextvars.ContextVar("jira_calls", default=None)


@contextlib.contextmanager
def count_calls() -> Iterator[CallCounter]:
    """Count every Jira HTTP request made inside this block (including retries)."""
    counter = CallCounter()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def record_call() -> None:
    """Called by the adapter once per HTTP request."""
    counter = _current.get()
    if counter is not None:
        counter.add()
