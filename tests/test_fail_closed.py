"""Fail closed: every case listed in issue 8, on real payloads edited into the shapes Jira sends.

Each case is a real webhook body (or REST response) with one field set to a shape the Jira Cloud
spec or Server/Data Center allows (or an unreadable one); a client channel subscribed to
everything must get nothing of a restricted or unreadable case, and still get the public
controls with their text. The same shapes through the Jira adapter's issue parser must give the
digest the same answer.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from bot.domain.accounts import AccountsConfig, Audience, Budget, JiraScope
from bot.domain.audience import issue_visible
from bot.domain.digest import build_digest
from bot.domain.events import JiraEvent, attach_history, attach_issue
from bot.domain.facts import Known, read_comment_access, read_issue_access, read_security
from bot.domain.notify_policy import event_verdict, route
from bot.domain.subscriptions import parse_subscription
from bot.domain.webhooks import normalize
from bot.domain.work import Version
from bot.render.notifications import render_event
from bot.services.replay import replay
from integrations.jira_payloads import parse_issue
from tests.fixtures import real_payload
from tests.test_notifications import ALPHA, MONEY, PINPT, full_issue

C, I = Audience.CLIENT, Audience.INTERNAL
PIN = "pinpoint-jira/internal/testdata"
ZJ = "zulip/zerver/webhooks/jira/fixtures"
RESOLVED = f"{PIN}/jira:issue_updated.resolution.json"  # TES-19, a public Cloud issue, resolved
ALL = [parse_subscription("all")]
# The real Cloud REST response of GET /rest/api/2/issue/FOO-123 (atlassian-python-api's mock).
FOO_123 = "atlassian-python-api/tests/responses/jira/rest/api/2/issue/FOO-123/GET.json"


def client_texts(events: list[JiraEvent], acct=ALPHA, subscriptions=ALL) -> list[str]:
    """What the account's client channel, subscribed to everything, would be sent."""
    client = next(c for c in acct.channels if c.audience is C)
    deliveries = route(events, AccountsConfig(accounts=[acct]), {client.id: subscriptions})
    return [render_event(d.event, C, acct, links=PINPT).text for d in deliveries if d.channel.id == client.id]


def edited(path: str, edit) -> dict:
    payload = copy.deepcopy(real_payload(path))
    edit(payload)
    return payload


def with_fields(path: str = RESOLVED, **fields) -> list[JiraEvent]:
    """The real body with `issue.fields` entries set (a value of MISSING deletes the key)."""
    def edit(p):
        for name, value in fields.items():
            if value is MISSING:
                p["issue"]["fields"].pop(name, None)
            else:
                p["issue"]["fields"][name] = value
    return list(normalize(edited(path, edit)).events)


def with_items(*items: dict, path: str = RESOLVED) -> list[JiraEvent]:
    """The real body with its changelog replaced by these items (one edit)."""
    def edit(p):
        p["changelog"]["items"] = list(items)
    return list(normalize(edited(path, edit)).events)


MISSING = object()
LEVEL = {"self": "https://pinpt-hq.atlassian.net/rest/api/2/securitylevel/10001", "id": "10001",
         "description": "Agency staff only"}

# fields.security: every shape that says a level exists, and the unreadable ones.
SECURITY_SHAPES = [
    ("bare id string", "10001", Known.RESTRICTED),
    ("bare id number", 10001, Known.RESTRICTED),
    ("id only", {"id": "10001"}, Known.RESTRICTED),
    ("self, id, description", LEVEL, Known.RESTRICTED),
    ("empty name", {"name": ""}, Known.RESTRICTED),
    ("null name", {"name": None}, Known.RESTRICTED),
    ("named", {**LEVEL, "name": "Internal"}, Known.RESTRICTED),
    ("empty object", {}, Known.UNKNOWN),
    ("list", ["10001"], Known.UNKNOWN),
    ("boolean", True, Known.UNKNOWN),
    ("empty string", "", Known.UNKNOWN),
]


