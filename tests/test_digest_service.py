"""Digest service end to end: real atlassian-python-api → fake Jira, real slack_sdk → fake Slack."""

import datetime as dt
import zoneinfo

import pytest

from bot.domain.accounts import Audience
from bot.services.digests import DigestService
from integrations.jira import AtlassianJira
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from integrations.upstream_errors import RetryPolicy
from sandbox.agency import sandbox_accounts
from sandbox.atlassian_server import (
    AtlassianSeed,
    Failure,
    FakeAtlassian,
    fix_version_ref,
    issue_json,
    user_json,
    version_json,
    worklog_json,
)
from sandbox.slack_server import FakeSlack

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Friday 20 November 2026, 09:00 in Berlin: 15 working days of November have passed (incl. today).
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN).astimezone(dt.timezone.utc)
ACCOUNTS = sandbox_accounts()
ACME = ACCOUNTS.by_key("acme-shop")
ANNA = user_json("5b10a2844c20165700ede21g", "Anna Schmidt", "anna.schmidt@agency.example")


def _seed() -> AtlassianSeed:
    release = version_json("10010", "Relaunch", 10000, release_date=dt.date(2026, 12, 4))
    created = dt.datetime(2026, 10, 1, 9, tzinfo=dt.timezone.utc)
    issues = [
        issue_json("1", "ACME-1", "Checkout redesign", project_id="10000", project_name="ACME", created=created,
                   status="In Progress", status_category="indeterminate", due=dt.date(2026, 11, 25),
                   assignee=ANNA, fix_versions=[fix_version_ref(release)]),
        issue_json("2", "ACME-2", "Agency retro notes", project_id="10000", project_name="ACME", created=created,
                   labels=["internal"]),
        issue_json("3", "ACME-3", "Newsletter template", project_id="10000", project_name="ACME", created=created,
                   status="Done", status_category="done", resolved=dt.datetime(2026, 11, 18, 10, tzinfo=dt.timezone.utc),
                   fix_versions=[fix_version_ref(release)]),
    ]
    h = 3600
    worklogs = {
        "ACME-1": [
            worklog_json("101", "1", dt.datetime(2026, 11, 3, 9, tzinfo=BERLIN), 3 * h, ANNA),
            worklog_json("102", "1", dt.datetime(2026, 11, 17, 14, tzinfo=BERLIN), 2 * h + 1800, ANNA),
            # October in Berlin (23:30 on the 31st): not this month's budget.
            worklog_json("103", "1", dt.datetime(2026, 10, 31, 23, 30, tzinfo=BERLIN), 4 * h, ANNA),
        ],
        "ACME-2": [worklog_json("201", "2", dt.datetime(2026, 11, 10, 9, tzinfo=BERLIN), 6 * h, ANNA)],
        "ACME-3": [worklog_json("301", "3", dt.datetime(2026, 11, 2, 0, 30, tzinfo=BERLIN), 4 * h, ANNA)],
    }
    return AtlassianSeed(issues=issues, worklogs=worklogs, versions={"ACME": [release]})


@pytest.fixture
def jira_fake():
    with FakeAtlassian(_seed()) as fake:
        yield fake


@pytest.fixture
def slack_fake():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def service(jira_fake, slack_fake, sqlite_store):
    jira = AtlassianJira(jira_fake.url, user="bot@agency.example", api_token="t", retry=RetryPolicy(attempts=2, base_delay=0, jitter=0))
    slack = SlackWeb(make_web_client(slack_fake.token, slack_fake.api_url), ChannelPacer(0))

    async def no_sleep(_):
        return None

    yield DigestService(jira=jira, slack=slack, store=sqlite_store, clock=lambda: NOW, retry_delays=(1, 1), sleep=no_sleep)
    jira.close()


async def test_internal_digest_counts_every_hour_of_the_month_with_money(service):
    digest, rendered, data = await service.compose(ACME, Audience.INTERNAL, NOW)
    # November in Berlin: 3 + 2.5 (ACME-1) + 6 (ACME-2, internal) + 4 (ACME-3) = 15.5 h; Oct 31 excluded.
    assert digest.budget.spent_hours == pytest.approx(15.5)
    assert digest.budget.remaining_hours == pytest.approx(104.5)
    # 15.5 h over 15 working days = 1.03 h/day.
    assert "15,5 h von 120 h verbraucht" in rendered.text
    assert "1.705,00\xa0€" in rendered.text  # 15.5 h × 110 €
    assert data.calls == 2  # one search page + one versions call


