"""Jira normalization details, on real payloads (edited copies say what they changed)."""

from __future__ import annotations

import copy
import datetime as dt

from bot.domain.events import EventType, Outcome, PriorFacts, attach_issue, attach_project
from bot.domain.facts import IssueType, restricted
from bot.domain.webhooks import normalize
from bot.domain.work import Issue
from tests.fixtures import real_payload

E = EventType
PIN = "pinpoint-jira/internal/testdata"
J2M = "jira-to-matrix/test/fixtures/webhooks"
JENKINS = "jenkins-jira-trigger-plugin/src/test/resources/com/ceilfors/jenkins/plugins/jiratrigger"


def with_items(path: str, *items: dict) -> dict:
    """A real jira:issue_updated body with its changelog items replaced."""
    payload = copy.deepcopy(real_payload(path))
    payload["changelog"]["items"] = list(items)
    return payload


def item(field: str, old: str | None, new: str | None, *, raw_old=None, raw_new=None) -> dict:
    return {"field": field, "fieldtype": "jira", "from": raw_old, "fromString": old, "to": raw_new, "toString": new}


def test_status_change_carries_issue_facts_and_actor():
    (event,) = normalize(real_payload(f"{J2M}/issue/updated/status-changed.json")).events
    assert event.type is E.STATUS_CHANGED
    assert (event.from_value, event.to_value) == ("To Do", "In Progress")
    assert event.issue_key == "INDEV-6"
    assert event.project_key == "INDEV"
    assert event.issue.complete is True
    assert event.issue.security_level is None
    assert event.actor is not None and event.actor.display_name
    assert event.self_urls == (
        ("issue.self", "https://jira.test-example.ru/rest/api/2/issue/11442"),
        ("user.self", "https://jira.test-example.ru/rest/api/2/user?accountId=5bcede20b3e37a158c364fef"))


def test_resolution_with_status_is_one_resolved_event():
    (event,) = normalize(real_payload(f"{PIN}/jira:issue_updated.resolution.json")).events
    assert (event.type, event.field, event.from_value, event.to_value) == (E.ISSUE_RESOLVED, "status", "To Do", "Closed")


def test_reopened_from_cleared_resolution():
    # Derived from pinpoint's real resolution change, reversed: Closed → To Do, Won't Do → none.
    payload = with_items(
        f"{PIN}/jira:issue_updated.resolution.json",
        item("resolution", "Won't Do", None, raw_old="10001"),
        item("status", "Closed", "To Do", raw_old="6", raw_new="10000"),
    )
    (event,) = normalize(payload).events
    assert (event.type, event.from_value, event.to_value) == (E.ISSUE_REOPENED, "Closed", "To Do")


def test_priority_direction():
    real = normalize(real_payload(f"{JENKINS}/webhook/issue_updated_fields_updated.json")).events
    raised = [e for e in real if e.field == "priority"]
    assert [(e.type, e.from_value, e.to_value) for e in raised] == [(E.PRIORITY_RAISED, "Major", "Blocker")]
    # Derived from the same payload: the other direction, and a custom scheme we cannot rank.
    lowered = with_items(f"{JENKINS}/webhook/issue_updated_fields_updated.json", item("priority", "Highest", "Low"))
    assert [e.type for e in normalize(lowered).events] == [E.PRIORITY_LOWERED]
    custom = with_items(f"{JENKINS}/webhook/issue_updated_fields_updated.json", item("priority", "P1", "P2"))
    assert [e.type for e in normalize(custom).events] == [E.PRIORITY_CHANGED]


def test_due_date_set_and_removed_use_the_date():
    (set_,) = normalize(real_payload(f"{PIN}/jira:issue_updated.due_date.json")).events
    assert (set_.from_value, set_.to_value) == (None, "2020-08-04")
    (unset,) = normalize(real_payload(f"{PIN}/jira:issue_updated.due_date.unset.json")).events
    assert (unset.type, unset.from_value, unset.to_value) == (E.DUE_DATE_REMOVED, "2020-08-04", None)


