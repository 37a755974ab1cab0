"""Exactly-once posting through a crash, on SQLite and PostgreSQL, through the real slack_sdk client
and the fake Slack server: the intent is recorded before Slack is called, and a post a dead worker
left uncertain is settled from the channel's history (found: recorded, not posted again; not
found: posted once)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.errors import UpstreamError
from bot.render.blocks import Message
from bot.services.exactly_once import OncePoster, PostBusy, message_key
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from sandbox.slack_server import FakeSlack

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
LEASE = dt.timedelta(seconds=15)
CHANNEL = "C0ACMEINTL"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def _slack(fake) -> SlackWeb:
    return SlackWeb(make_web_client(fake.token, fake.api_url), ChannelPacer(0))


class Dies(Exception):
    """The process dies here (SIGKILL): nothing after this line runs."""


def _poster(store, fake, clock, name, die_after_slack=False) -> OncePoster:
    once = OncePoster(store, _slack(fake), clock, name, LEASE)
    if die_after_slack:
        def answer(*args, **kwargs):
            raise Dies()  # Slack answered; the record never happens

        once.store = _StoreWithout(store, answer)
    return once


class _StoreWithout:
    """The store as a dying process sees it: Slack's answer is never written."""

    def __init__(self, store, answer) -> None:
        self.threads = store.threads
        self.posts = _PostsWithout(store.posts, answer)


class _PostsWithout:
    def __init__(self, posts, answer) -> None:
        self._posts, self.answer = posts, answer

    def __getattr__(self, name):
        return getattr(self._posts, name)


def _states(store, keys):
    return {k: (p.state, p.ts) if (p := store.posts.get(k)) else None for k in keys}


async def test_a_post_a_crash_left_uncertain_is_found_in_slack_and_not_posted_again(store, fake):
    clock = Clock()
    dead = _poster(store, fake, clock, "w-dead", die_after_slack=True)
    with pytest.raises(Exception) as info:
        await dead.post(["k-1"], CHANNEL, Message("ACME-1 created"), thread_issue="ACME-1")
    assert isinstance(info.value.__cause__, Dies)
    assert fake.post_keys() == [message_key(["k-1"])]
    assert _states(store, ["k-1"]) == {"k-1": ("posting", None)}
    # Not yet: the dead worker's lease has not run out, and nobody may guess it is dead.
    alive = _poster(store, fake, clock, "w-new")
    clock.now += dt.timedelta(seconds=5)
    with pytest.raises(PostBusy):
        await alive.post(["k-1"], CHANNEL, Message("ACME-1 created"), thread_issue="ACME-1")
    clock.now += LEASE
    posted = await alive.post(["k-1"], CHANNEL, Message("ACME-1 created"), thread_issue="ACME-1")
    (ts,) = [m["ts"] for m in fake.history[CHANNEL]]
    assert (posted.ts, posted.new) == (ts, False)
    assert len(fake.posted()) == 1  # settled, not posted again
    assert _states(store, ["k-1"]) == {"k-1": ("done", ts)}
    # The found message is the issue's thread parent, as if it had been recorded normally.
    assert store.threads.parent(CHANNEL, "ACME-1").ts == ts
    assert store.threads.parent(CHANNEL, "ACME-1").text == "ACME-1 created"
    # Only the uncertain post looked at history, in its channel, with metadata.
    (search,) = fake.calls_to("conversations.history")
    assert (search.args["channel"], search.args["include_all_metadata"]) == (CHANNEL, "1")
    # And it is done: posting the key again does nothing and asks Slack nothing.
    again = await alive.post(["k-1"], CHANNEL, Message("ACME-1 created"))
    assert (again.ts, again.new) == (ts, False)
    assert len(fake.calls_to("conversations.history")) == 1 and len(fake.posted()) == 1


async def test_an_intent_slack_never_saw_is_posted_once_after_the_lease(store, fake):
    clock = Clock()
    # The worker died after recording its intent, before Slack was called.
    store.posts.intend(["k-1"], CHANNEL, message_key(["k-1"]), None, None, "w-dead", clock.now, LEASE)
    clock.now += LEASE
    posted = await _poster(store, fake, clock, "w-new").post(["k-1"], CHANNEL, Message("hello"))
    assert posted.new and fake.post_keys() == [message_key(["k-1"])]
    assert _states(store, ["k-1"]) == {"k-1": ("done", posted.ts)}


