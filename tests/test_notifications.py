"""Audience policy for events, routing between accounts, coalescing, rendering (en/de), replay.

Payloads are real fixtures; where a case needs a restriction no public capture has (security
level, restricted comment), the real body is copied and the field added in the shape of the
Jira spec's `SecurityLevel` / `Visibility` schemas.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pytest

from bot.domain.accounts import Account, AccountsConfig, Audience, Budget, Channel, ConfluenceScope, JiraScope
from bot.domain.events import (
    EventType,
    JiraEvent,
    attach_client_issue,
    attach_client_visible,
    attach_history,
    attach_issue,
    attach_project,
    resolve_sprint_field,
)
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import Burst, Delivery, Verdict, coalesce, event_verdict, route, withheld_for_past
from bot.domain.subscriptions import parse_subscription
from bot.domain.webhooks import normalize
from bot.domain.work import Issue
from bot.render.notifications import render_burst, render_event
from bot.services.replay import replay
from tests.fixtures import real_payload

E = EventType
C, I = Audience.CLIENT, Audience.INTERNAL
PIN = "pinpoint-jira/internal/testdata"
J2M = "jira-to-matrix/test/fixtures/webhooks"
ZJ = "zulip/zerver/webhooks/jira/fixtures"
ROBIN = "557058:8b6b268b-17b3-407b-8974-bed4042fa709"
SECURITY = {"self": "https://pinpt-hq.atlassian.net/rest/api/2/securitylevel/10000", "id": "10000",
            "description": "Agency staff only", "name": "Internal"}


def account(key: str, projects: list[str], space: str, client: str, internal: str, **extra) -> Account:
    return Account(
        key=key, name=key.title(), timezone="Europe/Berlin", language=extra.pop("language", "en"),
        channels=[Channel(id=client, audience=C), Channel(id=internal, audience=I)],
        jira=JiraScope(projects=projects, **extra.pop("jira", {})),
        confluence=ConfluenceScope(space=space), **extra,
    )


ALPHA = account("alpha", ["TES", "GOLD"], "FI", "C0ALPHA01", "C0ALPHA02", people={ROBIN: "U0ROBIN"})
BETA = account("beta", ["INDEV", "TIGR"], "ENG", "C0BETA001", "C0BETA002")
ACCOUNTS = AccountsConfig(accounts=[ALPHA, BETA])


def events(path: str, hint: str | None = None) -> tuple:
    return normalize(real_payload(path), hint).events


def one(path: str, hint: str | None = None):
    (event,) = events(path, hint)
    return event


def full_issue(key: str, **changes) -> Issue:
    base = Issue(key=key, project=key.split("-")[0], summary="Test issue for Robin", issue_type="Bug",
                 status="To Do", status_category="new", created=dt.datetime(2020, 7, 1, tzinfo=dt.UTC))
    return dataclasses.replace(base, **changes)


def edited(path: str, edit) -> dict:
    payload = copy.deepcopy(real_payload(path))
    edit(payload)
    return payload


def _secure(p):
    p["issue"]["fields"]["security"] = SECURITY


def _visible_to_admins(p):
    p["comment"]["visibility"] = {"type": "role", "value": "Administrators"}


def _jsd_internal(p):
    p["comment"]["jsdPublic"] = False


def _internal_label(p):
    p["issue"]["fields"]["labels"] = ["internal"]


def _label_removed(p):
    p["changelog"]["items"] = [{"field": "labels", "fieldtype": "jira", "from": None, "fromString": "internal", "to": None, "toString": "signal"}]


def _security_removed(p):
    # A changelog item in the shape Jira gives every `jira`-type field (id in from/to, name in
    # fromString/toString); the level's id and name are those of SECURITY above.
    p["changelog"]["items"] = [{"field": "security", "fieldtype": "jira", "from": "10000", "fromString": "Internal", "to": None, "toString": None}]


def _untranslated(p: dict) -> None:
    # Today's Cloud payloads name the type before translation too; without it an account
    # naming internal types by name cannot decide on the type (see test_review_leaks).
    p["issue"]["fields"]["issuetype"]["untranslatedName"] = p["issue"]["fields"]["issuetype"]["name"]


def commented(payload: dict, **issue_changes) -> JiraEvent:
    """The comment event as the worker completes it: the issue, and its changelog (no edit since)."""
    (event,) = normalize(payload).events
    return attach_history(attach_issue(event, full_issue(event.issue_key, **issue_changes)), None)


MONEY = Budget(hours=100, rate=90, show_money_to_client=True)

# (case, event, audience, account, allowed, reason)
AUDIENCE_TABLE = [
    ("public status change", one(f"{PIN}/jira:issue_updated.resolution.json"), C, ALPHA, True, ""),
    ("security level", normalize(edited(f"{PIN}/jira:issue_updated.resolution.json", _secure)).events[0], C, ALPHA, False, "issue has security level 'Internal'"),
    ("security level, internal", normalize(edited(f"{PIN}/jira:issue_updated.resolution.json", _secure)).events[0], I, ALPHA, True, ""),
    ("security level on comment issue", normalize(edited(f"{J2M}/issue/updated/status-changed.json", _secure)).events[0], C, BETA, False, "issue has security level 'Internal'"),
    ("internal label", normalize(edited(f"{PIN}/jira:issue_updated.tags.json", _internal_label)).events[0], C, ALPHA, False, "issue has internal label internal"),
    ("internal label removed", normalize(edited(f"{PIN}/jira:issue_updated.tags.json", _label_removed)).events[0], C, ALPHA, False, "issue had internal label internal until this edit"),
    ("security level removed", normalize(edited(f"{PIN}/jira:issue_updated.resolution.json", _security_removed)).events[0], C, ALPHA, False, "field 'security' is internal-only (not one of the fields a client is told about)"),
    ("security level removed, internal", normalize(edited(f"{PIN}/jira:issue_updated.resolution.json", _security_removed)).events[0], I, ALPHA, True, ""),
    ("internal issue type", one(f"{PIN}/jira:issue_updated.resolution.json"), C,
     ALPHA.model_copy(update={"jira": JiraScope(projects=["TES"], internal_issue_types=["Bug"])}), False, "issue has internal issue type Bug"),
    ("type changed away from internal", normalize(edited(f"{PIN}/jira:issue_updated.type.json", _untranslated)).events[0], C,
     ALPHA.model_copy(update={"jira": JiraScope(projects=["TES"], internal_issue_types=["Bug"])}), False, "issue had internal issue type Bug until this edit"),
    ("public comment, issue attached", commented(real_payload(f"{PIN}/comment_created.json")), C, ALPHA, True, ""),
    ("public comment, trimmed issue", one(f"{PIN}/comment_created.json"), C, ALPHA, False, "needs lookup first: issue"),
    ("trimmed issue, internal", one(f"{PIN}/comment_created.json"), I, ALPHA, True, ""),
    ("comment restricted to a role", commented(edited(f"{PIN}/comment_created.json", _visible_to_admins)), C, ALPHA, False, "restricted comment: comment visible to role Administrators only"),
    ("comment restricted, edited", commented(edited(f"{PIN}/comment_updated.json", _visible_to_admins)), C, ALPHA, False, "restricted comment: comment visible to role Administrators only"),
    ("comment restricted, deleted", commented(edited(f"{PIN}/comment_deleted.json", _visible_to_admins)), C, ALPHA, False, "restricted comment: comment visible to role Administrators only"),
    ("Service Desk internal comment", commented(edited(f"{PIN}/comment_created.json", _jsd_internal)), C, ALPHA, False, "restricted comment: Service Desk internal comment (jsdPublic false)"),
    ("restricted comment, internal", commented(edited(f"{PIN}/comment_created.json", _visible_to_admins)), I, ALPHA, True, ""),
    ("comment inside issue_updated", one(f"{J2M}/issue/updated/commented.json"), C, BETA, False, "needs lookup first: issue"),
    ("worklog, no money shown", attach_issue(one(f"{ZJ}/worklog_created.json"), full_issue("TES-9")), C, ALPHA, False, "logged time is internal for this account"),
    ("worklog deleted, no money shown", attach_issue(one(f"{ZJ}/worklog_deleted.json"), full_issue("TES-9")), C, ALPHA, False, "logged time is internal for this account"),
    ("worklog edited, no money shown", one(f"{ZJ}/worklog_updated__edited.json"), C, ALPHA, False, "logged time is internal for this account"),
    # jira:worklog_updated names no worklog: its visibility is unknown, so even money accounts don't hear of it.
    ("worklog edited, money shown", one(f"{ZJ}/worklog_updated__edited.json"), C, ALPHA.model_copy(update={"budget": MONEY}), False,
     "worklog visibility not in the payload (jira:worklog_updated): withheld"),
    ("worklog, money shown", attach_issue(one(f"{ZJ}/worklog_created.json"), full_issue("TES-9")), C, ALPHA.model_copy(update={"budget": MONEY}), True, ""),
    ("worklog on secure issue, money shown", attach_issue(one(f"{ZJ}/worklog_created.json"), full_issue("TES-9", security_level="Internal")), C,
     ALPHA.model_copy(update={"budget": MONEY}), False, "issue has security level 'Internal'"),
    ("version released, project unknown", one("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json"), C, ALPHA, False, "needs lookup first: project"),
    ("version released, no client issue known", attach_project(one("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json"), "GOLD"), C, ALPHA,
     False, "version has no issue known to be visible to the client: look its issues up first"),
    ("version released, no client issue known, internal", attach_project(one("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json"), "GOLD"), I, ALPHA, True, ""),
    ("version released, client issue found", attach_client_issue(attach_project(one("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json"), "GOLD")), C, ALPHA, True, ""),
    # The actor's name never decides what a client may see: only the missing content is named.
    ("Confluence DC before lookup", one("zulip/zerver/webhooks/confluence/fixtures/page_created.json"), C, BETA, False, "needs lookup first: content"),
    # Confluence: a client sees content only once the worker read that it and its ancestors have
    # no view restriction (the webhook never says; e.g. "Internal: pricing strategy").
    ("Confluence Cloud, restrictions not looked up", one("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json", "page_created"), C, ALPHA,
     False, "Confluence content not known to be free of view restrictions (itself and its ancestors): look its restrictions up first"),
    ("Confluence Cloud, restrictions not looked up, internal", one("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json", "page_created"), I, ALPHA, True, ""),
    ("Confluence Cloud, actor unnamed, unrestricted", attach_client_visible(one("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json", "page_created")), C, ALPHA, True, ""),
]


@pytest.mark.parametrize(("case", "event", "audience", "acct", "allowed", "reason"), AUDIENCE_TABLE, ids=[r[0] for r in AUDIENCE_TABLE])
def test_audience_table(case, event, audience, acct, allowed, reason):
    verdict = event_verdict(event, audience, acct)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)


def test_security_level_removal_reaches_no_client_even_subscribed_to_all():
    event = normalize(edited(f"{PIN}/jira:issue_updated.resolution.json", _security_removed)).events[0]
    assert (event.type, event.field, event.from_value, event.to_value) == (E.FIELD_CHANGED, "security", "Internal", None)
    stored = {"C0ALPHA01": [parse_subscription("all")], "C0ALPHA02": [parse_subscription("field_changed")]}
    assert [d.channel.id for d in route([event], ACCOUNTS, stored)] == ["C0ALPHA02"]


# --- routing ---------------------------------------------------------------------------------


def test_events_never_reach_another_accounts_channels():
    batch = [
        *events(f"{PIN}/jira:issue_updated.resolution.json"),  # TES → alpha
        *events(f"{PIN}/jira:issue_deleted.json"),  # TIGR → beta
        *events(f"{J2M}/issue/updated/status-changed.json"),  # INDEV → beta
        *map(attach_client_visible,  # FI → alpha; the worker found no view restriction
             events("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json", "page_created")),
        *events("taxonomies-for-confluence/src/test/resources/requests/PageUpdated.json", "page_updated"),  # not looked up
        *events(f"{PIN}/jira:issue_updated.json"),  # GOLD → alpha
    ]
    deliveries = route(batch, ACCOUNTS)
    got = [(d.channel.id, d.event.type) for d in deliveries]
    assert got == [
        ("C0ALPHA01", E.ISSUE_RESOLVED), ("C0ALPHA02", E.ISSUE_RESOLVED),
        ("C0BETA002", E.ISSUE_DELETED),  # issue_deleted is not in the client defaults
        ("C0BETA001", E.STATUS_CHANGED), ("C0BETA002", E.STATUS_CHANGED),
        # Cloud names the actor by account id only; the name is not needed to decide for the client.
        ("C0ALPHA01", E.PAGE_CREATED), ("C0ALPHA02", E.PAGE_CREATED),
        ("C0ALPHA02", E.PAGE_UPDATED),  # restrictions unknown: internal only
        ("C0ALPHA02", E.DESCRIPTION_CHANGED),
    ]
    for d in deliveries:
        assert d.channel in d.account.channels
        assert d.event.routing_key in (d.account.jira.projects + [d.account.confluence.space])


def test_unknown_project_routes_nowhere():
    (event,) = events(f"{PIN}/jira:issue_updated.project.json")  # GOLD-208: alpha
    assert [d.account.key for d in route([event], ACCOUNTS)] == ["alpha"]
    other = dataclasses.replace(event, project_key="NOPE")
    assert route([other], ACCOUNTS) == []


def test_same_comment_from_two_webhooks_is_delivered_once_per_channel():
    inside = one(f"{J2M}/issue/updated/commented.json")
    twin_payload = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    twin_payload["comment"]["id"] = inside.comment.id
    twin = dataclasses.replace(normalize(twin_payload).events[0], project_key=inside.project_key, issue=inside.issue)
    acct = account("bbcom", ["BBCOM"], "BB", "C0BBCOM01", "C0BBCOM02")
    deliveries = route([inside, twin], AccountsConfig(accounts=[acct]))
    assert [(d.channel.id, d.event is inside) for d in deliveries] == [("C0BBCOM02", True)]


def test_stored_subscriptions_replace_defaults():
    event = one(f"{PIN}/jira:issue_updated.resolution.json")
    stored = {"C0ALPHA01": [parse_subscription("comment_created")]}
    assert [d.channel.id for d in route([event], ACCOUNTS, stored)] == ["C0ALPHA02"]


# --- coalescing ------------------------------------------------------------------------------


def bulk_edit(n: int) -> list[JiraEvent]:
    """A bulk edit: pinpoint's real due date change, once for each of n issues TES-1 … TES-n."""
    (event,) = events(f"{PIN}/jira:issue_updated.due_date.json")
    return [dataclasses.replace(event, issue=dataclasses.replace(event.issue, key=f"TES-{i}")) for i in range(1, n + 1)]