@pytest.mark.parametrize(("case", "shape", "known"), SECURITY_SHAPES, ids=[s[0] for s in SECURITY_SHAPES])
def test_any_security_level_shape_keeps_the_issue_from_the_client(case, shape, known):
    events = with_fields(security=shape)
    assert read_security({"labels": [], "security": shape}).known is known
    assert client_texts(events) == []
    assert [render_event(e, I, ALPHA).text for e in events]  # internal channels still hear of it
    verdict = event_verdict(events[0], C, ALPHA)
    if known is Known.UNKNOWN:
        # Unreadable in the payload: the worker looks the issue up; Jira's answer decides.
        assert verdict.reason.startswith("security level present but unreadable")
        assert verdict.reason.endswith(": withheld until the issue is looked up")
        assert events[0].needs_lookup() == ("issue",)
        looked_up = attach_issue(events[0], parse_issue(_as_tes_19(_foo_123(security=None))))
        assert client_texts([looked_up]) != []
        still = attach_issue(events[0], parse_issue(_as_tes_19(_foo_123(security=shape))))
        assert client_texts([still]) == []
        assert event_verdict(still, C, ALPHA).reason.endswith(": withheld")
    else:
        assert verdict.reason.startswith("issue has security level")


def test_public_controls_for_security_still_reach_the_client_with_their_text():
    for shape in (None, MISSING):
        (text,) = client_texts(with_fields(security=shape))
        assert text.startswith("<https://pinpt-hq.atlassian.net/browse/TES-19|TES-19> Panic happen!: resolved as")


def _as_tes_19(raw: dict) -> dict:
    """The REST issue as the issue of the RESOLVED webhook (what a lookup of TES-19 answers)."""
    raw["key"], raw["fields"]["project"]["key"] = "TES-19", "TES"
    return raw


def _foo_123(**fields) -> dict:
    raw = copy.deepcopy(real_payload(FOO_123)["responses"]["fields=*all"])
    raw["fields"].update(fields)
    return raw


@pytest.mark.parametrize(("case", "shape", "known"), SECURITY_SHAPES, ids=[s[0] for s in SECURITY_SHAPES])
def test_the_digest_parser_reads_security_the_same_way(case, shape, known):
    issue = parse_issue(_foo_123(security=shape))
    assert issue.access == read_issue_access(_foo_123(security=shape)["fields"])
    assert issue_visible(issue, C, ALPHA) is False
    assert issue_visible(issue, I, ALPHA) is True
    assert issue_visible(parse_issue(_foo_123(security=None)), C, ALPHA) is True


def test_an_issue_with_security_given_by_id_is_left_out_of_client_digests_counts_and_sums():
    now = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    worklog = {"id": "1", "started": "2026-11-03T09:00:00.000+0000", "timeSpentSeconds": 3600}
    acct = ALPHA.model_copy(update={"budget": Budget(hours=Decimal(10), rate=Decimal(100)),
                                    "jira": JiraScope(projects=["FOO"])})

    def issue(n: int, security) -> object:
        raw = _foo_123(security=security, duedate="2026-11-30", fixVersions=[{"id": "7"}],
                       created="2026-11-20T09:00:00.000+0000",
                       worklog={"total": 1, "worklogs": [{**worklog, "id": str(n)}]})
        raw["key"] = f"FOO-{n}"
        return parse_issue(raw)

    issues = [issue(1, None), issue(2, None), issue(3, {"id": "10001"}), issue(4, "10001")]
    version = Version(id="7", project="FOO", name="1.0", release_date=dt.date(2026, 12, 18))
    client = build_digest(acct, C, issues, [version], now, None)
    internal = build_digest(acct, I, issues, [version], now, None)
    assert (client.budget.spent_hours, internal.budget.spent_hours) == (Decimal("2.00"), Decimal("4.00"))
    assert client.milestones.milestones[0].issues_total == 2
    assert internal.milestones.milestones[0].issues_total == 4
    assert {i.key for i in client.deadlines.items} == {"FOO-1", "FOO-2"}
    assert len(internal.deadlines.items) == 4
    assert "FOO-3" not in str(client) and "FOO-4" not in str(client)


