"""Leaks an independent review of the client promise found (main at 0328da7), each as the
reviewer reproduced it: a real payload edited into the shape Jira sends, through the same code
the worker and the digest use. Each test failed before its fix.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from bot.domain.accounts import AccountsConfig, Audience, Budget, JiraScope
from bot.domain.audience import issue_visible
from bot.domain.budget import budget_status
from bot.domain.facts import IssueType, normalized
from bot.domain.notify_policy import event_verdict, route
from bot.domain.subscriptions import parse_subscription
from bot.domain.webhooks import normalize
from bot.render.notifications import render_event
from integrations.jira_payloads import parse_issue
from tests.fakes.jira import InMemoryJira
from tests.fixtures import real_payload
from tests.test_notifications import ALPHA, PINPT

C, I = Audience.CLIENT, Audience.INTERNAL
PIN = "pinpoint-jira/internal/testdata"
ZJ = "zulip/zerver/webhooks/jira/fixtures"
CREATED = f"{PIN}/jira:issue_created.json"  # GOLD-189, a public Cloud issue (no level, no labels)
ALL = [parse_subscription("all")]


def client_texts(payload: dict, acct=ALPHA) -> list[str]:
    """What the account's client channel, subscribed to everything, would be sent (no lookups)."""
    client = next(c for c in acct.channels if c.audience is C)
    deliveries = route(normalize(payload).events, AccountsConfig(accounts=[acct]), {client.id: ALL})
    return [render_event(d.event, C, acct, links=PINPT).text for d in deliveries if d.channel.id == client.id]


def created(**fields) -> dict:
    payload = copy.deepcopy(real_payload(CREATED))
    payload["issue"]["fields"].update(fields)
    return payload


def rest_issue(**fields) -> dict:
    """GOLD-189 as the REST search would return it (the webhook's issue object, plus `created`)."""
    raw = copy.deepcopy(real_payload(CREATED)["issue"])
    raw["fields"].update({"created": "2026-11-20T10:00:00.000+0000", **fields})
    return raw


# --- finding 6 (suspected): look-alike labels and types ------------------------------------

AGENCY = ALPHA.model_copy(update={"jira": JiraScope(projects=["TES", "GOLD"],
                                                    internal_labels=["internal", "agency-only"])})
LOOK_ALIKES = ["ｉｎｔｅｒｎａｌ", "İnternal", "internal\u200b", "\ufeffinternal", "#internal", "AGENCY–ONLY",
               "agency.only", "agency—only", "Agency_Only", "agency  only", "ınternal"]


@pytest.mark.parametrize("label", LOOK_ALIKES)
def test_look_alike_internal_labels_are_internal(label):
    assert normalized(label) in {normalized("internal"), normalized("agency-only")}
    assert client_texts(created(labels=[label, "signal"]), AGENCY) == []
    assert parse_issue(rest_issue(labels=[label])).access.facts(AGENCY)[2].known.value == "restricted"


def test_a_public_label_still_passes():
    (text,) = client_texts(created(labels=["signal", "internals", "agency"]), AGENCY)
    assert "GOLD-189" in text


# --- finding 3: translated issue type names -------------------------------------------------

GLOBEX = ALPHA.model_copy(update={"jira": JiraScope(projects=["TES", "GOLD"], internal_issue_types=["Incident Review"])})
TRANSLATED = {"id": "10050", "name": "Разбор инцидента", "untranslatedName": "Incident Review"}


def test_a_translated_internal_type_is_internal_in_webhooks_and_digests():
    assert client_texts(created(issuetype=TRANSLATED), GLOBEX) == []
    assert not issue_visible(parse_issue(rest_issue(issuetype=TRANSLATED)), C, GLOBEX)


