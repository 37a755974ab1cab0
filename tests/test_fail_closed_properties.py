"""Property-based: whatever shape Jira or Confluence sends, a client channel gets only what is public.

Every real Jira and Confluence webhook fixture the registry (`test_events_fixtures.CASES`) knows
as handled is the starting point. Hypothesis picks a fixture and one field the audience policy
reads, puts it into a shape (the ones the Jira Cloud spec and Server/Data Center send, the ones
issue 8 lists, and arbitrary JSON), plants a marker where the restricted content would show,
completes the events as the inbox worker would (a trimmed or id-only issue is looked up: the
same mutation applied to a real REST issue and read by the Jira adapter's parser), routes them
to the owning account's client channel subscribed to everything and renders what it would get.

Restricted or unreadable → the marker never reaches the client (issue-level facts: nothing of
the payload does). Public controls → the marker does reach it, for the fixtures listed in
`DELIVERED_*` below: a policy that withholds everything fails here.

Reproducible: `derandomize=True` (no example database needed), `deadline=None`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import confluence_events
from bot.domain.accounts import (
    Account,
    AccountsConfig,
    Audience,
    Budget,
    Channel,
    ConfluenceScope,
    JiraScope,
)
from bot.domain.event_lookups import to_settle
from bot.domain.events import (
    ConfluenceEvent,
    JiraEvent,
    Outcome,
    Source,
    attach_client_issue,
    attach_client_visible,
    attach_history,
    attach_issue,
    attach_project,
    resolve_sprint_field,
    sprint_field_candidate,
)
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import route
from bot.domain.subscriptions import Subscription
from bot.domain.webhooks import normalize
from bot.render.notifications import render_event
from integrations.confluence import has_read_restriction
from integrations.jira_payloads import parse_issue
from tests.fixtures import real_payload
from tests.test_events_fixtures import CASES

C = Audience.CLIENT
MARK = "Zqxmarker"
ALL = [Subscription()]
LINKS = SiteLinks(jira="https://jira.example", confluence="https://wiki.example/wiki")
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

JIRA = sorted(c[0] for c in CASES if c[2] is Source.JIRA and c[3] is Outcome.HANDLED)
CONFLUENCE = sorted((c[0], c[1]) for c in CASES if c[2] in (Source.CONFLUENCE_CLOUD, Source.CONFLUENCE_DC)
                    and c[3] is Outcome.HANDLED)
# The real Cloud REST issue (GET /rest/api/2/issue/FOO-123) the "worker" finds when it looks one up.
REST_ISSUE = real_payload("atlassian-python-api/tests/responses/jira/rest/api/2/issue/FOO-123/GET.json")["responses"]["fields=*all"]
ZC = "zulip/zerver/webhooks/confluence/fixtures"
DC_CONTENT = {"page": f"{ZC}/page_api_response.json", "blog": f"{ZC}/blog_api_response.json",
              "comment": f"{ZC}/comment_api_response.json"}

MISSING = object()  # a shape: the key is left out
SHAPES_SEEN: set[tuple[str, str]] = set()  # (field, shape) pairs generated, for the report


def _seen(field: str, shape: Any) -> None:
    SHAPES_SEEN.add((field, "<missing>" if shape is MISSING else json.dumps(shape, sort_keys=True, default=str)))


# --- shapes ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 20000) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)


def _fold(text: str) -> str:
    # The oracle's own reading of "the same name": case, spaces, '-' and '_' do not count.
    return " ".join(text.casefold().replace("-", " ").replace("_", " ").split())


INTERNAL_SPELLINGS = st.sampled_from(["internal", "Internal", "INTERNAL", " internal ", "internal\t", "iNtErNaL",
                                      # Look-alikes (review finding 6): fullwidth, Turkish I, zero-width, '#'.
                                      "ｉｎｔｅｒｎａｌ", "İnternal", "internal\u200b", "\ufeffinternal", "#internal"])
LEVEL_NAMES = st.sampled_from(["Internal", "INTERNAL", "Agency only", "Уровень безопасности", "", " "])
IDS = st.one_of(st.sampled_from(["10001", "10000", "1"]), st.integers(1, 99999))

# Each strategy draws (shape, public?) for one field; MISSING leaves the key out.
SECURITY = st.one_of(
    st.tuples(IDS, st.just(False)),  # a bare id
    st.builds(lambda i: {"id": i}, IDS).map(lambda s: (s, False)),
    st.builds(lambda i, n: {"self": f"https://jira.example/rest/api/2/securitylevel/{i}", "id": str(i),
                            "description": "Staff", "name": n}, IDS, LEVEL_NAMES).map(lambda s: (s, False)),
    st.sampled_from([{"name": ""}, {"name": None}, {}, [], ["10001"], True, False, 0, ""]).map(lambda s: (s, False)),
    JSON.filter(lambda v: v is not None).map(lambda s: (s, False)),  # anything else: not public
    st.sampled_from([None, MISSING]).map(lambda s: (s, True)),
)
RESTRICTION_PUBLIC = [{"issuerestrictions": {}, "shouldDisplay": False}, {}, None, MISSING,
                      {"issuerestrictions": {}}, {"shouldDisplay": False}]
ISSUERESTRICTION = st.one_of(
    st.sampled_from(RESTRICTION_PUBLIC).map(lambda s: (s, True)),
    st.builds(lambda kind, ids, show: {"issuerestrictions": {kind: [{"id": i} for i in ids]}, "shouldDisplay": show},
              st.sampled_from(["projectrole", "group", "user", "role"]), st.lists(IDS, min_size=1, max_size=2),
              st.booleans()).map(lambda s: (s, False)),
    JSON.map(lambda s: (s, s in RESTRICTION_PUBLIC)),
)
OTHER_LABELS = st.lists(st.text(min_size=1, max_size=8).filter(lambda x: _fold(x) != "internal"), max_size=3)
LABELS = st.one_of(
    st.builds(lambda a, b, internal: [*a, internal, *b], OTHER_LABELS, OTHER_LABELS, INTERNAL_SPELLINGS).map(lambda s: (s, False)),
    st.sampled_from(["internal", None, MISSING, {"internal": True}, [{"name": "internal"}], [1, 2], 7]).map(lambda s: (s, False)),
    OTHER_LABELS.map(lambda s: (s, True)),
)
# The account's internal issue types: "Incident Review" by name and "10042" by id.
REVIEW_SPELLINGS = st.sampled_from(["Incident Review", "incident review", "INCIDENT REVIEW", " incident  review ",
                                    "incident-review", "Incident_Review", "incident.review", "INCIDENT–REVIEW",
                                    "Ｉｎｃｉｄｅｎｔ Ｒｅｖｉｅｗ", "incident\u200breview"])
PUBLIC_TYPES = st.sampled_from(["Bug", "Task", "Story", "Epic", "Review"])
ISSUETYPE = st.one_of(
    st.builds(lambda n, i: {"id": str(i), "name": n}, REVIEW_SPELLINGS, IDS).map(lambda s: (s, False)),
    st.builds(lambda n: {"id": "10042", "name": n}, st.sampled_from(["Postmortem", "Bug", ""])).map(lambda s: (s, False)),
    st.builds(lambda i: {"id": str(i)}, IDS.filter(lambda i: str(i) != "10042")).map(lambda s: (s, False)),  # id only
    st.sampled_from([None, MISSING, "Bug", ["Bug"], {}, {"name": ""}]).map(lambda s: (s, False)),
    # Translated names (review finding 3): internal by `untranslatedName`; without it a name
    # the account's types do not match proves nothing (Jira's answer is no better: withheld).
    st.builds(lambda n, i: {"id": str(i), "name": "Разбор инцидента", "untranslatedName": n}, REVIEW_SPELLINGS,
              IDS).map(lambda s: (s, False)),
    st.builds(lambda n, i: {"id": str(i), "name": n}, st.sampled_from(["Разбор инцидента", "Задача", "Bug"]),
              IDS.filter(lambda i: str(i) != "10042")).map(lambda s: (s, False)),
    st.builds(lambda n, t, i: {"id": str(i), "name": n, "untranslatedName": t}, st.sampled_from(["Задача", "Bug"]),
              PUBLIC_TYPES, IDS.filter(lambda i: str(i) != "10042")).map(lambda s: (s, True)),
)
VISIBILITY = st.one_of(
    st.builds(lambda t, v: {"type": t, "value": v}, st.sampled_from(["role", "group"]), st.text(max_size=8)),
    st.builds(lambda v: {"type": "group", "identifier": v}, st.text(max_size=8)),
    st.sampled_from([{}, "Administrators", ["role", "Administrators"], {"type": "ROLE", "value": "x"}, 0, False]),
    JSON.filter(lambda v: v is not None),
)
JSD_NOT_PUBLIC = st.sampled_from([False, "false", "False", 0, None, "true", 1, [], {}])
SD_INTERNAL = st.sampled_from([
    [{"key": "sd.public.comment", "value": {"internal": True}}],
    [{"key": "other", "value": 1}, {"key": "sd.public.comment", "value": {"internal": True}}],
    [{"key": "sd.public.comment", "value": "internal"}],
    [{"key": "sd.public.comment", "value": {"internal": "true"}}],
    [{"key": "sd.public.comment"}],
    {"sd.public.comment": {"internal": True}},
    "sd.public.comment",
    ["sd.public.comment"],
])
COMMENT_PUBLIC = st.sampled_from([
    {}, {"visibility": None}, {"jsdPublic": True}, {"properties": []},
    {"properties": [{"key": "sd.public.comment", "value": {"internal": False}}], "jsdPublic": True},
    {"properties": [{"key": "sd.reply", "value": {"internal": True}}]},
])
COMMENT = st.one_of(
    VISIBILITY.map(lambda v: ({"visibility": v}, False)),
    JSD_NOT_PUBLIC.map(lambda v: ({"jsdPublic": v}, False)),
    SD_INTERNAL.map(lambda v: ({"properties": v}, False)),
    COMMENT_PUBLIC.map(lambda c: (c, True)),
)
WORKLOG = st.one_of(VISIBILITY.map(lambda v: (v, False)), st.sampled_from([None, MISSING]).map(lambda v: (v, True)))


def _item(field: str, field_id: str | None, old_id, old_text, new_id=None, new_text=None) -> dict:
    item = {"field": field, "fieldtype": "jira", "from": old_id, "fromString": old_text, "to": new_id, "toString": new_text}
    if field_id is not None:
        item["fieldId"] = field_id
    return item


# Changelog items that say the issue was internal before this edit: the whole edit is withheld.
SECURITY_NAMES = st.sampled_from([("security", None), ("Security", "security"), ("Security Level", None),
                                  ("Уровень безопасности", "security"), ("Sicherheitsstufe", "security"),
                                  ("Niveau de sécurité", None)])  # the last: no id, unknown name
PAST_INTERNAL = st.one_of(
    st.builds(lambda f, i, t: _item(f[0], f[1], str(i), t), SECURITY_NAMES, IDS, st.sampled_from([None, "", "Internal", MARK])),
    st.builds(lambda f, t: _item(f[0], f[1], None, t), SECURITY_NAMES, st.sampled_from(["Internal", "Staff"])),
    st.builds(lambda name, lab: _item(name[0], name[1], None, f"{lab} signal", None, "signal"),
              st.sampled_from([("labels", None), ("labels", "labels"), ("Метки", "labels")]), INTERNAL_SPELLINGS),
    st.builds(lambda name: _item(name[0], name[1], "internal", None, None, "signal"),  # ids, no names
              st.sampled_from([("labels", "labels"), ("Метки", "labels")])),
    st.builds(lambda n: _item("issuetype", "issuetype", "10101", n, "10004", "Bug"), REVIEW_SPELLINGS),
    st.builds(lambda n: _item("Тип задачи", "issuetype", "10042", n, "10004", "Bug"), st.sampled_from([None, "Postmortem"])),
    # A system field id we do not know (Jira grows fields): it may have been a restriction.
    st.builds(lambda f: _item(f[0], f[1], "10001", "Staff", None, None),
              st.sampled_from([("Restrict to", "issuerestrictions"), ("Zugriff", "accesslevel"), ("security", "securitylevel")])),
)
# Items a client is never told of (the rest of the edit may be): the marker is their value.
INTERNAL_ONLY = st.one_of(
    st.builds(lambda f: _item(f[0], f[1], "3600", MARK, "7200", MARK),
              st.sampled_from([("WorklogTimeSpent", None), ("timespent", "timespent"), ("timeestimate", "timeestimate"),
                               ("timeoriginalestimate", "timeoriginalestimate"), ("Затраченное время", "timespent"),
                               ("Restaufwand", "timeestimate"), ("WorklogId", None)])),
    st.builds(lambda f: _item(f[0], f[1], None, None, "10001", MARK), SECURITY_NAMES),  # a level set
    st.builds(lambda f: {**_item(f, None, None, None, None, MARK), "fieldtype": "custom"},
              st.sampled_from(["Internal notes", "labels", "Customer"])),
    st.builds(lambda f: {**_item(f, "customfield_10500", None, None, None, MARK), "fieldtype": "custom"},
              st.sampled_from(["Budget", "Статус"])),
    st.builds(lambda f: _item(f, None, None, None, None, MARK), st.sampled_from(["Mystery", "Geheim"])),
)
CHANGELOG_PUBLIC = st.builds(lambda name: _item(name[0], name[1], None, "signal", None, f"signal {MARK}"),
                             st.sampled_from([("labels", None), ("labels", "labels"), ("Метки", "labels")]))


# --- the worker's part: lookups, routing, rendering -------------------------------------------


def _rest_issue(key: str, edit: Callable[[dict], None] | None) -> Any:
    raw = copy.deepcopy(REST_ISSUE)
    raw["key"] = key
    raw["fields"]["project"]["key"] = key.rsplit("-", 1)[0]
    raw["fields"]["summary"] = f"{MARK} issue"
    raw["fields"]["labels"] = ["sample"]
    # Jira Cloud's REST answer names the type before translation too.
    raw["fields"]["issuetype"]["untranslatedName"] = raw["fields"]["issuetype"]["name"]
    if edit is not None:
        edit(raw["fields"])
    return parse_issue(raw)


def _complete(event, issue_edit: Callable[[dict], None] | None, public_content: bool):
    """What the inbox worker would have attached before routing."""
    if isinstance(event, ConfluenceEvent):
        if "content" in event.needs_lookup():
            kind = confluence_events.content_key_of(event.type)
            event = confluence_events.enrich(event, real_payload(DC_CONTENT[kind]))
        event = dataclasses.replace(event, title=f"{MARK} page", parent_title=None)
        return attach_client_visible(event) if public_content else event
    missing = event.needs_lookup()
    if "issue" in missing or to_settle(event, AccountsConfig(accounts=[_account(event.project_key, None)])):
        key = event.issue_key or f"LOOK-{event.issue_id or 1}"
        event = attach_issue(event, _rest_issue(key, issue_edit))
    if "linked_issue" in missing and event.project_key:
        event = attach_issue(event, _rest_issue(f"{event.project_key}-999", None), linked=True)
    if event.project_key is None:
        event = attach_project(event, "LOOK")
    if event.type.is_version:
        event = attach_client_issue(event)  # the worker found a client-visible issue of the version
    if event.comment is not None:
        event = attach_history(event, None)  # the issue's changelog: no edit since the comment
    if sprint_field_candidate(event):
        event = resolve_sprint_field(event, "customfield_10107")  # pinpoint's site's sprint field
    return event


def _account(project: str | None, space: str | None) -> Account:
    return Account(
        key="acct", name="Acct", timezone="Europe/Berlin",
        channels=[Channel(id="C0CLIENT01", audience=C), Channel(id="C0INTERN01", audience=Audience.INTERNAL)],
        jira=JiraScope(projects=[project or "NONE"], internal_labels=["internal"],
                       internal_issue_types=["Incident Review", "10042"]),
        confluence=ConfluenceScope(space=space or "NONE"),
        budget=Budget(hours=Decimal(100), rate=Decimal(90), show_money_to_client=True),
    )


def client_messages(payload: dict, hint: str | None = None, *, issue_edit=None, public_content=True) -> list[str]:
    """Every text (and block text) the client channel, subscribed to everything, would be sent."""
    events = [_complete(e, issue_edit, public_content) for e in normalize(payload, hint).events]
    out = []
    for event in events:
        account = _account(event.routing_key if isinstance(event, JiraEvent) else None,
                           event.routing_key if isinstance(event, ConfluenceEvent) else None)
        for d in route([event], AccountsConfig(accounts=[account]), {"C0CLIENT01": ALL}):
            if d.channel.audience is C:
                message = render_event(d.event, C, account, links=LINKS)
                out.append(message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False))
    return out


def _set(container: dict, key: str, shape: Any) -> None:
    if shape is MISSING:
        container.pop(key, None)
    else:
        container[key] = copy.deepcopy(shape)


def _with_summary_marker(payload: dict) -> dict:
    payload = copy.deepcopy(payload)
    fields = (payload.get("issue") or {}).get("fields")
    if isinstance(fields, dict):
        fields["summary"] = f"{MARK} issue"
    return payload


# Fixtures whose content reaches the client when every fact about it is public (frozen from a
# run of this harness: a policy that withholds everything, or one that loses a fixture, fails
# the public controls).
JIT = "jenkins-jira-trigger-plugin/src/integrationTest/resources/com/ceilfors/jenkins/plugins/jiratrigger/integration"
JT = "jenkins-jira-trigger-plugin/src/test/resources/com/ceilfors/jenkins/plugins/jiratrigger"
J2M = "jira-to-matrix/test/fixtures/webhooks"
PIN = "pinpoint-jira/internal/testdata"
ZJ = "zulip/zerver/webhooks/jira/fixtures"
TAX = "taxonomies-for-confluence/src/test/resources/requests"
TAXMD = "taxonomies-for-confluence/WEBHOOKS.md.extracted"
DELIVERED_ISSUE = {
    f"{JIT}/addComment.json",
    f"{JIT}/cloudAddComment.json",
    f"{JIT}/updateDescription.json",
    f"{JIT}/updateStatus.json",
    f"{JT}/parameter/empty_custom_field.json",
    f"{JT}/parameter/single_value_custom_field.json",
    f"{JT}/webhook/cloud_comment_added.json",
    f"{JT}/webhook/issue_created.json",
    f"{JT}/webhook/issue_updated_fields_updated.json",
    f"{JT}/webhook/issue_updated_status_updated.json",
    f"{JT}/webhook/issue_updated_with_comment.json",
    f"{JT}/webhook/issue_updated_without_comment.json",
    f"{J2M}/comment/created.json",
    f"{J2M}/comment/deleted.json",
    f"{J2M}/comment/updated.json",
    f"{J2M}/epic/created.json",
    f"{J2M}/issue/created.json",
    f"{J2M}/issue/updated/commented.json",
    f"{J2M}/issue/updated/description-update.json",
    f"{J2M}/issue/updated/issue-assigned.json",
    f"{J2M}/issue/updated/status-changed.json",
    f"{J2M}/issuelink/created.json",
    f"{J2M}/issuelink/created_relates.json",
    f"{PIN}/comment_created.json",
    f"{PIN}/comment_deleted.json",
    f"{PIN}/comment_updated.json",
    f"{PIN}/issuelink_created.json",
    f"{PIN}/jira:issue_created.json",
    f"{PIN}/jira:issue_deleted.json",
    f"{PIN}/jira:issue_updated.assignee.json",
    f"{PIN}/jira:issue_updated.description.json",
    f"{PIN}/jira:issue_updated.due_date.json",
    f"{PIN}/jira:issue_updated.due_date.unset.json",
    f"{PIN}/jira:issue_updated.json",
    f"{PIN}/jira:issue_updated.resolution.json",
    f"{PIN}/jira:issue_updated.sprint_ids.json",
    f"{PIN}/jira:issue_updated.tags.json",
    # Not jira:issue_updated.type.json: changelog items name the old type only as the site
    # translates it, so for an account naming internal types by name the old type is unknown
    # and the edit is withheld (review finding 3; test_review_leaks checks it).
    f"{ZJ}/worklog_created.json",
    f"{ZJ}/worklog_deleted.json",
    f"{ZJ}/worklog_updated.json",
}
DELIVERED_COMMENT = {
    f"{JIT}/addComment.json",
    f"{JIT}/cloudAddComment.json",
    f"{JT}/webhook/cloud_comment_added.json",
    f"{JT}/webhook/issue_updated_with_comment.json",
    f"{J2M}/comment/created.json",
    f"{J2M}/comment/updated.json",
    f"{J2M}/issue/updated/commented.json",
    f"{PIN}/comment_created.json",
    f"{PIN}/comment_updated.json",
}
DELIVERED_WORKLOG = {
    f"{ZJ}/worklog_created.json",
    f"{ZJ}/worklog_deleted.json",
    f"{ZJ}/worklog_updated.json",
}
DELIVERED_CHANGELOG = {
    f"{JIT}/updateCustomField.json",
    f"{JIT}/updateDescription.json",
    f"{JIT}/updateStatus.json",
    f"{JT}/parameter/empty_custom_field.json",
    f"{JT}/parameter/multi_value_custom_field.json",
    f"{JT}/parameter/single_value_custom_field.json",
    f"{JT}/webhook/issue_updated_fields_updated.json",
    f"{JT}/webhook/issue_updated_status_updated.json",
    f"{JT}/webhook/issue_updated_without_comment.json",
    f"{J2M}/issue/updated/commented-changed.json",
    f"{J2M}/issue/updated/description-update.json",
    f"{J2M}/issue/updated/issue-assigned.json",
    f"{J2M}/issue/updated/status-changed.json",
    f"{PIN}/jira:issue_updated.assignee.json",
    f"{PIN}/jira:issue_updated.description.json",
    f"{PIN}/jira:issue_updated.due_date.json",
    f"{PIN}/jira:issue_updated.due_date.unset.json",
    f"{PIN}/jira:issue_updated.json",
    f"{PIN}/jira:issue_updated.resolution.json",
    f"{PIN}/jira:issue_updated.sprint_ids.json",
    f"{PIN}/jira:issue_updated.tags.json",
    # Not jira:issue_updated.type.json: changelog items name the old type only as the site
    # translates it, so for an account naming internal types by name the old type is unknown
    # and the edit is withheld (review finding 3; test_review_leaks checks it).
}
DELIVERED_CONFLUENCE = {
    f"{TAXMD}/04_page_updated.json",
    f"{TAXMD}/05_page_trashed.json",
    f"{TAXMD}/06_page_removed.json",
    f"{TAXMD}/07_page_restored.json",
    f"{TAXMD}/08_page_moved.json",
    f"{TAX}/BlogCreated.json",
    f"{TAX}/BlogRemoved.json",
    f"{TAX}/BlogRestored.json",
    f"{TAX}/BlogTrashed.json",
    f"{TAX}/BlogUpdated.json",
    f"{TAX}/PageCreated.json",
    f"{TAX}/PageRemoved.json",
    f"{TAX}/PageRestored.json",
    f"{TAX}/PageTrashed.json",
    f"{TAX}/PageUpdated.json",
    f"{ZC}/blog_created.json",
    f"{ZC}/blog_restored.json",
    f"{ZC}/blog_trashed.json",
    f"{ZC}/blog_updated.json",
    f"{ZC}/comment_created.json",
    f"{ZC}/comment_removed.json",
    f"{ZC}/comment_updated.json",
    f"{ZC}/page_created.json",
    f"{ZC}/page_moved.json",
    f"{ZC}/page_restored.json",
    f"{ZC}/page_trashed.json",
    f"{ZC}/page_updated.json",
}


def _has(path: str, *keys: str) -> bool:
    payload = real_payload(path)
    return all(isinstance(payload.get(k), dict) for k in keys)


ISSUE_FIXTURES = [p for p in JIRA if any(e.issue is not None or e.issue_id is not None
                                         for e in normalize(real_payload(p)).events)]
COMMENT_FIXTURES = [p for p in JIRA if _has(p, "comment")]
WORKLOG_FIXTURES = [p for p in JIRA if _has(p, "worklog")]
CHANGELOG_FIXTURES = [p for p in JIRA if _has(p, "changelog", "issue") and real_payload(p)["webhookEvent"] == "jira:issue_updated"]


# --- properties --------------------------------------------------------------------------------


ISSUE_FIELDS = {"security": SECURITY, "issuerestriction": ISSUERESTRICTION, "labels": LABELS, "issuetype": ISSUETYPE}


@PROPERTY
@given(path=st.sampled_from(ISSUE_FIXTURES), field=st.sampled_from(sorted(ISSUE_FIELDS)), data=st.data())
def test_issue_facts_in_any_shape(path, field, data):
    shape, public = data.draw(ISSUE_FIELDS[field], label=field)
    if field == "security" and shape is MISSING:
        public = True  # absent in a full field set: no level (Jira omits it without a scheme)
    _seen(field, shape)

    def edit(fields: dict) -> None:
        _set(fields, field, shape)

    payload = _with_summary_marker(real_payload(path))
    if isinstance((payload.get("issue") or {}).get("fields"), dict):
        edit(payload["issue"]["fields"])
    got = client_messages(payload, issue_edit=edit)
    if not public:
        assert got == [], (path, field, shape)
    elif path in DELIVERED_ISSUE:
        assert any(MARK in m for m in got), (path, field, shape)


@PROPERTY
@given(path=st.sampled_from(COMMENT_FIXTURES), case=COMMENT)
def test_comment_visibility_in_any_shape(path, case):
    changes, public = case
    _seen("comment", changes)
    payload = real_payload(path)
    payload = copy.deepcopy(payload)
    payload["comment"]["body"] = f"{MARK} body"
    payload["comment"].update(copy.deepcopy(changes))
    got = client_messages(payload)
    if not public:
        assert not any(MARK in m for m in got), (path, changes)
    elif path in DELIVERED_COMMENT:
        assert any(f"{MARK} body" in m for m in got), (path, changes)


# Service Desk (review finding 2): in a project of type service_desk a comment is public only
# when positively marked so; flagless ones (Data Center, older Cloud) are internal notes.
DESK_MARKED = st.sampled_from([{"jsdPublic": True},
                               {"properties": [{"key": "sd.public.comment", "value": {"internal": False}}]}])
DESK_UNMARKED = st.sampled_from([{}, {"visibility": None}, {"properties": []},
                                 {"properties": [{"key": "sd.reply", "value": {"internal": False}}]}])


@PROPERTY
@given(path=st.sampled_from(COMMENT_FIXTURES),
       case=st.one_of(DESK_MARKED.map(lambda c: (c, True)), DESK_UNMARKED.map(lambda c: (c, False))),
       project_type=st.sampled_from(["service_desk", "SERVICE_DESK", None]))
def test_service_desk_comments_only_when_marked_public(path, case, project_type):
    changes, public = case
    _seen("comment.service_desk", [changes, project_type])
    payload = copy.deepcopy(real_payload(path))
    payload["comment"]["body"] = f"{MARK} body"
    payload["comment"].pop("jsdPublic", None)
    payload["comment"].pop("properties", None)
    payload["comment"].update(copy.deepcopy(changes))
    project = ((payload.get("issue") or {}).get("fields") or {}).get("project")

    def desk(fields: dict) -> None:  # what Jira's answer about the issue says of its project
        fields["project"]["projectTypeKey"] = "service_desk"
        fields["summary"] = "Looked-up issue"

    if isinstance(project, dict):
        if project_type is None:
            project.pop("projectTypeKey", None)  # unknown: the lookup of the issue tells
        else:
            project["projectTypeKey"] = project_type
    got = client_messages(payload, issue_edit=desk)
    if not public:
        assert not any(MARK in m for m in got), (path, changes, project_type)
    elif path in DELIVERED_COMMENT:
        assert any(f"{MARK} body" in m for m in got), (path, changes, project_type)


@PROPERTY
@given(path=st.sampled_from(WORKLOG_FIXTURES), case=WORKLOG)
def test_worklog_visibility_in_any_shape(path, case):
    visibility, public = case
    _seen("worklog.visibility", visibility)
    payload = copy.deepcopy(real_payload(path))
    _set(payload["worklog"], "visibility", visibility)
    got = client_messages(payload)  # the account shows money to the client
    if not public:
        assert got == [], (path, visibility)
    elif path in DELIVERED_WORKLOG:
        assert any(MARK in m for m in got), (path, visibility)


@PROPERTY
@given(path=st.sampled_from(CHANGELOG_FIXTURES),
       case=st.one_of(PAST_INTERNAL.map(lambda i: (i, "past")), INTERNAL_ONLY.map(lambda i: (i, "item")),
                      CHANGELOG_PUBLIC.map(lambda i: (i, "public"))),
       first=st.booleans())
def test_changelog_items_by_field_id(path, case, first):
    item, kind = case
    _seen("changelog", item)
    # The marker is the summary (an edit whose past is internal: nothing of it reaches the client),
    # the item's own value (a field a client is never told of), or a label added (public).
    payload = _with_summary_marker(real_payload(path)) if kind == "past" else copy.deepcopy(real_payload(path))
    items = payload["changelog"]["items"]
    payload["changelog"]["items"] = [item, *items] if first else [*items, item]
    # An issue the worker looks up (its type named without `untranslatedName`) is the fixture's
    # own: the marker stays where this test put it.
    got = client_messages(payload, issue_edit=lambda fields: fields.update(summary="Looked-up issue"))
    if kind == "past":
        assert got == [], (path, item)
    elif kind == "item":
        assert not any(MARK in m for m in got), (path, item)
    elif path in DELIVERED_CHANGELOG:
        assert any(f"labels added: {MARK}" in m for m in got), (path, item)


@PROPERTY
@given(case=st.sampled_from(CONFLUENCE), confirmed=st.booleans(), title=st.text(max_size=10),
       self_url=st.sampled_from([MISSING, "https://evil.example/wiki/spaces/X", "https://wiki.example/wiki/x"]))
def test_confluence_content_only_after_the_restriction_lookup(case, confirmed, title, self_url):
    path, hint = case
    _seen("confluence", [path, title, None if self_url is MISSING else self_url])
    payload = copy.deepcopy(real_payload(path))
    for key in ("page", "blog", "comment"):
        if isinstance(payload.get(key), dict):
            payload[key]["title"] = title
            _set(payload[key], "self", self_url)
    got = client_messages(payload, hint, public_content=confirmed)
    if not confirmed:
        assert got == [], (path, title)
    else:
        assert not any("evil.example" in m for m in got)
        if path in DELIVERED_CONFLUENCE:
            assert any(MARK in m for m in got), path


READ_RESTRICTION_PUBLIC = [
    {"operation": "read", "restrictions": {"user": {"results": [], "size": 0}, "group": {"results": [], "size": 0}}},
    {"operation": "read", "restrictions": {"user": {"results": []}, "group": {"results": []}}},
]


@PROPERTY
@given(shape=st.one_of(st.sampled_from(READ_RESTRICTION_PUBLIC), JSON,
                       st.builds(lambda u, g: {"operation": "read", "restrictions": {"user": u, "group": g}},
                                 st.one_of(JSON, st.builds(lambda r, s: {"results": r, "size": s}, JSON, JSON)),
                                 st.one_of(JSON, st.builds(lambda r, s: {"results": r, "size": s}, JSON, JSON)))))
def test_confluence_read_restrictions_in_any_shape(shape):
    _seen("confluence.restrictions.read", shape)
    # False ("no restriction") only for an expanded, empty restriction: a client may then see it.
    if has_read_restriction(shape) is False:
        lists = shape["restrictions"]
        for kind in ("user", "group"):
            assert lists[kind]["results"] == [] and lists[kind].get("size", 0) in (0,), shape


def test_every_fixture_kind_is_covered():
    assert len(JIRA) >= 50 and len(CONFLUENCE) >= 20
    assert set(DELIVERED_ISSUE) <= set(ISSUE_FIXTURES) and len(DELIVERED_ISSUE) >= 20
    assert DELIVERED_COMMENT and DELIVERED_WORKLOG and DELIVERED_CHANGELOG and DELIVERED_CONFLUENCE


@pytest.fixture(scope="module", autouse=True)
def _report_shapes():
    yield
    print(f"\nfail-closed properties: {len(SHAPES_SEEN)} distinct field shapes generated")