# fields.issuerestriction (Jira Cloud): empty is public; a role or group restriction, or a shape
# we cannot read, is not.
RESTRICTIONS = [
    ("role restriction", {"issuerestrictions": {"projectrole": [{"id": "10002", "name": "Developers"}]}, "shouldDisplay": True}, False),
    ("group restriction", {"issuerestrictions": {"group": [{"name": "agency", "groupId": "g-1"}]}, "shouldDisplay": True}, False),
    ("restriction not shown", {"issuerestrictions": {"projectrole": [{"id": "10002"}]}, "shouldDisplay": False}, False),
    ("shown without kinds", {"issuerestrictions": {}, "shouldDisplay": True}, False),
    ("a list", [], False),
    ("a string", "restricted", False),
    ("unknown key", {"issuerestrictions": {}, "shouldDisplay": False, "restrictedTo": "agency"}, False),
    ("unreadable kinds", {"issuerestrictions": ["projectrole"], "shouldDisplay": False}, False),
    ("public: as every Cloud payload sends it", {"issuerestrictions": {}, "shouldDisplay": False}, True),
    ("public: empty", {}, True),
    ("public: null", None, True),
    ("public: Server/Data Center, no such field", MISSING, True),
]


@pytest.mark.parametrize(("case", "shape", "public"), RESTRICTIONS, ids=[r[0] for r in RESTRICTIONS])
def test_cloud_issue_restrictions(case, shape, public):
    texts = client_texts(with_fields(issuerestriction=shape))
    assert bool(texts) is public
    raw = _foo_123(issuerestriction=shape) if shape is not MISSING else _foo_123()
    if shape is MISSING:
        raw["fields"].pop("issuerestriction", None)
    assert issue_visible(parse_issue(raw), C, ALPHA) is public


# Changelog items by field id, with ids in from/to: localized names and null fromString.
LOCAL_STATUS = {"field": "Статус", "fieldtype": "jira", "fieldId": "status", "from": "10000",
                "fromString": "К выполнению", "to": "10001", "toString": "Готово"}
LOCAL_LEVEL_REMOVED = {"field": "Уровень безопасности", "fieldtype": "jira", "fieldId": "security",
                       "from": "10001", "fromString": None, "to": None, "toString": None}
LEVEL_REMOVED_NO_NAME = {"field": "security", "fieldtype": "jira", "from": "10001", "fromString": "", "to": None, "toString": None}
LABEL_REMOVED_BY_ID = {"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": "internal", "fromString": None,
                       "to": None, "toString": "signal"}
LABEL_REMOVED = {"field": "Метки", "fieldtype": "jira", "fieldId": "labels", "from": None, "fromString": "Internal signal",
                 "to": None, "toString": "signal"}
OLD_SUMMARY = {"field": "Тема", "fieldtype": "jira", "fieldId": "summary", "from": None,
               "fromString": "Internal: Alpha overbilled 40h, hide from client", "to": None, "toString": "Billing review"}
TIME_ITEMS = [
    {"field": "WorklogTimeSpent", "fieldtype": "jira", "from": "3600", "fromString": "3600", "to": "7200", "toString": "7200"},
    {"field": "timespent", "fieldtype": "jira", "fieldId": "timespent", "from": "3600", "fromString": "3600", "to": "7200", "toString": "7200"},
    {"field": "timeestimate", "fieldtype": "jira", "fieldId": "timeestimate", "from": None, "fromString": None, "to": "7200", "toString": "7200"},
    {"field": "Первоначальная оценка", "fieldtype": "jira", "fieldId": "timeoriginalestimate", "from": None, "fromString": None, "to": "7200", "toString": "7200"},
    {"field": "Затраченное время", "fieldtype": "jira", "fieldId": "timespent", "from": "60", "fromString": None, "to": "120", "toString": None},
]


