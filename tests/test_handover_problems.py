"""A role with nobody present that arises after the handovers were saved (two saved at once by two
processes, or the accounts file changed) is told to the internal channel once per problem: not
every day it lasts, and a cycle's "nobody" not as a second problem (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from tests.test_handover_steps import ANA, BEN, LEAD, START, World, slack_server  # noqa: F401 (fixture)

INTERNAL = "C0ACINTERN"


def _save(store, who, cover, days=5) -> str:
    # Straight into the store, as two processes saving at once would (each checked alone).
    return store.handovers.add(who, cover, START.date(), START.date() + dt.timedelta(days=days), ["acme"], "", LEAD,
                               START - dt.timedelta(days=3)).id


def _problems(world) -> list[str]:
    return [t for t in world.texts(INTERNAL) if t.startswith("⚠️")]


async def test_a_cycle_that_arose_later_is_reported_once_per_role_not_daily(store, slack_server):  # noqa: F811
    world = World(store, slack_server)
    _save(store, ANA, BEN)
    _save(store, BEN, ANA)
    world.now = START
    await world.steps.tick()
    await world.process().tick()  # a second process the same minute
    reported = _problems(world)
    assert reported == [
        f"⚠️ Budget: ab 21.12.2026 sind <@{ANA}>, <@{BEN}> alle abwesend und vertreten sich gegenseitig, also ist "
        "niemand da. Bitte übergeben Sie die Rolle an jemanden, der da ist.",
        f"⚠️ Support: ab 21.12.2026 sind <@{ANA}>, <@{BEN}> alle abwesend und vertreten sich gegenseitig, also ist "
        "niemand da. Bitte übergeben Sie die Rolle an jemanden, der da ist.",
    ]
    for day in (1, 2, 3):  # the cycle lasts: nobody is told again
        world.now = START + dt.timedelta(days=day)
        await world.steps.tick()
    assert _problems(world) == reported


async def test_the_same_people_in_a_new_cycle_later_are_a_new_problem(store, slack_server):  # noqa: F811
    world = World(store, slack_server)
    first = _save(store, ANA, BEN, days=1)
    _save(store, BEN, ANA, days=1)
    world.now = START
    await world.steps.tick()
    assert len(_problems(world)) == 2
    store.handovers.cancel(first, LEAD, START + dt.timedelta(hours=1))
    # Two days later Ana is away again, covered by Ben, who is away covered by Ana: told again.
    later = START + dt.timedelta(days=3)
    store.handovers.add(ANA, BEN, later.date(), later.date(), ["acme"], "", LEAD, later - dt.timedelta(hours=1))
    store.handovers.add(BEN, ANA, later.date(), later.date(), ["acme"], "", LEAD, later - dt.timedelta(hours=1))
    world.now = later
    await world.steps.tick()
    assert len(_problems(world)) == 4