def test_due_date_changed():
    # Derived from pinpoint's real due date change: moved by a week.
    payload = with_items(
        f"{PIN}/jira:issue_updated.due_date.json",
        item("duedate", "2020-08-04 00:00:00.0", "2020-08-11 00:00:00.0", raw_old="2020-08-04", raw_new="2020-08-11"),
    )
    (event,) = normalize(payload).events
    assert (event.type, event.from_value, event.to_value) == (E.DUE_DATE_CHANGED, "2020-08-04", "2020-08-11")


def test_fix_version_and_components():
    # Derived from pinpoint's labels change: Jira's field names for these two items.
    payload = with_items(
        f"{PIN}/jira:issue_updated.tags.json",
        item("Fix Version", None, "1.0", raw_new="10000"),
        item("Component", "Backend", None, raw_old="10100"),
    )
    events = normalize(payload).events
    assert [(e.type, e.from_value, e.to_value) for e in events] == [
        (E.FIX_VERSION_CHANGED, None, "1.0"),
        (E.COMPONENTS_CHANGED, "Backend", None),
    ]


def test_rank_only_is_ignored_but_rank_with_status_keeps_status():
    assert normalize(real_payload(f"{J2M}/issue/updated/rank-changed.json")).outcome is Outcome.IGNORED
    payload = with_items(f"{J2M}/issue/updated/rank-changed.json", item("Rank", "", "Ranked lower"), item("status", "To Do", "In Progress"))
    assert [e.type for e in normalize(payload).events] == [E.STATUS_CHANGED]


def test_comment_inside_issue_updated_and_comment_event_share_a_dedupe_key():
    inside = normalize(real_payload(f"{J2M}/issue/updated/commented.json")).events[0]
    assert inside.type is E.COMMENT_CREATED
    # Same comment id → same dedupe key, whichever webhook delivered it.
    twin = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    twin["comment"]["id"] = inside.comment.id
    assert normalize(twin).events[0].dedupe_key == inside.dedupe_key


def test_comment_event_issue_is_incomplete_until_attached():
    (event,) = normalize(real_payload(f"{PIN}/comment_created.json")).events
    assert event.comment.jsd_public is True and event.comment.restricted is False
    assert event.issue.complete is False
    assert event.needs_lookup() == ("issue",)
    full = Issue(key="TES-1", project="TES", summary="Test issue for Robin", issue_type="Bug", status="To Do",
                 status_category="new", created=dt.datetime(2020, 7, 1, tzinfo=dt.UTC), labels=("internal",))
    attached = attach_issue(event, full)
    assert attached.needs_lookup() == ()
    assert attached.issue.labels == ("internal",) and attached.issue.id == "11901"


def test_old_server_comment_without_issue_names_the_issue_id():
    (event,) = normalize(real_payload(f"{J2M}/comment/created.json")).events
    assert (event.issue, event.issue_id, event.project_key) == (None, "26313", None)
    assert event.needs_lookup() == ("issue",)


def test_restricted_comment_visibility_from_the_spec_shape():
    # Derived: pinpoint's real comment with the spec's `Visibility` object (type + value) added.
    payload = copy.deepcopy(real_payload(f"{PIN}/comment_created.json"))
    payload["comment"]["visibility"] = {"type": "role", "value": "Administrators"}
    (event,) = normalize(payload).events
    assert event.comment.visibility == "role:Administrators" and event.comment.restricted


def test_worklogs_name_only_the_issue_id():
    (event,) = normalize(real_payload("zulip/zerver/webhooks/jira/fixtures/worklog_created.json")).events
    assert event.worklog.issue_id == "10014" and event.issue_id == "10014"
    assert event.worklog.seconds is not None and event.worklog.seconds > 0
    assert event.needs_lookup() == ("issue",)
    (edited,) = normalize(real_payload("zulip/zerver/webhooks/jira/fixtures/worklog_updated__edited.json")).events
    assert (edited.worklog.previous_seconds, edited.worklog.seconds, edited.worklog.id) == (19500, 21060, "10200")


