"""A support project shared by accounts recognised by Service Desk organization (#13): the issue's
Organizations field (the site's `sd-customer-organizations` custom field: a list of `{id, name}`)
routes its webhooks, by organization **id**, to the one account it names; when the payload lacks
the field or it cannot be read, the worker asks Jira for the issue with that field first; unknown,
no account or several accounts: withheld from every client. Never another client's channel.

The property test generates the field's shapes — missing, null, empty, several organizations, ids
as numbers and strings, an organization named like another account's, unreadable values — in the
webhook and in Jira's answer, with the public control (exactly one account's id, readable) that
must route.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig, Urgency
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import scope_verdict
from bot.domain.webhooks import normalize
from bot.services.exactly_once import OncePoster
from bot.services.inbox_batch import Work
from bot.services.inbox_lookups import EventLookups
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from bot.services.support import SupportService
from integrations.store.inbox import InboxItem
from sandbox.agency import sandbox_accounts
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload

PIN = "pinpoint-jira/internal/testdata"
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)
FIELD = "customfield_10002"  # the site's Organizations field (Jira's field list names it)
ORGS = {"acme-shop": "2", "globex": "3"}
ACME_CLIENT, GLOBEX_CLIENT = "C0ACMECLNT", "C0GLXCLNT1"
ACME_THREAD, GLOBEX_THREAD = "1796025600.000100", "1796025601.000100"
LINKS = SiteLinks(jira="https://agency.atlassian.net")
MISSING = object()  # the field is not in the payload / not in Jira's answer


def _by_organization(config: AccountsConfig, *, named_field: bool, only: tuple[str, ...] = ("acme-shop", "globex")
                     ) -> AccountsConfig:
    """The sandbox with these accounts recognised by their organization in the shared SUP project."""
    accounts = []
    for a in config.accounts:
        if a.key in only and a.support is not None and a.support.match is not None:
            match = a.support.match.model_copy(update={"component": None, "organization": ORGS[a.key],
                                                       "organization_field": FIELD if named_field else None})
            a = a.model_copy(update={"support": a.support.model_copy(update={"match": match})})
        accounts.append(a)
    return config.model_copy(update={"accounts": accounts})


SITE_FIELD = _by_organization(sandbox_accounts(), named_field=False)
NAMED_FIELD = _by_organization(sandbox_accounts(), named_field=True)


def _status_change(key: str, request_id: int, organizations: Any) -> dict:
    """A status change of a SUP issue, derived from a real `jira:issue_updated` capture."""
    body = copy.deepcopy(real_payload(f"{PIN}/jira:issue_updated.json"))
    body["issue"]["key"] = key
    fields = body["issue"]["fields"]
    fields["project"].update(key="SUP", name="Support")
    fields["labels"] = ["pulse-support", f"pulse-req-{request_id}"]
    fields["components"] = []
    fields["issuetype"].update(name="Task", untranslatedName="Task")
    fields["status"]["name"] = "In Progress"
    fields.pop(FIELD, None)
    if organizations is not MISSING:
        fields[FIELD] = organizations
    body["changelog"]["items"] = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1",
                                   "fromString": "To Do", "to": "3", "toString": "In Progress"}]
    body["timestamp"] = int((NOW + dt.timedelta(hours=1)).timestamp() * 1000)
    return body


def _oracle(value: Any) -> set[str] | None:
    """The ids a value names, written independently of the product's reader: a list of objects
    each with an id that is a non-negative integer or a string of ASCII digits; null/[] name none."""
    if value is MISSING:
        return None
    if value is None:
        return set()
    if not isinstance(value, list):
        return None
    ids = set()
    for entry in value:
        raw = entry.get("id") if isinstance(entry, dict) else None
        if type(raw) is int and raw >= 0:
            ids.add(str(raw))
        elif isinstance(raw, str) and raw and all(c in "0123456789" for c in raw):
            ids.add(str(int(raw)))
        else:
            return None
    return ids


def _routed(config: AccountsConfig, jira: InMemoryJira, payload: dict) -> list[str]:
    """The accounts of the shared project whose channels may hear of the event, after the
    worker's lookups (the issue's organizations from the payload or from Jira)."""
    [event] = normalize(payload).events
    item = InboxItem(1, "jira", "d-1", json.dumps(payload), payload["webhookEvent"], NOW, "claimed", 0, None)
    lookups = EventLookups(jira, None, config, 50)
    found = asyncio.run(lookups._organizations(jira, [Work(item, (event,))]))
    [work] = found.works
    assert work.ok, work.error
    [event] = work.events
    return [a.key for a in config.support_accounts("SUP") if scope_verdict(event, a, config.accounts).allowed]


def _org(id_: Any, name: str) -> dict:
    return {"id": id_, "name": name, "_links": {"self": f"https://agency.atlassian.net/rest/servicedeskapi/organization/{id_}"}}


_IDS = st.sampled_from([2, 3, "2", "3", "02", 7, "7", 0])
_NAMES = st.sampled_from(["Acme Shop", "Globex", "Globex Corporation"])  # names collide across ids
_READABLE = st.one_of(st.none(), st.just([]), st.lists(st.builds(_org, _IDS, _NAMES), min_size=1, max_size=3))
_UNREADABLE = st.sampled_from([
    "3", 3, {"id": 3}, [3], ["3"], [{"name": "Globex"}], [{"id": None, "name": "Globex"}], [{"id": True}],
    [{"id": "3 "}], [{"id": 3.0}], [{"id": -3}], [{"id": "３"}], [{"id": "3"}, "Globex"], [{"id": "x3"}],
])
_SHAPES = st.one_of(st.just(MISSING), _READABLE, _UNREADABLE)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(in_payload=_SHAPES, in_jira=_SHAPES, named_field=st.booleans(), one_by_component=st.booleans())
def test_an_issue_reaches_only_the_one_account_whose_organization_id_it_names(in_payload, in_jira, named_field,
                                                                            one_by_component):
    """Whatever the webhook and Jira say in the Organizations field: the issue reaches exactly the
    one account whose organization id it names (read from the payload when readable there, else
    from Jira's answer), and nobody when that is unknown, none or several. Names never decide."""
    config = _by_organization(sandbox_accounts(), named_field=named_field,
                              only=("globex",) if one_by_component else ("acme-shop", "globex"))
    jira = InMemoryJira()
    jira.organizations_field = None if named_field else FIELD  # the field comes from the file or from Jira
    jira.field_values["SUP-9"] = {} if in_jira is MISSING else {FIELD: in_jira}
    routed = _routed(config, jira, _status_change("SUP-9", 9, in_payload))

    ids = _oracle(in_payload)
    if ids is None:
        ids = _oracle(in_jira)
    # ACME by its component (the issue has none) or by organization 2; Globex by organization 3.
    claims = {"acme-shop": not one_by_component and ids is not None and "2" in ids,
              "globex": ids is not None and "3" in ids}
    claimers = [k for k, c in claims.items() if c]
    assert routed == (claimers if len(claimers) == 1 else []), (in_payload, in_jira, routed)
    # Jira is asked only when the payload could not say.
    asked = [c for c in jira.calls if c[0] == "issue_field_values"]
    assert bool(asked) == (_oracle(in_payload) is None)


def test_public_controls_route_by_id_whatever_the_name():
    jira = InMemoryJira()
    jira.organizations_field = FIELD
    jira.field_values["SUP-9"] = {}
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, [_org(3, "Globex")])) == ["globex"]
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, [_org("3", "Acme Shop")])) == ["globex"]
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, [_org("2", "Globex")])) == ["acme-shop"]
    # Missing in the payload: Jira's answer decides.
    jira.field_values["SUP-9"] = {FIELD: [_org(2, "Acme Shop")]}
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, MISSING)) == ["acme-shop"]
    assert ("issue_field_values", "SUP-9") in jira.calls
    # Both organizations, or an unknown one only: nobody's.
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, [_org(2, "A"), _org(3, "G")])) == []
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, [_org(99, "Globex")])) == []