async def test_client_digest_withholds_internal_work_from_counts_and_money(service):
    digest, rendered, _ = await service.compose(ACME, Audience.CLIENT, NOW)
    # Without ACME-2 (label `internal`): 3 + 2.5 + 4 = 9.5 h, and no money for this client.
    assert digest.budget.spent_hours == pytest.approx(9.5)
    assert "9,5 h von 120 h verbraucht" in rendered.text
    assert "ACME-2" not in rendered.text and "retro" not in rendered.text
    assert "€" not in rendered.text
    (milestone,) = digest.milestones.milestones
    assert (milestone.name, milestone.issues_done, milestone.issues_total, milestone.days_left) == ("Relaunch", 1, 2, 14)


async def test_scheduled_slot_posts_once(service, slack_fake, sqlite_store):
    channel = ACME.channel("C0ACMEINTL")
    slot = NOW
    first = await service.run_slot(ACME, channel, slot)
    second = await service.run_slot(ACME, channel, slot)
    assert (first.status, second.status) == ("posted", "claimed-elsewhere")
    posted = slack_fake.posted("C0ACMEINTL")
    assert len(posted) == first.messages == 1
    assert "ACME Shop GmbH" in posted[0]["text"]
    (run,) = sqlite_store.digest_runs.for_channel("C0ACMEINTL")
    (call,) = slack_fake.calls_to("chat.postMessage")
    assert (run["status"], run["jira_calls"], run["message_ts"]) == ("posted", 2, call.response["ts"])


async def test_jira_down_means_a_delay_notice_and_no_numbers(service, jira_fake, slack_fake, sqlite_store):
    jira_fake.script(*[Failure(503)] * 20)
    result = await service.run_slot(ACME, ACME.channel("C0ACMECLNT"), NOW)
    assert result.status == "delayed"
    assert slack_fake.posted("C0ACMECLNT") == []
    (notice,) = slack_fake.posted("C0ACMEINTL")
    assert notice["text"].startswith("Der Digest verspätet sich: Jira ist seit 2026-11-20 09:00 nicht erreichbar.")
    (run,) = sqlite_store.digest_runs.for_channel("C0ACMECLNT")
    assert run["status"] == "delayed" and "503" in run["error"]
    # 3 service attempts × (search + versions, side by side) × 2 HTTP attempts each, all failing.
    assert jira_fake.call_count() == 12


async def test_a_missing_project_is_named_to_the_agency_not_called_an_outage(service, jira_fake, slack_fake, sqlite_store):
    from structlog.testing import capture_logs

    account = ACME.model_copy(update={"jira": ACME.jira.model_copy(update={"projects": ["ACME", "NOPE"]})})
    with capture_logs() as logs:
        result = await service.run_slot(account, account.channel("C0ACMECLNT"), NOW)
    assert result.status == "delayed"
    assert slack_fake.posted("C0ACMECLNT") == []  # the client hears nothing of it
    (notice,) = slack_fake.posted("C0ACMEINTL")
    assert notice["text"].startswith("Der Überblick kann nicht erstellt werden: Jira kennt die Projekte oder die "
                                     "Abfrage dieses Kunden nicht (ACME, NOPE). Jira meldet: HTTP 4")
    assert "verspätet" not in notice["text"]
    (line,) = [e for e in logs if e["event"].startswith("digest cannot be built")]
    assert line["log_level"] == "error" and line["trouble"] == "not_found" and line["exc_info"] is not None


async def test_a_digest_interrupted_after_posting_part_continues_without_repeats(service, slack_fake, sqlite_store):
    from bot.render.blocks import Message

    key = "digest:C0ACMEINTL:test"
    sqlite_store.posts.record(f"{key}:0", "C0ACMEINTL", "111.000100", None, NOW)
    parent = await service._post_messages(key, "C0ACMEINTL", [Message("part 1"), Message("part 2")])
    assert parent == "111.000100"
    (reply,) = slack_fake.posted("C0ACMEINTL")
    assert (reply["text"], reply["thread_ts"]) == ("part 2", "111.000100")


