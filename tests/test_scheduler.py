"""The scheduler tick with the real store and in-memory Jira/Slack: exactly once, also with two processes."""

import asyncio
import datetime as dt
import zoneinfo

import pytest

from bot.scheduler import DigestScheduler
from bot.services.digests import DigestService
from sandbox.agency import build_sandbox
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

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
    # The bot ran on Sunday (nothing due), then was down through Monday's slots.
    assert await _scheduler(store, slack, now=NOW - dt.timedelta(days=1)).tick() == []
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
        async def post_message(self, channel, text, blocks=None, thread_ts=None, post_key=None):
            await asyncio.sleep(0.2)  # still waiting for Slack when the process is told to stop
            return await super().post_message(channel, text, blocks, thread_ts, post_key)

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


# --- the first start, a broken schedule, health (issue #10) --------------------------------------


def _accounts_with(cron_for_acme_client: str):
    from pathlib import Path

    from bot.accounts_file import parse_accounts

    example = (Path(__file__).parents[1] / "config" / "accounts.example.yaml").read_text(encoding="utf-8")
    return parse_accounts(example.replace('cron: "0 9 * * mon"', f'cron: "{cron_for_acme_client}"'), "example")


def _skip_warnings(logs):
    return [e for e in logs if e["event"] == "digest slot skipped: missed beyond grace"]


async def test_the_first_start_does_not_warn_about_slots_from_before_the_bot_existed(store):
    from structlog.testing import capture_logs

    slack = InMemorySlack()
    sandbox = build_sandbox(NOW)
    accounts = _accounts_with("* * * * *")  # every minute: 1,440 slots in the day the tick looks back on
    service = DigestService(jira=InMemoryJira.from_seed(sandbox.seed), slack=slack, store=store, clock=lambda: clock[0])
    clock = [NOW]
    with capture_logs() as logs:
        first = await DigestScheduler(accounts, service, store, clock=lambda: clock[0]).tick()
    assert _skip_warnings(logs) == []
    assert [o for o in first if o[2] == "skipped"] == []
    # The slot of this very minute (and the others due within their grace) are still posted.
    assert sorted(c for c, _, o in first if o == "posted") == ["C0ACMECLNT", "C0ACMEINTL", "C0GLXINTL1"]

    # Down for an hour after that: those slots were this bot's to post, so they are warned about.
    clock[0] = NOW + dt.timedelta(hours=1)
    with capture_logs() as logs:
        again = await DigestScheduler(accounts, service, store, clock=lambda: clock[0]).tick()
    assert len(_skip_warnings(logs)) == 59  # 09:01 … 09:59 skipped, 10:00 posted
    assert {c for c, _, o in again if o == "skipped"} == {"C0ACMECLNT"}
    assert [s for c, s, o in again if o == "posted" and c == "C0ACMECLNT"] == [
        dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
    ]


async def test_a_store_from_before_the_first_start_record_counts_from_its_first_digest(store):
    from structlog.testing import capture_logs

    # A store that has posted digests already but has no "schedule started" entries (an upgrade).
    week_ago = NOW - dt.timedelta(days=7)
    run = store.digest_runs.claim("acme-shop", "C0ACMECLNT", week_ago, "old", week_ago)
    store.digest_runs.finish(run, "posted", week_ago)
    late = NOW + dt.timedelta(hours=4)
    with capture_logs() as logs:
        outcomes = await _scheduler(store, InMemorySlack(), now=late).tick()
    assert [e["channel"] for e in _skip_warnings(logs)] == ["C0ACMECLNT"]  # genuinely missed while down
    assert [c for c, _, o in outcomes if o == "skipped"] == ["C0ACMECLNT"]


