"""Review 4, support findings (#1 permalink outside the filing heartbeat, #3 emergency DM resent after
a crash, #4 replies mirrored into another client's issue, #6 emergency DMs without an agency-member check)."""

from __future__ import annotations

import asyncio
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


from bot.domain.access import Role  # noqa: E402
from tests.test_support_requests import MONDAY_9, _task_filed_monday, slack_ts  # noqa: E402


async def test_replies_are_mirrored_into_an_issue_that_now_belongs_to_another_client(world):  # noqa: F811
    """Finding #4 (LEAK, Jira side). SUP is shared (ACME by component ACME, Globex by component GLOBEX). ACME's request became
    SUP-1; an agent moves it to Globex (component GLOBEX — or, split by organization, Globex's
    organization). The Jira->Slack side re-checks (`thread_messages`: `_marks_request` and
    `scope_verdict`), the Slack->Jira mirror does not: ACME's next reply becomes a *public* comment
    on Globex's issue (Globex's portal users read it)."""
    from sandbox.agency import sandbox_accounts

    accounts = sandbox_accounts()
    acme = accounts.by_key("acme-shop")
    world.service.accounts = accounts.model_copy(update={"accounts": [
        a.model_copy(update={"support": a.support.model_copy(update={"mirror_replies": True})})
        if a.key == acme.key else a for a in accounts.accounts]})
    ts = slack_ts(MONDAY_9)
    await _task_filed_monday(world, ts)
    assert "SUP-1" in world.jira.created
    world.jira.created["SUP-1"]["components"] = [{"name": "GLOBEX"}]  # moved to Globex in Jira
    reply_ts = slack_ts(MONDAY_9 + dt.timedelta(minutes=3))
    await world.service.thread_reply("C0ACMECLNT", ts, "U0CLIENT01", Role.EXTERNAL, reply_ts,
                                     "Unsere neue Preisliste für 2027 hängt an.")
    assert world.jira.added_comments == [], "ACME's reply became a public comment on Globex's issue"


async def test_control_replies_are_still_mirrored_while_the_issue_is_the_clients(world):  # noqa: F811
    """#4 control: the same reply, the issue still ACME's (component ACME, request label): mirrored."""
    from sandbox.agency import sandbox_accounts

    accounts = sandbox_accounts()
    world.service.accounts = accounts.model_copy(update={"accounts": [
        a.model_copy(update={"support": a.support.model_copy(update={"mirror_replies": True})})
        if a.key == "acme-shop" else a for a in accounts.accounts]})
    ts = slack_ts(MONDAY_9)
    await _task_filed_monday(world, ts)
    await world.service.thread_reply("C0ACMECLNT", ts, "U0CLIENT01", Role.EXTERNAL,
                                     slack_ts(MONDAY_9 + dt.timedelta(minutes=3)), "Danke!")
    assert [k for k, _ in world.jira.added_comments] == ["SUP-1"]


async def test_jira_unable_to_say_whose_the_issue_is_mirrors_nothing(world):  # noqa: F811
    """#4, fail closed: Jira down when asked whose the issue is now -> no public comment."""
    from bot.errors import UpstreamError
    from sandbox.agency import sandbox_accounts

    accounts = sandbox_accounts()
    world.service.accounts = accounts.model_copy(update={"accounts": [
        a.model_copy(update={"support": a.support.model_copy(update={"mirror_replies": True})})
        if a.key == "acme-shop" else a for a in accounts.accounts]})
    ts = slack_ts(MONDAY_9)
    await _task_filed_monday(world, ts)

    def down(*args, **kwargs):
        raise UpstreamError("jira", "503", retryable=True)

    world.jira.issue_field_values = down
    await world.service.thread_reply("C0ACMECLNT", ts, "U0CLIENT01", Role.EXTERNAL,
                                     slack_ts(MONDAY_9 + dt.timedelta(minutes=3)), "Danke!")
    assert world.jira.added_comments == []


