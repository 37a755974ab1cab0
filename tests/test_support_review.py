"""The independent review's findings on support requests (#13), each a reproduction that failed on
the reviewed code (main 2c2a3df), with the reviewer's assertions kept, plus the class of input
around it where that is cheap. Numbers refer to the review's FINDINGS.md."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import Ports, assemble
from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig, Urgency
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import scope_verdict
from bot.domain.webhooks import normalize
from bot.services.exactly_once import OncePoster
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from bot.services.support import SupportService
from bot.settings import Settings
from integrations.slack import make_web_client
from sandbox.agency import sandbox_accounts
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload

PIN = "pinpoint-jira/internal/testdata"
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)
ACCOUNTS = sandbox_accounts()
ACME_CLIENT, ACME_INTERNAL, GLOBEX_CLIENT, GLOBEX_INTERNAL = "C0ACMECLNT", "C0ACMEINTL", "C0GLXCLNT1", "C0GLXINTL1"
ACME_THREAD, GLOBEX_THREAD = "1796025600.000100", "1796025601.000100"
LINKS = SiteLinks(jira="https://agency.atlassian.net")


@pytest.fixture
async def world(sqlite_store):
    """ACME's and Globex's clients each filed a task in the shared SUP project: SUP-1 and SUP-2."""
    jira, slack = InMemoryJira(), InMemorySlack()
    poster = OncePoster(sqlite_store, slack, lambda: NOW, "w1", dt.timedelta(minutes=2))
    service = SupportService(accounts=ACCOUNTS, store=sqlite_store, jira=jira, slack=slack, poster=poster,
                             clock=lambda: NOW, links=LINKS)
    for key, channel, thread in (("acme-shop", ACME_CLIENT, ACME_THREAD), ("globex", GLOBEX_CLIENT, GLOBEX_THREAD)):
        account = ACCOUNTS.by_key(key)
        await service.open_request(account, account.channel(channel), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                   text="Bitte helfen", source_ts=thread, thread_ts=thread, urgency=Urgency.TASK)
    assert sorted(jira.created) == ["SUP-1", "SUP-2"]
    slack.messages.clear()
    worker = InboxWorker(sqlite_store, ACCOUNTS, slack, jira, clock=lambda: NOW, settings=WorkerSettings(),
                         links=LINKS, support=service)
    return sqlite_store, jira, slack, worker, service


def _status_change(key: str, request_id: int, components, to: str, labels=None) -> dict:
    body = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.json"))
    body["issue"]["key"] = key
    fields = body["issue"]["fields"]
    fields["project"].update(key="SUP", name="Support")
    fields["labels"] = labels if labels is not None else ["pulse-support", f"pulse-req-{request_id}"]
    fields["components"] = [{"name": c} for c in components]
    fields["issuetype"].update(name="Task", untranslatedName="Task")
    fields["status"]["name"] = to
    body["changelog"]["items"] = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1",
                                   "fromString": "To Do", "to": "3", "toString": to}]
    body["timestamp"] = int((NOW + dt.timedelta(hours=1)).timestamp() * 1000)
    return body


def _comment(key: str, *, body_text: str = "Wir kümmern uns darum.") -> dict:
    body = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    body["issue"]["key"] = key
    body["issue"]["fields"]["project"].update(key="SUP", name="Support")
    body["comment"]["body"] = body_text
    body["comment"]["created"] = "2026-11-30T10:30:00.000+0100"
    body["comment"]["jsdPublic"] = True
    return body


def _add(store, payload: dict, delivery_id: str) -> None:
    assert store.inbox.add("jira", delivery_id, json.dumps(payload), payload["webhookEvent"], NOW)


# -- 1. LEAK: an issue of the shared support project claimed by two clients ------------------------


async def test_review_issue_with_both_clients_components_reaches_neither_client(world):
    """A SUP issue carrying ACME's *and* Globex's component is claimed by two clients: it is not
    known to be either's, so no client channel may hear of it (support_account says as much)."""
    store, jira, slack, worker, _ = world
    _add(store, _status_change("SUP-1", 1, ["ACME", "GLOBEX"], "In Progress"), "d-1")
    await worker.run_once()
    leaked = [m for m in slack.in_channel(GLOBEX_CLIENT) if "SUP-1" in m["text"]]
    assert leaked == [], f"ACME's request SUP-1 reached Globex's client channel: {leaked}"
    # Nobody's: not ACME's thread either (ACME's control below shows the same change does arrive).
    assert [m for m in slack.messages if "SUP-1" in m["text"]] == []