def test_a_bulk_edit_becomes_one_summary_per_channel_listing_every_key():
    items = coalesce(route(bulk_edit(200), ACCOUNTS))
    assert [type(i) for i in items] == [Burst, Burst]
    assert [i.channel.id for i in items] == ["C0ALPHA01", "C0ALPHA02"]
    burst = items[0]
    assert burst.issue_keys == tuple(f"TES-{i}" for i in range(1, 201))
    assert burst.counts == {E.DUE_DATE_SET: 200}
    message = render_burst(burst)
    assert message.text.splitlines()[0] == "200 updates in 200 issues"
    listed = " ".join(b["text"]["text"] for b in message.blocks[1:])
    assert listed.removeprefix("Issues: ").split(", ") == [f"TES-{i}" for i in range(1, 201)]
    assert len(message.blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in message.blocks)


def test_very_large_bursts_split_sections_and_stay_within_limits():
    message = render_burst(coalesce(route(bulk_edit(2000), ACCOUNTS))[0], "de")
    assert message.text.splitlines()[0] == "2000 Änderungen in 2000 Vorgängen"
    assert len(message.blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in message.blocks)
    assert "TES-2000" in message.text


def test_burst_tallies_read_in_the_channels_language_and_one_issue_is_singular():
    from bot.render.i18n import MESSAGES

    for language in ("de", "ru"):  # every type has a German and a Russian label
        assert {t for t in EventType if f"notify.type.{t.value}" in MESSAGES[language]} == set(EventType)
    burst = coalesce(route(bulk_edit(200), ACCOUNTS))[0]
    assert render_burst(burst, "de").text.splitlines()[:2] == ["200 Änderungen in 200 Vorgängen", "200× Fälligkeit gesetzt"]
    assert render_burst(burst, "en").text.splitlines()[1] == "200× due date set"
    same = [dataclasses.replace(e, issue=dataclasses.replace(e.issue, key="TES-1")) for e in burst.events]
    one_issue = dataclasses.replace(burst, events=tuple(same))  # derived: 200 changes to one issue
    assert render_burst(one_issue, "en").text.splitlines()[0] == "200 updates in 1 issue"
    assert render_burst(one_issue, "de").text.splitlines()[0] == "200 Änderungen in 1 Vorgang"


