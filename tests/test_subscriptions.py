"""Subscription filters, defaults per audience, and the `/pulse subscribe add` syntax."""

from __future__ import annotations

import pytest

from bot.domain.accounts import Audience
from bot.domain.events import EventType
from bot.domain.subscriptions import (
    CLIENT_DEFAULT,
    Subscription,
    SubscriptionSyntaxError,
    defaults_for,
    format_subscription,
    parse_subscription,
    wanted,
)
from bot.domain.webhooks import normalize
from bot.errors import UserError
from bot.render.words import Voice
from tests.fixtures import real_payload

E = EventType
PIN = "pinpoint-jira/internal/testdata"
JENKINS = "jenkins-jira-trigger-plugin/src/test/resources/com/ceilfors/jenkins/plugins/jiratrigger"


def first(path: str):
    return normalize(real_payload(path)).events[0]


def test_parse_the_documented_example():
    sub = parse_subscription("add status_changed,comment_created issuetype=Bug priority=High,Highest")
    assert sub == Subscription(
        events=frozenset({E.STATUS_CHANGED, E.COMMENT_CREATED}),
        issue_types=frozenset({"Bug"}),
        priorities=frozenset({"High", "Highest"}),
    )


def test_groups_all_fields_and_quotes():
    sub = parse_subscription('status,due_date label=frontend,"web shop" -field=Rank field=status')
    assert sub.events == frozenset({E.STATUS_CHANGED, E.ISSUE_RESOLVED, E.ISSUE_REOPENED, E.DUE_DATE_SET, E.DUE_DATE_CHANGED, E.DUE_DATE_REMOVED})
    assert sub.labels == frozenset({"frontend", "web shop"})
    assert (sub.include_fields, sub.exclude_fields) == (frozenset({"status"}), frozenset({"Rank"}))
    assert parse_subscription("all").events == frozenset()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Which events?"),
        ("add", "Which events?"),
        ("stauts_changed", "I don't know the event `stauts_changed`. Did you mean `status_changed`?"),
        ("status_changed colour=red", "I don't understand `colour=red`"),
        ("status_changed priority=", "`priority=` needs a value."),
        ("issuetype=Bug", "Start with the events, then the filters."),
        ("all,comment_created", "`all` already means every event"),
        ('status_changed label="open', "A quote is not closed."),
    ],
)
def test_usage_errors_say_what_is_wrong(text, problem):
    with pytest.raises(SubscriptionSyntaxError) as info:
        parse_subscription(text)
    said = Voice().say(info.value.text)
    assert said.startswith(problem)
    assert "Usage: `/pulse subscribe add" in said
    assert isinstance(info.value, ValueError) and isinstance(info.value, UserError)


def test_format_round_trips():
    text = 'comment_created,status_changed issuetype=Bug,Story priority=High label="web shop" -field=Rank'
    sub = parse_subscription(text)
    assert format_subscription(sub) == "comment_created,status_changed issuetype=Bug,Story priority=High 'label=web shop' -field=Rank"
    assert parse_subscription(format_subscription(sub)) == sub


def test_filters_match_real_events():
    resolved = first(f"{PIN}/jira:issue_updated.resolution.json")
    assert resolved.issue.issue_type == "Bug"
    assert Subscription(events=frozenset({E.ISSUE_RESOLVED}), issue_types=frozenset({"BUG"})).matches(resolved)
    assert not Subscription(issue_types=frozenset({"Epic"})).matches(resolved)
    assert not Subscription(events=frozenset({E.COMMENT_CREATED})).matches(resolved)
    labelled = first(f"{PIN}/jira:issue_updated.tags.json")
    assert Subscription(labels=frozenset({"signal"})).matches(labelled)
    assert not Subscription(labels=frozenset({"noise"})).matches(labelled)
    version = first("putit-core/spec/plugins/jira/jira_spec.rb.extracted/jira_version_released.json")
    assert not Subscription(issue_types=frozenset({"Bug"})).matches(version)  # no issue, no match


def test_field_include_exclude():
    events = normalize(real_payload(f"{JENKINS}/webhook/issue_updated_fields_updated.json")).events
    only_priority = Subscription(include_fields=frozenset({"PRIORITY"}))
    assert [e.type for e in events if only_priority.matches(e)] == [E.PRIORITY_RAISED]
    no_description = Subscription(exclude_fields=frozenset({"description"}))
    assert [e.type for e in events if no_description.matches(e)] == [E.SUMMARY_CHANGED, E.PRIORITY_RAISED, E.ISSUE_RESOLVED]


def test_defaults_per_audience():
    assert defaults_for(Audience.CLIENT) == (CLIENT_DEFAULT,)
    comment = first(f"{PIN}/comment_created.json")
    description = first(f"{PIN}/jira:issue_updated.description.json")
    worklog = first("zulip/zerver/webhooks/jira/fixtures/worklog_created.json")
    assert wanted(comment, Audience.CLIENT, None) and wanted(comment, Audience.INTERNAL, [])
    assert not wanted(description, Audience.CLIENT, None) and wanted(description, Audience.INTERNAL, None)
    assert not wanted(worklog, Audience.INTERNAL, None)
    assert wanted(worklog, Audience.INTERNAL, [parse_subscription("worklogs")])
    assert not wanted(comment, Audience.INTERNAL, [parse_subscription("worklogs")])  # stored replaces defaults


def test_every_event_type_has_exactly_one_kind():
    from collections import Counter

    from bot.domain.subscriptions import EVENT_KINDS, events_by_kind

    counts = Counter(t for _, types in EVENT_KINDS for t in types)
    assert set(counts) == set(EventType) and set(counts.values()) == {1}
    assert events_by_kind(frozenset({E.COMMENT_CREATED, E.STATUS_CHANGED})) == [
        ("kind.issues", [E.STATUS_CHANGED]), ("kind.comments", [E.COMMENT_CREATED])]