def test_a_type_name_without_untranslated_name_is_unknown_until_looked_up():
    # An account naming types by name cannot tell "Разбор инцидента" from a public type.
    shape = {"id": "10050", "name": "Разбор инцидента"}
    (event,) = normalize(created(issuetype=shape)).events
    verdict = event_verdict(event, C, GLOBEX)
    assert not verdict.allowed and "untranslatedName" in verdict.reason
    assert not issue_visible(parse_issue(rest_issue(issuetype=shape)), C, GLOBEX)
    # Named by id, the account needs no English name.
    by_id = GLOBEX.model_copy(update={"jira": JiraScope(projects=["GOLD"], internal_issue_types=["10050"])})
    assert client_texts(created(issuetype=shape), by_id) == []
    assert client_texts(created(issuetype={"id": "10051", "name": "Задача"}), by_id) != []


def test_public_control_for_translated_types():
    public = {"id": "10051", "name": "Задача", "untranslatedName": "Task"}
    (text,) = client_texts(created(issuetype=public), GLOBEX)
    assert "GOLD-189" in text
    assert issue_visible(parse_issue(rest_issue(issuetype=public)), C, GLOBEX)
    assert IssueType(name="Задача", id="10051", untranslated="Task") == parse_issue(
        rest_issue(issuetype=public)).access.issue_type


# --- finding 7 (suspected): Cloud's trimmed issue past the payload limits --------------------


def test_an_issue_from_the_limit_transformation_is_looked_up_first():
    payload = created()
    payload["isFromIssueLimitTransformation"] = True
    payload["issue"]["fields"].pop("security", None)
    (event,) = normalize(payload).events
    assert "issue" in event.needs_lookup()
    assert client_texts(payload) == []
    payload["isFromIssueLimitTransformation"] = False
    assert client_texts(payload) != []


# --- finding 5: worklogs restricted to a role or group in the digest's budget ---------------

NORTHWIND = ALPHA.model_copy(update={"budget": Budget(hours=Decimal(40), rate=Decimal(100), show_money_to_client=True)})


def test_restricted_worklogs_do_not_count_in_the_clients_budget():
    wl = real_payload(f"{ZJ}/worklog_created.json")["worklog"]
    public = dict(wl, id="1", timeSpentSeconds=3600, started="2026-11-10T09:00:00.000+0000")
    hidden = dict(wl, id="2", timeSpentSeconds=8 * 3600, started="2026-11-11T09:00:00.000+0000",
                  visibility={"type": "group", "value": "agency-staff"})
    issue = parse_issue(rest_issue(labels=[], security=None), [public, hidden])
    now = dt.datetime(2026, 11, 23, 15, tzinfo=dt.UTC)
    assert budget_status(NORTHWIND, C, [issue], now).spent_hours == Decimal("1.00")
    assert budget_status(NORTHWIND, I, [issue], now).spent_hours == Decimal("9.00")
    odd = dict(hidden, visibility="agency-staff")  # unreadable: not known to be public
    assert budget_status(NORTHWIND, C, [parse_issue(rest_issue(), [public, odd])], now).spent_hours == Decimal("1.00")


def _looked_up_gold_189(untranslated: str):
    from bot.domain.facts import IssueAccess
    from tests.test_inbox_worker import issue
    access = IssueAccess(issue_type=IssueType(name="Разбор инцидента", id="10050", untranslated=untranslated))
    return issue("GOLD-189", issue_type="Разбор инцидента", read=access)


@pytest.mark.parametrize(("untranslated", "client_told"), [("Incident Review", False), ("Task", True)])
async def test_the_worker_looks_up_a_type_it_cannot_name_and_jira_decides(store, untranslated, client_told):
    from bot.services.inbox_worker import InboxWorker, WorkerSettings
    from tests.fakes.slack import InMemorySlack
    from tests.test_inbox_worker import NOW, SITES, add

    globex = GLOBEX.model_copy(update={"channels": ALPHA.channels})
    jira = InMemoryJira({"GOLD-189": _looked_up_gold_189(untranslated)})
    slack = InMemorySlack()
    add(store, created(issuetype={"id": "10050", "name": "Разбор инцидента"}), "d-1")
    w = InboxWorker(store, AccountsConfig(accounts=[globex]), slack, jira, clock=lambda: NOW,
                    settings=WorkerSettings(), links=SITES)
    report = await w.run_once()
    assert report.statuses == {"done": 1} and jira.jql == ["key in (GOLD-189)"]
    client = next(c.id for c in globex.channels if c.audience is C)
    internal = next(c.id for c in globex.channels if c.audience is I)
    channels = sorted(m["channel"] for m in slack.messages)
    assert channels == sorted([internal, client] if client_told else [internal])