def test_few_events_stay_single_deliveries():
    items = coalesce(route(bulk_edit(3), ACCOUNTS))
    assert all(isinstance(i, Delivery) for i in items) and len(items) == 6


# --- rendering -------------------------------------------------------------------------------

# The sites the fixtures come from, as JIRA_URL / CONFLUENCE_URL would name them: links are built
# from these and the key or id, never from a payload's `self`.
PINPT = SiteLinks(jira="https://pinpt-hq.atlassian.net")
TEST_1 = "<http://localhost:2990/jira/browse/TEST-11|TEST-11> summary updated"
LINK = "<https://pinpt-hq.atlassian.net/browse/TES-22|TES-22> Panic happen!"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", f"{LINK}: due date set to Aug 4, 2020"), ("de", f"{LINK}: fällig am 04.08.2020"), ("ru", f"{LINK}: срок 4 авг. 2020\u202fг.")],
)
def test_render_due_date_set(language, expected):
    message = render_event(one(f"{PIN}/jira:issue_updated.due_date.json"), C, ALPHA, language, links=PINPT)
    assert message.text == expected
    assert message.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": expected}}]


def test_render_status_priority_and_resolution_in_german():
    rendered = [render_event(e, I, ALPHA, "de", links=SiteLinks(jira="http://localhost:2990/jira/")).text for e in events(
        "jenkins-jira-trigger-plugin/src/test/resources/com/ceilfors/jenkins/plugins/jiratrigger/webhook/issue_updated_fields_updated.json")]
    assert rendered == [
        f"{TEST_1}: umbenannt (vorher „task summary“)",
        f"admin hat die Beschreibung geändert: {TEST_1}",
        f"{TEST_1}: Priorität erhöht Major → Blocker",
        f"{TEST_1}: abgeschlossen mit Lösung „Fixed“",
    ]