def test_no_organizations_field_on_the_site_withholds_and_jira_down_retries():
    jira = InMemoryJira()
    jira.organizations_field = None  # not named in the file, and Jira's field list has none (or two)
    assert _routed(SITE_FIELD, jira, _status_change("SUP-9", 9, [_org(3, "Globex")])) == []
    from integrations.upstream_errors import UpstreamUnavailable

    down = InMemoryJira(errors={"issue_field_values": UpstreamUnavailable("jira", "down", retryable=True)})
    down.organizations_field = FIELD
    payload = _status_change("SUP-9", 9, MISSING)
    [event] = normalize(payload).events
    item = InboxItem(1, "jira", "d-1", json.dumps(payload), payload["webhookEvent"], NOW, "claimed", 0, None)
    found = asyncio.run(EventLookups(down, None, SITE_FIELD, 50)._organizations(down, [Work(item, (event,))]))
    assert found.works[0].error is not None  # retried later, never guessed


@pytest.fixture
async def world(sqlite_store):
    """ACME's and Globex's clients each filed a task in SUP, shared by organization: SUP-1 and SUP-2."""
    jira, slack = InMemoryJira(), InMemorySlack()
    jira.organizations_field = FIELD
    poster = OncePoster(sqlite_store, slack, lambda: NOW, "w1", dt.timedelta(minutes=2))
    service = SupportService(accounts=SITE_FIELD, store=sqlite_store, jira=jira, slack=slack, poster=poster,
                             clock=lambda: NOW, links=LINKS)
    for key, channel, thread in (("acme-shop", ACME_CLIENT, ACME_THREAD), ("globex", GLOBEX_CLIENT, GLOBEX_THREAD)):
        account = SITE_FIELD.by_key(key)
        await service.open_request(account, account.channel(channel), user_id="U0CLIENT01", role=Role.EXTERNAL,
                                   text="Bitte helfen", source_ts=thread, thread_ts=thread, urgency=Urgency.TASK)
    assert sorted(jira.created) == ["SUP-1", "SUP-2"]
    slack.messages.clear()
    worker = InboxWorker(sqlite_store, SITE_FIELD, slack, jira, clock=lambda: NOW, settings=WorkerSettings(),
                         links=LINKS, support=service)
    return sqlite_store, jira, slack, worker


