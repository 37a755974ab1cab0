"""The one reader of the facts the audience policy decides on, whatever shape Jira sends them in.

Webhook bodies (`bot.domain.jira_events`) and REST responses (the Jira adapter's issue parser,
`integrations.jira_payloads`) both read an issue's security level, Cloud issue restriction,
labels and type, a comment's visibility / Service Desk flags and a worklog's visibility through
these functions, so the digest and the notifications can never disagree about an issue.

Every fact is tri-state: known public, known restricted, or unknown. Only the shapes the Jira
Cloud spec (`SecurityLevel`, `Visibility`, `Comment`, `EntityProperty`, `IssueTypeDetails`) and
Server/Data Center send are read; anything else is unknown, and unknown is never public.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.accounts import Account


class Known(enum.Enum):
    """What a fact tells a client channel: public, restricted, or unreadable (treated as restricted)."""

    PUBLIC = "public"
    RESTRICTED = "restricted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact about what may be shown, and (unless public) why not, in an operator's words."""

    known: Known
    why: str = ""

    @property
    def public(self) -> bool:
        return self.known is Known.PUBLIC


PUBLIC = Fact(Known.PUBLIC)


def restricted(why: str) -> Fact:
    return Fact(Known.RESTRICTED, why)


def unknown(why: str) -> Fact:
    return Fact(Known.UNKNOWN, why)


def not_public(facts: Iterable[Fact]) -> list[Fact]:
    """The facts that keep something from a client (restricted first: they are the firmer reason)."""
    found = [f for f in facts if not f.public]
    return sorted(found, key=lambda f: f.known is not Known.RESTRICTED)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: Any) -> str | None:
    """A non-empty string or integer id as text; None for anything else (bools are not ids)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        return str(value).strip()
    return None


# --- issues ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueType:
    """An issue type as Jira names it: by name, by id, or both. `untranslated` is Jira Cloud's
    `untranslatedName` (the name before translation into the site's or user's language), or the
    English name the Jira adapter resolved for the type's id."""

    name: str | None = None
    id: str | None = None
    untranslated: str | None = None

    def __str__(self) -> str:
        return self.name or (f"id {self.id}" if self.id else "?")


@dataclass(frozen=True, slots=True)
class IssueAccess:
    """What decides whether a client may see an issue. Account-independent facts are read once;
    labels and type stay raw because each account names its own internal ones.

    `labels` None: missing or unreadable. `issue_type` None: missing or unreadable."""

    security: Fact = PUBLIC
    restriction: Fact = PUBLIC
    labels: tuple[str, ...] | None = ()
    issue_type: IssueType | None = None

    def facts(self, account: Account) -> list[Fact]:
        """Every fact about this issue, as this account's client channels must judge it."""
        return [self.security, self.restriction, labels_fact(self.labels, account),
                type_fact(self.issue_type, account)]

    @classmethod
    def of_plain(cls, security_level: str | None, labels: Iterable[str], issue_type: str | None) -> IssueAccess:
        """From values already known (the sandbox, tests): a named level is a level."""
        return cls(
            security=restricted(f"security level {security_level!r}") if security_level else PUBLIC,
            labels=tuple(labels),
            # Our own values (the sandbox, tests) name types as the accounts file does.
            issue_type=IssueType(name=issue_type, untranslated=issue_type) if issue_type else None,
        )


def read_security(fields: Mapping[str, Any]) -> Fact:
    """`fields.security`: a `SecurityLevel` object, or (webhook captures) its bare id.

    Absent counts as "no level" only in a full field set (one with `labels`): Jira omits the
    field when the project has no security scheme. Any object with a name or an id, a bare id,
    or an object with an empty name means a level exists."""
    if "security" not in fields:
        return PUBLIC if "labels" in fields else unknown("security level not in the payload")
    value = fields["security"]
    if value is None:
        return PUBLIC
    if isinstance(value, Mapping):
        name, level_id = _text(value.get("name")), _text(value.get("id"))
        if name:
            return restricted(f"security level {name!r}")
        if level_id:
            return restricted(f"security level id {level_id}")
        if value:
            return restricted("security level present (without a name)")
        return unknown("security level present but unreadable ({})")
    if _text(value):
        return restricted(f"security level id {_text(value)}")
    return unknown(f"security level present but unreadable ({_describe(value)})")


_RESTRICTION_KEYS = frozenset({"issuerestrictions", "shouldDisplay"})