@pytest.mark.parametrize(("language", "assigned", "unassigned"), [
    ("en", "assigned to Иванов Иван Иванович", "unassigned (was Иванов Иван Иванович)"),
    ("de", "zugewiesen an Иванов Иван Иванович", "Zuweisung entfernt (vorher Иванов Иван Иванович)"),
])
def test_render_assignment_and_unassignment(language, assigned, unassigned):
    event = one(f"{J2M}/issue/updated/issue-assigned.json")  # nobody → Иванов
    assert (event.from_value, event.to_value) == (None, "Иванов Иван Иванович")
    key = "<https://jira.test-example.ru/browse/INDEV-242|INDEV-242> Тестовая задача"
    assert render_event(event, I, ALPHA, language, links=SiteLinks(jira="https://jira.test-example.ru")).text == f"{key}: {assigned}"
    # Derived: the same change the other way round.
    reverse = dataclasses.replace(event, from_value=event.to_value, to_value=None)
    assert render_event(reverse, I, ALPHA, language, links=SiteLinks(jira="https://jira.test-example.ru")).text == f"{key}: {unassigned}"


def test_a_resolution_is_named_so_wont_do_never_reads_as_done():
    event = one(f"{PIN}/jira:issue_updated.resolution.json")  # To Do → Closed, resolution Won't Do
    assert (event.type, event.resolution, event.to_value) == (E.ISSUE_RESOLVED, "Won't Do", "Closed")
    link = "<https://pinpt-hq.atlassian.net/browse/TES-19|TES-19> Panic happen!"
    assert render_event(event, C, ALPHA, "en", links=PINPT).text == f"{link}: resolved as Won't Do (Closed)"
    assert render_event(event, C, ALPHA, "de", links=PINPT).text == f"{link}: abgeschlossen mit Lösung „Won't Do“ (Closed)"


