"""During a handover (issue 12, "During the period"): notifications that would mention someone away
(their issue, a comment mentioning them) name their cover in internal channels only, marked
"covering for … until …"; the cover gets one DM per issue and day (SQLite and PostgreSQL, through
a restart); client channels read exactly as without a handover."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json

from bot.domain.accounts import AccountsConfig
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload
from tests.test_inbox_worker import (
    ALPHA,
    ALPHA_CLIENT,
    ALPHA_INTERNAL,
    BETA,
    NOW,
    PIN,
    ROBIN,
    SITES,
    add,
    issue,
    status_change_of_gold_189,
)

ANA, BEN, LEA = "U0ANA0001", "U0BEN0001", "U0LEA0001"
# Robin Diddams, the pinpoint captures' Jira user, is Ana in Slack (the accounts file's `people`).
ACCOUNTS = AccountsConfig(accounts=[ALPHA.model_copy(update={"people": {ROBIN: ANA}}), BETA])
START, END = dt.date(2026, 11, 20), dt.date(2026, 12, 6)  # NOW is Nov 23, 2026


def _away(store, who=ANA, cover=BEN, start=START, end=END, accounts=("alpha",)) -> str:
    return store.handovers.add(who, cover, start, end, list(accounts), "", "U0LEAD0001", NOW - dt.timedelta(days=5)).id


def _comment(comment_id: str, text: str = f"Ping [~accountid:{ROBIN}] please") -> dict:
    # Derived from pinpoint's real comment_created capture (TES-1): its body mentions Robin.
    payload = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    payload["comment"]["id"] = comment_id
    payload["comment"]["body"] = text
    return payload


class Members:
    """Directory.is_member as the worker sees it: True, False or None (Slack cannot tell)."""

    def __init__(self, answer: bool | None = True):
        self.answer, self.asked = answer, []

    async def __call__(self, user: str) -> bool | None:
        self.asked.append(user)
        return self.answer


def _worker(store, slack, clock, members: Members | None = None, *, dms: bool = True) -> InboxWorker:
    """A worker (a process); without `dms` it has no way to check membership, so it DMs nobody."""
    extra = {"is_member": members or Members()} if dms else {}
    return InboxWorker(store, ACCOUNTS, slack, InMemoryJira({"TES-1": issue("TES-1")}), clock=clock,
                       settings=WorkerSettings(), links=SITES, **extra)


def _quote(slack, channel) -> list[str]:
    return [line for m in slack.in_channel(channel) for line in m["text"].splitlines() if line.startswith(">")]


async def test_a_mention_of_someone_away_names_the_cover_in_the_internal_channel_only(store):
    _away(store)
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    report = await _worker(store, slack, lambda: NOW, dms=False).run_once()
    assert report.statuses == {"done": 1}
    assert _quote(slack, ALPHA_INTERNAL) == [f"> Ping <@{BEN}> (covering for <@{ANA}> until Dec 6, 2026) please"]
    assert slack.dms_opened == []  # no membership check, no DM
    # The client channel reads exactly as without a handover: no cover, no word of who is away.
    assert _quote(slack, ALPHA_CLIENT) == [f"> Ping <@{ANA}> please"]
    assert BEN not in json.dumps(slack.in_channel(ALPHA_CLIENT)) and "covering" not in json.dumps(slack.in_channel(ALPHA_CLIENT))


async def test_outside_the_period_or_the_accounts_the_mention_stays(store):
    _away(store, start=NOW.date() + dt.timedelta(days=1))  # starts tomorrow
    _away(store, accounts=("beta",))  # another account
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    await _worker(store, slack, lambda: NOW).run_once()
    assert _quote(slack, ALPHA_INTERNAL) == [f"> Ping <@{ANA}> please"]
    assert slack.dms_opened == []


def _status_change_of_robins_issue() -> dict:
    # A status change the client hears of (tests.test_inbox_worker's GOLD-189, derived from a real
    # capture), on an issue assigned to Robin: the assignee object as pinpoint's captures carry it.
    payload = status_change_of_gold_189("In Progress", 1)
    assigned = real_payload(f"{PIN}/jira:issue_updated.assignee.json")["issue"]["fields"]["assignee"]
    payload["issue"]["fields"]["assignee"] = copy.deepcopy(assigned)
    return payload


async def test_an_issue_assigned_to_someone_away_ccs_the_cover_internally_only(store):
    _away(store)
    slack = InMemorySlack()
    add(store, _status_change_of_robins_issue(), "d-1")
    report = await _worker(store, slack, lambda: NOW).run_once()
    assert report.statuses == {"done": 1}
    (internal,) = slack.in_channel(ALPHA_INTERNAL)
    assert internal["text"].splitlines()[-1] == f"cc <@{BEN}> (covering for <@{ANA}> until Dec 6, 2026)"
    (client,) = slack.in_channel(ALPHA_CLIENT)
    assert "In Progress" in client["text"]  # control: the client hears of the change
    assert BEN not in json.dumps(client) and ANA not in json.dumps(client) and "covering" not in client["text"]
    assert len(slack.dms_to(BEN)) == 1


async def test_a_chain_names_whoever_is_there(store):
    # Ana → Ben while Ben is away too → Lea: Lea covers, until the chain's earliest end.
    _away(store)
    _away(store, who=BEN, cover=LEA, end=dt.date(2026, 12, 1))
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    await _worker(store, slack, lambda: NOW).run_once()
    assert _quote(slack, ALPHA_INTERNAL) == [f"> Ping <@{LEA}> (covering for <@{ANA}> until Dec 1, 2026) please"]
    assert [m["channel"] for m in slack.messages if m["channel"].startswith("D")] == [slack.dm_channel(LEA)]


async def test_a_cycle_leaves_the_mention_and_dms_nobody(store):
    _away(store)
    _away(store, who=BEN, cover=ANA)  # Ana ↔ Ben: nobody present (reported by the handover clock)
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    await _worker(store, slack, lambda: NOW).run_once()
    assert _quote(slack, ALPHA_INTERNAL) == [f"> Ping <@{ANA}> please"]
    assert slack.dms_opened == []


async def test_the_cover_gets_one_dm_per_issue_and_day_through_a_restart(store):
    hid = _away(store)
    slack = InMemorySlack()
    now = [NOW]
    # Three events about TES-1 on one day: two in one batch, one in the next (a restarted process).
    add(store, _comment("90001"), "d-1")
    add(store, _comment("90002", f"[~accountid:{ROBIN}] again"), "d-2")
    members = Members()
    assert (await _worker(store, slack, lambda: now[0], members).run_once()).statuses == {"done": 2}
    now[0] = NOW + dt.timedelta(hours=5)
    add(store, _comment("90003"), "d-3")
    assert (await _worker(store, slack, lambda: now[0], members).run_once()).statuses == {"done": 1}
    assert members.asked == [BEN]  # Slack asked once: a DM sent already needs no second check
    (dm,) = slack.dms_to(BEN)
    assert dm["text"] == (
        "🧳 *Alpha* · <https://pinpt-hq.atlassian.net/browse/TES-1|TES-1> Test issue: news today on work of "
        f"<@{ANA}> (you cover until Dec 6, 2026). It is in <#{ALPHA_INTERNAL}>.")
    assert store.posts.get(f"cover-dm:{hid}:TES-1:2026-11-23:{BEN}") is not None
    # The next day (in the account's timezone: Berlin is past midnight at 23:30 UTC) one more.
    now[0] = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.timezone.utc)
    add(store, _comment("90004"), "d-4")
    await _worker(store, slack, lambda: now[0]).run_once()
    assert len(slack.dms_to(BEN)) == 2
    assert slack.dms_to(ANA) == []  # the person away hears nothing


async def test_a_dm_cut_off_by_a_crash_is_not_sent_again(store):
    _away(store)
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    first = _worker(store, slack, lambda: NOW)
    (item,) = store.inbox.claim_due(NOW, 10, dt.timedelta(seconds=10), first.owner)
    work = await first._normalize(item)
    plan = await first._poster(ACCOUNTS).plan([work], {})


    async def dies(*args, **kwargs):  # the process dies between Slack's answer and the record
        raise RuntimeError("killed")

    first.cover_dms.once._answer = dies
    await first.cover_dms.send(plan.covered)  # the DM is in Slack; the process dies before recording
    (dm,) = slack.dms_to(BEN)
    key = f"cover-dm:{store.handovers.listed()[-1].id}:TES-1:2026-11-23:{BEN}"
    assert store.posts.get(key).ts is None  # uncertain: Slack has it, the store does not know
    store.posts.let_go([key], first.owner, NOW)  # as a crash between Slack's answer and the record
    later = NOW + dt.timedelta(minutes=1)
    report = await _worker(store, slack, lambda: later).run_once()
    assert report.statuses == {"done": 1}
    # DMs cannot be read back (no im:history, like the adapter): the claim is enough, not sent again.
    assert len(slack.dms_to(BEN)) == 1


async def test_never_a_dm_to_someone_slack_calls_no_member_and_a_retry_when_it_cannot_tell(store):
    _away(store)
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    guest = Members(False)
    report = await _worker(store, slack, lambda: NOW, guest).run_once()
    assert report.statuses == {"done": 1} and guest.asked == [BEN] and slack.dms_opened == []
    add(store, _comment("90002"), "d-2")
    unknown = Members(None)
    report = await _worker(store, slack, lambda: NOW, unknown).run_once()
    assert report.statuses == {"retry": 1} and slack.dms_opened == []
    internal_posts = len(slack.in_channel(ALPHA_INTERNAL))
    later = NOW + dt.timedelta(hours=1)
    report = await _worker(store, slack, lambda: later).run_once()
    assert report.statuses == {"done": 1} and len(slack.dms_to(BEN)) == 1
    assert len(slack.in_channel(ALPHA_INTERNAL)) == internal_posts  # the channel post is not repeated


async def test_two_workers_at_once_dm_the_cover_once(store):
    _away(store)
    slack = InMemorySlack()
    add(store, _comment("90001"), "d-1")
    add(store, _comment("90002"), "d-2")
    # Two processes, each with one of the two deliveries about TES-1, at the same moment.
    await asyncio.gather(_worker(store, slack, lambda: NOW).run_once(limit=1),
                         _worker(store, slack, lambda: NOW).run_once(limit=1))
    later = NOW + dt.timedelta(minutes=5)  # whatever waited for the other's DM is retried
    await _worker(store, slack, lambda: later).run_once()
    assert {store.inbox.get(i.id).status for i in store.inbox.list()} == {"done"}
    assert len(slack.dms_to(BEN)) == 1
    assert len(slack.in_channel(ALPHA_INTERNAL)) == 2  # both comments posted, each once
