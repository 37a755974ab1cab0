"""Events are checked against their own declared types before anything uses them.

The parsers read foreign JSON leniently (`_str`, `_dict`…), but a payload can still smuggle a
value of the wrong type or size into an event (a list where a comment body should be, `true` as
a timestamp, a 4,000-digit number, an issue key longer than the store keeps). Downstream code
trusts the annotations; this check makes that trust safe, so that such a delivery is classified
`anomalous` once, with the field named, instead of failing (and being retried) somewhere later.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from bot.domain.work import ISSUE_KEY

# Jira and Confluence numbers are ids, epoch milliseconds and seconds: all far below 2**53 (the
# largest integer JSON tools agree on). Anything bigger cannot be a date and overflows columns.
MAX_INT = 2**53
# The longest text a single field may hold: no Jira or Confluence field comes near it, and the
# intake refuses bodies over its byte limit anyway.
MAX_TEXT = 1_000_000
# Fields the store keys on, with the width of their column (`issue_threads.issue_key`).
MAX_LENGTH = {"issue.key": 64, "linked_issue.key": 64}
# Fields whose text must have Jira's own shape. An issue key is linked, stored, looked up and
# printed in messages: one Jira never sends (`<!channel>|<https://evil.example|NW-0>`, from a
# forged or replayed body) makes the event unreadable rather than something to render.
SHAPES = {"issue.key": ISSUE_KEY, "linked_issue.key": ISSUE_KEY}


class IllShapedEvent(ValueError):
    """A field of an event has a value its type does not allow; the message names the field."""


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_event(event: Any) -> None:
    """Raise IllShapedEvent unless every field of the (dataclass) event has its declared type."""
    _check(event, type(event), type(event).__name__)


def _check(value: Any, hint: Any, path: str) -> None:
    if hint is Any:
        return
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return
        if len(options) == 1:
            _check(value, options[0], path)  # its own message says more (length, range)
            return
        for option in options:
            try:
                _check(value, option, path)
                return
            except IllShapedEvent:
                continue
        raise IllShapedEvent(f"{path}: {type(value).__name__} is not {_name(options)}")
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not a tuple")
        item_hint = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
        for i, item in enumerate(value):
            _check(item, item_hint, f"{path}[{i}]")
        return
    if origin is frozenset:
        if not isinstance(value, frozenset):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not a set")
        for item in value:
            _check(item, typing.get_args(hint)[0], f"{path}[]")
        return
    if origin is not None and issubclass(origin, Mapping):
        if not isinstance(value, Mapping):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not an object")
        return
    if hint is type(None):
        if value is not None:
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not None")
        return
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not {hint.__name__}")
        for name, field_hint in _hints(hint).items():
            _check(getattr(value, name), field_hint, f"{path}.{name}")
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if not isinstance(value, hint):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not {hint.__name__}")
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not a boolean")
        return
    if hint is int:
        # bool is an int subclass: `true` is no timestamp.
        if isinstance(value, bool) or not isinstance(value, int):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not an integer")
        if not -MAX_INT <= value <= MAX_INT:
            raise IllShapedEvent(f"{path}: the number is out of range (more than 2**53)")
        return
    if hint is str:
        if not isinstance(value, str):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not text")
        field = ".".join(path.rsplit(".", 2)[-2:])
        limit = MAX_LENGTH.get(field, MAX_TEXT)
        if len(value) > limit:
            raise IllShapedEvent(f"{path}: text of {len(value)} characters, at most {limit} expected")
        shape = SHAPES.get(field)
        if shape is not None and not shape.fullmatch(value):
            raise IllShapedEvent(f"{path}: not a Jira issue key ({shape.pattern})")
        return
    if isinstance(hint, type):
        if not isinstance(value, hint):
            raise IllShapedEvent(f"{path}: {type(value).__name__} is not {hint.__name__}")
        return
    raise TypeError(f"event_shape cannot check {hint!r} at {path}")  # a new annotation: teach it here


def _name(options: list[Any]) -> str:
    return " or ".join(getattr(a, "__name__", str(a)) for a in options)