def test_set_and_cleared_values_are_said_as_such_not_as_arrows_from_none():
    # no sprint → TES Sprint 3; customfield_10107 is that site's sprint field (as the worker learns)
    sprint = resolve_sprint_field(one(f"{PIN}/jira:issue_updated.sprint_ids.json"), "customfield_10107")
    gold = "<https://pinpt-hq.atlassian.net/browse/GOLD-208|GOLD-208> Test issue"
    assert render_event(sprint, I, ALPHA, "en", links=PINPT).text == f"{gold}: added to sprint TES Sprint 3"
    assert render_event(sprint, I, ALPHA, "de", links=PINPT).text == f"{gold}: in Sprint TES Sprint 3 aufgenommen"
    out = dataclasses.replace(sprint, from_value=sprint.to_value, to_value=None)  # derived: the way back
    assert render_event(out, I, ALPHA, "en", links=PINPT).text == f"{gold}: removed from sprint TES Sprint 3"
    labels = one(f"{PIN}/jira:issue_updated.tags.json")  # no labels → signal
    tes = "<https://pinpt-hq.atlassian.net/browse/TES-12|TES-12> something's wrong again!"
    assert render_event(labels, I, ALPHA, "en", links=PINPT).text == f"{tes}: labels added: signal"
    swapped = dataclasses.replace(labels, from_value="signal urgent", to_value="urgent customer")  # derived
    assert render_event(swapped, I, ALPHA, "en", links=PINPT).text == f"{tes}: labels added: customer; removed: signal"
    assert render_event(swapped, I, ALPHA, "de", links=PINPT).text == f"{tes}: Labels hinzugefügt: customer; entfernt: signal"


def test_german_sentences_put_the_issue_last_so_its_title_never_splits_them():
    from bot.render.i18n import MESSAGES

    for language in ("de", "ru"):
        for key, template in MESSAGES[language].items():
            if key.startswith("notify.") and "{issue}" in template and "{actor}" in template:
                assert template.endswith("{issue}"), (key, template)


def test_comment_mentions_become_slack_mentions_or_names_never_ids():
    body = f"Hi [~accountid:{ROBIN}], ask [~accountid:5b912e21fa38ae2c896099ae] or [~ii_ivanov] <now> & [~accountid:nobody-known]"
    payload = edited(f"{PIN}/comment_created.json", lambda p: p["comment"].__setitem__("body", body))
    event = commented(payload)
    people = (*event.people, dataclasses.replace(event.people[0], account_id="5b912e21fa38ae2c896099ae", display_name="Иванов Иван"))
    message = render_event(dataclasses.replace(event, people=people), C, ALPHA, links=PINPT)
    assert message.blocks[1]["text"]["text"] == (
        "> Hi <@U0ROBIN>, ask @Иванов Иван or @ii_ivanov &lt;now&gt; &amp; @someone"
    )
    assert "nobody-known" not in message.text and "5b912e21" not in message.text
    assert message.blocks[0]["text"]["text"] == "Robin Diddams commented on <https://pinpt-hq.atlassian.net/browse/TES-1|TES-1> Test issue for Robin"


def test_mentions_by_email_and_in_adf_bodies():
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Ping "}, {"type": "mention", "attrs": {"id": ROBIN, "text": "@Robin"}}]}]}
    payload = edited(f"{PIN}/comment_created.json", lambda p: (
        p["comment"].__setitem__("body", adf), p["comment"]["author"].__setitem__("emailAddress", "robin@pinpoint.example")))
    acct = ALPHA.model_copy(update={"people": {"robin@pinpoint.example": "U0ROBIN2"}})
    message = render_event(commented(payload), C, acct)
    assert message.blocks[1]["text"]["text"] == "> Ping <@U0ROBIN2>"


def test_comment_previews_turn_jira_markup_into_slack_markup():
    from bot.render.notifications import COMMENT_PREVIEW_CHARS, comment_mrkdwn

    body = ("h2. Status\n\n\n\nSee [staging|https://staging.example/a?x=1&y=2] and [https://ci.example/42].\n"
            "{code:java}if (a < b) { go(); }{code}\nR&D <team>")
    assert comment_mrkdwn(body, ALPHA, (), "en") == (
        "Status\n\nSee <https://staging.example/a?x=1&amp;y=2|staging> and <https://ci.example/42>.\n"
        "```if (a &lt; b) { go(); }```\nR&amp;D &lt;team&gt;")
    # Cut to the limit between whole escapes, never inside "&amp;"; a code block cut open is closed.
    long = comment_mrkdwn("{code}" + "R&D " * 1000 + "{code}", ALPHA, (), "en")
    assert len(long) <= COMMENT_PREVIEW_CHARS + 6
    assert long.endswith(" …\n```") and "&amp;" in long
    assert not long.removesuffix(" …\n```").rstrip().endswith(("&", "&a", "&am", "&amp"))
    # Quoted line by line in the message, the section still fits Slack's 3000 characters, whatever the
    # line breaks (Jira's \r\n, Unicode line separators) and with the cut marker kept.
    for breaks in ("\n\n", "\r\n", "\u2028", "\x1c"):
        body = "x" + breaks + ("x" + breaks) * 1400 + "[click here|https://example.com/a?b=1&c=2] after"
        payload = edited(f"{PIN}/comment_created.json", lambda p, b=body: p["comment"].__setitem__("body", b))
        quote = render_event(commented(payload), I, ALPHA).blocks[1]["text"]["text"]
        assert len(quote) <= 3000 and quote.endswith(" …") and "<https://" not in quote, (repr(breaks), len(quote))
    assert comment_mrkdwn("a\r\n\r\n\r\n\r\nb", ALPHA, (), "en") == "a\n\nb"
    assert comment_mrkdwn("intro\nh2.\n\nnext", ALPHA, (), "en") == "intro\nh2.\n\nnext"  # not a heading
    # A link is kept whole or left out, never cut in the middle.
    links = comment_mrkdwn("x" * (COMMENT_PREVIEW_CHARS - 10) + " [label|https://example.com/long/path]", ALPHA, (), "en")
    assert "<https://" not in links and links.endswith(" …")


