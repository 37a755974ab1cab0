"""Events are checked against their declared field types (bot.domain.event_shape)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.domain.event_shape import MAX_INT, IllShapedEvent, check_event
from bot.domain.events import CommentFacts, IssueFacts, Outcome
from bot.domain.webhooks import normalize
from tests.fixtures import PAYLOADS, real_payload

PIN = "pinpoint-jira/internal/testdata"


def test_every_event_of_every_real_payload_has_its_declared_shape():
    checked = 0
    for path in sorted(PAYLOADS.rglob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        for hint in (None, "page_created", "comment_created"):
            delivery = normalize(payload, hint)
            assert not delivery.reason.startswith("unreadable payload"), (path, delivery.reason)
            for event in delivery.events:
                check_event(event)  # raises on a wrong shape, TypeError on an annotation it cannot read
                checked += 1
    assert checked > 100


def _event():
    (event,) = normalize(real_payload(f"{PIN}/comment_created.json")).events
    return event


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: dataclasses.replace(e, timestamp_ms=True), "JiraEvent.timestamp_ms: bool is not an integer"),
        (lambda e: dataclasses.replace(e, timestamp_ms=MAX_INT + 1), "JiraEvent.timestamp_ms: the number is out of range"),
        (lambda e: dataclasses.replace(e, field=7), "JiraEvent.field: int is not text"),
        (lambda e: dataclasses.replace(e, comment=dataclasses.replace(e.comment, body=[1])),
         "JiraEvent.comment.body: list is not str or Mapping"),
        (lambda e: dataclasses.replace(e, issue=IssueFacts(key="K-" + "1" * 70)),
         "JiraEvent.issue.key: text of 72 characters, at most 64 expected"),
        (lambda e: dataclasses.replace(e, issue=IssueFacts(key="K-1", labels=("a", 2))),
         "JiraEvent.issue.labels[1]: int is not text"),
        (lambda e: dataclasses.replace(e, comment="hello"), "JiraEvent.comment: str is not CommentFacts"),
        (lambda e: dataclasses.replace(e, type="comment_created"), "JiraEvent.type: str is not EventType"),
    ],
)
def test_a_field_of_another_type_or_size_is_named(change, message):
    with pytest.raises(IllShapedEvent, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        check_event(change(_event()))


def test_none_and_dicts_pass_where_they_are_declared():
    event = _event()
    check_event(dataclasses.replace(event, comment=CommentFacts(id=None, body={"type": "doc", "content": []})))
    check_event(dataclasses.replace(event, actor=None, issue=None))


def test_normalize_turns_a_shape_problem_into_an_anomalous_delivery():
    payload = real_payload(f"{PIN}/comment_created.json")
    payload["timestamp"] = True
    delivery = normalize(payload)
    assert delivery.outcome is Outcome.ANOMALOUS and delivery.events == ()
    assert delivery.reason == "unreadable payload: JiraEvent.timestamp_ms: bool is not an integer"
    assert isinstance(delivery.error, IllShapedEvent)