async def test_both_channels_of_an_account_share_one_jira_fetch(service, jira_fake, slack_fake):
    import asyncio

    jira_fake.latency = 0.3  # the first fetch is surely still running when the second digest asks
    client, internal = await asyncio.gather(
        service.run_slot(ACME, ACME.channel("C0ACMECLNT"), NOW),
        service.run_slot(ACME, ACME.channel("C0ACMEINTL"), NOW),
    )
    assert (client.status, internal.status) == ("posted", "posted")
    # One search page and one versions call for both digests, reported once.
    assert jira_fake.call_count() == 2
    assert sorted([client.jira_calls, internal.jira_calls]) == [0, 2]
    # The audiences still differ: the client digest shows less.
    assert "€" in internal.text and "€" not in client.text


async def test_a_digest_killed_between_slacks_answer_and_its_record_settles_without_repeats(
    service, slack_fake, sqlite_store, monkeypatch
):
    from bot.render.blocks import Message
    from bot.services.digests import INTENT_LEASE, STALE_CLAIM

    class Dies(BaseException):
        """The process dies here (SIGKILL): not an error anything may catch."""

    key = "digest:C0ACMEINTL:crash"
    parts = [Message("part 1"), Message("part 2"), Message("part 3")]
    answer = sqlite_store.posts.answer

    def dies_on_part_2(keys, ts, thread_ts):
        if keys == [f"{key}:1"]:
            raise Dies()  # Slack has part 2, the store does not know
        return answer(keys, ts, thread_ts)

    monkeypatch.setattr(sqlite_store.posts, "answer", dies_on_part_2)
    with pytest.raises(Dies):
        await service._post_messages(key, "C0ACMEINTL", parts)
    monkeypatch.undo()
    assert [m["text"] for m in slack_fake.posted("C0ACMEINTL")] == ["part 1", "part 2"]
    # Another process takes the stale slot over and continues where the dead one stopped.
    later = NOW + STALE_CLAIM + INTENT_LEASE
    successor = DigestService(jira=service._jira, slack=service._slack, store=sqlite_store, clock=lambda: later)
    parent = await successor._post_messages(key, "C0ACMEINTL", parts)
    posted = slack_fake.posted("C0ACMEINTL")
    assert [m["text"] for m in posted] == ["part 1", "part 2", "part 3"]
    assert {m.get("thread_ts") for m in posted[1:]} == {parent}
    # Part 2 was looked for in the digest's thread, and found.
    (search,) = slack_fake.calls_to("conversations.replies")
    assert search.args["ts"] == parent
    assert sqlite_store.posts.get(f"{key}:1").state == "done"


async def test_a_live_digest_renews_its_claim_so_it_never_goes_stale(jira_fake, slack_fake, sqlite_store):
    import asyncio

    from bot.services.digests import STALE_CLAIM

    now = [NOW]
    jira = AtlassianJira(jira_fake.url, user="bot@agency.example", api_token="t", retry=RetryPolicy(attempts=2, base_delay=0, jitter=0))
    slack = SlackWeb(make_web_client(slack_fake.token, slack_fake.api_url), ChannelPacer(0))
    service = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=lambda: now[0], claim_heartbeat_s=0.05)
    jira_fake.latency = 1.0  # the digest is still being composed while the clock moves on
    try:
        running = asyncio.create_task(service.run_slot(ACME, ACME.channel("C0ACMEINTL"), NOW))
        await asyncio.sleep(0.2)
        now[0] = NOW + 2 * STALE_CLAIM  # long past a stale claim, had it not been renewed
        await asyncio.sleep(0.3)
        assert not running.done()
        # Another process looking now finds the claim fresh: it does not take the slot over.
        runs = sqlite_store.digest_runs
        assert runs.claim("acme-shop", "C0ACMEINTL", NOW, "other:1", now[0], now[0] - STALE_CLAIM) is None
        assert (await running).status == "posted"
    finally:
        jira.close()
    assert len(slack_fake.posted("C0ACMEINTL")) == 1