async def test_the_worker_retries_when_jira_cannot_name_the_type(store):
    from bot.errors import UpstreamUnavailable
    from bot.services.inbox_worker import InboxWorker, WorkerSettings
    from tests.fakes.slack import InMemorySlack
    from tests.test_inbox_worker import NOW, SITES, add

    globex = GLOBEX.model_copy(update={"channels": ALPHA.channels})
    jira = InMemoryJira()
    jira.error = UpstreamUnavailable("jira", "down", retryable=True)
    slack = InMemorySlack()
    item = add(store, created(issuetype={"id": "10050", "name": "Разбор инцидента"}), "d-1")
    w = InboxWorker(store, AccountsConfig(accounts=[globex]), slack, jira, clock=lambda: NOW,
                    settings=WorkerSettings(), links=SITES)
    await w.run_once()
    assert store.inbox.get(item).status != "done" and slack.messages == []


# --- finding 1: accounts scoped by JQL ------------------------------------------------------

from bot.domain.accounts import Account, Channel  # noqa: E402

ALPHA_CLIENT, ALPHA_INTERNAL, BETA_CLIENT, BETA_INTERNAL = "C0ALPHACLT", "C0ALPHAINT", "C0BETACLNT", "C0BETAINTL"


def _scoped(key: str, client: str, internal: str, **jira) -> Account:
    return Account(key=key, name=key.title(), timezone="Europe/Berlin",
                   channels=[Channel(id=client, audience=C), Channel(id=internal, audience=I)], jira=JiraScope(**jira))


# The reviewer's accounts.jql-shared.yaml: two clients served from one project, split by component.
SHARED = AccountsConfig(accounts=[
    _scoped("alpha", ALPHA_CLIENT, ALPHA_INTERNAL, projects=["SHARED"], jql="component = Alpha"),
    _scoped("beta", BETA_CLIENT, BETA_INTERNAL, jql="project = SHARED AND component = Beta"),
])
# accounts.jql-exclude.yaml: one account keeping internal work out by JQL.
EXCLUDING = AccountsConfig(accounts=[
    _scoped("acme", ALPHA_CLIENT, ALPHA_INTERNAL, projects=["ACME"], jql="component != Agency-Internal"),
])


def betas_issue() -> dict:
    """leak_jql_routing.payload.json: pinpoint's jira:issue_created, rekeyed SHARED-42, component Beta."""
    p = created(project={**real_payload(CREATED)["issue"]["fields"]["project"], "key": "SHARED"},
                components=[{"id": "10100", "name": "Beta"}], summary="Beta: renegotiate contract, legal dispute")
    p["issue"]["key"] = "SHARED-42"
    return p


def test_without_jiras_word_no_account_scoped_by_jql_gets_the_issue():
    assert route(normalize(betas_issue()).events, SHARED) == []


def test_an_issue_goes_only_to_the_accounts_whose_jql_jira_confirmed():
    from bot.domain.events import attach_scope
    (event,) = normalize(betas_issue()).events
    confirmed = attach_scope(event, frozenset({("beta", "SHARED-42")}))
    assert sorted(d.channel.id for d in route([confirmed], SHARED)) == [BETA_CLIENT, BETA_INTERNAL]
    both = attach_scope(event, frozenset({("beta", "SHARED-42"), ("alpha", "SHARED-42")}))
    assert len(route([both], SHARED)) == 4


def _scoped_jira(matches: dict[str, set[str]], *keys: str, error: Exception | None = None):
    """Jira that knows which keys each account's scope JQL matches (it cannot evaluate a component)."""
    from tests.test_inbox_worker import issue
    return InMemoryJira([issue(k) for k in keys], matches=matches, error=error)


