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


# Jira Service Management's Organizations field: its schema's custom type (the field's id,
# `customfield_…`, differs per site: Jira's field list names it).
ORGANIZATIONS_SCHEMA = "com.atlassian.servicedesk:sd-customer-organizations"


def _organization_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return str(int(value))
    return None


def read_organizations(value: Any) -> tuple[str, ...] | None:
    """The Service Desk organization ids an Organizations field value names (`[{"id": 3, "name":
    …}, …]`; ids as numbers or digit strings, normalized), `()` for none (null, `[]`); None when
    it cannot be read (another shape, an entry without a readable id). Names are never read: two
    organizations may share one, ids are what an account is matched on."""
    if value is None:
        return ()
    if not isinstance(value, list):
        return None
    ids = []
    for entry in value:
        found = _organization_id(entry.get("id")) if isinstance(entry, Mapping) else None
        if found is None:
            return None
        ids.append(found)
    return tuple(dict.fromkeys(ids))


def organization_readings(fields: Any) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
    """Each custom field of an issue's `fields` read as an Organizations value (which of them is
    the site's Organizations field only Jira's field list or the accounts file can say)."""
    return tuple((key, read_organizations(value)) for key, value in mapping(fields).items()
                 if isinstance(key, str) and key.startswith("customfield_"))
