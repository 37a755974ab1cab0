"""Capped exponential backoff (`bot.domain.retry`), shared by handover steps and support filing;
a failing handover step waits it out instead of running on every tick (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from bot.domain.retry import backoff
from bot.errors import UpstreamUnavailable
from bot.services.handover_steps import step_backoff
from bot.services.support import retry_delay
from tests.test_handover_steps import ANA, BEN, CREATED, World, slack_server  # noqa: F401 (fixture)

MIN = dt.timedelta(minutes=1)


def test_backoff_doubles_from_the_base_up_to_the_cap_and_never_overflows():
    waits = [backoff(n, MIN, 60 * MIN) for n in range(1, 10)]
    assert waits == [MIN * m for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert backoff(0, MIN, 60 * MIN) == MIN  # no failure counted yet: the base
    assert backoff(10**9, dt.timedelta(seconds=30), dt.timedelta(days=1)) == dt.timedelta(days=1)
    assert backoff(3, 60 * MIN, 30 * MIN) == 30 * MIN  # a base above the cap is capped too


def test_handover_steps_and_support_filing_share_it():
    assert [step_backoff(n) for n in (1, 2, 3, 7, 50)] == [MIN, 2 * MIN, 4 * MIN, 60 * MIN, 60 * MIN]
    # Support's schedule is unchanged: 30 s, 1, 2, 4, 8 min, then every 15 min.
    assert [retry_delay(n).total_seconds() for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]


async def test_a_failing_step_is_retried_on_the_backoff_schedule_not_on_every_tick(store, slack_server):  # noqa: F811
    world = World(store, slack_server)
    world.jira.error = UpstreamUnavailable("jira", "down", retryable=True)
    world.steps.digests._retry_delays = ()
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north")
    (stored,) = [s for s in store.handovers.listed() if s.handover.from_user == ANA]
    hid = stored.id
    assert store.handovers.step_status(hid, "north", "created") == "failed"
    assert store.handovers.step_retry(hid, "north", "created") == (1, CREATED + MIN)

    def jira_calls() -> int:
        return len(world.jira.calls)

    tried_at = []
    calls = jira_calls()
    # Ticks every 30 s for 10 minutes, Jira down all along: tried after 1, 2, 4 minutes (+1, +3, +7).
    for half_minutes in range(1, 21):
        world.now = CREATED + dt.timedelta(seconds=30 * half_minutes)
        await world.steps.tick()
        if jira_calls() != calls:
            tried_at.append(world.now - CREATED)
            calls = jira_calls()
    assert tried_at == [MIN, 3 * MIN, 7 * MIN]
    assert store.handovers.step_retry(hid, "north", "created") == (4, CREATED + 7 * MIN + 8 * MIN)
    # Jira is back: the next try after the wait runs the step, and a done step forgets its failures.
    world.jira.error = None
    world.now = CREATED + 15 * MIN
    assert await world.steps.tick() == [(hid, "north", "created")]
    assert store.handovers.step_retry(hid, "north", "created") == (0, None)
    assert len(world.texts(world.slack.dm_channel(BEN))) == 1