async def test_an_uncertain_reply_is_looked_for_in_its_thread(store, fake):
    clock = Clock()
    first = await _poster(store, fake, clock, "w-1").post(["k-parent"], CHANNEL, Message("parent"))
    dead = _poster(store, fake, clock, "w-dead", die_after_slack=True)
    with pytest.raises(Exception):
        await dead.post(["k-reply"], CHANNEL, Message("reply"), thread_ts=first.ts)
    clock.now += LEASE
    posted = await _poster(store, fake, clock, "w-new").post(["k-reply"], CHANNEL, Message("reply"), thread_ts=first.ts)
    assert not posted.new and posted.thread_ts == first.ts
    assert len(fake.posted()) == 2
    (search,) = fake.calls_to("conversations.replies")
    assert search.args["ts"] == first.ts


async def test_slack_saying_no_forgets_the_intent_and_no_answer_keeps_it(store, fake):
    clock = Clock()
    once = _poster(store, fake, clock, "w-1")
    fake.fail("chat.postMessage", 200, error="channel_not_found")
    with pytest.raises(UpstreamError):
        await once.post(["k-no"], "C0GONE", Message("x"))
    assert store.posts.get("k-no") is None  # Slack has no such message: nothing to settle later
    fake.fail("chat.postMessage", 503)
    with pytest.raises(UpstreamError) as info:
        await once.post(["k-maybe"], CHANNEL, Message("x"))
    assert info.value.uncertain
    # Kept, and no longer leased: the next try settles it at once (here: not found, so posted).
    assert _states(store, ["k-maybe"]) == {"k-maybe": ("posting", None)}
    other = _poster(store, fake, clock, "w-2")
    posted = await other.post(["k-maybe"], CHANNEL, Message("x"))
    assert posted.new and len(fake.posted()) == 1
    assert len(fake.calls_to("conversations.history")) == 1


async def test_a_live_workers_intent_is_never_taken(store, fake):
    clock = Clock()
    store.posts.intend(["k-1", "k-2"], CHANNEL, message_key(["k-1", "k-2"]), None, None, "w-live", clock.now, LEASE)
    thief = _poster(store, fake, clock, "w-other")
    for seconds in (0, 10, 14):
        clock.now = NOW + dt.timedelta(seconds=seconds)
        with pytest.raises(PostBusy):
            await thief.post(["k-2"], CHANNEL, Message("x"))
        # The live worker's heartbeat renews its lease.
        assert store.posts.renew("w-live", clock.now, LEASE) == 2
    clock.now = NOW + dt.timedelta(seconds=28)
    with pytest.raises(PostBusy):
        await thief.post(["k-2"], CHANNEL, Message("x"))
    assert fake.posted() == [] and fake.calls_to("conversations.history") == []


async def test_a_burst_grouped_differently_after_the_crash_is_settled_then_planned_again(store, fake):
    clock = Clock()
    dead = _poster(store, fake, clock, "w-dead", die_after_slack=True)
    with pytest.raises(Exception):
        await dead.post(["k-1", "k-2", "k-3"], CHANNEL, Message("3 issues changed"))
    clock.now += LEASE
    new = _poster(store, fake, clock, "w-new")
    # After the restart a fourth delivery joined the burst: the old message is found and recorded
    # for its three keys; the caller plans again and posts only what is left.
    with pytest.raises(PostBusy):
        await new.post(["k-1", "k-2", "k-3", "k-4"], CHANNEL, Message("4 issues changed"))
    (ts,) = [m["ts"] for m in fake.history[CHANNEL]]
    assert _states(store, ["k-1", "k-2", "k-3", "k-4"]) == {
        "k-1": ("done", ts), "k-2": ("done", ts), "k-3": ("done", ts), "k-4": None}
    assert store.posts.recorded(["k-1", "k-2", "k-3", "k-4"]) == {"k-1", "k-2", "k-3"}
    posted = await new.post(["k-4"], CHANNEL, Message("1 issue changed"))
    assert posted.new and len(fake.posted()) == 2


async def test_two_workers_racing_for_one_key_post_it_once(store, fake):
    import asyncio

    clock = Clock()
    workers = [_poster(store, fake, clock, f"w-{n}") for n in range(4)]
    results = await asyncio.gather(
        *(w.post(["k-twin"], CHANNEL, Message("comment")) for w in workers), return_exceptions=True
    )
    assert len(fake.posted()) == 1
    assert sum(1 for r in results if not isinstance(r, BaseException) and r.new) == 1
    # The others were told to wait (the winner was still posting) or found it done.
    assert all(isinstance(r, PostBusy) for r in results if isinstance(r, BaseException))