async def test_an_issue_with_only_its_own_component_still_reaches_its_thread(world):
    """The control for #1: the same change on an ACME-only issue reaches ACME's request thread."""
    store, jira, slack, worker, _ = world
    _add(store, _status_change("SUP-1", 1, ["ACME"], "In Progress"), "d-1")
    await worker.run_once()
    assert [m for m in slack.in_channel(ACME_CLIENT) if "SUP-1" in m["text"]]
    assert [m for m in slack.in_channel(GLOBEX_CLIENT) if "SUP-1" in m["text"]] == []


def _by_label(config: AccountsConfig, key: str, label: str) -> AccountsConfig:
    """The config with account `key` recognised by a label instead of its component."""
    accounts = []
    for a in config.accounts:
        if a.key == key and a.support is not None and a.support.match is not None:
            match = a.support.match.model_copy(update={"component": None, "label": label})
            a = a.model_copy(update={"support": a.support.model_copy(update={"match": match})})
        accounts.append(a)
    return config.model_copy(update={"accounts": accounts})


_LABEL_CONFIG = _by_label(ACCOUNTS, "globex", "globex")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(components=st.lists(st.sampled_from(["ACME", "GLOBEX", "OTHER"]), max_size=3, unique=True),
       labels=st.lists(st.sampled_from(["globex", "acme", "pulse-support"]), max_size=3, unique=True),
       by_label=st.booleans())
def test_a_shared_support_issue_is_at_most_one_accounts_and_only_its_sole_claimers(components, labels, by_label):
    """Whatever components and labels an issue carries, and whether Globex is recognised by its
    component or a label: the scope verdict allows it for at most one account, and only for the
    one account whose match claims it while no other does."""
    config = _LABEL_CONFIG if by_label else ACCOUNTS
    [event] = normalize(_status_change("SUP-9", 9, components, "In Progress", labels=labels)).events
    allowed = [a.key for a in config.accounts if scope_verdict(event, a, config.accounts).allowed
               and a.support is not None and a.support.project == "SUP"]
    claims = {"acme-shop": "ACME" in components,
              "globex": ("globex" in labels) if by_label else ("GLOBEX" in components)}
    claimers = [k for k, c in claims.items() if c]
    assert allowed == (claimers if len(claimers) == 1 else []), (components, labels, by_label, allowed)


def test_an_account_recognised_by_organization_makes_every_event_of_the_project_unsure():
    """An organization is never in an event: while another account of the shared project is
    recognised by it, an ACME-component issue may be that client's too (withheld)."""
    globex = ACCOUNTS.by_key("globex")
    assert globex is not None and globex.support is not None and globex.support.match is not None
    match = globex.support.match.model_copy(update={"component": None, "organization": "7",
                                                    "organization_field": "customfield_10002"})
    globex = globex.model_copy(update={"support": globex.support.model_copy(update={"match": match})})
    config = [globex if a.key == "globex" else a for a in ACCOUNTS.accounts]
    [event] = normalize(_status_change("SUP-1", 1, ["ACME"], "In Progress")).events
    acme = ACCOUNTS.by_key("acme-shop")
    assert not scope_verdict(event, acme, config).allowed
    assert scope_verdict(event, acme, ACCOUNTS.accounts).allowed


# -- 7. LEAK: internal support notices vs an internal channel Slack says is shared -----------------