async def test_filed_with_the_sites_organizations_field_and_routed_to_its_thread_only(world):
    """Filing sets the organization in the field Jira's field list names; a webhook without the
    field is looked up in Jira and reaches the filing client's thread, never the other client."""
    store, jira, slack, worker = world
    assert jira.created["SUP-2"][FIELD] == [3] and jira.created["SUP-1"][FIELD] == [2]
    payload = _status_change("SUP-2", 2, MISSING)
    assert store.inbox.add("jira", "d-1", json.dumps(payload), payload["webhookEvent"], NOW)
    await worker.run_once()
    assert [m for m in slack.in_channel(GLOBEX_CLIENT) if m["thread_ts"] == GLOBEX_THREAD and "SUP-2" in m["text"]]
    assert [m for m in slack.in_channel(ACME_CLIENT) if "SUP-2" in m["text"]] == []
    assert ("issue_field_values", "SUP-2") in jira.calls


async def test_an_issue_naming_the_other_clients_organization_reaches_neither_thread(world):
    """SUP-1 is ACME's request, but its Organizations field now names Globex's organization too:
    nobody's (not ACME's thread, not Globex's channel)."""
    store, jira, slack, worker = world
    payload = _status_change("SUP-1", 1, [_org(2, "Acme Shop"), _org(3, "Globex")])
    assert store.inbox.add("jira", "d-2", json.dumps(payload), payload["webhookEvent"], NOW)
    await worker.run_once()
    assert [m for m in slack.messages if "SUP-1" in m["text"]] == []
