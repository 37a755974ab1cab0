"""/healthz names what is wrong: the database, and every registered component (the inbox worker,
the scheduler) that is failing, stuck or stopped."""

import asyncio
import datetime as dt

import httpx

from bot.app import register_scheduler_health
from bot.domain.health import HealthChecks, WorkerPulse, inbox_worker_problems
from bot.services.inbox_worker import InboxWorker, WorkerSettings, run_inbox_worker, stop_inbox_worker
from bot.web import build_web_app
from sandbox.agency import sandbox_accounts
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)


def test_the_registry_lists_problems_by_component_and_a_raising_check_is_a_problem():
    checks = HealthChecks()
    checks.register("quiet", lambda: [])
    checks.register("worker", lambda: ["stuck"])

    def broken():
        raise RuntimeError("store gone")

    checks.register("broken", broken)
    assert checks.problems() == {"broken": ["its health check failed: RuntimeError: store gone"], "worker": ["stuck"]}
    checks.unregister("broken")
    checks.unregister("worker")
    assert checks.problems() == {}


def test_the_inbox_worker_is_stuck_only_while_someone_waits_and_no_pass_succeeds():
    pulse = WorkerPulse(started_at=NOW)
    stuck_after = 10 * MIN
    # Nothing waiting: however long ago the last pass, nothing is stuck.
    assert inbox_worker_problems(pulse, NOW + 60 * MIN, waiting_since=None, stuck_after=stuck_after) == []
    # A delivery waiting for long, but the worker passed a moment ago (e.g. it is retrying later).
    pulse.passed(NOW + 59 * MIN)
    assert inbox_worker_problems(pulse, NOW + 60 * MIN, waiting_since=NOW, stuck_after=stuck_after) == []
    # Waiting for long and no pass for long: stuck.
    (problem,) = inbox_worker_problems(pulse, NOW + 70 * MIN, waiting_since=NOW, stuck_after=stuck_after)
    assert problem.startswith("inbox worker stuck: no successful pass since 2026-11-20T09:59:00+00:00")
    # A delivery that only just became due does not make it stuck yet.
    assert inbox_worker_problems(pulse, NOW + 70 * MIN, waiting_since=NOW + 65 * MIN, stuck_after=stuck_after) == []


def test_the_inbox_worker_is_failing_after_three_failed_passes_and_a_pass_clears_it():
    pulse = WorkerPulse(started_at=NOW)
    for _ in range(2):
        pulse.failed(RuntimeError("database is locked"))
    assert inbox_worker_problems(pulse, NOW, waiting_since=None, stuck_after=10 * MIN) == []
    pulse.failed(RuntimeError("database is locked"))
    assert inbox_worker_problems(pulse, NOW, waiting_since=None, stuck_after=10 * MIN) == [
        "inbox worker failing: its last 3 passes failed (RuntimeError: database is locked)"
    ]
    pulse.passed(NOW)
    assert inbox_worker_problems(pulse, NOW, waiting_since=None, stuck_after=10 * MIN) == []
    assert inbox_worker_problems(pulse, NOW, waiting_since=None, stuck_after=10 * MIN, stopped="its task ended") == [
        "inbox worker stopped: its task ended; deliveries are stored but not posted until pulse serve restarts"
    ]


def test_waiting_since_counts_due_deliveries_leased_or_not(store):
    assert store.inbox.waiting_since(NOW) is None
    store.inbox.add("jira", "a", "{}", None, NOW - 30 * MIN)
    store.inbox.add("jira", "b", "{}", None, NOW - 5 * MIN)
    assert store.inbox.waiting_since(NOW) == NOW - 30 * MIN
    (first,) = store.inbox.claim_due(NOW, 1, 5 * MIN)  # leased by a (stuck) batch: still waiting
    assert store.inbox.waiting_since(NOW) == NOW - 30 * MIN
    # Put off until later by a retry: due again from then on, not from its arrival.
    store.inbox.retry_later(first.id, "boom", NOW + 10 * MIN, dead=False)
    assert store.inbox.waiting_since(NOW) == NOW - 5 * MIN
    assert store.inbox.waiting_since(NOW + 20 * MIN) == NOW - 5 * MIN
    later = store.inbox.waiting_since(NOW + 20 * MIN)
    assert later.tzinfo is not None