def test_a_localized_status_change_is_identified_by_its_field_id_and_reaches_the_client():
    (event,) = with_items(LOCAL_STATUS)
    assert (event.field_id, event.from_value, event.to_value) == ("status", "К выполнению", "Готово")
    assert client_texts([event]) != []


@pytest.mark.parametrize("removed", [LOCAL_LEVEL_REMOVED, LEVEL_REMOVED_NO_NAME], ids=["localized, id only", "empty fromString"])
def test_a_removed_security_level_and_the_rest_of_its_edit_never_reach_the_client(removed):
    events = with_items(removed, OLD_SUMMARY, LOCAL_STATUS)
    assert client_texts(events) == []
    reasons = {e.type: event_verdict(e, C, ALPHA).reason for e in events}
    assert reasons[next(e.type for e in events if e.field_id == "summary")].startswith("issue had security level")
    assert len(client_texts(events, ALPHA, ALL)) == 0
    internal = [render_event(e, I, ALPHA).text for e in events]
    assert any("overbilled" in t for t in internal)


@pytest.mark.parametrize("removed", [LABEL_REMOVED_BY_ID, LABEL_REMOVED], ids=["old labels only as ids", "localized, other case"])
def test_a_removed_internal_label_and_the_old_summary_never_reach_the_client(removed):
    assert client_texts(with_items(removed, OLD_SUMMARY)) == []


@pytest.mark.parametrize("item", TIME_ITEMS, ids=[i["field"] for i in TIME_ITEMS])
@pytest.mark.parametrize("acct", [ALPHA, ALPHA.model_copy(update={"budget": MONEY})], ids=["no money", "money shown"])
def test_changed_logged_time_never_reaches_the_client(item, acct):
    assert client_texts(with_items(item), acct) == []


@pytest.mark.parametrize("mystery", [
    {"field": "Niveau de sécurité", "fieldtype": "jira", "from": "10001", "fromString": "Interne", "to": None, "toString": None},
    {"field": "Restrict to", "fieldId": "issuerestrictions", "fieldtype": "jira", "from": "10002", "fromString": "Developers",
     "to": None, "toString": None},  # a system field id we do not know
], ids=["no id, unknown name", "unknown id"])
def test_an_unidentified_system_field_makes_its_edit_internal(mystery):
    events = with_items(mystery, OLD_SUMMARY)
    assert client_texts(events) == []
    summary = next(e for e in events if e.field_id == "summary")
    assert event_verdict(summary, C, ALPHA).reason == (
        f"before this edit: changelog field {mystery['field']!r} not identified: withheld")


# Worklogs restricted to a role or group: never a client's news, even where money is shown.
def _worklog(visibility) -> list[JiraEvent]:
    def edit(p):
        if visibility is not MISSING:
            p["worklog"]["visibility"] = visibility
    (event,) = normalize(edited(f"{ZJ}/worklog_created.json", edit)).events
    return [attach_issue(event, full_issue("TES-9"))]


@pytest.mark.parametrize("visibility", [{"type": "role", "value": "Developers"}, {"type": "group", "identifier": "g-1"},
                                        {}, "Developers", ["role"]], ids=["role", "group", "empty", "string", "list"])
def test_a_restricted_worklog_reaches_no_client_even_when_money_is_shown(visibility):
    assert client_texts(_worklog(visibility), ALPHA.model_copy(update={"budget": MONEY})) == []


def test_a_public_worklog_still_reaches_a_client_that_sees_money():
    for visibility in (MISSING, None):
        (text,) = client_texts(_worklog(visibility), ALPHA.model_copy(update={"budget": MONEY}))
        assert "logged 40 h on" in text


# Internal labels and types: case, spaces, '-' and '_' folded; types also by id.
@pytest.mark.parametrize("label", ["Internal", "INTERNAL", " internal ", "internal"])
def test_internal_labels_match_whatever_their_case_and_spaces(label):
    assert client_texts(with_fields(labels=[label, "signal"])) == []