async def test_a_slow_permalink_lets_another_worker_take_the_filing_over(world, monkeypatch):  # noqa: F811
    """Finding #1 (DUPLICATE-prone). The lease is 10 s and renewed only inside `_holding` (around Jira); chat.getPermalink is
    called after the claim but before the heartbeat starts. Slack slow (rate limited: Retry-After,
    or the SDK's 30 s timeout) -> the lease runs out and a second worker files the same request."""
    from bot.services import support as support_module

    monkeypatch.setattr(support_module, "FILING_HEARTBEAT", dt.timedelta(seconds=0.05), raising=False)
    permalink = world.slack.permalink
    taken_over = []

    async def slow_permalink(channel, ts):
        world.now += dt.timedelta(seconds=15)  # Slack answers after the lease ran out
        await asyncio.sleep(0.3)  # six heartbeats, had there been any
        taken_over.append(world.store.support.claim_filing(1, "worker-B", world.now, dt.timedelta(seconds=10)))
        return await permalink(channel, ts)

    world.slack.permalink = slow_permalink
    await world.mention("notfall Shop ist down", ts="1764255606.000100")
    assert taken_over == [False], "another worker could claim the filing while this one was still at it"


async def test_a_permalink_slack_does_not_give_in_time_files_without_it(world, monkeypatch):  # noqa: F811
    """#1: the permalink is capped (PERMALINK_WAIT): a Slack that does not answer does not hold filing up."""
    from bot.services import support as support_module

    monkeypatch.setattr(support_module, "PERMALINK_WAIT", dt.timedelta(seconds=0.05))

    async def hangs(channel, ts):
        await asyncio.sleep(2)  # far beyond the (patched) wait
        return f"https://agency.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    world.slack.permalink = hangs
    await world.mention("notfall Shop ist down", ts="1764255606.000100")
    [(key, fields)] = world.jira.created.items()
    assert "slack.com/archives" not in str(fields["description"])


async def test_emergency_dms_go_to_todays_support_holder_without_asking_slack_whether_they_are_of_the_agency(world):  # noqa: F811
    """Finding #6 (WEAKNESS, promise 4). ACME's support person U0ACMESUP1 is away; a handover (checked when made) names U0COVER01 as
    cover. Since then Slack made U0COVER01 a guest (a freelancer's contract ended), which the cover
    DMs, handover steps, bad news and weekly overview re-check (`Directory.is_member`) before every
    DM. SupportService has no membership check at all: the emergency DM (account, Jira link, the
    request's text) goes to whoever `holders()` names."""
    from bot.domain.roles import Handover

    guest = "U0COVER01"
    away = Handover("h1", "U0ACMESUP1", guest, dt.date(2026, 11, 20), dt.date(2026, 12, 6), frozenset({"acme-shop"}))
    world.service.handovers = lambda: (away,)
    asked = []

    async def is_member(user):  # Slack (Directory.is_member): the cover is a guest now
        asked.append(user)
        return user != guest

    world.service.is_member = is_member
    await world.mention("notfall Shop ist down", ts="1764255606.000100")
    assert "U0COVER01" not in world.slack.dms_opened, "emergency DM sent with no agency-member check"
    assert asked == [guest]




async def test_an_emergency_dm_waits_while_slack_cannot_tell_membership(world):  # noqa: F811
    """#6: Slack unable to say whether the support holder is a member: no DM now; the next tick
    asks again and, a member, sends it (once)."""
    answers = {"U0ACMESUP1": None}

    async def is_member(user):
        return answers.get(user, True)

    world.service.is_member = is_member
    await world.mention("notfall Der Shop ist down!")
    assert world.slack.dms_to("U0ACMESUP1") == []
    answers["U0ACMESUP1"] = True
    await world.service.tick()
    await world.service.tick()
    assert len(world.slack.dms_to("U0ACMESUP1")) == 1


def test_the_assembled_support_service_asks_the_directory(sqlite_store):
    """#6: the composition root gives SupportService the Directory's membership check."""
    from bot.app import Ports, build_support
    from bot.domain.links import SiteLinks
    from bot.services.directory import Directory
    from sandbox.agency import sandbox_accounts
    from tests.fakes.jira import InMemoryJira
    from tests.fakes.slack import InMemorySlack

    ports = Ports(accounts=sandbox_accounts(), store=sqlite_store, jira=InMemoryJira(), slack=InMemorySlack(),
                  links=SiteLinks())
    directory = Directory(None, [], None)  # type: ignore[arg-type]  (not called here)
    support = build_support(ports, None, directory)
    assert support is not None and support.is_member == directory.is_member
