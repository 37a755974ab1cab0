"""A handover cancelled after it started: the client line posted at its start ("until Jan 6, Ben
Brandt is your contact") is corrected exactly once — rewritten in place (chat.update of the stored
ts), or, where Slack will not update it, by one correcting line; no names (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from bot.errors import UpstreamError
from tests.test_handover_steps import ANA, BEN, START, World, slack_server  # noqa: F401 (fixture)

CLIENT = "C0ACCLIENT"
CORRECTED = "Aktualisierung: Ab 23.12.2026 sind Ihre gewohnten Ansprechpersonen in der Agentur wieder für Budget, Support da."


async def _started(store, slack_server) -> tuple[World, str, dict]:  # noqa: F811
    world = World(store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    stored = next(s for s in store.handovers.listed() if s.handover.from_user == ANA)
    world.now = START
    await world.steps.tick()
    (line,) = world.slack.in_channel(CLIENT)
    assert line["text"] == "Bis 06.01.2027 ist Ben Brandt Ihre Ansprechperson für Budget, Support."
    world.now = START + dt.timedelta(days=2, hours=3)
    return world, stored.id, line


async def test_cancel_after_the_start_rewrites_the_client_line_once(store, slack_server):  # noqa: F811
    world, hid, line = await _started(store, slack_server)
    await world.ask(f"handover cancel {hid}")  # its steps run at once: the correction among them
    assert [(u["channel"], u["ts"], u["text"]) for u in world.slack.updates] == [(CLIENT, line["ts"], CORRECTED)]
    assert len(world.texts(CLIENT)) == 1  # rewritten, not a second line
    assert "Ben" not in CORRECTED and "Ana" not in CORRECTED
    # A restart, a second process, later ticks: nothing more.
    await world.process().tick()
    world.now += dt.timedelta(hours=2)
    await world.process().tick()
    assert len(world.slack.updates) == 1 and len(world.texts(CLIENT)) == 1
    assert store.handovers.step_status(hid, "acme", "correct") == "done"
    # Northwind holds no client line: nothing to correct there.
    assert store.handovers.step_status(hid, "north", "correct") is None


async def test_a_line_slack_will_not_update_gets_one_correcting_line(store, slack_server):  # noqa: F811
    world, hid, line = await _started(store, slack_server)
    world.slack.fail_next_update = [UpstreamError("slack", "message_not_found", retryable=False)]
    await world.ask(f"handover cancel {hid}")
    assert world.texts(CLIENT) == [line["text"], CORRECTED]
    await world.process().tick()
    assert world.texts(CLIENT) == [line["text"], CORRECTED]


async def test_slack_down_retries_the_correction_after_its_backoff(store, slack_server):  # noqa: F811
    world, hid, line = await _started(store, slack_server)
    world.slack.fail_next_update = [UpstreamError("slack", "down", retryable=True)]
    await world.ask(f"handover cancel {hid}")
    assert world.slack.updates == [] and store.handovers.step_status(hid, "acme", "correct") == "failed"
    world.now += dt.timedelta(minutes=1)
    assert (hid, "acme", "correct") in await world.steps.tick()
    assert [(u["ts"], u["text"]) for u in world.slack.updates] == [(line["ts"], CORRECTED)]
    assert len(world.texts(CLIENT)) == 1

