"""Review 4, support findings (#1 permalink outside the filing heartbeat, #3 emergency DM resent after
a crash, #4 replies mirrored into another client's issue, #6 emergency DMs without an agency-member check)."""

from __future__ import annotations

import datetime as dt

from tests.test_support_requests import World, world  # noqa: F401  (fixture)


async def test_an_emergency_dm_cut_off_by_a_crash_is_not_sent_again(world):  # noqa: F811
    """#3 (same defect, support): the emergency DM went through `poster.post`; a crash between
    Slack's answer and its record made the next tick (announce_owed) send it again, since DMs
    cannot be read back to settle it. Now `post_unread`: at most once."""
    poster = world.service.poster
    answer = poster._answer

    async def dies_on_dm(keys, *args, **kwargs):
        if keys[0].startswith("support:1:dm:"):
            raise RuntimeError("killed")
        return await answer(keys, *args, **kwargs)

    poster._answer = dies_on_dm
    try:
        await world.mention("notfall Der Shop ist down!")
    except Exception:
        pass  # the process "dies" here
    assert len(world.slack.dms_to("U0ACMESUP1")) == 1
    world.store.posts.let_go(["support:1:dm:U0ACMESUP1"], poster.owner, world.now)
    world.now += dt.timedelta(minutes=5)
    world.service = world.make_service("worker-2")
    await world.service.tick()
    await world.service.tick()
    assert len(world.slack.dms_to("U0ACMESUP1")) == 1, "the emergency DM was sent again after a crash"