def test_labels_in_an_unreadable_shape_are_not_public():
    for shape in ("internal", [{"name": "internal"}], None, 7):
        assert client_texts(with_fields(labels=shape)) == [], shape


REVIEW = ALPHA.model_copy(update={"jira": JiraScope(projects=["TES"], internal_labels=["incident review"],
                                                    internal_issue_types=["Incident Review", "10042"])})


@pytest.mark.parametrize(("labels", "issuetype"), [
    (["incident-review"], {"id": "10004", "name": "Bug"}),
    (["Incident_Review"], {"id": "10004", "name": "Bug"}),
    ([], {"id": "10005", "name": "incident review"}),
    ([], {"id": "10005", "name": " INCIDENT  REVIEW "}),
    ([], {"id": "10005", "name": "incident-review"}),
    ([], {"id": "10042", "name": "Postmortem"}),  # the account names this type by id
    ([], {"id": "10042"}),
    ([], {"id": "10077"}),  # only an id the account cannot resolve: unknown
    ([], None),
    ([], "Bug"),
], ids=["label dash", "label underscore", "type lower", "type spaced", "type dash", "type by id", "type id only, named",
        "type id only, unknown", "type null", "type string"])
def test_internal_issue_types_and_labels_of_an_account(labels, issuetype):
    assert client_texts(with_fields(labels=labels, issuetype=issuetype), REVIEW) == []


def test_public_control_for_types_and_labels():
    # Jira translates type names: without `untranslatedName` a name the account's internal types
    # do not match proves nothing (review finding 3); the worker then asks Jira.
    bug = {"id": "10004", "name": "Bug", "untranslatedName": "Bug"}
    (text,) = client_texts(with_fields(labels=["signal"], issuetype=bug), REVIEW)
    assert "TES-19" in text
    # Without internal types configured, a type named only by id does not matter.
    assert client_texts(with_fields(issuetype={"id": "10077"})) != []


# Comments: visibility in any shape, jsdPublic other than true, the sd.public.comment property.
SD_INTERNAL = [{"key": "sd.public.comment", "value": {"internal": True}}]
COMMENT_SHAPES = [
    ("visibility role", {"visibility": {"type": "role", "value": "Administrators"}}, False),
    ("visibility group id", {"visibility": {"type": "group", "identifier": "276f955c"}}, False),
    ("visibility string", {"visibility": "Administrators"}, False),
    ("visibility list", {"visibility": ["role", "Administrators"]}, False),
    ("visibility empty", {"visibility": {}}, False),
    ("jsdPublic false", {"jsdPublic": False}, False),
    ("jsdPublic 'false'", {"jsdPublic": "false"}, False),
    ("jsdPublic 0", {"jsdPublic": 0}, False),
    ("jsdPublic null", {"jsdPublic": None}, False),
    ("sd.public.comment internal", {"properties": SD_INTERNAL}, False),
    ("sd.public.comment unreadable", {"properties": [{"key": "sd.public.comment", "value": "internal"}]}, False),
    ("properties unreadable", {"properties": {"sd.public.comment": {"internal": True}}}, False),
    ("public: jsdPublic true", {"jsdPublic": True}, True),
    ("public: visibility null", {"visibility": None}, True),
    ("public: sd.public.comment not internal", {"properties": [{"key": "sd.public.comment", "value": {"internal": False}}]}, True),
    ("public: as sent", {}, True),
]


@pytest.mark.parametrize(("case", "changes", "public"), COMMENT_SHAPES, ids=[c[0] for c in COMMENT_SHAPES])
@pytest.mark.parametrize("path", [f"{PIN}/comment_created.json", f"{PIN}/comment_updated.json"], ids=["created", "updated"])
def test_comment_shapes(case, changes, public, path):
    def edit(p):
        p["comment"].update(changes)
    (event,) = normalize(edited(path, edit)).events
    # What the worker attaches: the issue, and its changelog (no edit since the comment).
    event = attach_history(attach_issue(event, full_issue(event.issue_key)), None)
    texts = client_texts([event])
    assert bool(texts) is public
    assert read_comment_access(edited(path, edit)["comment"]).public is public
    if public:
        assert "\n> " in texts[0]  # with its body