def test_version_released_needs_its_project():
    (event,) = normalize(real_payload("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json")).events
    assert (event.version.name, event.version.released, event.version.release_date) == ("1.0", True, "2020-09-09")  # userReleaseDate "09/Sep/20"
    assert event.needs_lookup() == ("project",)
    assert attach_project(event, "PUT").routing_key == "PUT"


def test_sprint_and_link_facts():
    (sprint,) = normalize(real_payload(f"{PIN}/sprint_started.json")).events
    assert (sprint.sprint.name, sprint.sprint.board_id, sprint.needs_lookup()) == ("TSD Sprint 1", "81", ("board",))
    (link,) = normalize(real_payload(f"{PIN}/issuelink_created.json")).events
    assert (link.link.source_issue_id, link.link.destination_issue_id, link.link.outward) == ("20192", "20734", "blocks")
    assert link.needs_lookup() == ("issue", "linked_issue")


def test_unknown_jira_event_is_unsupported_and_garbage_is_anomalous():
    assert normalize({"webhookEvent": "jira:something_new"}).outcome is Outcome.UNSUPPORTED
    assert normalize({"hello": "world"}).outcome is Outcome.ANOMALOUS
    assert normalize([1, 2]).outcome is Outcome.ANOMALOUS  # type: ignore[arg-type]
    assert Outcome.UNSUPPORTED.logger_name == "pulse.webhooks.unsupported"


def test_every_event_of_one_edit_carries_what_the_issue_was_before_it():
    # pinpoint's real type change, with the items of one edit that makes the issue public
    # (level cleared, label removed, type changed, renamed) and a comment made in that edit.
    payload = with_items(
        f"{PIN}/jira:issue_updated.type.json",
        item("security", "Internal", None, raw_old="10000"),
        item("labels", "internal signal", "signal"),
        item("issuetype", "Bug", "Task", raw_old="10103", raw_new="10101"),
        item("summary", "Internal: Alpha overbilled 40h in Oct, hide from client", "Billing review"),
    )
    payload["comment"] = copy.deepcopy(real_payload(f"{PIN}/comment_created.json")["comment"])
    payload["issue_event_type_name"] = "issue_commented"
    events = normalize(payload).events
    assert [e.type for e in events] == [
        E.FIELD_CHANGED, E.LABELS_CHANGED, E.ISSUE_TYPE_CHANGED, E.SUMMARY_CHANGED, E.COMMENT_CREATED]
    assert {e.before for e in events} == {
        PriorFacts(security=restricted("security level 'Internal'"), labels=("internal", "signal"),
                   issue_types=(IssueType(name="Bug", id="10103"),))}


def test_an_edit_of_other_fields_carries_no_before():
    (event,) = normalize(real_payload(f"{PIN}/jira:issue_updated.resolution.json")).events
    assert event.before is None
    # Only the fields this edit changed: the issue's other facts are on `event.issue`.
    (labelled,) = normalize(with_items(f"{PIN}/jira:issue_updated.type.json", item("labels", "", "signal"))).events
    assert labelled.before == PriorFacts(security=None, labels=(), issue_types=())


def test_a_move_carries_the_old_project_on_every_event_of_the_edit():
    # jira-to-matrix's real move TCP-2 → INDEV-130, which changed the type in the same edit.
    events = normalize(real_payload(f"{J2M}/issue/updated/move-issue.json")).events
    assert [(e.type, e.before) for e in events] == [
        (E.ISSUE_TYPE_CHANGED, PriorFacts(issue_types=(IssueType("Task", "10002"),), project_key="TCP")),
        (E.ISSUE_MOVED, PriorFacts(issue_types=(IssueType("Task", "10002"),), project_key="TCP")),
    ]