async def test_review_escalation_and_breach_do_not_go_to_an_internal_channel_slack_says_is_shared(sqlite_store):
    """ACME's internal channel has been shared with the client's organization (Slack Connect;
    `is_ext_shared: true`). Everything else in the bot treats it as a client channel from then on
    (ChannelAudiences). The support clock's escalation and breach notices are internal: never there."""
    now = [NOW]
    with FakeSlack(team_id="T0AGENCY1") as server:
        accounts = sandbox_accounts()
        server.add_channels_of(accounts)
        server.channels[ACME_INTERNAL].is_ext_shared = True
        ports = Ports(accounts=accounts, store=sqlite_store, jira=InMemoryJira(), clock=lambda: now[0],
                      slack=InMemorySlack(), slack_client=make_web_client(server.token, server.api_url), links=LINKS)
        runtime = assemble(Settings(slack={"signing_secret": "x" * 32}, scheduler_enabled=False), ports)
        acme = accounts.by_key("acme-shop")
        await runtime.support.open_request(acme, acme.channel(ACME_CLIENT), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                           text="Logo tauschen", source_ts=ACME_THREAD, thread_ts=ACME_THREAD,
                                           urgency=Urgency.TASK)
        assert runtime.audiences is not None
        assert (await runtime.audiences.channel(acme, acme.channel(ACME_INTERNAL))).audience.value == "client"
        now[0] += dt.timedelta(days=3)  # far past the 4 h task target
        await runtime.support.watch()
        internal = [m["text"] for m in ports.slack.in_channel(ACME_INTERNAL)]
        assert not any("SUP-1" in t for t in internal), f"internal support notices in a shared channel: {internal}"


# -- 3. LEAK: replies in an internal channel's request thread made public comments in Jira ---------


async def test_review_replies_in_an_internal_channel_request_thread_are_not_made_public_in_jira(world):
    """A member files a request from ACME's *internal* channel. The team then discusses it in that
    thread. With `mirror_replies`, every such internal reply would become a public Jira comment on
    the client's support issue: internal chatter must never be mirrored as public."""
    store, jira, slack, worker, service = world
    account = ACCOUNTS.by_key("acme-shop")
    thread = "1796025700.000100"
    rid = await service.open_request(account, account.channel(ACME_INTERNAL), user_id="U0ACMEAM01", role=Role.MEMBER,
                                     text="Client says checkout is slow", source_ts=thread, thread_ts=thread,
                                     urgency=Urgency.TASK)
    assert store.support.get(rid).issue_key
    await service.thread_reply(ACME_INTERNAL, thread, "U0ACMEAM01", Role.MEMBER, "1796025800.000100",
                               "internal: they still owe us 3 invoices, keep it slow until they pay")
    assert jira.added_comments == [], f"internal thread text made public in Jira: {jira.added_comments}"


@pytest.mark.parametrize("role, user", [(Role.MEMBER, "U0ACMEAM01"), (Role.EXTERNAL, "U0CLIENT01")])
async def test_replies_in_a_client_channels_request_thread_are_still_mirrored(world, role, user):
    """The control for #3: in the client channel's request thread both sides' replies are mirrored."""
    store, jira, slack, worker, service = world
    await service.thread_reply(ACME_CLIENT, ACME_THREAD, user, role, "1796025800.000100", "Ist erledigt")
    assert [k for k, _ in jira.added_comments] == ["SUP-1"]


