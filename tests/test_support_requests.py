"""Support requests through the service, on the fakes: filing, urgency buttons, Jira down then up,
a crash between Jira's answer and our record, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.access import Role
from bot.domain.links import SiteLinks
from bot.render.words import Voice
from bot.services.commands import Asker, CommandService
from bot.services.exactly_once import OncePoster
from bot.services.support import Filer, SupportService, register_support_commands
from integrations.upstream_errors import UpstreamUnavailable
from sandbox.agency import sandbox_accounts
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.timezone.utc)  # Friday 16:00 in Berlin
ACCOUNTS = sandbox_accounts()
CLIENT, INTERNAL = "C0ACMECLNT", "C0ACMEINTL"


class World:
    def __init__(self, store):
        self.now = NOW
        self.store = store
        self.jira = InMemoryJira()
        self.slack = InMemorySlack()
        self.service = self.make_service("worker-1")
        self.commands = CommandService(ACCOUNTS)
        register_support_commands(self.commands, self.service)

    def make_service(self, owner: str) -> SupportService:
        poster = OncePoster(self.store, self.slack, lambda: self.now, owner, dt.timedelta(minutes=2))

        async def names(user_id: str) -> str | None:
            return {"U0CLIENT01": "Clara Client"}.get(user_id)

        return SupportService(accounts=ACCOUNTS, store=self.store, jira=self.jira, slack=self.slack, poster=poster,
                              clock=lambda: self.now, links=SiteLinks(jira="https://agency.atlassian.net"), names=names)

    async def mention(self, text: str, *, user="U0CLIENT01", role=Role.EXTERNAL, channel=CLIENT, ts="1764255600.000100"):
        asker = Asker(user_id=user, channel_id=channel, role=role, via_mention=True, message_ts=ts, thread_ts=ts)
        return await self.commands.run(text, asker)

    def thread(self, ts="1764255600.000100"):
        return [m for m in self.slack.messages if m["thread_ts"] == ts]


@pytest.fixture
def world(sqlite_store):
    return World(sqlite_store)


async def test_a_client_files_a_task_and_gets_key_link_and_promise_in_the_thread(world):
    reply = await world.mention("anfrage Kann jemand das Impressum aktualisieren? Die Adresse hat sich geändert.")
    assert reply.text == ""  # the answer is in the thread
    [question] = world.thread()
    assert question["channel"] == CLIENT
    assert "Wie dringend" in question["text"] and "rund um die Uhr" in question["text"]
    buttons = question["blocks"][1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Notfall", "Aufgabe"]
    request_id = buttons[1]["value"]

    refusal = await world.service.choose(request_id, "task", Filer("U0CLIENT01", Role.EXTERNAL), CLIENT, question["ts"])
    assert refusal is None
    [(key, fields)] = world.jira.created.items()
    assert key == "SUP-1"
    assert fields["components"] == [{"name": "ACME"}]  # the shared project's split
    assert fields["priority"] == {"name": "Medium"} and fields["issuetype"] == {"name": "Task"}
    marker = [x for x in fields["labels"] if x.startswith("pulse-rq-")]  # this request's, in no other database
    assert set(fields["labels"]) == {"pulse-support", f"pulse-req-{request_id}", *marker} and len(marker) == 1
    assert "Clara Client" in fields["description"]
    assert fields["summary"] == "Kann jemand das Impressum aktualisieren? Die Adresse hat sich geändert."
    answer = world.thread()[-1]
    # Friday 16:00 Berlin + 4 business hours: one on Friday, three on Monday -> Monday 12:00.
    assert "<https://agency.atlassian.net/browse/SUP-1|SUP-1>" in answer["text"]
    assert "Aufgabe" in answer["text"] and "12:00" in answer["text"] and "30. Nov" in answer["text"]
    assert world.slack.updates[-1]["ts"] == question["ts"] and "Aufgabe" in world.slack.updates[-1]["text"]
    # A second click (or a replayed one) files nothing more.
    again = await world.service.choose(request_id, "emergency", Filer("U0CLIENT01", Role.EXTERNAL), CLIENT, None)
    assert again.message_id == "support.already_chosen"
    assert len(world.jira.created) == 1


async def test_notfall_files_an_emergency_at_once(world):
    await world.mention("notfall Der Shop ist down!")
    [(key, fields)] = world.jira.created.items()
    assert fields["priority"] == {"name": "Highest"}
    assert "Notfall" in world.thread()[-1]["text"] and key in world.thread()[-1]["text"]


async def test_an_emergency_reaches_the_support_people_by_dm_at_once(world):
    await world.mention("notfall Der Shop ist down!")
    [dm] = world.slack.dms_to("U0ACMESUP1")
    assert "Notfall von ACME Shop GmbH" in dm["text"] and "SUP-1" in dm["text"] and "Der Shop ist down!" in dm["text"]
    # A restart files and pings nothing again.
    world.service = world.make_service("worker-2")
    await world.service.tick()
    assert len(world.slack.dms_to("U0ACMESUP1")) == 1 and len(world.jira.created) == 1


async def test_an_emergency_during_a_handover_reaches_the_cover(world):
    from bot.domain.roles import Handover

    world.service.handovers = lambda: [Handover("h1", "U0ACMESUP1", "U0ACMESUP2", dt.date(2026, 11, 27),
                                                dt.date(2026, 11, 30), frozenset({"acme-shop"}))]
    await world.mention("notfall Der Shop ist down!")
    assert world.slack.dms_to("U0ACMESUP1") == [] and len(world.slack.dms_to("U0ACMESUP2")) == 1


async def test_a_redelivered_mention_files_nothing_twice(world):
    await world.mention("notfall Der Shop ist down!")
    await world.mention("notfall Der Shop ist down!")
    assert len(world.jira.created) == 1 and len(world.thread()) == 1


async def test_the_button_is_not_trusted(world):
    await world.mention("anfrage Bitte Logo tauschen")
    request_id = world.thread()[0]["blocks"][1]["elements"][0]["value"]
    # The same request id clicked from another account's channel: not that channel's request.
    refusal = await world.service.choose(request_id, "task", Filer("U0MEMBER01", Role.MEMBER), "C0NWCLIENT", None)
    assert refusal.message_id == "support.gone"
    # Another client person may not choose for the requester; an unknown urgency is refused.
    refusal = await world.service.choose(request_id, "task", Filer("U0OTHER001", Role.EXTERNAL), CLIENT, None)
    assert refusal.message_id == "support.not_yours"
    refusal = await world.service.choose(request_id, "whenever", Filer("U0CLIENT01", Role.EXTERNAL), CLIENT, None)
    assert refusal.message_id == "support.unknown_urgency"
    # A channel not linked to any account.
    refusal = await world.service.choose(request_id, "task", Filer("U0CLIENT01", Role.EXTERNAL), "C0UNLINKED", None)
    assert refusal.message_id == "command.not_linked"
    assert world.jira.created == {}
    # An agency member may choose for the client.
    assert await world.service.choose(request_id, "task", Filer("U0MEMBER01", Role.MEMBER), CLIENT, None) is None
    assert len(world.jira.created) == 1


async def test_refusals_in_the_accounts_language(world):
    de = Voice("de")
    assert "Was brauchen Sie?" in (await world.mention("anfrage")).text
    assert "höchstens 4000" in (await world.mention("anfrage " + "x" * 4001)).text
    internal = await world.mention("anfrage Hallo", channel=INTERNAL, ts="1764255601.000100")
    assert internal.text == de.say(__import__("bot.domain.words", fromlist=["sentence"]).sentence("support.client_channel_only"))
    # Northwind has no support config: a clear answer, in English.
    nw = await world.mention("request help", channel="C0NWCLIENT", ts="1764255602.000100")
    assert "not set up for Northwind Traders" in nw.text
    # An apostrophe is text, not an open quote.
    await world.mention("request Can't log in", ts="1764255603.000100")
    assert "Wie dringend" in world.thread("1764255603.000100")[0]["text"]
    assert world.jira.created == {}


async def test_a_member_files_with_the_slash_command_and_the_bot_opens_the_thread(world):
    asker = Asker(user_id="U0MEMBER01", channel_id=INTERNAL, role=Role.MEMBER)
    reply = await world.commands.run("request Staging-Zertifikat läuft ab", asker)
    assert "im Thread" in reply.text
    parent, question = world.slack.messages
    assert parent["thread_ts"] is None and ">Staging-Zertifikat läuft ab" in parent["text"]
    assert question["thread_ts"] == parent["ts"]


async def test_jira_down_then_up_creates_exactly_one_issue(world):
    world.jira.error = UpstreamUnavailable("jira", "503 Service Unavailable", retryable=True)
    await world.mention("notfall Checkout kaputt")
    assert world.jira.created == {}
    [recorded] = world.thread()
    assert "ist erfasst" in recorded["text"] and "Ticketnummer folgt" in recorded["text"]
    # Retries before the backoff ran out do nothing; Jira still down: the thread is not told twice.
    await world.service.tick()
    world.now += dt.timedelta(seconds=31)
    await world.service.tick()
    assert len(world.thread()) == 1 and world.jira.created == {}
    world.jira.error = None
    world.now += dt.timedelta(minutes=2)
    await world.service.tick()
    assert list(world.jira.created) == ["SUP-1"]
    assert "SUP-1" in world.thread()[-1]["text"]
    world.now += dt.timedelta(minutes=20)
    await world.service.tick()
    assert len(world.jira.created) == 1 and len(world.thread()) == 2


async def test_jira_keeps_refusing_the_team_is_told_once(world):
    world.jira.error = UpstreamUnavailable("jira", "503 Service Unavailable", retryable=True)
    await world.mention("notfall Checkout kaputt")
    for _ in range(6):
        world.now += dt.timedelta(minutes=16)
        await world.service.tick()
    told = [m for m in world.slack.in_channel(INTERNAL) if "noch nicht in Jira" in m["text"]]
    assert len(told) == 1


async def test_a_crash_between_jiras_answer_and_our_record_files_no_second_issue(world):
    # Jira creates the issue, but its answer never reaches us (the worker dies, or the answer is lost).
    world.jira.lose_create_answers = 1
    await world.mention("notfall Zahlungen schlagen fehl")
    assert list(world.jira.created) == ["SUP-1"]
    row = world.store.support.get(1)
    assert row.state == "filing" and row.issue_key is None
    # A fresh worker (another process after a restart) retries: it finds the issue by its label.
    world.service = world.make_service("worker-2")
    world.now += dt.timedelta(minutes=3)
    await world.service.tick()
    assert list(world.jira.created) == ["SUP-1"]
    assert world.store.support.get(1).issue_key == "SUP-1"
    assert ("find_issue_by_label", "SUP/pulse-req-1") in world.jira.calls
    assert "SUP-1" in world.thread()[-1]["text"]


async def test_a_live_workers_filing_is_not_taken_over(world):
    world.jira.error = UpstreamUnavailable("jira", "down", retryable=True)
    await world.mention("anfrage Text", ts="1764255605.000100")
    request_id = int(world.thread("1764255605.000100")[0]["blocks"][1]["elements"][0]["value"])
    world.store.support.choose_urgency(request_id, "task", world.now)
    assert world.store.support.claim_filing(request_id, "worker-A", world.now, dt.timedelta(minutes=2))
    assert not world.store.support.claim_filing(request_id, "worker-B", world.now, dt.timedelta(minutes=2))
    assert world.store.support.claim_filing(request_id, "worker-B", world.now + dt.timedelta(minutes=3), dt.timedelta(minutes=2))



async def test_a_live_worker_keeps_its_filing_through_a_slow_jira_by_its_heartbeat(world, monkeypatch):
    """The filing lease is short (a killed worker's request is free again within seconds) and
    renewed while Jira works: a create slower than the lease is not taken over by another worker."""
    import time

    from bot.services import support as support_module

    monkeypatch.setattr(support_module, "FILING_HEARTBEAT", dt.timedelta(seconds=0.05), raising=False)
    create = world.jira.create_issue
    taken_over = []

    def slow_create(fields):
        world.now += dt.timedelta(minutes=3)  # Jira takes its time (the old 2-minute lease ran out too)
        time.sleep(0.5)  # ten heartbeats
        taken_over.append(world.store.support.claim_filing(1, "worker-B", world.now, dt.timedelta(seconds=10)))
        return create(fields)

    world.jira.create_issue = slow_create
    await world.mention("notfall Shop ist down", ts="1764255606.000100")
    assert taken_over == [False]
    assert world.store.support.get(1).issue_key == "SUP-1"


async def test_a_dead_workers_filing_is_free_again_within_seconds(world):
    """A worker killed mid-filing renews nothing: its lease runs out in seconds, not minutes."""
    await world.mention("anfrage Text", ts="1764255607.000100")
    world.store.support.choose_urgency(1, "task", world.now)
    from bot.services.support import FILING_LEASE

    assert world.store.support.claim_filing(1, "dead-worker", world.now, FILING_LEASE)
    assert not world.store.support.claim_filing(1, "worker-B", world.now + dt.timedelta(seconds=5), FILING_LEASE)
    assert world.store.support.claim_filing(1, "worker-B", world.now + dt.timedelta(seconds=15), FILING_LEASE)


# -- first response, escalation, breach

MONDAY_9 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)  # 09:00 in Berlin


def slack_ts(at: dt.datetime, n: int = 100) -> str:
    return f"{int(at.timestamp())}.{n:06d}"


async def _task_filed_monday(world, ts=None):
    ts = ts or slack_ts(MONDAY_9)
    world.now = MONDAY_9
    await world.mention("anfrage Bitte Newsletter-Vorlage anpassen", ts=ts)
    request_id = world.thread(ts)[0]["blocks"][1]["elements"][1]["value"]
    await world.service.choose(request_id, "task", Filer("U0CLIENT01", Role.EXTERNAL), CLIENT, None)
    return int(request_id)


async def test_the_first_agency_reply_in_the_thread_is_the_first_response_not_an_out_of_office(world):
    ts = slack_ts(MONDAY_9)
    request_id = await _task_filed_monday(world, ts)
    # The client adds something, and an automatic out-of-office reply arrives: neither is an answer.
    await world.service.thread_reply(CLIENT, ts, "U0CLIENT01", Role.EXTERNAL, slack_ts(MONDAY_9 + dt.timedelta(minutes=5)), "Noch ein Detail")
    await world.service.thread_reply(CLIENT, ts, "U0ANNA0001", Role.MEMBER, slack_ts(MONDAY_9 + dt.timedelta(minutes=6)),
                                     "Automatische Antwort: Ich bin bis 2. Dezember nicht im Büro.")
    assert world.store.support.get(request_id).first_response_at is None
    await world.service.thread_reply(CLIENT, ts, "U0ANNA0001", Role.MEMBER, slack_ts(MONDAY_9 + dt.timedelta(minutes=7)), "Schaue ich mir an!")
    row = world.store.support.get(request_id)
    assert row.first_response_at == MONDAY_9 + dt.timedelta(minutes=7, microseconds=100)
    assert row.first_response_by == "slack:U0ANNA0001"
    # Answered: no escalation, ever.
    world.now = MONDAY_9 + dt.timedelta(days=2)
    await world.service.tick()
    assert world.slack.in_channel(INTERNAL) == []


async def test_a_public_jira_comment_by_the_agency_is_a_first_response(world):
    request_id = await _task_filed_monday(world)
    acme = ACCOUNTS.by_key("acme-shop")
    with_client = acme.model_copy(update={"jira": acme.jira.model_copy(update={"client_users": ["client-1"]})})
    world.service.accounts = ACCOUNTS.model_copy(update={"accounts": [with_client, *ACCOUNTS.accounts[1:]]})
    at = MONDAY_9 + dt.timedelta(hours=1)
    # An internal comment, the client's own, an out-of-office reply and a mirrored Slack reply do not count.
    await world.service.jira_comment("SUP-1", "agency-dev", False, at, "internal note", account_type="atlassian")
    await world.service.jira_comment("SUP-1", "client-1", True, at, "Any news?", account_type="atlassian")
    await world.service.jira_comment("SUP-1", "agency-dev", True, at, "Out of office until Monday", account_type="atlassian")
    await world.service.jira_comment("SUP-1", "agency-dev", True, at, "[über Slack: Clara Client]\nNoch was", account_type="atlassian")
    assert world.store.support.get(request_id).first_response_at is None
    await world.service.jira_comment("SUP-1", "agency-dev", True, at, "On it.", account_type="atlassian")
    row = world.store.support.get(request_id)
    assert (row.first_response_at, row.first_response_by) == (at, "jira:agency-dev")


async def test_escalation_at_75_percent_reaches_the_deputy_during_a_handover_once(world):
    from bot.domain.roles import Handover

    await _task_filed_monday(world)  # 4 business hours: 75 % at 12:00 Berlin
    world.service.handovers = lambda: [Handover("h1", "U0ACMESUP1", "U0ACMESUP2", dt.date(2026, 11, 30),
                                                dt.date(2026, 12, 4), frozenset({"acme-shop"}))]
    world.now = MONDAY_9 + dt.timedelta(hours=2, minutes=59)
    await world.service.tick()
    assert world.slack.in_channel(INTERNAL) == []
    world.now = MONDAY_9 + dt.timedelta(hours=3)
    await world.service.tick()
    [ping] = world.slack.in_channel(INTERNAL)
    assert "<@U0ACMESUP2>" in ping["text"] and "<@U0ACMESUP1>" not in ping["text"]
    assert "SUP-1" in ping["text"] and "75" in ping["text"]
    # A restart (another worker) does not ping again.
    world.service = world.make_service("worker-2")
    await world.service.tick()
    assert len(world.slack.in_channel(INTERNAL)) == 1
    # At 100 % the internal channel hears of the breach, once.
    world.now = MONDAY_9 + dt.timedelta(hours=4)
    await world.service.tick()
    await world.service.tick()
    breach = world.slack.in_channel(INTERNAL)[1:]
    assert len(breach) == 1 and "keine erste Antwort innerhalb von 4 Stunden" in breach[0]["text"]


async def test_without_a_handover_the_support_person_is_pinged(world):
    await _task_filed_monday(world)
    world.now = MONDAY_9 + dt.timedelta(hours=3)
    await world.service.tick()
    assert "<@U0ACMESUP1>" in world.slack.in_channel(INTERNAL)[0]["text"]


async def test_waiting_for_the_client_pauses_the_escalation(world):
    request_id = await _task_filed_monday(world)
    world.store.support.set_status(request_id, "Waiting for customer", [(MONDAY_9 + dt.timedelta(hours=1), None)])
    world.now = MONDAY_9 + dt.timedelta(days=3)
    await world.service.tick()
    assert world.slack.in_channel(INTERNAL) == []


async def test_an_unanswered_client_message_starts_a_task_clock_without_keeping_its_text(world):
    world.now = MONDAY_9
    ts = slack_ts(MONDAY_9, 0)
    await world.service.channel_message(CLIENT, "U0CLIENT01", Role.EXTERNAL, ts, to_the_bot=False)
    await world.service.channel_message(CLIENT, "U0CLIENT01", Role.EXTERNAL, ts, to_the_bot=False)  # redelivered
    [row] = world.store.support.open_clocks()
    assert (row.kind, row.text, row.urgency, row.requester_id) == ("message", None, "task", "U0CLIENT01")
    world.now = MONDAY_9 + dt.timedelta(hours=3)
    await world.service.tick()
    [ping] = world.slack.in_channel(INTERNAL)
    assert "eine Nachricht von <@U0CLIENT01>" in ping["text"]
    # An agency message in the channel answers it.
    await world.service.channel_message(CLIENT, "U0ANNA0001", Role.MEMBER, slack_ts(MONDAY_9 + dt.timedelta(hours=3, minutes=1)), to_the_bot=False)
    assert world.store.support.open_clocks() == []
    # Internal channels and mentions of the bot start no clock.
    await world.service.channel_message(INTERNAL, "U0CLIENT01", Role.EXTERNAL, slack_ts(MONDAY_9, 1), to_the_bot=False)
    await world.service.channel_message(CLIENT, "U0CLIENT01", Role.EXTERNAL, slack_ts(MONDAY_9, 2), to_the_bot=True)
    assert world.store.support.open_clocks() == []


async def test_thread_replies_are_mirrored_to_jira_once_when_the_account_turns_it_on(world):
    ts = slack_ts(MONDAY_9)
    await _task_filed_monday(world, ts)
    reply_ts = slack_ts(MONDAY_9 + dt.timedelta(minutes=3))
    await world.service.thread_reply(CLIENT, ts, "U0CLIENT01", Role.EXTERNAL, reply_ts, "Hier ist das neue Logo.")
    await world.service.thread_reply(CLIENT, ts, "U0CLIENT01", Role.EXTERNAL, reply_ts, "Hier ist das neue Logo.")
    assert world.jira.added_comments == [("SUP-1", "[über Slack: Clara Client]\nHier ist das neue Logo.")]
    # Its own copy in Jira never counts as the agency's first response.
    await world.service.jira_comment("SUP-1", "bot-account", True, MONDAY_9, world.jira.added_comments[0][1], account_type="atlassian")
    assert world.store.support.get(1).first_response_at is None


async def test_a_process_dying_after_jiras_answer_before_our_record_files_no_second_issue(world, monkeypatch):
    # Jira answered with the key; the process dies before the store records it (the record raises
    # here in place of the death). Its lease keeps others off until it runs out.
    class Died(BaseException):
        pass

    real = world.store.support.filed

    def die(*args, **kwargs):
        raise Died()

    monkeypatch.setattr(world.store.support, "filed", die)
    with pytest.raises(Died):
        await world.mention("notfall Bilder laden nicht")
    assert list(world.jira.created) == ["SUP-1"] and world.store.support.get(1).state == "filing"
    monkeypatch.setattr(world.store.support, "filed", real)
    restarted = world.make_service("worker-2")
    await restarted.tick()
    assert world.store.support.get(1).issue_key is None  # the dead worker's lease still holds
    world.now += dt.timedelta(minutes=3)
    await restarted.tick()
    assert list(world.jira.created) == ["SUP-1"] and world.store.support.get(1).issue_key == "SUP-1"
    assert "SUP-1" in world.thread()[-1]["text"]


def test_the_store_moves_a_request_on_exactly_once_on_both_backends(store):
    requests = store.support
    rid, new = requests.open(account_key="acme-shop", channel_id=CLIENT, requester_id="U0CLIENT01", now=NOW,
                             text="Hallo", source_ts="1.1", thread_ts="1.1")
    assert new and requests.open(account_key="acme-shop", channel_id=CLIENT, requester_id="U0CLIENT01", now=NOW,
                                 text="Hallo", source_ts="1.1", thread_ts="1.1") == (rid, False)
    assert requests.choose_urgency(rid, "task", NOW) and not requests.choose_urgency(rid, "emergency", NOW)
    lease = dt.timedelta(minutes=2)
    assert requests.claim_filing(rid, "a", NOW, lease) and not requests.claim_filing(rid, "b", NOW, lease)
    assert requests.filed(rid, "SUP-9", NOW) and not requests.claim_filing(rid, "b", NOW + 2 * lease, lease)
    assert requests.first_response(rid, NOW, "slack:U1") and not requests.first_response(rid, NOW, "slack:U2")
    assert requests.mark(rid, "escalated_at", NOW) and not requests.mark(rid, "escalated_at", NOW)
    requests.set_status(rid, "Waiting for customer", [(NOW, None)])
    row = requests.get(rid)
    assert (row.urgency, row.issue_key, row.first_response_by, row.pauses) == ("task", "SUP-9", "slack:U1", [(NOW, None)])
    assert [r.id for r in requests.in_period("acme-shop", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))] == [rid]


async def test_a_request_whose_urgency_nobody_chooses_is_filed_as_a_task(world):
    await world.mention("anfrage Bitte Banner tauschen")
    world.now += dt.timedelta(minutes=14)
    await world.service.tick()
    assert world.jira.created == {}
    world.now += dt.timedelta(minutes=2)
    await world.service.tick()
    [(key, fields)] = world.jira.created.items()
    assert fields["priority"] == {"name": "Medium"} and "Aufgabe" in world.thread()[-1]["text"]
    # The clock started when the client asked, not when the bot gave up waiting.
    assert world.store.support.get(1).created_at == NOW


async def test_an_internal_channel_slack_calls_shared_gets_no_escalation(world):
    from bot.domain.accounts import Audience

    class SharedEverywhere:
        async def audience(self, account, channel):
            return Audience.CLIENT  # Slack says every channel is shared with the client

    await _task_filed_monday(world)
    world.service.audiences = SharedEverywhere()
    world.now = MONDAY_9 + dt.timedelta(hours=5)
    await world.service.tick()
    assert world.slack.in_channel(INTERNAL) == []
    assert world.store.support.get(1).escalated_at is None  # told once the channel is internal again


async def test_a_clocked_client_message_turned_into_a_request_keeps_its_clock_and_is_filed_once(world):
    world.now = MONDAY_9
    ts = slack_ts(MONDAY_9, 0)
    await world.service.channel_message(CLIENT, "U0CLIENT01", Role.EXTERNAL, ts, to_the_bot=False)
    world.now = MONDAY_9 + dt.timedelta(hours=1)
    refusal = await world.service.from_message(user_id="U0ANNA0001", role=Role.MEMBER, channel_id=CLIENT,
                                               message_ts=ts, author="U0CLIENT01", text="Shop zeigt Fehler 500",
                                               urgency="task", permalink=None)
    assert refusal is None and list(world.jira.created) == ["SUP-1"]
    [row] = world.store.support.open_clocks()
    assert (row.kind, row.created_at, row.issue_key, row.text) == ("request", MONDAY_9, "SUP-1", "Shop zeigt Fehler 500")
    # Again (a replayed submission): nothing more.
    await world.service.from_message(user_id="U0ANNA0001", role=Role.MEMBER, channel_id=CLIENT, message_ts=ts,
                                     author="U0CLIENT01", text="Shop zeigt Fehler 500", urgency="task", permalink=None)
    assert list(world.jira.created) == ["SUP-1"]
    # The agency's reply in the thread answers it.
    await world.service.thread_reply(CLIENT, ts, "U0ANNA0001", Role.MEMBER, slack_ts(MONDAY_9 + dt.timedelta(hours=2)), "Ist behoben.")
    assert world.store.support.open_clocks() == []


# -- the Slack link in the issue, and Jira Server/Data Center authors

async def test_a_request_filed_by_mention_carries_the_slack_permalink_to_jira(world):
    """Clients often have no Jira seat: the issue links the Slack message it came from, for a
    mention and the slash command as for the shortcut (chat.getPermalink of the request's thread)."""
    ts = "1764255600.000100"
    await world.mention("notfall Zahlungen schlagen fehl", ts=ts)
    [fields] = world.jira.created.values()
    assert f"https://agency.slack.com/archives/{CLIENT}/p1764255600000100" in fields["description"]
    # Slack unable to say: filed all the same, without the link (never a guess).
    world.slack.no_permalink = True
    await world.mention("notfall Noch ein Problem", ts="1764255601.000100")
    assert len(world.jira.created) == 2 and "slack.com" not in world.jira.created["SUP-2"]["description"]


def _server_support(world, keys):
    """ACME with `support.agency_jira_users` (Jira Server/Data Center user keys of the agency)."""
    account = ACCOUNTS.by_key("acme-shop")
    support = account.support.model_copy(update={"agency_jira_users": keys})
    accounts = ACCOUNTS.model_copy(update={"accounts": [
        account.model_copy(update={"support": support}) if a.key == "acme-shop" else a for a in ACCOUNTS.accounts]})
    world.service.accounts = accounts


async def test_on_jira_server_a_comment_by_a_listed_agency_user_key_is_the_first_response(world):
    """Server/Data Center comments carry no accountType: by default no Jira comment stops the clock
    there. With `support.agency_jira_users` (user keys: ids, not the renamable usernames) a public
    comment by one of them is the first response; an unlisted key, a listed username, a missing
    key, or a listed key Jira Cloud calls a portal customer: not."""
    request_id = await _task_filed_monday(world)
    at = MONDAY_9 + dt.timedelta(minutes=30)
    await world.service.jira_comment("SUP-1", "ben", True, at, "On it.", author_key="JIRAUSER10100")
    assert world.store.support.get(request_id).first_response_at is None  # off by default
    _server_support(world, ["JIRAUSER10100"])
    await world.service.jira_comment("SUP-1", "JIRAUSER10100", True, at, "On it.", author_key="jirauser10100")
    await world.service.jira_comment("SUP-1", "ben", True, at, "On it.", author_key="JIRAUSER10999")
    await world.service.jira_comment("SUP-1", "ben", True, at, "On it.", author_key=None)
    await world.service.jira_comment("SUP-1", "ben", True, at, "On it.", author_key="JIRAUSER10100",
                                     account_type="customer")
    await world.service.jira_comment("SUP-1", "ben", False, at, "internal", author_key="JIRAUSER10100")
    await world.service.jira_comment("SUP-1", "ben", True, at, "Out of office until Monday", author_key="JIRAUSER10100")
    assert world.store.support.get(request_id).first_response_at is None
    await world.service.jira_comment("SUP-1", "ben", True, at, "On it.", author_key="JIRAUSER10100")
    row = world.store.support.get(request_id)
    assert (row.first_response_at, row.first_response_by) == (at, "jira:ben")


async def test_an_unanswered_client_message_is_answered_in_its_own_thread(world):
    """A client's top-level message nobody answered: an agency reply in its thread stops its clock
    (a client's own follow-up there does not)."""
    ts = slack_ts(MONDAY_9, 0)
    world.now = MONDAY_9
    await world.service.channel_message(CLIENT, "U0CLIENT01", Role.EXTERNAL, ts, to_the_bot=False)
    await world.service.thread_reply(CLIENT, ts, "U0CLIENT01", Role.EXTERNAL, slack_ts(MONDAY_9, 1), "Hallo?")
    assert len(world.store.support.open_clocks()) == 1
    await world.service.thread_reply(CLIENT, ts, "U0ANNA0001", Role.MEMBER, slack_ts(MONDAY_9, 2), "Schauen wir uns an")
    assert world.store.support.open_clocks() == []


def test_labels_of_the_project_work_list_flag_a_request_as_project_work():
    from bot.domain.support import is_project_work

    support = ACCOUNTS.by_key("acme-shop").support.model_copy(update={"project_work_labels": ["relaunch"]})
    assert is_project_work(support, None, ("pulse-support", "relaunch"))
    assert not is_project_work(support, None, ("pulse-support",))