def test_worklog_amounts_are_left_out_for_clients_even_when_rendered_directly():
    ZULIPP = SiteLinks(jira="https://zulipp.atlassian.net")
    event = attach_issue(one(f"{ZJ}/worklog_created.json"), full_issue("TES-9"))
    assert render_event(event, I, ALPHA, links=ZULIPP).text == "Leo Franchi logged 40 h on <https://zulipp.atlassian.net/browse/TES-9|TES-9> Test issue for Robin"
    client = render_event(event, C, ALPHA, links=ZULIPP).text
    assert client == "Leo Franchi logged work on <https://zulipp.atlassian.net/browse/TES-9|TES-9> Test issue for Robin"
    edited_log = one(f"{ZJ}/worklog_updated__edited.json")
    assert "5.42 h → 5.85 h" in render_event(edited_log, I, ALPHA).text
    assert " h" not in render_event(edited_log, C, ALPHA).text


def test_render_versions_sprints_links_and_pages():
    version = one("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json")
    # The payload has only `userReleaseDate` "09/Sep/20" (Jira's display format): read as a date.
    assert version.version.release_date == "2020-09-09"
    assert render_event(version, C, ALPHA, "de").text == "Meilenstein *1.0* am 09.09.2020 veröffentlicht"
    assert render_event(version, C, ALPHA, "en").text == "Milestone *1.0* released on Sep 9, 2020"
    odd = edited("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json",
                 lambda p: p["version"].__setitem__("userReleaseDate", "9. září 2020"))  # derived: a Czech display format
    (odd_event,) = normalize(odd).events
    assert render_event(odd_event, C, ALPHA, "en").text == "Milestone *1.0* released"
    broken = edited("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json",
                    lambda p: p["version"].update(releaseDate="not a date", userReleaseDate=None))  # derived
    (broken_event,) = normalize(broken).events
    assert render_event(broken_event, C, ALPHA, "en").text == "Milestone *1.0* released"
    sprint = one(f"{PIN}/sprint_started.json")
    assert render_event(sprint, I, ALPHA).text == "Sprint *TSD Sprint 1* started, ends Jul 21, 2020"
    # The end (2020-07-21T00:37Z) is a day in the account's timezone: still the 20th in New York.
    new_york = ALPHA.model_copy(update={"timezone": "America/New_York"})
    assert render_event(sprint, I, new_york, "de").text == "Sprint *TSD Sprint 1* hat begonnen, endet am 20.07.2020"
    deleted = dataclasses.replace(one(f"{PIN}/jira:issue_created.json"), type=E.ISSUE_DELETED)  # derived
    assert "/browse/" not in render_event(deleted, I, ALPHA).text  # no link to an issue that is gone
    link = one(f"{PIN}/issuelink_created.json")
    link = attach_issue(attach_issue(link, full_issue("TES-1")), full_issue("TES-2"), linked=True)
    assert render_event(link, I, ALPHA).text == "*TES-1* Test issue for Robin blocks *TES-2*"
    page = one("taxonomies-for-confluence/src/test/resources/requests/BlogCreated.json", "blog_created")
    wiki = SiteLinks(confluence="https://dalstonsemantics.atlassian.net/wiki")
    assert render_event(page, I, ALPHA, links=wiki).text == (
        "Someone published the blog post <https://dalstonsemantics.atlassian.net/wiki/pages/viewpage.action?pageId=1192525828|Simple Blog Post>"
    )
    assert render_event(page, I, ALPHA).text == "Someone published the blog post *Simple Blog Post*"  # no site: no link


def test_every_event_type_has_en_and_de_text():
    from bot.render.i18n import MESSAGES

    for type_ in EventType:
        assert all(f"notify.event.{type_.value}" in MESSAGES[language] for language in ("en", "de", "ru")), type_


# --- replay ----------------------------------------------------------------------------------


def test_replay_explains_why_a_client_did_not_see_a_restricted_comment():
    result = replay(edited(f"{PIN}/comment_created.json", _visible_to_admins), C, ALPHA)
    (decision,) = result.decisions
    assert (decision.allowed, decision.delivered) == (False, False)
    assert decision.reason == "needs lookup first: issue"
    assert replay(real_payload(f"{PIN}/comment_created.json"), I, ALPHA).messages[0].text.startswith("Robin Diddams commented on")


def test_replay_shows_a_confluence_page_withheld_from_the_client_until_its_restrictions_are_known():
    body = real_payload("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json")  # space FI
    (decision,) = replay(body, C, ALPHA, event_hint="page_created").decisions
    assert (decision.allowed, decision.delivered) == (False, False)
    assert decision.reason == (
        "Confluence content not known to be free of view restrictions (itself and its ancestors): "
        "look its restrictions up first")
    (internal,) = replay(body, I, ALPHA, event_hint="page_created").decisions
    assert (internal.allowed, internal.delivered, internal.reason) == (True, True, "")


