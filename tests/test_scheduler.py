"""The scheduler tick with the real store and in-memory Jira/Slack: exactly once, also with two processes."""

import asyncio
import datetime as dt
import zoneinfo

from bot.sandbox import build_sandbox
from bot.scheduler import DigestScheduler
from bot.services.digests import DigestService
from integrations.jira import InMemoryJira
from integrations.slack import InMemorySlack

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Monday 23 Nov 2026 09:00:30 Berlin: acme-shop's client digest (mon 09:00) and internal (08:30) are due.
NOW = dt.datetime(2026, 11, 23, 9, 0, 30, tzinfo=BERLIN).astimezone(dt.timezone.utc)


def _scheduler(store, slack, now=NOW):
    sandbox = build_sandbox(NOW)
    jira = InMemoryJira.from_seed(sandbox.seed)
    service = DigestService(jira=jira, slack=slack, store=store, clock=lambda: now)
    return DigestScheduler(sandbox.accounts, service, store, clock=lambda: now)


async def test_due_slots_post_once_across_two_processes_and_repeated_ticks(store):
    slack = InMemorySlack()
    first, second = _scheduler(store, slack), _scheduler(store, slack)
    outcomes = await asyncio.gather(first.tick(), second.tick(), first.tick())
    posted = [o for batch in outcomes for o in batch if o[2] == "posted"]
    channels = sorted(c for c, _, _ in posted)
    # acme client (Mon 09:00), acme internal (08:30 weekdays), northwind internal (09:00 New York is later),
    # globex internal (Mon 08:00 London = 09:00 Berlin).
    assert channels == ["C0ACMECLNT", "C0ACMEINTL", "C0GLXINTL1"]
    parents = [m for m in slack.messages if m["thread_ts"] is None]
    assert sorted(m["channel"] for m in parents) == channels
    again = await first.tick()
    assert [o for o in again if o[2] == "posted"] == []


async def test_slots_missed_beyond_grace_are_skipped_not_posted(store):
    slack = InMemorySlack()
    late = NOW + dt.timedelta(hours=4)  # past the default 3 h grace
    outcomes = await _scheduler(store, slack, now=late).tick()
    assert slack.messages == []
    assert sorted(c for c, _, o in outcomes if o == "skipped") == ["C0ACMECLNT", "C0ACMEINTL", "C0GLXINTL1"]
    run = store.digest_runs.for_channel("C0ACMECLNT")[0]
    assert (run["status"], run["error"]) == ("skipped", "missed beyond grace")


async def test_a_slot_delayed_by_jira_is_posted_once_jira_is_back_and_the_notice_is_not_repeated(store):
    from bot.errors import UpstreamError

    slack = InMemorySlack()
    sandbox = build_sandbox(NOW)
    jira = InMemoryJira.from_seed(sandbox.seed)
    jira.error = UpstreamError("jira", "503 Service Unavailable", retryable=True, status=503)
    clock = [NOW]

    async def no_sleep(_):
        return None

    service = DigestService(jira=jira, slack=slack, store=store, clock=lambda: clock[0], retry_delays=(1,), sleep=no_sleep)
    scheduler = DigestScheduler(sandbox.accounts, service, store, clock=lambda: clock[0])

    first = await scheduler.tick()
    assert {o for _, _, o in first} == {"delayed"}
    notices = [m for m in slack.messages if "delayed" in m["text"] or "verspätet" in m["text"]]
    # One notice per delayed slot, in the internal channel only: acme's two digests have two slots.
    assert sorted(m["channel"] for m in notices) == ["C0ACMEINTL", "C0ACMEINTL", "C0GLXINTL1"]

    clock[0] = NOW + dt.timedelta(minutes=2)
    assert [o for o in await scheduler.tick() if o[2] != "claimed-elsewhere"] == []  # too early to retry

    jira.error = None
    clock[0] = NOW + dt.timedelta(minutes=6)
    retried = await scheduler.tick()
    assert sorted(c for c, _, o in retried if o == "posted") == ["C0ACMECLNT", "C0ACMEINTL", "C0GLXINTL1"]
    assert len([m for m in slack.messages if "delayed" in m["text"] or "verspätet" in m["text"]]) == 3


async def test_stopping_lets_a_tick_in_progress_finish_so_nothing_is_posted_twice(store):
    class SlowSlack(InMemorySlack):
        async def post_message(self, channel, text, blocks=None, thread_ts=None):
            await asyncio.sleep(0.2)  # still waiting for Slack when the process is told to stop
            return await super().post_message(channel, text, blocks, thread_ts)

    slack = SlowSlack()
    scheduler = _scheduler(store, slack)
    scheduler.start()
    for _ in range(100):  # until the first post is on its way
        await asyncio.sleep(0.01)
        if scheduler._running is not None:
            break
    await scheduler.stop(timeout=10)
    posted = len(slack.messages)
    assert posted >= 3  # every due digest finished, none cut off between Slack and the store
    restarted = await _scheduler(store, slack).tick()
    assert [o for o in restarted if o[2] == "posted"] == []
    assert len(slack.messages) == posted


async def test_a_delayed_slot_past_its_grace_is_closed_as_skipped(store):
    from bot.errors import UpstreamError

    slack = InMemorySlack()
    sandbox = build_sandbox(NOW)
    jira = InMemoryJira.from_seed(sandbox.seed)
    jira.error = UpstreamError("jira", "503", retryable=True, status=503)
    clock = [NOW]

    async def no_sleep(_):
        return None

    service = DigestService(jira=jira, slack=slack, store=store, clock=lambda: clock[0], retry_delays=(), sleep=no_sleep)
    scheduler = DigestScheduler(sandbox.accounts, service, store, clock=lambda: clock[0])
    assert {o for _, _, o in await scheduler.tick()} == {"delayed"}
    clock[0] = NOW + dt.timedelta(hours=4)  # Jira still down, grace (3 h) over
    late = await scheduler.tick()
    assert sorted(c for c, _, o in late if o == "skipped") == ["C0ACMECLNT", "C0ACMEINTL", "C0GLXINTL1"]
    assert {r["status"] for r in store.digest_runs.for_channel("C0ACMECLNT")} == {"skipped"}
    assert await scheduler.tick() == []
