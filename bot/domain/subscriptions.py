"""Which events a channel wants: subscription filters, defaults per audience, and their syntax.

A channel has zero or more stored subscriptions; an event is delivered when any of them matches
(and the audience policy allows it). A channel with none stored uses its audience's defaults.

Syntax (after `/pulse subscribe add`):  `<events> [key=value[,value…]]…`
    status_changed,comment_created issuetype=Bug priority=High,Highest
    all label=frontend -field=Rank
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.accounts import Audience
from bot.domain.commands import UsageError
from bot.domain.events import Event, EventType, JiraEvent
from bot.domain.words import CommandRef, Text, sentence

E = EventType

# Shorthands users can type instead of listing types one by one.
EVENT_GROUPS: dict[str, frozenset[EventType]] = {
    "status": frozenset({E.STATUS_CHANGED, E.ISSUE_RESOLVED, E.ISSUE_REOPENED}),
    "due_date": frozenset({E.DUE_DATE_SET, E.DUE_DATE_CHANGED, E.DUE_DATE_REMOVED}),
    "priority": frozenset({E.PRIORITY_RAISED, E.PRIORITY_LOWERED, E.PRIORITY_CHANGED}),
    "comments": frozenset({E.COMMENT_CREATED, E.COMMENT_UPDATED, E.COMMENT_DELETED}),
    "worklogs": frozenset({E.WORKLOG_CREATED, E.WORKLOG_UPDATED, E.WORKLOG_DELETED}),
    "versions": frozenset({E.VERSION_CREATED, E.VERSION_RELEASED, E.VERSION_UNRELEASED, E.VERSION_UPDATED}),
    "sprints": frozenset({E.SPRINT_STARTED, E.SPRINT_CLOSED}),
    "pages": frozenset(t for t in EventType if t.is_confluence),
}

_FILTER_KEYS = {
    "issuetype": "issue_types", "type": "issue_types",
    "priority": "priorities",
    "label": "labels", "labels": "labels",
    "field": "include_fields", "fields": "include_fields",
    "-field": "exclude_fields", "-fields": "exclude_fields", "exclude_field": "exclude_fields",
}

_ADD = ("subscribe", "add")
USAGE = sentence(
    "subscribe.usage",
    command=CommandRef(_ADD, "args.subscription"),
    groups=", ".join(sorted(EVENT_GROUPS)),
    example=CommandRef(_ADD, "status_changed,comment_created issuetype=Bug priority=High,Highest"),
)


class SubscriptionSyntaxError(UsageError, ValueError):
    """`/pulse subscribe add …` text we could not read; its text says what is wrong and what to type."""

    def __init__(self, problem: Text):
        self.problem = problem
        super().__init__(sentence("subscribe.syntax", problem=problem, usage=USAGE))


def _fold(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One filter; every non-empty part must match (empty `events` = every type)."""

    events: frozenset[EventType] = frozenset()
    issue_types: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    include_fields: frozenset[str] = frozenset()
    exclude_fields: frozenset[str] = frozenset()

    def matches(self, event: Event) -> bool:
        """Does this subscription want the event?"""
        if self.events and event.type not in self.events:
            return False
        if self.issue_types or self.priorities or self.labels:
            # Issue filters never match events without an issue (versions, sprints, pages).
            issue = event.issue if isinstance(event, JiraEvent) else None
            if issue is None:
                return False
            if self.issue_types and (issue.issue_type or "").casefold() not in _fold(self.issue_types):
                return False
            if self.priorities and (issue.priority or "").casefold() not in _fold(self.priorities):
                return False
            if self.labels and not (_fold(issue.labels) & _fold(self.labels)):
                return False
        field = getattr(event, "field", None)
        if field is not None:
            if self.include_fields and field.casefold() not in _fold(self.include_fields):
                return False
            if field.casefold() in _fold(self.exclude_fields):
                return False
        return True


CLIENT_DEFAULT = Subscription(
    events=frozenset({
        E.ISSUE_CREATED,
        E.STATUS_CHANGED, E.ISSUE_RESOLVED, E.ISSUE_REOPENED,
        E.DUE_DATE_SET, E.DUE_DATE_CHANGED, E.DUE_DATE_REMOVED,
        E.FIX_VERSION_CHANGED, E.VERSION_RELEASED,
        E.COMMENT_CREATED,
        E.PAGE_CREATED, E.PAGE_UPDATED, E.BLOG_CREATED,
    })
)

# Internal channels see more, but not the noise: free-form field edits and every logged hour
# stay opt-in (`subscribe add worklogs`).
INTERNAL_DEFAULT = Subscription(
    events=frozenset[EventType](EventType)
    - {E.FIELD_CHANGED, E.WORKLOG_CREATED, E.WORKLOG_UPDATED, E.WORKLOG_DELETED}
)