async def _run(store, accounts, payloads, jira, prefix="d"):
    from bot.services.inbox_worker import InboxWorker, WorkerSettings
    from tests.fakes.slack import InMemorySlack
    from tests.test_inbox_worker import NOW, SITES, add

    slack = InMemorySlack()
    items = [add(store, p, f"{prefix}-{n}") for n, p in enumerate(payloads)]
    w = InboxWorker(store, accounts, slack, jira, clock=lambda: NOW, settings=WorkerSettings(), links=SITES)
    report = await w.run_once()
    return report, slack, items


ALPHA_SCOPE = "project in (SHARED) AND (component = Alpha)"
BETA_SCOPE = "(project = SHARED AND component = Beta)"


async def test_the_worker_asks_jira_which_accounts_jql_the_issue_matches(store):
    jira = _scoped_jira({BETA_SCOPE: {"SHARED-42"}, ALPHA_SCOPE: set()}, "SHARED-42")
    report, slack, _ = await _run(store, SHARED, [betas_issue()], jira)
    assert report.statuses == {"done": 1}
    assert sorted(jira.jql) == sorted([f"{ALPHA_SCOPE} AND key in (SHARED-42)", f"{BETA_SCOPE} AND key in (SHARED-42)"])
    assert sorted(m["channel"] for m in slack.messages) == [BETA_CLIENT, BETA_INTERNAL]


async def test_an_issue_the_accounts_jql_excludes_reaches_none_of_its_channels(store):
    p = created(components=[{"id": "10101", "name": "Agency-Internal"}], summary="Agency-internal: margin review")
    p["issue"]["key"], p["issue"]["fields"]["project"]["key"] = "ACME-9", "ACME"
    jira = _scoped_jira({"project in (ACME) AND (component != Agency-Internal)": {"ACME-1"}}, "ACME-9")
    report, slack, _ = await _run(store, EXCLUDING, [p], jira)
    assert report.statuses == {"done": 1} and slack.messages == []
    jira = _scoped_jira({"project in (ACME) AND (component != Agency-Internal)": {"ACME-9"}}, "ACME-9")  # control
    report, slack, _ = await _run(store, EXCLUDING, [p], jira, prefix="control")
    assert sorted(m["channel"] for m in slack.messages) == [ALPHA_CLIENT, ALPHA_INTERNAL]


async def test_jira_down_during_the_scope_lookup_retries_and_guesses_nothing(store):
    from bot.errors import UpstreamError
    jira = _scoped_jira({}, error=UpstreamError("jira", "HTTP 503", retryable=True, status=503))
    report, slack, items = await _run(store, SHARED, [betas_issue()], jira)
    assert report.statuses == {"retry": 1} and slack.messages == []


def test_a_version_reaches_an_account_scoped_by_jql_only_with_an_issue_matching_it():
    from bot.domain.events import attach_client_issue, attach_project, attach_version_scope
    payload = real_payload("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json")
    (event,) = normalize(payload).events
    event = attach_client_issue(attach_project(event, "SHARED"))  # a client-visible issue, but whose?
    assert route([event], SHARED, {ALPHA_CLIENT: ALL, BETA_CLIENT: ALL}) == []
    mine = attach_version_scope(event, "alpha", client_issue=True)
    assert sorted(d.channel.id for d in route([mine], SHARED, {ALPHA_CLIENT: ALL})) == [ALPHA_CLIENT, ALPHA_INTERNAL]
    internal_only = attach_version_scope(event, "alpha", client_issue=False)
    assert [d.channel.id for d in route([internal_only], SHARED, {ALPHA_CLIENT: ALL})] == [ALPHA_INTERNAL]


def test_digest_versions_of_another_client_are_left_out_in_both_views():
    from bot.domain.digest import build_digest
    from bot.domain.work import Issue, Version
    alpha = SHARED.by_key("alpha")
    now = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    versions = [Version("1", "SHARED", "Alpha 1.0", release_date=dt.date(2026, 12, 10)),
                Version("2", "SHARED", "Beta: acquisition by Initech", release_date=dt.date(2026, 12, 20)),
                Version("3", "SHARED", "Beta 0.9", released=True, release_date=dt.date(2026, 11, 20))]
    issues = [Issue(key="SHARED-1", project="SHARED", summary="Alpha login", issue_type="Story", status="To Do",
                    status_category="new", created=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), fix_version_ids=("1",))]
    for audience in (C, I):
        section = build_digest(alpha, audience, issues, versions, now).milestones
        names = [m.name for m in section.milestones] + [r.name for r in section.released]
        assert names == ["Alpha 1.0"], audience


