"""What /healthz reports beyond the database: each background component's own problems.

Components register a check, `() -> list[str]` (one sentence per problem, empty when all is well),
under a name; /healthz answers 503 naming every problem. A check that raises is a problem too:
a health check must never make health look better than it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

Check = Callable[[], list[str]]


class HealthChecks:
    """The registry /healthz reads."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(self, name: str, check: Check) -> None:
        """Add (or replace) the check of one component, e.g. "inbox_worker" or "scheduler"."""
        self._checks[name] = check

    def unregister(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return sorted(self._checks)

    def problems(self) -> dict[str, list[str]]:
        """Every component's problems, by name; components without problems are left out."""
        found: dict[str, list[str]] = {}
        for name in self.names:
            try:
                problems = list(self._checks[name]())
            except Exception as exc:  # noqa: BLE001 - a broken check is reported, not raised
                problems = [f"its health check failed: {type(exc).__name__}: {exc}"]
            if problems:
                found[name] = problems
        return found


@dataclass
class WorkerPulse:
    """What a background loop records about itself, for its health check."""

    started_at: dt.datetime
    last_pass_at: dt.datetime | None = None  # the last pass that ended without an error
    failures_in_row: int = 0
    last_error: str | None = None

    def passed(self, now: dt.datetime) -> None:
        self.last_pass_at = now
        self.failures_in_row = 0
        self.last_error = None

    def failed(self, error: BaseException) -> None:
        self.failures_in_row += 1
        self.last_error = f"{type(error).__name__}: {error}"[:300]


def inbox_worker_problems(
    pulse: WorkerPulse,
    now: dt.datetime,
    *,
    waiting_since: dt.datetime | None,
    stuck_after: dt.timedelta,
    failing_after: int = 3,
    stopped: str | None = None,
) -> list[str]:
    """The inbox worker's problems: it stopped, its passes keep failing, or it is stuck — no
    successful pass for `stuck_after` while a delivery has been waiting at least that long
    (`waiting_since`: since when the longest-waiting due delivery has been due)."""
    if stopped is not None:
        return [f"inbox worker stopped: {stopped}; deliveries are stored but not posted until pulse serve restarts"]
    problems = []
    if pulse.failures_in_row >= failing_after:
        problems.append(f"inbox worker failing: its last {pulse.failures_in_row} passes failed ({pulse.last_error})")
    last = pulse.last_pass_at or pulse.started_at
    if waiting_since is not None and now - waiting_since > stuck_after and now - last > stuck_after:
        problems.append(
            f"inbox worker stuck: no successful pass since {last.isoformat()} while deliveries have been "
            f"waiting since {waiting_since.isoformat()}"
        )
    return problems