# Every event type under one kind, in the order `/pulse subscribe list` shows them.
# Kinds are catalog ids: `subscribe list` names them in the channel's language.
EVENT_KINDS: tuple[tuple[str, tuple[EventType, ...]], ...] = (
    ("kind.issues", (E.ISSUE_CREATED, E.ISSUE_DELETED, E.STATUS_CHANGED, E.ISSUE_RESOLVED, E.ISSUE_REOPENED,
                E.ASSIGNEE_CHANGED, E.ISSUE_TYPE_CHANGED, E.ISSUE_MOVED, E.ISSUELINK_CREATED)),
    ("kind.fields", (E.SUMMARY_CHANGED, E.DESCRIPTION_CHANGED, E.LABELS_CHANGED, E.COMPONENTS_CHANGED,
                      E.FIELD_CHANGED)),
    ("kind.priority", (E.PRIORITY_RAISED, E.PRIORITY_LOWERED, E.PRIORITY_CHANGED)),
    ("kind.due_dates", (E.DUE_DATE_SET, E.DUE_DATE_CHANGED, E.DUE_DATE_REMOVED)),
    ("kind.milestones", (E.FIX_VERSION_CHANGED, E.VERSION_CREATED, E.VERSION_RELEASED, E.VERSION_UNRELEASED,
                                E.VERSION_UPDATED, E.SPRINT_CHANGED, E.SPRINT_STARTED, E.SPRINT_CLOSED)),
    ("kind.comments", (E.COMMENT_CREATED, E.COMMENT_UPDATED, E.COMMENT_DELETED)),
    ("kind.worklogs", (E.WORKLOG_CREATED, E.WORKLOG_UPDATED, E.WORKLOG_DELETED)),
    ("kind.confluence", tuple(t for t in EventType if t.is_confluence)),
)


def events_by_kind(events: frozenset[EventType]) -> list[tuple[str, list[EventType]]]:
    """The events (empty = every type) grouped by kind, kinds without any left out."""
    grouped = []
    for kind, types in EVENT_KINDS:
        chosen = [t for t in types if not events or t in events]
        if chosen:
            grouped.append((kind, chosen))
    return grouped


def has_filters(subscription: Subscription) -> bool:
    return bool(subscription.issue_types or subscription.priorities or subscription.labels
                or subscription.include_fields or subscription.exclude_fields)


def covers(wide: Subscription, narrow: Subscription) -> bool:
    """Does `wide` alone deliver every event `narrow` delivers (no filters, a superset of types)?"""
    return not has_filters(wide) and (not wide.events or (bool(narrow.events) and narrow.events <= wide.events))


def defaults_for(audience: Audience) -> tuple[Subscription, ...]:
    """The subscriptions a channel of this audience has until it stores its own."""
    return (CLIENT_DEFAULT,) if audience is Audience.CLIENT else (INTERNAL_DEFAULT,)


def wanted(event: Event, audience: Audience, stored: Sequence[Subscription] | None) -> bool:
    """Does a channel with these stored subscriptions (None/empty → defaults) want the event?"""
    subscriptions = stored or defaults_for(audience)
    return any(s.matches(event) for s in subscriptions)


def _parse_events(token: str) -> frozenset[EventType]:
    names = [n.strip().lower() for n in token.split(",") if n.strip()]
    if not names:
        raise SubscriptionSyntaxError(sentence("subscribe.no_event"))
    if "all" in names:
        if len(names) > 1:
            raise SubscriptionSyntaxError(sentence("subscribe.all_alone"))
        return frozenset()
    known = {t.value: t for t in EventType}
    result: set[EventType] = set()
    for name in names:
        if name in EVENT_GROUPS:
            result |= EVENT_GROUPS[name]
        elif name in known:
            result.add(known[name])
        else:
            guess = difflib.get_close_matches(name, [*known, *EVENT_GROUPS], n=1)
            hint = sentence("subscribe.did_you_mean", name=guess[0]) if guess else ""
            raise SubscriptionSyntaxError(sentence("subscribe.unknown_event", name=name, hint=hint))
    return frozenset(result)


def parse_subscription(text: str) -> Subscription:
    """Parse `[add] <events> [filters]` into a Subscription; SubscriptionSyntaxError if unreadable."""
    try:
        words = shlex.split(text or "")
    except ValueError:
        raise SubscriptionSyntaxError(sentence("subscribe.quote_open")) from None
    if words and words[0].lower() == "add":
        words = words[1:]
    if not words:
        raise SubscriptionSyntaxError(sentence("subscribe.which_events"))
    if "=" in words[0]:
        raise SubscriptionSyntaxError(sentence("subscribe.events_first"))
    parts: dict[str, frozenset[str]] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        target = _FILTER_KEYS.get(key.lower())
        if not sep or target is None:
            raise SubscriptionSyntaxError(sentence("subscribe.unknown_filter", word=word))
        values = frozenset(v.strip() for v in value.split(",") if v.strip())
        if not values:
            raise SubscriptionSyntaxError(sentence("subscribe.needs_value", key=key))
        parts[target] = parts.get(target, frozenset()) | values
    return Subscription(events=_parse_events(words[0]), **parts)


def format_subscription(subscription: Subscription) -> str:
    """The subscription in the syntax `parse_subscription` reads (for `subscribe list`)."""
    events = ",".join(sorted(subscription.events)) if subscription.events else "all"
    words = [events]
    for key, attr in (
        ("issuetype", "issue_types"), ("priority", "priorities"), ("label", "labels"),
        ("field", "include_fields"), ("-field", "exclude_fields"),
    ):
        values = getattr(subscription, attr)
        if values:
            joined = ",".join(sorted(values))
            words.append(shlex.quote(f"{key}={joined}") if " " in joined else f"{key}={joined}")
    return " ".join(words)
