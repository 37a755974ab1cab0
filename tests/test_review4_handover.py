"""Review 4, findings #2 and #5: the handover client line is a function of today's state.

#2: a cancel while another process's `start` step posts the line (correct found no line, was done).
#5: chains (the cover's own handover cancelled, or the cover going away later) never updated the line."""

from __future__ import annotations

import datetime as dt

from bot.domain.links import SiteLinks
from bot.services.digests import DigestService
from bot.services.handover_steps import HandoverSteps
from tests.test_handover_steps import ANA, BEN, NAMES, START, World, slack_server  # noqa: F401 (fixture)

CLIENT = "C0ACCLIENT"
CORRECTED = "Aktualisierung: Ab 21.12.2026 sind Ihre gewohnten Ansprechpersonen in der Agentur wieder für Budget, Support da."


async def test_cancel_while_the_start_step_posts_leaves_the_client_line_wrong_for_good(sqlite_store, slack_server):  # noqa: F811
    """#2: cancelled while the start step looks the cover's name up: the start re-reads the cancel."""
    world = World(sqlite_store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    hid = next(s for s in sqlite_store.handovers.listed() if s.handover.from_user == ANA).id
    world.now = START
    cancelled = []

    async def names(user):
        # Process A's start step has claimed 'start' and looks up the cover's name; meanwhile the
        # lead cancels (the command process runs the handover's steps at once: 'correct' among them).
        if not cancelled:
            cancelled.append(await world.ask(f"handover cancel {hid}"))
        return NAMES.get(user)

    digests = DigestService(jira=world.jira, slack=world.slack, store=sqlite_store, clock=lambda: world.now)
    process_a = HandoverSteps(sqlite_store, world.accounts, digests, world.slack, lambda: world.now, names,
                              links=SiteLinks(jira="https://jira.example"), is_member=world.is_member)
    await process_a.tick()
    assert cancelled
    # Later ticks of any process, a day later: the client must not be left with the cancelled line.
    for _ in range(3):
        world.now += dt.timedelta(hours=8)
        await world.process().tick()
    texts = world.texts(CLIENT)
    updated = [u["text"] for u in world.slack.updates]
    assert not texts or texts[-1] == CORRECTED or updated[-1:] == [CORRECTED], (
        f"client channel still says {texts!r}; the handover was cancelled on its first day "
        f"(correct step: {sqlite_store.handovers.step_status(hid, 'acme', 'correct')})")


async def test_cancelling_the_covers_own_handover_leaves_the_client_line_naming_someone_no_longer_covering(sqlite_store, slack_server):  # noqa: F811
    """#5: A → B while B is away → C: the client line names C (08b2962). B's handover (B → C) is cancelled
    after the start: B is back and covers A; `who` names B. Only the cancelled handover's *own*
    line is corrected (roles_named(account, B) is empty: none), so the client keeps reading
    "until 06.01.2027 Lea Lead is your contact" for the rest of Ana's absence."""
    from tests.test_handover_steps import LEAD

    world = World(sqlite_store, slack_server)
    await world.ask(f"handover <@{BEN}|ben> <@{LEAD}|lea> 2026-12-20..2027-01-10 account acme")
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    world.now = START
    await world.steps.tick()
    assert world.texts(CLIENT) == ["Bis 06.01.2027 ist Lea Lead Ihre Ansprechperson für Budget, Support."]
    ben_away = next(s for s in sqlite_store.handovers.listed() if s.handover.from_user == BEN).id
    world.now = START + dt.timedelta(days=1)
    await world.ask(f"handover cancel {ben_away}")
    for _ in range(3):
        world.now += dt.timedelta(hours=8)
        await world.process().tick()
    who = await world.ask("wer", channel=CLIENT)
    assert "Ben Brandt" in who and "Lea Lead" not in who  # the bot's own answer today
    now_says = [u["text"] for u in world.slack.updates][-1:] or world.texts(CLIENT)[-1:]
    assert "Lea Lead" not in now_says[0], f"client line still names Lea Lead: {now_says!r}"


async def test_the_cover_going_away_later_leaves_the_client_line_naming_them(sqlite_store, slack_server):  # noqa: F811
    """#5: A → B posted "until 06.01, Ben Brandt is your contact"; a week later Ben goes away too
    (B → C). `who` now names Lea; the posted line still names Ben (nothing re-evaluates it)."""
    from tests.test_handover_steps import LEAD

    world = World(sqlite_store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    world.now = START
    await world.steps.tick()
    assert world.texts(CLIENT) == ["Bis 06.01.2027 ist Ben Brandt Ihre Ansprechperson für Budget, Support."]
    world.now = START + dt.timedelta(days=2)
    await world.ask(f"handover <@{BEN}|ben> <@{LEAD}|lea> 2026-12-23..2027-01-10 account acme")
    world.now = START + dt.timedelta(days=2, hours=1)
    for _ in range(3):
        world.now += dt.timedelta(hours=8)
        await world.process().tick()
    who = await world.ask("wer", channel=CLIENT)
    assert "Lea Lead" in who and "Ben Brandt" not in who  # the bot's own answer today
    now_says = [u["text"] for u in world.slack.updates][-1:] or world.texts(CLIENT)[-1:]
    assert "Ben Brandt" not in now_says[0], f"client line still names Ben, who is away: {now_says!r}"


async def test_cancel_while_the_start_step_is_posting_is_corrected_after_it(sqlite_store, slack_server):  # noqa: F811
    """#2, other interleaving: the cancel lands while the start's line is on its way to Slack (past
    the re-read). `correct` sees the start step running, waits (backoff), then rewrites the line."""
    world = World(sqlite_store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    hid = next(s for s in sqlite_store.handovers.listed() if s.handover.from_user == ANA).id
    world.now = START
    post = world.slack.post_message
    cancelled = []

    async def posting(channel, *args, **kwargs):
        if channel == CLIENT and not cancelled:
            cancelled.append(await world.ask(f"handover cancel {hid}"))
        return await post(channel, *args, **kwargs)

    world.slack.post_message = posting
    await world.steps.tick()
    assert cancelled and world.texts(CLIENT)  # the line went out after the cancel
    for _ in range(3):
        world.now += dt.timedelta(hours=8)
        await world.process().tick()
    assert [u["text"] for u in world.slack.updates][-1:] == [CORRECTED]


async def test_a_changed_line_is_rewritten_once_across_processes_and_ticks(sqlite_store, slack_server):  # noqa: F811
    """#5: exactly once per change: two processes and many ticks rewrite the line once for the
    cover going away (and not at all while nothing changes)."""
    from tests.test_handover_steps import LEAD

    world = World(sqlite_store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    world.now = START
    await world.steps.tick()
    other = world.process()
    for _ in range(3):
        world.now += dt.timedelta(hours=1)
        await world.steps.tick()
        await other.tick()
    assert world.slack.updates == []  # nothing changed: nothing rewritten
    await world.ask(f"handover <@{BEN}|ben> <@{LEAD}|lea> 2026-12-21..2027-01-10 account acme")
    for _ in range(3):
        world.now += dt.timedelta(hours=1)
        await world.steps.tick()
        await other.tick()
    assert [u["text"] for u in world.slack.updates] == [
        "Bis 06.01.2027 ist Lea Lead Ihre Ansprechperson für Budget, Support."]


async def test_cancelling_the_covers_handover_corrects_the_chain_line_at_once(sqlite_store, slack_server):  # noqa: F811
    """#5: right after the cancel (what `pulse serve` runs after it: `start` = the steps, then the
    related lines), before any tick, A → B's line names Ben again."""
    from tests.test_handover_steps import LEAD

    world = World(sqlite_store, slack_server)
    world.service.after_create = world.service.after_cancel = world.steps.start
    await world.ask(f"handover <@{BEN}|ben> <@{LEAD}|lea> 2026-12-20..2027-01-10 account acme")
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    await world.steps.settle()
    world.now = START
    await world.steps.tick()
    assert world.texts(CLIENT) == ["Bis 06.01.2027 ist Lea Lead Ihre Ansprechperson für Budget, Support."]
    ben_away = next(s for s in sqlite_store.handovers.listed() if s.handover.from_user == BEN).id
    world.now = START + dt.timedelta(days=1)
    await world.ask(f"handover cancel {ben_away}")
    await world.steps.settle()
    assert [u["text"] for u in world.slack.updates] == [
        "Bis 06.01.2027 ist Ben Brandt Ihre Ansprechperson für Budget, Support."]


async def test_a_handover_summary_dm_cut_off_by_a_crash_is_not_sent_again(sqlite_store, slack_server):  # noqa: F811
    """#3 (same defect, handover steps `_dm`): the summary DM is in Slack, the process dies before
    its record; the step is retried by another process: DMs cannot be read back, so not resent."""
    world = World(sqlite_store, slack_server)
    answer = world.steps.once._answer

    async def dies_on_dm(keys, channel, *args, **kwargs):
        if channel.startswith("D"):
            raise RuntimeError("killed")
        return await answer(keys, channel, *args, **kwargs)

    world.steps.once._answer = dies_on_dm
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    assert len(world.texts(world.slack.dm_channel(BEN))) == 1
    for key in [k for k in (f"handover:{s.id}:acme:summary:{u}" for s in sqlite_store.handovers.listed()
                            for u in (BEN, ANA))]:
        sqlite_store.posts.let_go([key], world.steps.owner, world.now)
    for _ in range(3):
        world.now += dt.timedelta(hours=2)
        await world.process().tick()
    assert len(world.texts(world.slack.dm_channel(BEN))) == 1, "the summary DM was sent again after a crash"