def test_replay_of_a_body_naming_only_ids_says_what_the_worker_would_look_up():
    body = real_payload("zulip/zerver/webhooks/confluence/fixtures/page_created.json")  # Data Center: ids only
    for audience in (C, I):
        (decision,) = replay(body, audience, BETA).decisions
        assert (decision.allowed, decision.delivered) == (False, False)
        assert decision.reason.startswith("needs lookup first: content"), decision.reason
        assert "None" not in decision.reason


def test_replay_renders_what_the_client_would_get_and_refuses_other_accounts():
    result = replay(real_payload(f"{PIN}/jira:issue_updated.due_date.json"), C, ALPHA, language="de", links=PINPT)
    assert [m.text for m in result.messages] == [f"{LINK}: fällig am 04.08.2020"]
    other = replay(real_payload(f"{PIN}/jira:issue_updated.due_date.json"), C, BETA)
    assert (other.decisions[0].allowed, other.decisions[0].reason) == (False, "belongs to 'TES', not to account 'beta'")
    ignored = replay(real_payload(f"{J2M}/issue/updated/rank-changed.json"), I, BETA)
    assert (ignored.delivery.outcome.value, ignored.decisions) == ("ignored", ())


def test_replay_asks_the_routing_rule_which_account_an_event_belongs_to(monkeypatch):
    import bot.services.replay as replay_module

    asked = []
    real = replay_module.account_for
    monkeypatch.setattr(replay_module, "account_for", lambda e, accounts: asked.append(e.routing_key) or real(e, accounts))
    cases = [
        (f"{PIN}/jira:issue_updated.due_date.json", None),  # TES → alpha
        (f"{PIN}/jira:issue_deleted.json", None),  # TIGR → beta
        ("taxonomies-for-confluence/src/test/resources/requests/PageCreated.json", "page_created"),  # FI → alpha
    ]
    for path, hint in cases:
        for acct in (ALPHA, BETA):
            owner = {d.account.key for d in route(events(path, hint), ACCOUNTS, {
                "C0ALPHA02": [parse_subscription("all")], "C0BETA002": [parse_subscription("all")]})}
            (decision,) = replay(real_payload(path), I, acct, event_hint=hint).decisions
            assert decision.allowed is (owner == {acct.key}), (path, acct.key)
    assert asked == ["TES", "TES", "TIGR", "TIGR", "FI", "FI"]


# --- links to another account's issues ----------------------------------------------------------


def _link_to(linked_key: str, summary: str = "Test issue for Robin") -> JiraEvent:
    """pinpoint's real issuelink_created (source TES-1), with the issues the worker looked up."""
    link = attach_issue(one(f"{PIN}/issuelink_created.json"), full_issue("TES-1"))
    return attach_issue(link, full_issue(linked_key, summary=summary), linked=True)


def test_a_link_to_another_accounts_issue_reaches_no_client_even_subscribed():
    link = _link_to("INDEV-7", "Beta: acquisition of Alpha's competitor")  # INDEV belongs to beta
    assert event_verdict(link, C, ALPHA) == Verdict(False, "linked issue is not in this account's projects")
    stored = {"C0ALPHA01": [parse_subscription("issuelink_created")]}
    assert [d.channel.id for d in route([link], ACCOUNTS, stored)] == ["C0ALPHA02"]
    # Agency staff may see the other key, never the other account's summary.
    assert render_event(link, I, ALPHA).text == "*TES-1* Test issue for Robin blocks *INDEV-7*"


def test_a_link_within_the_account_still_reaches_the_client():
    link = _link_to("GOLD-5", "Gold summary")
    assert event_verdict(link, C, ALPHA) == Verdict(True)
    stored = {"C0ALPHA01": [parse_subscription("issuelink_created")]}
    assert [d.channel.id for d in route([link], ACCOUNTS, stored)] == ["C0ALPHA01", "C0ALPHA02"]
    assert render_event(link, C, ALPHA).text == "*TES-1* Test issue for Robin blocks *GOLD-5*"


# --- the edit that makes an issue public does not tell its internal past -----------------------

RENAMED = {"field": "summary", "fieldtype": "jira", "from": None,
           "fromString": "Internal: Alpha overbilled 40h in Oct, hide from client", "to": None, "toString": "Billing review"}


def _made_public(*items: dict, comment: bool = False) -> dict:
    """pinpoint's real type change (TES-20, now public), its changelog replaced by one edit that
    made the issue public and renamed it; with a comment made in the same edit if asked."""
    def edit(p):
        _untranslated(p)
        p["changelog"]["items"] = [*items, RENAMED]
        if comment:
            p["comment"] = copy.deepcopy(real_payload(f"{PIN}/comment_created.json")["comment"])
            p["issue_event_type_name"] = "issue_commented"
    return edited(f"{PIN}/jira:issue_updated.type.json", edit)


LABEL_REMOVED = {"field": "labels", "fieldtype": "jira", "from": None, "fromString": "internal", "to": None, "toString": ""}
LEVEL_CLEARED = {"field": "security", "fieldtype": "jira", "from": "10000", "fromString": "Internal", "to": None, "toString": None}
TYPE_CHANGED = {"field": "issuetype", "fieldtype": "jira", "from": "10103", "fromString": "Bug", "to": "10101", "toString": "Task"}
BUG_INTERNAL = ALPHA.model_copy(update={"jira": JiraScope(projects=["TES", "GOLD"], internal_issue_types=["Bug"])})


