"""The digest's support section: what the period's requests say about the agency's promise. Pure.

Internal channels: requests by urgency (and unanswered client messages), median and worst first
response, breaches, what is still open. Client channels: requests opened and resolved and the
median first response — only the client's own requests (never their messages' clocks).
First responses are measured on the request's own clock (business hours for tasks, around the
clock for emergencies, less the time it waited for the client).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.domain.accounts import Account, Audience, Urgency
from bot.domain.support import target
from bot.domain.support_clock import ClockRules, Pause, elapsed


class Clocked(Protocol):
    """What the figures read of a stored request (`integrations.store.support.SupportRequest`):
    read-only properties, so a frozen dataclass matches."""

    @property
    def kind(self) -> str: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def urgency(self) -> str | None: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def first_response_at(self) -> dt.datetime | None: ...
    @property
    def resolved_at(self) -> dt.datetime | None: ...
    @property
    def breached_at(self) -> dt.datetime | None: ...
    @property
    def pauses(self) -> list[Pause]: ...


@dataclass(frozen=True, slots=True)
class SupportFigures:
    audience: Audience
    opened: int
    emergencies: int
    tasks: int
    messages: int  # client messages that started a clock (internal only)
    resolved: int
    open: int
    breaches: int
    median_minutes: float | None
    worst_minutes: float | None


def support_figures(account: Account, audience: Audience, requests: Iterable[Clocked], since: dt.datetime,
                    now: dt.datetime, client_channels: Collection[str] | None = None) -> SupportFigures:
    """The figures of [since, now) for a channel of `audience`. `client_channels`: the ids of the
    account's channels the client sees (their effective audience is client); by default those
    configured for the client. A client's figures count only the requests filed there — never
    one the team filed in an internal channel (its count, urgency and clock are internal)."""
    if client_channels is None:
        client_channels = {c.id for c in account.channels if c.audience is Audience.CLIENT}
    rows = [r for r in requests if r.urgency is not None
            and (audience is Audience.INTERNAL or (r.kind == "request" and r.channel_id in client_channels))]
    opened = [r for r in rows if since <= r.created_at < now]
    answered = [r for r in rows if r.first_response_at is not None and since <= r.first_response_at < now]
    minutes = sorted(_first_response_minutes(account, r) for r in answered)
    breaches = [r for r in rows if (r.breached_at is not None and since <= r.breached_at < now)]
    return SupportFigures(
        audience=audience,
        opened=len(opened),
        emergencies=sum(1 for r in opened if r.kind == "request" and r.urgency == Urgency.EMERGENCY.value),
        tasks=sum(1 for r in opened if r.kind == "request" and r.urgency == Urgency.TASK.value),
        messages=sum(1 for r in opened if r.kind == "message"),
        resolved=sum(1 for r in rows if r.resolved_at is not None and since <= r.resolved_at < now),
        open=sum(1 for r in rows if r.kind == "request" and r.created_at < now and r.resolved_at is None),
        breaches=len(breaches),
        median_minutes=statistics.median(minutes) if minutes else None,
        worst_minutes=minutes[-1] if minutes else None,
    )


def _first_response_minutes(account: Account, r: Clocked) -> float:
    assert r.first_response_at is not None and r.urgency is not None
    urgency = Urgency(r.urgency)
    target(account, urgency)  # the account files requests (a UserError otherwise)
    return elapsed(ClockRules.for_account(account, urgency), r.created_at, r.first_response_at, r.pauses).total_seconds() / 60