def test_check_config_accepts_a_project_every_naming_account_narrows_and_says_so():
    from bot.domain.accounts import scope_notes
    (note,) = scope_notes(SHARED)
    assert "SHARED" in note and "alpha, beta" in note and "jql" in note
    gamma = _scoped("gamma", "C0GAMMACLT", "C0GAMMAINT", projects=["SHARED"], jql="component = Gamma")
    both = AccountsConfig(accounts=[*SHARED.accounts, gamma])
    assert "alpha, beta, gamma" in scope_notes(both)[0]
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match="SHARED belongs to both"):
        AccountsConfig(accounts=[*SHARED.accounts, _scoped("delta", "C0DELTACLT", "C0DELTAINT", projects=["SHARED"])])


# --- finding 2: Service Desk internal notes without a flag ----------------------------------

JT = "jenkins-jira-trigger-plugin/src/test/resources/com/ceilfors/jenkins/plugins/jiratrigger"
NOTE = "Internal note (agents only): refund refused, the customer's account is flagged for fraud review"


def desk_comment(**comment) -> dict:
    """leak_jsm_cloud_comment.payload.json: a real 2018 Cloud comment_created (no jsdPublic, no
    properties) on an issue of a Service Desk project, its body an agent's internal note."""
    p = copy.deepcopy(real_payload(f"{JT}/webhook/cloud_comment_added.json"))
    p["issue"]["fields"]["project"]["projectTypeKey"] = "service_desk"
    p["comment"]["body"] = NOTE
    p["comment"].update(comment)
    return p


def _desk_account(payload: dict):
    key = payload["issue"]["fields"]["project"]["key"]
    return ALPHA.model_copy(update={"jira": JiraScope(projects=[key])})


def _with_issue(payload: dict, project_type: str | None):
    from bot.domain.events import attach_history, attach_issue
    from tests.test_inbox_worker import issue
    (event,) = normalize(payload).events
    return attach_history(attach_issue(event, issue(event.issue_key, project_type=project_type)), None)


@pytest.mark.parametrize("marks", [{}, {"visibility": None}, {"properties": []},
                                   {"properties": [{"key": "sd.reply", "value": {"internal": False}}]}])
def test_an_unmarked_comment_in_a_service_desk_project_is_withheld(marks):
    payload = desk_comment(**marks)
    acct = _desk_account(payload)
    event = _with_issue(payload, "service_desk")
    verdict = event_verdict(event, C, acct)
    assert not verdict.allowed and "Service Desk comment not marked public" in verdict.reason
    assert event_verdict(event, I, acct).allowed


@pytest.mark.parametrize("marks", [{"jsdPublic": True},
                                   {"properties": [{"key": "sd.public.comment", "value": {"internal": False}}]}])
def test_a_comment_marked_public_in_a_service_desk_project_reaches_the_client(marks):
    payload = desk_comment(**marks)
    assert event_verdict(_with_issue(payload, "service_desk"), C, _desk_account(payload)).allowed


def test_a_comment_in_a_project_of_unknown_type_is_withheld():
    payload = desk_comment()
    del payload["issue"]["fields"]["project"]["projectTypeKey"]
    (event,) = normalize(payload).events
    verdict = event_verdict(_with_issue(payload, None), C, _desk_account(payload))
    assert not verdict.allowed and "project type unknown" in verdict.reason
    assert event_verdict(_with_issue(payload, "software"), C, _desk_account(payload)).allowed