@pytest.mark.parametrize(
    ("change", "acct", "why"),
    [(LABEL_REMOVED, ALPHA, "internal label internal"), (LEVEL_CLEARED, ALPHA, "security level 'Internal'"),
     (TYPE_CHANGED, BUG_INTERNAL, "internal issue type Bug")],
    ids=["label removed", "security level cleared", "type changed away from internal"],
)
def test_the_edit_that_makes_an_issue_public_tells_the_client_nothing_of_it(change, acct, why):
    all_ = [parse_subscription("all")]
    result = replay(_made_public(change, comment=True), C, acct, subscriptions=all_)
    got = {d.event.type: (d.allowed, d.reason) for d in result.decisions}
    assert got[E.SUMMARY_CHANGED] == (False, f"issue had {why} until this edit")
    assert got[E.COMMENT_CREATED] == (False, f"issue had {why} until this edit")
    assert result.messages == []
    internal = replay(_made_public(change, comment=True), I, acct, subscriptions=all_)
    assert "renamed from “Internal: Alpha overbilled 40h in Oct, hide from client”" in internal.messages[1].text


def test_a_rename_with_an_unrestricted_past_still_reaches_the_client():
    harmless = {**LABEL_REMOVED, "fromString": "signal"}
    result = replay(_made_public(harmless), C, ALPHA, subscriptions=[parse_subscription("all")], links=PINPT)
    assert [(d.event.type, d.allowed) for d in result.decisions] == [(E.LABELS_CHANGED, True), (E.SUMMARY_CHANGED, True)]
    assert result.messages[1].text == (
        "<https://pinpt-hq.atlassian.net/browse/TES-20|TES-20> Panic happen!: renamed from "
        "“Internal: Alpha overbilled 40h in Oct, hide from client”")


def test_only_the_client_channels_of_the_comment_made_while_internal_are_withheld():
    # Its `comment_created` twin has no changelog: the worker records these as handled.
    made_public = normalize(_made_public(LABEL_REMOVED, comment=True)).events
    assert [(d.channel.id, d.event.type, d.event.dedupe_key) for d in withheld_for_past(made_public, ACCOUNTS)] == [
        ("C0ALPHA01", E.COMMENT_CREATED, "jira:comment_created:comment:19259")]
    harmless = normalize(_made_public({**LABEL_REMOVED, "fromString": "signal"}, comment=True)).events
    assert withheld_for_past(harmless, ACCOUNTS) == []


# --- moves from another account's project ----------------------------------------------------


def _moved_from(old_key: str) -> JiraEvent:
    """pinpoint's real move into GOLD-208 (alpha), from the given key."""
    def edit(p):
        for it in p["changelog"]["items"]:
            if it["field"] == "Key":
                it["fromString"] = old_key
    (event,) = normalize(edited(f"{PIN}/jira:issue_updated.project.json", edit)).events
    return event


def test_a_move_from_another_accounts_project_reaches_no_client():
    moved = _moved_from("INDEV-82")  # INDEV belongs to beta
    assert event_verdict(moved, C, ALPHA) == Verdict(False, "issue was moved from a project outside this account")
    stored = {"C0ALPHA01": [parse_subscription("all")]}
    assert [d.channel.id for d in route([moved], ACCOUNTS, stored)] == ["C0ALPHA02"]
    # Agency staff may see where it came from.
    assert render_event(moved, I, ALPHA, links=PINPT).text == "INDEV-82 moved to <https://pinpt-hq.atlassian.net/browse/GOLD-208|GOLD-208> Test issue"


def test_a_move_within_the_account_still_reaches_the_client():
    moved = _moved_from("TES-82")  # the real capture: TES and GOLD are both alpha's
    assert event_verdict(moved, C, ALPHA) == Verdict(True)
    assert render_event(moved, C, ALPHA, links=PINPT).text == "TES-82 moved to <https://pinpt-hq.atlassian.net/browse/GOLD-208|GOLD-208> Test issue"


def test_the_other_changes_of_a_move_from_elsewhere_reach_no_client():
    # jira-to-matrix's real move TCP-2 → INDEV-130 (beta) with a type change; and RN-83 →
    # BBCOM-1233 with a description edit: the old values are the other project's.
    stored = {"C0BETA001": [parse_subscription("all")]}
    moved = events(f"{J2M}/issue/updated/move-issue.json")
    assert [(d.channel.id, d.event.type) for d in route(moved, ACCOUNTS, stored)] == [
        ("C0BETA002", E.ISSUE_TYPE_CHANGED), ("C0BETA002", E.ISSUE_MOVED)]
    bbcom = account("bbcom", ["BBCOM"], "BB", "C0BBCOM01", "C0BBCOM02")
    generic = [attach_issue(e, full_issue("BBCOM-1233")) for e in events(f"{J2M}/issue/updated/generic.json")]
    verdicts = {e.type: event_verdict(e, C, bbcom) for e in generic}
    assert verdicts == {E.DESCRIPTION_CHANGED: Verdict(False, "issue was moved from a project outside this account"),
                        E.ISSUE_MOVED: Verdict(False, "issue was moved from a project outside this account")}