async def test_replies_in_an_internal_channel_slack_calls_shared_are_not_mirrored(sqlite_store):
    """An internal channel shared with the client (effective audience client) is still no client
    thread: its people wrote for the team. Only a channel configured for the client mirrors."""
    with FakeSlack(team_id="T0AGENCY1") as server:
        accounts = sandbox_accounts()
        server.add_channels_of(accounts)
        server.channels[ACME_INTERNAL].is_ext_shared = True
        jira = InMemoryJira()
        ports = Ports(accounts=accounts, store=sqlite_store, jira=jira, clock=lambda: NOW, slack=InMemorySlack(),
                      slack_client=make_web_client(server.token, server.api_url), links=LINKS)
        runtime = assemble(Settings(slack={"signing_secret": "x" * 32}, scheduler_enabled=False), ports)
        acme = accounts.by_key("acme-shop")
        thread = "1796025700.000100"
        await runtime.support.open_request(acme, acme.channel(ACME_INTERNAL), user_id="U0ACMEAM01", role=Role.MEMBER,
                                           text="Checkout langsam", source_ts=thread, thread_ts=thread,
                                           urgency=Urgency.TASK)
        await runtime.support.thread_reply(ACME_INTERNAL, thread, "U0ACMEAM01", Role.MEMBER, "1796025800.000100",
                                           "intern: erst nach Zahlung")
        assert jira.added_comments == []


# -- 9. LEAK (derived numbers): the client digest counts requests filed in the internal channel ----

from bot.domain.accounts import Audience  # noqa: E402
from bot.domain.support_figures import support_figures  # noqa: E402


async def test_review_client_digest_counts_only_the_clients_own_requests(world):
    """A request the team files in ACME's *internal* channel (an internal matter) must not be
    counted in the client digest's opened/open figures; the internal digest counts it."""
    store, jira, slack, worker, service = world
    acme = ACCOUNTS.by_key("acme-shop")
    await service.open_request(acme, acme.channel(ACME_INTERNAL), user_id="U0ACMEAM01", role=Role.MEMBER,
                               text="internal: check why their invoices bounce", source_ts="1796026100.000100",
                               thread_ts="1796026100.000100", urgency=Urgency.EMERGENCY)
    since, until = NOW - dt.timedelta(days=7), NOW + dt.timedelta(days=1)
    rows = store.support.in_period("acme-shop", since, until)
    figures = support_figures(acme, Audience.CLIENT, rows, since, until)
    assert figures.opened == 1, f"the client digest counts {figures.opened} requests; the client filed 1"
    assert (figures.emergencies, figures.open) == (0, 1)
    internal = support_figures(acme, Audience.INTERNAL, rows, since, until)
    assert (internal.opened, internal.emergencies) == (2, 1)
    # The digest service hands over the channels the client sees now (effective audience): a
    # shared internal channel's requests are in front of the client anyway.
    shared = support_figures(acme, Audience.CLIENT, rows, since, until, client_channels={ACME_CLIENT, ACME_INTERNAL})
    assert shared.opened == 2
    assert support_figures(acme, Audience.CLIENT, rows, since, until, client_channels=set()).opened == 0


# -- 15. LEAK: a request adopting another client's issue found by its label -------------------------

from bot.domain.support import request_marker  # noqa: E402
from integrations.store.store import Store  # noqa: E402


async def test_review_a_request_never_adopts_another_clients_issue_found_by_its_label(world, tmp_path):
    """Request ids restart (a restored/reset database, or a staging bot on the same Jira): a new
    request #n finds `pulse-req-<n>` on another client's issue. A found issue is used only if it
    carries this request's marker (and so is this account's): otherwise a new issue is created."""
    _store, jira, slack, _worker, _service = world
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}", migrate=True)
    try:
        poster = OncePoster(fresh, slack, lambda: NOW, "w2", dt.timedelta(minutes=2))
        service = SupportService(accounts=ACCOUNTS, store=fresh, jira=jira, slack=slack, poster=poster,
                                 clock=lambda: NOW, links=LINKS)
        globex, acme = ACCOUNTS.by_key("globex"), ACCOUNTS.by_key("acme-shop")
        await service.open_request(globex, globex.channel(GLOBEX_CLIENT), user_id="U0GLXCLNT9", role=Role.EXTERNAL,
                                   text="Password reset broken", source_ts="1796027000.000100",
                                   thread_ts="1796027000.000100", urgency=Urgency.TASK)
        await service.open_request(acme, acme.channel(ACME_CLIENT), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                   text="Impressum", source_ts="1796027050.000100",
                                   thread_ts="1796027050.000100", urgency=Urgency.TASK)
        recorded = {r: fresh.support.get(r).issue_key for r in (1, 2)}
        await service.thread_reply(ACME_CLIENT, "1796027050.000100", "U0CLIENT01", Role.EXTERNAL,
                                   "1796027100.000100", "Unser Admin-Login ist admin@acme / Winter2026!")
        onto_other = [(k, b) for k, b in jira.added_comments if jira.created[k]["components"] != [{"name": "ACME"}]]
        assert onto_other == [], (f"requests recorded as {recorded}; the ACME client's reply was commented on "
                                  f"Globex's issue: {onto_other}")
        assert recorded == {1: "SUP-3", 2: "SUP-4"}  # new issues, not SUP-1/SUP-2 of the other database
    finally:
        fresh.close()