async def test_one_channels_broken_schedule_does_not_stop_the_others(store):
    from structlog.testing import capture_logs

    from bot.domain.accounts import Audience, Channel, DigestSchedule

    slack = InMemorySlack()
    sandbox = build_sandbox(NOW)
    # check-config refuses this cron now; a config built around validation (or a schedule that
    # starts failing some other way) must still only cost its own channel.
    broken = Channel.model_construct(
        id="C0BROKEN01", audience=Audience.INTERNAL, name="#broken",
        digest=DigestSchedule.model_construct(cron="0 9 * * mo", grace_minutes=180),
    )
    acme, *others = sandbox.accounts.accounts
    accounts = sandbox.accounts.model_copy(
        update={"accounts": [acme.model_copy(update={"channels": [broken, *acme.channels]}), *others]}
    )
    service = DigestService(jira=InMemoryJira.from_seed(sandbox.seed), slack=slack, store=store, clock=lambda: NOW)
    scheduler = DigestScheduler(accounts, service, store, clock=lambda: NOW)
    with capture_logs() as logs:
        outcomes = await scheduler.tick()
    assert sorted(c for c, _, o in outcomes if o == "posted") == ["C0ACMECLNT", "C0ACMEINTL", "C0GLXINTL1"]
    assert [(c, o) for c, _, o in outcomes if o == "failed"] == [("C0BROKEN01", "failed")]
    (failure,) = [e for e in logs if e["event"] == "digest schedule failed"]
    assert (failure["channel"], failure["cron"], failure["log_level"]) == ("C0BROKEN01", "0 9 * * mo", "error")
    assert failure["exc_info"] is True  # logged with its traceback for the operator
    assert scheduler.health() == [
        "digests of channel C0BROKEN01: schedule '0 9 * * mo' failed: ValueError: Invalid weekday name \"mo\""
    ]

    # /healthz reads it: 503 naming the channel.
    import json

    from bot.app import register_scheduler_health
    from bot.domain.health import HealthChecks
    from bot.web import health_endpoint

    checks = HealthChecks()
    assert register_scheduler_health(checks, scheduler)
    response = await health_endpoint(store, checks)(None)
    assert response.status_code == 503
    assert json.loads(response.body)["problems"] == {"scheduler": scheduler.health()}


async def test_health_names_a_digest_that_raised_until_the_channel_posts_again(store):
    slack = InMemorySlack()
    sandbox = build_sandbox(NOW)
    clock = [NOW]
    service = DigestService(jira=InMemoryJira.from_seed(sandbox.seed), slack=slack, store=store, clock=lambda: clock[0])
    scheduler = DigestScheduler(sandbox.accounts, service, store, clock=lambda: clock[0])
    real_run_slot = service.run_slot

    async def run_slot(account, channel, slot):
        if channel.id == "C0GLXINTL1":
            raise RuntimeError("boom")
        return await real_run_slot(account, channel, slot)

    service.run_slot = run_slot
    outcomes = await scheduler.tick()
    assert ("C0GLXINTL1", "failed") in [(c, o) for c, _, o in outcomes]
    assert sorted(c for c, _, o in outcomes if o == "posted") == ["C0ACMECLNT", "C0ACMEINTL"]
    assert scheduler.health() == [
        "digests of channel C0GLXINTL1: digest for 2026-11-23T08:00:00+00:00 failed: RuntimeError: boom"
    ]
    clock[0] = NOW + dt.timedelta(minutes=1)
    await scheduler.tick()  # nothing new is run for globex: still failing
    assert len(scheduler.health()) == 1


async def test_health_says_when_the_scheduler_is_stuck(store):
    clock = [NOW]
    entered, release = asyncio.Event(), asyncio.Event()

    class HangingService:
        async def run_slot(self, account, channel, slot):
            entered.set()
            await release.wait()  # Slack or Jira never answering, for example
            raise AssertionError("not reached in this test")

    scheduler = DigestScheduler(build_sandbox(NOW).accounts, HangingService(), store, clock=lambda: clock[0])
    tick = asyncio.create_task(scheduler.tick())
    await asyncio.wait_for(entered.wait(), 10)
    clock[0] = NOW + dt.timedelta(minutes=15)
    assert scheduler.health() == []  # slow is not stuck
    clock[0] = NOW + dt.timedelta(minutes=16)
    assert scheduler.health() == [f"scheduler stuck: a digest tick has been running since {NOW.isoformat()}"]
    tick.cancel()
    with pytest.raises(asyncio.CancelledError):
        await tick
    assert scheduler.health() == []  # the tick ended (here: cancelled); the next one starts afresh
