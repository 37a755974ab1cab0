"""Review 4, finding #3 (DUPLICATE): a DM cut off by a crash was sent again. `InMemorySlack` now
has the production adapter's rule (integrations/slack.py `find_post`: no im:history, a `D…`
channel is never read), so an uncertain DM cannot be settled from history; the DMs go through
`OncePoster.post_unread` (at most once)."""

from __future__ import annotations

import datetime as dt

from tests.fakes.slack import InMemorySlack
from tests.test_handover_during import ACCOUNTS, BEN, NOW, _away, _comment, _worker, add


async def test_the_fake_slack_like_the_adapter_cannot_read_dms():
    """#3: the fake must not settle what production cannot (the old fake read DMs)."""
    slack = InMemorySlack()
    channel = await slack.open_dm(BEN)
    await slack.post_message(channel, "hi", post_key="k")
    assert await slack.find_post(channel, "k", NOW) is None


async def test_a_cover_dm_cut_off_by_a_crash_is_sent_again_by_the_real_adapter(sqlite_store):
    """#3: the cover DM is claimed, Slack has it, the process dies before the record: not sent again."""
    store = sqlite_store
    _away(store)
    slack = InMemorySlack()
    assert slack.dm_channel(BEN).startswith("D")
    add(store, _comment("90001"), "d-1")
    first = _worker(store, slack, lambda: NOW)
    (item,) = store.inbox.claim_due(NOW, 10, dt.timedelta(seconds=10), first.owner)
    work = await first._normalize(item)
    plan = await first._poster(ACCOUNTS).plan([work], {})
    async def dies(*args, **kwargs):  # the process dies between Slack's answer and the record
        raise RuntimeError("killed")

    first.cover_dms.once._answer = dies
    await first.cover_dms.send(plan.covered)  # the DM is in Slack; nothing recorded
    assert store.posts.get(f"cover-dm:{store.handovers.listed()[-1].id}:TES-1:2026-11-23:{BEN}").ts is None
    assert len(slack.dms_to(BEN)) == 1
    key = f"cover-dm:{store.handovers.listed()[-1].id}:TES-1:2026-11-23:{BEN}"
    store.posts.let_go([key], first.owner, NOW)  # as a crash between Slack's answer and the record
    later = NOW + dt.timedelta(minutes=1)
    await _worker(store, slack, lambda: later).run_once()
    assert store.posts.get(key) is not None
    assert len(slack.dms_to(BEN)) == 1, "the cover got the same DM twice (post, not post_unread)"


async def test_control_the_projects_own_crash_test_records_the_dm_before_its_let_go(sqlite_store):
    """#3 control (reviewer's): tests/test_handover_during.py::test_a_dm_cut_off_by_a_crash_is_settled_not_sent_again calls
    `send` to completion (the answer is recorded, state done), so its `let_go` (POSTING rows only)
    changes nothing: it never exercises a crash."""
    store = sqlite_store
    _away(store)
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    first = _worker(store, slack, lambda: NOW)
    (item,) = store.inbox.claim_due(NOW, 10, dt.timedelta(seconds=10), first.owner)
    work = await first._normalize(item)
    plan = await first._poster(ACCOUNTS).plan([work], {})
    await first.cover_dms.send(plan.covered)
    key = f"cover-dm:{store.handovers.listed()[-1].id}:TES-1:2026-11-23:{BEN}"
    assert store.posts.get(key).ts is not None  # recorded: nothing uncertain left to settle