async def test_a_request_whose_own_issue_was_created_is_found_again_not_duplicated(world, tmp_path):
    """Even the same account's request of the same id in another database is another request."""
    _store, jira, slack, _worker, _service = world
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}", migrate=True)
    try:
        poster = OncePoster(fresh, slack, lambda: NOW, "w2", dt.timedelta(minutes=2))
        later = NOW + dt.timedelta(seconds=1)
        service = SupportService(accounts=ACCOUNTS, store=fresh, jira=jira, slack=slack, poster=poster,
                                 clock=lambda: later, links=LINKS)
        acme = ACCOUNTS.by_key("acme-shop")
        await service.open_request(acme, acme.channel(ACME_CLIENT), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                   text="Bitte helfen", source_ts=ACME_THREAD, thread_ts=ACME_THREAD,
                                   urgency=Urgency.TASK)
        assert fresh.support.get(1).issue_key == "SUP-3"
    finally:
        fresh.close()


@settings(max_examples=40, deadline=None)
@given(a=st.tuples(st.sampled_from(["acme-shop", "globex"]), st.sampled_from([ACME_CLIENT, ACME_INTERNAL]),
                   st.sampled_from(["U0CLIENT01", "U0ACMEAM01"]), st.integers(0, 3), st.integers(1, 3)),
       b=st.tuples(st.sampled_from(["acme-shop", "globex"]), st.sampled_from([ACME_CLIENT, ACME_INTERNAL]),
                   st.sampled_from(["U0CLIENT01", "U0ACMEAM01"]), st.integers(0, 3), st.integers(1, 3)))
def test_a_request_marker_is_the_same_only_for_the_same_request(a, b):
    """Stable for a request's retries; any difference in account, channel, requester, creation
    instant (to the microsecond) or id gives another marker, and it is always a valid Jira label."""
    def marker(t):
        key, channel, user, micros, rid = t
        return request_marker(key, channel, user, NOW + dt.timedelta(microseconds=micros), rid)
    assert (marker(a) == marker(b)) == (a == b)
    assert marker(a).startswith("pulse-rq-") and " " not in marker(a) and len(marker(a)) <= 255


# -- 4. DUPLICATE: a mirrored client reply echoed back into its own thread -------------------------


async def test_review_a_mirrored_client_reply_is_not_echoed_back_into_its_thread(world):
    """The client replies in the request's thread; the bot mirrors it to Jira as
    "[via Slack: name]\\n<text>" (public). Jira's comment_created webhook for that very comment then
    comes back: the bot must not post the client's own words into the thread a second time."""
    store, jira, slack, worker, service = world
    await service.thread_reply(ACME_CLIENT, ACME_THREAD, "U0CLIENT01", Role.EXTERNAL, "1796025900.000100",
                               "Danke, die Seite lädt wieder")
    [(key, mirrored)] = jira.added_comments
    assert key == "SUP-1"
    _add(store, _comment("SUP-1", body_text=mirrored), "d-echo")
    await worker.run_once()
    echoed = [m for m in slack.in_channel(ACME_CLIENT) if "Danke, die Seite lädt wieder" in m["text"]]
    assert echoed == [], f"the client's reply was posted back into the thread: {echoed}"
    assert [m for m in slack.messages if "Danke" in m["text"]] == []  # nor in the internal channel
    # The control: an agency comment on the same issue still reaches the thread.
    _add(store, _comment("SUP-1", body_text="Wir haben den Cache geleert."), "d-agency")
    await worker.run_once()
    assert [m for m in slack.in_channel(ACME_CLIENT) if "Cache geleert" in m["text"]]