def read_issue_restriction(fields: Mapping[str, Any]) -> Fact:
    """`fields.issuerestriction` (Jira Cloud): `{"issuerestrictions": {}, "shouldDisplay": false}`
    when unrestricted (every Cloud issue carries it). Server/Data Center have no such field."""
    if "issuerestriction" not in fields or fields["issuerestriction"] is None:
        return PUBLIC
    value = fields["issuerestriction"]
    if not isinstance(value, Mapping) or set(value) - _RESTRICTION_KEYS:
        return unknown(f"issue restriction present but unreadable ({_describe(value)})")
    inner = value.get("issuerestrictions", {})
    display = value.get("shouldDisplay", False)
    if not isinstance(inner, Mapping) or not isinstance(display, bool):
        return unknown(f"issue restriction present but unreadable ({_describe(value)})")
    kinds = sorted(str(k) for k, v in inner.items() if v not in (None, [], {}))
    if kinds:
        return restricted("issue restriction (" + ", ".join(kinds) + ")")
    if inner or display:
        # Named kinds with nothing in them, or Jira saying a restriction is to be shown.
        return unknown(f"issue restriction present but unreadable ({_describe(value)})")
    return PUBLIC


def read_labels(fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """`fields.labels`: a list of strings; None when missing or in any other shape."""
    value = fields.get("labels")
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        return None
    return tuple(value)


def read_issue_type(value: Any) -> IssueType | None:
    """`fields.issuetype` (`IssueTypeDetails`): name and/or id; None when neither is readable."""
    if not isinstance(value, Mapping):
        return None
    name, type_id = _text(value.get("name")), _text(value.get("id"))
    if name is None and type_id is None:
        return None
    return IssueType(name=name, id=type_id, untranslated=_text(value.get("untranslatedName")))


def read_issue_access(fields: Any) -> IssueAccess:
    """All of an issue's access facts from its `fields` object (webhook or REST)."""
    if not isinstance(fields, Mapping):
        why = unknown("issue fields missing or unreadable")
        return IssueAccess(security=why, restriction=why, labels=None, issue_type=None)
    return IssueAccess(
        security=read_security(fields),
        restriction=read_issue_restriction(fields),
        labels=read_labels(fields),
        issue_type=read_issue_type(fields.get("issuetype")),
    )


# --- account rules: internal labels and issue types ------------------------------------------

# Whitespace, dots, underscores and every dash or hyphen (after NFKC: fullwidth forms are ASCII).
_SEPARATORS = re.compile(r"[\s._\-\u2010-\u2015\u2212\ufe58\ufe63]+")


def normalized(name: str) -> str:
    """A label or type name compared as a person reads it, so that a look-alike never passes
    for a public name: Unicode NFKC (fullwidth `ｉｎｔｅｒｎａｌ` is `internal`), format characters
    (zero-width space, BOM) and a leading `#` ignored, Turkish dotted/dotless I read as I, case
    folded, and spaces, hyphens, dashes, dots and underscores not counted at all ('Incident
    Review', ' incident-review ', 'INCIDENT_REVIEW', 'incident.review', 'incident\u200breview'
    are one name). Fail closed: a name that reads the same is the same name."""
    text = unicodedata.normalize("NFKC", name)
    # `"İ".casefold()` is "i" + a combining dot, which would not match "internal".
    text = text.replace("\u0130", "I").replace("\u0131", "i").casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SEPARATORS.sub("", text).lstrip("#")


def labels_fact(labels: tuple[str, ...] | None, account: Account) -> Fact:
    """Whether these labels carry one of the account's internal labels."""
    if labels is None:
        return unknown("labels missing or unreadable")
    internal = {normalized(x) for x in account.jira.internal_labels}
    hits = sorted({x for x in labels if normalized(x) in internal})
    if hits:
        return restricted("internal label " + ", ".join(hits))
    return PUBLIC


def type_fact(issue_type: IssueType | None, account: Account) -> Fact:
    """Whether this type is one of the account's internal issue types: by name or untranslated
    name, or by id when the account names it by id. Irrelevant for accounts without internal
    issue types.

    A name that matches nothing proves little when the account names types by name: Jira
    translates type names, so "Разбор инцидента" may be "Incident Review". Without Jira's
    `untranslatedName` (or the English name the adapter resolved for the id) such a type is
    unknown, and the worker looks the issue up."""
    configured = account.jira.internal_issue_types
    if not configured:
        return PUBLIC
    if issue_type is None:
        return unknown("issue type missing or unreadable")
    names = {normalized(x) for x in configured}
    for name in (issue_type.name, issue_type.untranslated):
        if name is not None and normalized(name) in names:
            return restricted(f"internal issue type {name}")
    ids = {x.strip() for x in configured}
    if issue_type.id is not None and issue_type.id in ids:
        return restricted(f"internal issue type {issue_type}")
    if issue_type.name is None and issue_type.untranslated is None:
        return unknown(f"issue type given only by id {issue_type.id}, which the account's internal types do not name")
    if issue_type.untranslated is None and any(not x.strip().isdigit() for x in configured):
        return unknown(f"issue type {issue_type.name!r} may be a translated name (no untranslatedName)")
    return PUBLIC


# --- comments and worklogs -------------------------------------------------------------------


def read_visibility(item: Mapping[str, Any], what: str) -> Fact:
    """`visibility` of a comment or worklog: absent or null is public; a `Visibility` object
    (`{"type": "role"|"group", "value"|"identifier": …}`) restricts; any other shape is read as
    a restriction too (a role or group may be behind it)."""
    value = item.get("visibility")
    if value is None:
        return PUBLIC
    if isinstance(value, Mapping) and value.get("type") in ("role", "group"):
        target = _text(value.get("value")) or _text(value.get("identifier")) or "?"
        return restricted(f"{what} visible to {value['type']} {target} only")
    return restricted(f"{what} visibility present but unreadable ({_describe(value)})")


SD_PUBLIC_COMMENT = "sd.public.comment"


def read_comment_access(comment: Any) -> Fact:
    """A comment: its `visibility`, Service Desk's `jsdPublic` and `sd.public.comment` property."""
    if not isinstance(comment, Mapping):
        return unknown("comment missing or unreadable")
    facts = [read_visibility(comment, "comment")]
    if "jsdPublic" in comment and comment["jsdPublic"] is not True:
        if comment["jsdPublic"] is False:
            facts.append(restricted("Service Desk internal comment (jsdPublic false)"))
        else:
            facts.append(unknown(f"Service Desk jsdPublic present but unreadable ({_describe(comment['jsdPublic'])})"))
    if "properties" in comment:
        facts.append(_sd_public_property(comment["properties"]))
    found = not_public(facts)
    return found[0] if found else PUBLIC


def _sd_public_property(properties: Any) -> Fact:
    # `properties` is a list of `EntityProperty` ({"key", "value"}); Service Desk marks an
    # internal note with {"key": "sd.public.comment", "value": {"internal": true}}.
    if not isinstance(properties, list):
        return unknown(f"comment properties unreadable ({_describe(properties)})")
    for prop in properties:
        if not isinstance(prop, Mapping):
            return unknown(f"comment property unreadable ({_describe(prop)})")
        if prop.get("key") != SD_PUBLIC_COMMENT:
            continue
        value = prop.get("value")
        if isinstance(value, Mapping) and value.get("internal") is False:
            continue
        if isinstance(value, Mapping) and value.get("internal") is True:
            return restricted("Service Desk internal comment (sd.public.comment internal)")
        return unknown(f"Service Desk property sd.public.comment unreadable ({_describe(value)})")
    return PUBLIC


SERVICE_DESK = "service_desk"


def read_project_type(fields: Any) -> str | None:
    """`fields.project.projectTypeKey` ("software", "service_desk", "business"); None when absent."""
    project = fields.get("project") if isinstance(fields, Mapping) else None
    value = project.get("projectTypeKey") if isinstance(project, Mapping) else None
    return value.strip().casefold() if isinstance(value, str) and value.strip() else None


def comment_marked_public(comment: Any) -> bool:
    """Does Service Desk mark this comment public: `jsdPublic: true`, or the property
    `sd.public.comment` `{"internal": false}`? (A restriction elsewhere still wins.)"""
    if not isinstance(comment, Mapping):
        return False
    if comment.get("jsdPublic") is True:
        return True
    properties = comment.get("properties")
    return isinstance(properties, list) and any(
        isinstance(p, Mapping) and p.get("key") == SD_PUBLIC_COMMENT and isinstance(p.get("value"), Mapping)
        and p["value"].get("internal") is False
        for p in properties
    )


def service_desk_fact(project_type: str | None, marked_public: bool) -> Fact:
    """A comment in a Service Desk project is an agent's internal note unless marked public:
    Data Center webhooks and older Cloud ones carry neither `jsdPublic` nor the property, so
    an unmarked one is looked up (`GET …/comment/{id}?expand=properties`) and, still unmarked,
    withheld. Where the project's type is not known, that is looked up first."""
    if marked_public:
        return PUBLIC
    if project_type is None:
        return unknown("project type unknown (in a Service Desk project a comment is public only when marked so)")
    if project_type == SERVICE_DESK:
        return unknown("Service Desk comment not marked public (no jsdPublic true, no sd.public.comment)")
    return PUBLIC


def read_worklog_access(worklog: Any) -> Fact:
    """A worklog's `visibility` (role or group): a restricted worklog is never a client's news."""
    if not isinstance(worklog, Mapping):
        return unknown("worklog missing or unreadable")
    return read_visibility(worklog, "worklog")