def _dc_note() -> dict:
    """leak_jsm_dc_comment.payload.json: jira-to-matrix's real Server comment_created (no issue,
    no jsdPublic, no properties), its body an internal note."""
    p = copy.deepcopy(real_payload("jira-to-matrix/test/fixtures/webhooks/comment/created.json"))
    p["comment"]["body"] = NOTE
    return p


NW = AccountsConfig(accounts=[_scoped("northwind", ALPHA_CLIENT, ALPHA_INTERNAL, projects=["NW"])])


@pytest.mark.parametrize(("answer", "client_told"), [
    (None, False),  # no such comment (any more)
    ({"id": "31039", "jsdPublic": False}, False),
    ({"id": "31039", "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}, False),
    ({"id": "31039"}, False),  # Jira's answer marks nothing either
    ({"id": "31039", "jsdPublic": True}, True),
    ({"id": "31039", "properties": [{"key": "sd.public.comment", "value": {"internal": False}}]}, True),
])
async def test_the_worker_looks_up_an_unmarked_service_desk_comment(store, answer, client_told):
    from tests.test_inbox_worker import issue
    payload = _dc_note()
    comment_id = payload["comment"]["id"]
    answer = dict(answer, id=comment_id) if answer else None
    jira = InMemoryJira(by_id={"26313": issue("NW-12", summary="Refund request", project_type="service_desk")})
    jira.comments = {("NW-12", comment_id): answer} if answer else {}
    report, slack, _ = await _run(store, NW, [payload], jira)
    assert report.statuses == {"done": 1} and jira.made("comment") == [f"NW-12/{comment_id}"]
    client = [m for m in slack.messages if m["channel"] == ALPHA_CLIENT]
    assert bool(client) is client_told
    assert any(m["channel"] == ALPHA_INTERNAL for m in slack.messages)


async def test_jira_down_during_the_comment_lookup_retries(store):
    from bot.errors import UpstreamError
    from tests.test_inbox_worker import issue
    jira = InMemoryJira(by_id={"26313": issue("NW-12", project_type="service_desk")},
                        errors={"comment": UpstreamError("jira", "HTTP 503", retryable=True, status=503)})
    report, slack, _ = await _run(store, NW, [_dc_note()], jira)
    assert report.statuses == {"retry": 1} and slack.messages == []


def test_the_adapter_reads_project_types_and_serves_comments_with_their_properties():
    from sandbox.atlassian_server import FakeAtlassian
    from tests.test_jira_adapter import _jira, _seed
    raw = rest_issue(project={**real_payload(CREATED)["issue"]["fields"]["project"], "projectTypeKey": "service_desk"})
    assert parse_issue(raw).project_type == "service_desk"
    del raw["fields"]["project"]["projectTypeKey"]
    assert parse_issue(raw).project_type is None
    note = {"id": "10021", "body": NOTE, "jsdPublic": False,
            "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}
    with FakeAtlassian(_seed(1)) as fake, _jira(fake) as jira:
        fake.add_comment("AB-1", note)
        got = jira.comment("AB-1", "10021")
        assert got["properties"] == note["properties"] and got["jsdPublic"] is False
        assert fake.calls[-1].query.get("expand") == ["properties"]
        assert jira.comment("AB-1", "99999") is None


# --- finding 4: a comment written while the issue was restricted, whichever webhook comes first

TWIN_BODY = "Written while the ticket was agency-only: we under-quoted, pad the next estimate by 30%"


def _twins() -> tuple[dict, dict]:
    """leak_comment_twin_order: the comment_created twin and the jira:issue_updated edit that
    removed the security level and carried the same comment (pinpoint's real bodies, NW-1)."""
    twin = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    twin["issue"]["key"], twin["issue"]["fields"]["project"]["key"] = "NW-1", "NW"
    twin["comment"]["body"] = TWIN_BODY
    upd = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.json"))
    upd["issue"]["key"], upd["issue"]["fields"]["project"]["key"], upd["issue"]["id"] = "NW-1", "NW", "11901"
    upd["issue_event_type_name"] = "issue_commented"
    upd["changelog"]["items"] = [LEVEL_REMOVED]
    upd["comment"] = copy.deepcopy(twin["comment"])
    return twin, upd


LEVEL_REMOVED = {"field": "security", "fieldtype": "jira", "fieldId": "security",
                 "from": "10001", "fromString": "Agency only", "to": None, "toString": None}


def _history(created: str) -> list[dict]:
    return [{"id": "101821", "created": created, "items": [LEVEL_REMOVED]}]


@pytest.mark.parametrize("order", ["twin in an earlier batch", "update in an earlier batch", "one batch"])
async def test_a_comment_written_while_the_issue_was_restricted_never_reaches_the_client(store, order):
    from bot.services.inbox_worker import InboxWorker, WorkerSettings
    from tests.fakes.slack import InMemorySlack
    from tests.test_inbox_worker import NOW, SITES, add, issue

    twin, upd = _twins()
    jira = InMemoryJira({"NW-1": issue("NW-1", summary="Estimate review")})  # public now, after the edit
    jira.histories["NW-1"] = _history(twin["comment"]["created"])  # the level went in the comment's edit
    slack = InMemorySlack()
    w = InboxWorker(store, NW, slack, jira, clock=lambda: NOW, settings=WorkerSettings(), links=SITES)
    batches = {"twin in an earlier batch": [[twin], [upd]], "update in an earlier batch": [[upd], [twin]],
               "one batch": [[twin, upd]]}[order]
    for i, batch in enumerate(batches):
        for j, payload in enumerate(batch):
            add(store, payload, f"d-{i}-{j}")
        await w.run_once()
    assert not any(TWIN_BODY[:20] in m["text"] for m in slack.messages if m["channel"] == ALPHA_CLIENT)
    assert any(TWIN_BODY[:20] in m["text"] for m in slack.messages if m["channel"] == ALPHA_INTERNAL)


async def test_a_comment_written_after_the_issue_became_public_reaches_the_client(store):
    twin, _ = _twins()
    from tests.test_inbox_worker import issue
    jira = InMemoryJira({"NW-1": issue("NW-1", summary="Estimate review")})
    jira.histories["NW-1"] = _history("2019-01-01T00:00:00.000+0000")  # long before the comment
    report, slack, _ = await _run(store, NW, [twin], jira)
    assert any(TWIN_BODY[:20] in m["text"] for m in slack.messages if m["channel"] == ALPHA_CLIENT)


def test_the_history_since_a_comment_is_read_by_field_id_and_fails_closed():
    from bot.domain.jira_events import past_since
    created = "2020-07-27T14:46:27.154-0700"
    assert past_since(_history("2020-07-27T14:46:27.154-0700"), created).security.known.value == "restricted"
    assert past_since(_history("2020-07-27T23:46:27.154+0200"), created) is not None  # later, other zone
    assert past_since(_history("2020-07-27T14:46:27.153-0700"), created) is None  # before it
    assert past_since([{"created": "yesterday", "items": []}], created).unidentified
    assert past_since("not a list", created).unidentified
    assert past_since([], None).unidentified


async def test_jira_down_during_the_history_lookup_retries(store):
    twin, _ = _twins()
    from bot.errors import UpstreamError
    from tests.test_inbox_worker import issue

    history_down = InMemoryJira([issue("NW-1")],
                                errors={"changelog": UpstreamError("jira", "HTTP 503", retryable=True, status=503)})
    report, slack, _ = await _run(store, NW, [twin], history_down)
    assert report.statuses == {"retry": 1} and slack.messages == []


def test_the_adapter_reads_the_changelog_on_cloud_and_data_center():
    from sandbox.atlassian_server import FakeAtlassian
    from tests.test_jira_adapter import _jira, _seed
    for flavor, cloud in (("cloud", True), ("server", False)):
        with FakeAtlassian(_seed(1), flavor=flavor) as fake, _jira(fake, cloud=cloud) as jira:
            for n in range(150):
                fake.add_history("AB-1", {"id": str(n), "created": "2026-11-20T10:00:00.000+0000", "items": []})
            got = jira.changelog("AB-1")
            assert [h["id"] for h in got] == [str(n) for n in range(150)], flavor


# --- finding 8 (suspected): a custom field decided by its display name ----------------------

SPRINT_IDS = f"{PIN}/jira:issue_updated.sprint_ids.json"  # GOLD-208 added to a sprint: customfield_10107 "Sprint"


def _named_sprint(field_id: str) -> dict:
    """attacks_jira A12: the real sprint change, its item's fieldId another custom field's."""
    p = copy.deepcopy(real_payload(SPRINT_IDS))
    item = next(i for i in p["changelog"]["items"] if i["field"] == "Sprint")
    item["fieldId"], item["toString"] = field_id, "Agency margin: 38% (do not share)"
    return p


def test_a_custom_field_is_a_sprint_change_only_by_the_sites_sprint_field_id():
    from bot.domain.events import EventType, resolve_sprint_field
    (event,) = normalize(_named_sprint("customfield_10999")).events
    assert event.type is EventType.FIELD_CHANGED and event.field_id == "custom:customfield_10999"
    assert client_texts(_named_sprint("customfield_10999")) == []
    assert not event_verdict(resolve_sprint_field(event, "customfield_10020"), C, ALPHA).allowed
    (real,) = normalize(real_payload(SPRINT_IDS)).events
    sprint = resolve_sprint_field(real, "customfield_10107")
    assert sprint.type is EventType.SPRINT_CHANGED and event_verdict(sprint, C, ALPHA).allowed
    assert resolve_sprint_field(real, None).type is EventType.FIELD_CHANGED  # no sprint field on the site


@pytest.mark.parametrize(("site_sprint_field", "sprint"), [("customfield_10107", True), ("customfield_10020", False), (None, False)])
async def test_the_worker_asks_jira_which_field_is_the_sprint(store, site_sprint_field, sprint):
    from tests.test_inbox_worker import issue

    site = InMemoryJira([issue("GOLD-208")])
    site.sprint_field = site_sprint_field
    accounts = AccountsConfig(accounts=[_scoped("gold", ALPHA_CLIENT, ALPHA_INTERNAL, projects=["GOLD"])])
    report, slack, _ = await _run(store, accounts, [real_payload(SPRINT_IDS)], site)
    assert report.statuses == {"done": 1} and len(site.made("sprint_field_id")) == 1
    internal = [m["text"] for m in slack.messages if m["channel"] == ALPHA_INTERNAL]
    assert any("added to sprint TES Sprint 3" in t for t in internal) is sprint  # else a custom field's change
    assert not any(m["channel"] == ALPHA_CLIENT for m in slack.messages)  # sprints: not a client default


def test_the_adapter_finds_the_sprint_field_by_its_schema_once():
    from sandbox.atlassian_server import FakeAtlassian
    from tests.test_jira_adapter import _jira, _seed
    with FakeAtlassian(_seed(1)) as fake, _jira(fake) as jira:
        assert jira.sprint_field_id() == "customfield_10020"  # not customfield_10999, a text field named Sprint
        assert jira.sprint_field_id() == "customfield_10020"
        assert [c.path for c in fake.calls] == ["/rest/api/2/field"]


def test_check_config_names_the_overlap_of_the_reviewers_accounts_file(tmp_path):
    from tests.test_cli import _pulse
    # accounts.jql-shared.yaml of the review, as written there.
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text("""accounts:
  - key: alpha
    name: Alpha Corp
    timezone: Europe/Berlin
    channels:
      - {id: C0ALPHACLT, audience: client}
      - {id: C0ALPHAINT, audience: internal}
    jira:
      projects: [SHARED]
      jql: "component = Alpha"
  - key: beta
    name: Beta Corp
    timezone: Europe/Berlin
    channels:
      - {id: C0BETACLNT, audience: client}
      - {id: C0BETAINTL, audience: internal}
    jira:
      jql: "project = SHARED AND component = Beta"
""")
    result = _pulse("check-config", str(accounts))
    assert result.returncode == 0, result.stderr
    assert "note: Jira project SHARED is in the scope of alpha, beta: each of its webhooks reaches an account " \
           "only when Jira confirms the issue matches that account's jql" in result.stdout