# -- 11. lost: one Slack failure after filing loses the key and the emergency DMs ------------------

from bot.errors import UpstreamError  # noqa: E402


async def test_review_emergency_dm_and_key_survive_one_slack_failure(sqlite_store):
    """A client files an emergency; Jira creates SUP-1; Slack answers the "filed" post with a 503.
    A later tick announces it (and DMs the support person), once."""
    now = [NOW]
    jira, slack = InMemoryJira(), InMemorySlack()
    poster = OncePoster(sqlite_store, slack, lambda: now[0], "w1", dt.timedelta(minutes=2))
    service = SupportService(accounts=ACCOUNTS, store=sqlite_store, jira=jira, slack=slack, poster=poster,
                             clock=lambda: now[0], links=LINKS)
    acme = ACCOUNTS.by_key("acme-shop")
    slack.fail_next.append(UpstreamError("slack", "service_unavailable", retryable=True))
    with pytest.raises(Exception):
        await service.open_request(acme, acme.channel(ACME_CLIENT), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                   text="Shop ist down", source_ts=ACME_THREAD, thread_ts=ACME_THREAD,
                                   urgency=Urgency.EMERGENCY)
    assert list(jira.created) == ["SUP-1"]
    for minutes in (1, 5, 30):
        now[0] = NOW + dt.timedelta(minutes=minutes)
        await service.tick()
    in_thread = [m for m in slack.in_channel(ACME_CLIENT) if "SUP-1" in m["text"]]
    assert in_thread, "the client never heard the key of their emergency"
    assert slack.dms_to("U0ACMESUP1"), "the support person was never DM'd about the emergency"
    assert len(in_thread) == 1 and len(slack.dms_to("U0ACMESUP1")) == 1  # once, whatever the ticks
    assert list(jira.created) == ["SUP-1"]


# -- 13. clock: a Service Desk portal customer's comment is no first response ----------------------


@pytest.mark.parametrize("account_type, counts", [("customer", False), ("app", False), (None, False),
                                                  ("atlassian", True)])
async def test_review_a_service_desk_customers_portal_comment_is_not_the_agencys_first_response(
        world, account_type, counts):
    """The client answers on the Service Desk portal ("Any news?"): Jira's comment_created names
    the author with `accountType: "customer"`. Only an author positively known to be a licensed
    (agency) user stops the clock; an app or an author of unknown type neither."""
    store, jira, slack, worker, service = world
    body = _comment("SUP-1", body_text="Gibt es schon Neuigkeiten?")
    body["comment"]["author"].update(accountId="qm:1a2b3c:customer-42", displayName="Kunde ACME")
    body["comment"]["author"].pop("accountType", None)
    if account_type is not None:
        body["comment"]["author"]["accountType"] = account_type
    _add(store, body, "d-cust")
    await worker.run_once()
    stopped = store.support.get(1).first_response_at is not None
    assert stopped is counts, f"accountType {account_type!r}: the clock stopped={stopped}"


# -- 14. clock: a member's bot command in the client channel answers nobody -----------------------