def test_replay_names_the_fact_that_was_unknown():
    result = replay(edited(RESOLVED, lambda p: p["issue"]["fields"].update(security={})), C, ALPHA, subscriptions=ALL)
    (decision,) = result.decisions
    assert (decision.allowed, decision.reason) == (
        False, "security level present but unreadable ({}): withheld until the issue is looked up")
    assert result.messages == []


def test_links_come_from_the_configured_site_never_from_the_payload():
    (event,) = with_fields()
    assert PINPT.foreign_self_urls(event) == []  # the fixture's own site: nothing to report
    moved = edited(RESOLVED, lambda p: p["issue"].__setitem__(
        "self", "https://api.atlassian.com/ex/jira/8f2c1b7e/rest/api/2/issue/10014"))
    (event,) = normalize(moved).events
    assert PINPT.foreign_self_urls(event) == [("issue.self", "api.atlassian.com")]
    (text,) = client_texts([event])
    assert text.startswith("<https://pinpt-hq.atlassian.net/browse/TES-19|TES-19>")
    assert "api.atlassian.com" not in text
    assert render_event(event, C, ALPHA).text.startswith("*TES-19*")  # no site configured: no link


# --- what the internal digest marks, and what replay says -------------------------------------


@pytest.mark.parametrize(("language", "legend"), [("en", "🔒 not in the client view"),
                                                  ("de", "🔒 nicht in der Kundenansicht"),
                                                  ("ru", "🔒 клиенту не видно")])
def test_the_internal_digest_marks_what_the_client_view_withholds(language, legend):
    from bot.render.digest import render_digest

    now = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    acct = ALPHA.model_copy(update={"jira": JiraScope(projects=["FOO"]), "language": language})

    def issue(n: int, **fields) -> object:
        raw = _foo_123(duedate="2026-11-30", created="2026-11-20T09:00:00.000+0000", **fields)
        raw["key"], raw["fields"]["summary"] = f"FOO-{n}", f"Summary {n}"
        return parse_issue(raw)

    issues = [issue(1, security=None), issue(2, security={"id": "10001"}), issue(3, labels=["Internal"])]
    internal = render_digest(build_digest(acct, I, issues, [], now, None), acct).text
    assert legend in internal.splitlines()[1]
    marked = [line for line in internal.splitlines() if "🔒 FOO-" in line]
    assert {line.split("🔒 ")[1].split()[0] for line in marked} == {"FOO-2", "FOO-3"}
    assert not any("🔒 FOO-1" in line for line in internal.splitlines())
    client = render_digest(build_digest(acct, C, issues, [], now, None), acct).text
    assert "🔒" not in client and "FOO-2" not in client and "FOO-1" in client
    public_only = render_digest(build_digest(acct, I, issues[:1], [], now, None), acct).text
    assert "🔒" not in public_only  # no legend without a marked issue


def test_replay_webhook_names_each_withheld_event_and_its_fact(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli.replay import replay_webhook

    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("JIRA_URL", "https://pinpt-hq.atlassian.net")
    unreadable = tmp_path / "unreadable.json"
    unreadable.write_text(json.dumps(edited(RESOLVED, lambda p: p["issue"]["fields"].update(security=[]))))
    level_removed = tmp_path / "level_removed.json"
    level_removed.write_text(json.dumps(edited(RESOLVED, lambda p: p["changelog"].update(
        items=[LOCAL_LEVEL_REMOVED, OLD_SUMMARY]))))
    out = CliRunner().invoke(replay_webhook, [str(unreadable), str(level_removed)]).output
    assert f"== {unreadable}: withheld (issue_resolved)" in out
    assert "   (security level present but unreadable ([]): withheld until the issue is looked up)" in out
    assert "   field_changed: field 'Уровень безопасности' is internal-only" in out
    assert "   summary_changed: issue had security level 'id 10001' until this edit" in out