# --- leases renewed while a worker works (heartbeat) -------------------------------------------


class SlowSlack:
    """An in-memory Slack whose every post takes `seconds` (Slack slow, or pacing a long burst)."""

    def __init__(self, seconds: float) -> None:
        from tests.fakes.slack import InMemorySlack

        self.inner, self.seconds = InMemorySlack(), seconds

    async def post_message(self, *args, **kwargs):
        import asyncio

        await asyncio.sleep(self.seconds)
        return await self.inner.post_message(*args, **kwargs)

    async def find_post(self, *args, **kwargs):
        return await self.inner.find_post(*args, **kwargs)


def _inbox_with(store, n: int) -> None:
    import copy
    import json

    from tests.fixtures import real_payload

    base = real_payload("pinpoint-jira/internal/testdata/jira:issue_created.json")
    for i in range(n):
        payload = copy.deepcopy(base)  # derived from the real capture: n issues created
        payload["issue"]["key"] = f"GOLD-{800 + i}"
        assert store.inbox.add("jira", f"hb-{i}", json.dumps(payload), payload["webhookEvent"], NOW)


async def _race(store, heartbeat: dt.timedelta) -> tuple[SlowSlack, SlowSlack, list[int]]:
    """Worker A takes a batch and posts slowly (~1.8 s, nearly twice its lease); worker B tries to
    claim every 50 ms meanwhile. What B claimed each time, and both Slacks."""
    import asyncio

    from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
    from bot.services.inbox_worker import InboxWorker, WorkerSettings

    accounts = AccountsConfig(accounts=[Account(
        key="gold", name="Gold", timezone="Europe/Berlin", jira=JiraScope(projects=["GOLD"]),
        channels=[Channel(id="C0GOLDCLI", audience=Audience.CLIENT), Channel(id="C0GOLDINT", audience=Audience.INTERNAL)])])
    settings = WorkerSettings(lease=dt.timedelta(seconds=1), heartbeat=heartbeat, burst_threshold=1000)
    _inbox_with(store, 3)
    slow, other = SlowSlack(0.6), SlowSlack(0)
    a = InboxWorker(store, accounts, slow, None, settings=settings)
    b = InboxWorker(store, accounts, other, None, settings=settings)
    batch = asyncio.create_task(a.run_once())
    claimed_by_b = []
    while not batch.done():
        await asyncio.sleep(0.05)
        claimed_by_b.append((await b.run_once()).claimed)
    await batch
    return slow, other, claimed_by_b


async def test_a_slow_worker_that_heart_beats_keeps_its_claim(store):
    slow, other, claimed_by_b = await _race(store, heartbeat=dt.timedelta(seconds=0.1))
    assert len(claimed_by_b) > 10  # B kept trying all through A's batch
    assert set(claimed_by_b) == {0} and other.inner.messages == []
    assert len(slow.inner.messages) == 6  # 3 issues × 2 channels, each once
    assert store.inbox.counts() == {"done": 3}


async def test_without_its_heartbeat_the_same_slow_worker_would_lose_its_claim(store):
    # The control for the test above: what the heartbeat prevents does happen without it.
    _, other, claimed_by_b = await _race(store, heartbeat=dt.timedelta(hours=1))
    assert sum(claimed_by_b) == 3


async def test_one_worker_posting_the_same_dm_twice_at_once_posts_it_once(store):
    """Two tasks of one worker (e.g. Slack's event and its retry, handled at once) post the same
    key to a DM: the second must not take the first's unanswered try for its own crashed one —
    a DM cannot be found in history to settle it, so it would be sent again."""
    import asyncio

    from tests.fakes.slack import InMemorySlack

    slack = InMemorySlack()
    once = OncePoster(store, slack, lambda: NOW, "w1", LEASE)
    channel = await slack.open_dm("U0ANNA")
    results = await asyncio.gather(
        *(once.post(["nudge:U0ANNA"], channel, Message("away?")) for _ in range(2)), return_exceptions=True
    )
    assert len(slack.dms_to("U0ANNA")) == 1, results
    assert sum(isinstance(r, PostBusy) for r in results) == 1