async def test_review_a_members_bot_command_in_the_client_channel_does_not_answer_the_clients_question(world):
    """A client asks in ACME's client channel (clocked). A member's `@Account Pulse status` there
    is answered by the bot, not by a person: the client's question stays unanswered."""
    store, jira, slack, worker, service = world
    await service.channel_message(ACME_CLIENT, "U0CLIENT01", Role.EXTERNAL, "1796026200.000100", to_the_bot=False)
    [clocked] = [r for r in store.support.open_clocks() if r.kind == "message"]
    await service.channel_message(ACME_CLIENT, "U0ACMEAM01", Role.MEMBER, "1796026300.000100", to_the_bot=True)
    assert store.support.get(clocked.id).first_response_at is None, "a bot command 'answered' the client"
    # The control: the member's own message (not to the bot) answers it.
    await service.channel_message(ACME_CLIENT, "U0ACMEAM01", Role.MEMBER, "1796026400.000100", to_the_bot=False)
    assert store.support.get(clocked.id).first_response_by == "slack:U0ACMEAM01"


# -- 12. clock through Bolt: "Also send to #channel" (and file) replies are answers ----------------

import asyncio  # noqa: E402

from tests.slack_requests import app_mention, signed_headers  # noqa: E402
from tests.test_support_slack import CLIENT_TEAM, bot, fake  # noqa: E402,F401


@pytest.mark.parametrize("subtype, counts", [("thread_broadcast", True), ("file_share", True),
                                             ("channel_join", False)])
async def test_review_an_agency_reply_also_sent_to_the_channel_is_a_first_response(bot, fake, subtype,  # noqa: F811
                                                                                   counts):
    """An agency member answers in the request's thread with "Also send to #channel" ticked (Slack's
    `thread_broadcast`), or with a screenshot (`file_share`): a first response. A join is not."""
    http, ports = bot
    mention_ts = "1764255600.000100"
    body = app_mention("anfrage Bitte Impressum aktualisieren", user_id="U0CLIENT01", channel_id="C0ACMECLNT",
                       home_team="T0AGENCY1", user_team=CLIENT_TEAM, ts=mention_ts)
    r = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type="application/json"))
    assert r.status_code == 200
    for _ in range(250):
        if ports.slack.messages:
            break
        await asyncio.sleep(0.02)
    assert ports.store.support.get(1) is not None
    reply = json.loads(app_mention("x", user_id="U0MEMBER01", channel_id="C0ACMECLNT", home_team="T0AGENCY1",
                                   ts="1764256600.000200"))
    reply["event"].update(type="message", subtype=subtype, text="Ist erledigt, bitte neu laden",
                          thread_ts=mention_ts, channel_type="channel")
    reply["event_id"] = "Ev0REVIEW02"
    raw = json.dumps(reply)
    r = await http.post("/slack/events", content=raw, headers=signed_headers(raw, content_type="application/json"))
    assert r.status_code == 200
    for _ in range(150 if counts else 25):
        if ports.store.support.get(1).first_response_at is not None:
            break
        await asyncio.sleep(0.02)
    answered = ports.store.support.get(1).first_response_at is not None
    assert answered is counts, f"{subtype}: counted as the agency's answer = {answered}"


# -- 8. lost: the shortcut on a client message the bot already clocked ----------------------------


async def test_review_turning_a_clocked_client_message_into_a_request_files_it(world):
    """A client's top-level question is clocked (kind "message", keyed by channel + ts); a member
    then turns exactly that message into a request: it is filed (main 20a2732 fixed it)."""
    store, jira, slack, worker, service = world
    ts = "1796026000.000100"
    await service.channel_message(ACME_CLIENT, "U0CLIENT01", Role.EXTERNAL, ts, to_the_bot=False)
    before = set(jira.created)
    refusal = await service.from_message(user_id="U0ACMEAM01", role=Role.MEMBER, channel_id=ACME_CLIENT,
                                         message_ts=ts, author="U0CLIENT01", text="Der Warenkorb zeigt 0 €",
                                         urgency="emergency", permalink=None)
    assert refusal is None
    assert set(jira.created) - before, "the shortcut's request was silently dropped: no Jira issue was created"
