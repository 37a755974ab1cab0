"""Readers shared by the Jira and Confluence webhook parsers: a value of an unexpected type reads as empty.

Payload shapes vary more than any fixture set shows, so every parser reads through these instead of
indexing; what they return is then judged by the audience facts (`bot.domain.facts`), never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.events import Person

Payload = Mapping[str, Any]

# What NUL becomes in text read from a payload. JSON allows `\u0000` in strings, PostgreSQL text
# refuses it (SQLite keeps it): replaced once, here, every key, title and name derived from the
# payload is the same on both backends, in every table and in every later delivery alike.
NUL_REPLACEMENT = "\ufffd"


def without_nul(text: str) -> str:
    """`text` with NUL characters replaced (see NUL_REPLACEMENT)."""
    return text.replace("\x00", NUL_REPLACEMENT)


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is an object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """`value` as text; None for a missing or empty value."""
    if value is None or value == "":
        return None
    return str(value)


def person(user: Any) -> Person | None:
    """A Person from a Jira/Confluence user object (Cloud: accountId; Server: name/key)."""
    user = mapping(user)
    if not user:
        return None
    return Person(
        account_id=text(user.get("accountId")),
        username=text(user.get("name") or user.get("username")),
        key=text(user.get("key") or user.get("userKey")),
        display_name=text(user.get("displayName") or user.get("publicName")),
        email=text(user.get("emailAddress") or user.get("email")),
        account_type=text(user.get("accountType")),
    )