async def _healthz(store, checks):
    app = build_web_app(store=store, jira_secret="x", confluence_secret=None, max_webhook_bytes=1024,
                        clock=lambda: NOW, health=checks)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as c:
        return await c.get("/healthz")


async def test_healthz_is_503_naming_a_failing_and_stuck_inbox_worker(sqlite_store):
    now = [NOW]
    checks = HealthChecks()
    sqlite_store.inbox.add("jira", "d-1", "{}", None, NOW - 30 * MIN)

    def locked(_now):
        raise RuntimeError("database is locked")

    sqlite_store.inbox.oldest_due = locked  # every pass of the worker fails
    task, stop = run_inbox_worker(
        InboxWorker(sqlite_store, sandbox_accounts(), InMemorySlack(), None, lambda: now[0],
                    WorkerSettings(poll_seconds=0.01)),
        health=checks,
    )
    try:
        healthy = await _healthz(sqlite_store, checks)  # registered, but nothing has failed yet
        for _ in range(500):  # the worker polls every 10 ms: three failed passes come soon
            if checks.problems():
                break
            await asyncio.sleep(0.01)
        now[0] = NOW + 11 * MIN
        response = await _healthz(sqlite_store, checks)
    finally:
        await stop_inbox_worker(task, stop)
    assert healthy.status_code == 200 and checks.names == ["inbox_worker"]
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["inbox"]) == ("error", "ok", {"pending": 1})
    failing, stuck = body["problems"]["inbox_worker"]
    assert failing.startswith("inbox worker failing: its last ") and "RuntimeError: database is locked" in failing
    assert stuck.startswith("inbox worker stuck: no successful pass since 2026-11-20T09:00:00+00:00")


async def test_healthz_is_503_when_the_inbox_worker_task_died(sqlite_store):
    checks = HealthChecks()
    task, stop = run_inbox_worker(InboxWorker(sqlite_store, sandbox_accounts(), InMemorySlack(), None, lambda: NOW), health=checks)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    response = await _healthz(sqlite_store, checks)
    assert response.status_code == 503
    assert response.json()["problems"] == {
        "inbox_worker": ["inbox worker stopped: its task ended; deliveries are stored but not posted until pulse serve restarts"]
    }


async def test_healthz_stays_503_for_an_unreachable_database_before_any_component(tmp_path):
    from integrations.store.store import Store

    broken = Store.open(f"sqlite:///{tmp_path}/missing-dir/pulse.db")
    checks = HealthChecks()
    checks.register("inbox_worker", lambda: ["stuck"])
    response = await _healthz(broken, checks)
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}


def test_the_scheduler_hook_registers_a_scheduler_health_function():
    class Scheduler:
        def health(self):
            return ["digests of channel C0ACMECLNT: bad cron"]

    checks = HealthChecks()
    assert register_scheduler_health(checks, object()) is False
    assert checks.names == []
    assert register_scheduler_health(checks, Scheduler()) is True
    assert checks.problems() == {"scheduler": ["digests of channel C0ACMECLNT: bad cron"]}


def test_a_slack_pause_is_a_health_problem_while_it_lasts():
    from integrations.slack import SlackPause

    pause = SlackPause(client=None, clock=lambda: NOW)
    checks = HealthChecks()
    checks.register("slack", pause.health)
    assert checks.problems() == {}
    pause.trip("token_revoked")
    assert checks.problems() == {"slack": [
        "slack posting paused since 2026-11-20T09:00:00+00:00: Slack refused the bot token (token_revoked); "
        "check SLACK_BOT_TOKEN and that the app is still installed"]}
