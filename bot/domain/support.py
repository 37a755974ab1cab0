"""Support requests: who may file where, what the Jira issue holds, what counts as a first response.

Pure rules; the service (`bot.services.support`) does the I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.domain.access import Role
from bot.domain.accounts import Account, Audience, Channel, Support, Urgency
from bot.domain.payload import read_organizations
from bot.domain.words import CommandRef, Text, sentence
from bot.errors import PermissionDenied, UserError

# Slack's own limit for a message is 40,000 characters; a support request longer than a page is
# better sent as a document. Jira's summary holds 255.
MAX_TEXT = 4000
SUMMARY_LENGTH = 120
REQUEST_LABEL_PREFIX = "pulse-req-"
REQUEST_MARKER_PREFIX = "pulse-rq-"
REQUEST_ARGS = "args.request_text"


def request_label(request_id: int) -> str:
    """The label that finds a request's issue again (a retry searches it before creating)."""
    return f"{REQUEST_LABEL_PREFIX}{request_id}"


def request_marker(account_key: str, channel_id: str, requester_id: str, created_at: dt.datetime,
                   request_id: int) -> str:
    """A second label no other request carries, in whatever database: request ids are per database
    (a restored backup, a staging bot on the production Jira start again at 1) but the label
    namespace is Jira's. A digest of the account, channel, requester, the stored creation time (to
    the microsecond) and the id: the same for every retry of this request, another for any other
    request anywhere. A retry adopts only an issue carrying it (never another client's)."""
    instant = int(created_at.timestamp() * 1_000_000)  # UTC instant: no session time zone in it
    seed = "\x00".join((account_key, channel_id, requester_id, str(instant), str(request_id)))
    return REQUEST_MARKER_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:20]


def support_of(account: Account) -> Support:
    """The account's support settings, or a clear refusal when it files no requests."""
    if account.support is None:
        raise UserError(sentence("support.not_configured", account=account.name))
    return account.support


def check_filer(role: Role, channel: Channel) -> None:
    """Clients (Slack Connect and our own guests) file only in their account's client channel;
    agency members anywhere in the account's channels."""
    if role is Role.EXTERNAL and channel.audience is not Audience.CLIENT:
        raise PermissionDenied(sentence("support.client_channel_only"))


def check_text(text: str, command: CommandRef) -> str:
    """The request's text, stripped; a UserError for empty or oversized text."""
    text = (text or "").strip()
    if not text:
        raise UserError(sentence("support.empty", command=command))
    if len(text) > MAX_TEXT:
        raise UserError(sentence("support.too_long", limit=MAX_TEXT, length=len(text)))
    return text


def parse_urgency(value: str) -> Urgency:
    try:
        return Urgency(value)
    except ValueError:
        raise UserError(sentence("support.unknown_urgency")) from None


def target(account: Account, urgency: Urgency) -> dt.timedelta:
    return dt.timedelta(minutes=support_of(account).first_response.minutes(urgency))


def summary_of(text: str) -> str:
    """The issue's summary: the request's first line, shortened (Jira refuses line breaks there)."""
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    return first if len(first) <= SUMMARY_LENGTH else first[: SUMMARY_LENGTH - 1].rstrip() + "…"


def issue_fields(account: Account, request_id: int, urgency: Urgency, text: str, description: str,
                 marker: str, organizations_field: str | None = None) -> dict[str, Any]:
    """The REST fields of the request's Jira issue (plain-text description, API v2).
    `organizations_field`: the site's Organizations field, for an account recognised by
    organization that does not name it (`support.match.organization_field` wins)."""
    support = support_of(account)
    labels = [support.label, request_label(request_id), marker]
    fields: dict[str, Any] = {
        "project": {"key": support.project},
        "issuetype": {"name": support.issue_type},
        "summary": summary_of(text),
        "priority": {"name": support.priority.emergency if urgency is Urgency.EMERGENCY else support.priority.task},
        "description": description,
    }
    match = support.match
    if match is not None and match.label:
        labels.append(match.label)
    if match is not None and match.component:
        fields["components"] = [{"name": match.component}]
    if match is not None and match.organization:
        field = match.organization_field or organizations_field
        if field is None:
            raise ValueError("the site's Service Desk Organizations field is not known")
        fields[field] = [int(match.organization)]
    fields["labels"] = labels
    return fields


def adoption_labels(account: Account, marker: str) -> list[str]:
    """Besides the request's label, what a found issue must carry to be adopted as this request's:
    its marker (this request, no other database's) and, for an account recognised by label, that
    label (a component or organization is not searched by label: the marker names the account)."""
    match = support_of(account).match
    return [marker, *([match.label] if match is not None and match.label else [])]


# The key under which `owns_issue`'s caller passes the organization ids it read (a tuple; None: not known).
ORGANIZATION_IDS = "pulse:organization_ids"


def owns_issue(account: Account, fields: Mapping[str, Any]) -> bool:
    """Is this issue of the account's support project this account's (by its `support.match`)?
    Fail closed: a field we cannot read matches nothing."""
    support = account.support
    if support is None:
        return False
    project = fields.get("project")
    if not isinstance(project, Mapping) or project.get("key") != support.project:
        return False
    match = support.match
    if match is None:
        return True  # the project is this account's alone (check-config made sure)
    if match.component:
        return any(isinstance(c, Mapping) and c.get("name") == match.component for c in fields.get("components") or [])
    if match.label:
        labels = fields.get("labels")
        return isinstance(labels, list) and match.label in labels
    if match.organization:
        # The organization ids the caller read (from the site's Organizations field), else this
        # account's configured field as it stands in `fields`; by id, never by name.
        if ORGANIZATION_IDS in fields:
            ids = fields[ORGANIZATION_IDS]
        elif match.organization_field and match.organization_field in fields:
            ids = read_organizations(fields[match.organization_field])
        else:
            ids = None
        return isinstance(ids, tuple) and str(int(match.organization)) in ids
    return False


def organization_fields(accounts: Iterable[Account], project_key: str) -> set[str] | None:
    """For a support project where an account is recognised by Service Desk organization: the
    Organizations field ids those accounts name (empty: the site's field, from Jira's field list).
    None when no account of the project is recognised by organization."""
    matches = [a.support.match for a in accounts
               if a.support is not None and a.support.project == project_key and a.support.match is not None
               and a.support.match.organization]
    if not matches:
        return None
    return {m.organization_field for m in matches if m.organization_field}


# The issue fields `still_the_requests` reads (plus the Organizations field where one is matched on).
OWNER_FIELDS = ("project", "labels", "components")


def still_the_requests(account: Account, accounts: Iterable[Account], request_id: int, fields: Mapping[str, Any],
                       organization_field: str | None) -> bool:
    """Is the issue (its `fields` as Jira answers them now) still this request's, and this account's
    alone? The webhooks' rule (`_marks_request` + `support_split_verdict`): it carries the
    request's label, and `support_account` over the accounts sharing the project names this one;
    where an account is recognised by organization, the ids are read from `organization_field`
    (unknown, absent or unreadable: no). Fail closed: anything not positively this account's is not."""
    labels = fields.get("labels")
    if not isinstance(labels, list) or request_label(request_id) not in labels:
        return False
    support = account.support
    if support is None:
        return False
    claimants = [a for a in accounts if a.support is not None and a.support.project == support.project]
    if account not in claimants:
        claimants.append(account)
    values = dict(fields)
    if any(a.support is not None and a.support.match is not None and a.support.match.organization for a in claimants):
        ids = read_organizations(fields[organization_field]) if organization_field and organization_field in fields else None
        if ids is None:
            return False
        values[ORGANIZATION_IDS] = ids
    owner = support_account(claimants, values)
    return owner is not None and owner.key == account.key


def support_account(accounts: Iterable[Account], fields: Mapping[str, Any]) -> Account | None:
    """The one account an issue of a (possibly shared) support project belongs to; None if none
    or more than one claims it (never guess between two clients)."""
    owners = [a for a in accounts if owns_issue(a, fields)]
    return owners[0] if len(owners) == 1 else None


def is_project_work(support: Support, estimate_hours: Decimal | None, labels: Sequence[str]) -> bool:
    """Bigger than support: an estimate above the configured size, or a project-work label."""
    if support.project_work_hours is not None and estimate_hours is not None and estimate_hours > support.project_work_hours:
        return True
    return any(label in support.project_work_labels for label in labels)


# Automatic replies (out of office, vacation responders) in the languages we speak. They are
# replies by a person's mailbox, not by the person: they never count as the first response.
_AUTO_REPLY = re.compile(
    r"\b(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|on (annual )?leave until|"
    r"abwesenheitsnotiz|automatische antwort|nicht im büro|außer haus|"
    r"автоответ|автоматический ответ|нахожусь в отпуске|вне офиса)\b",
    re.IGNORECASE,
)


def is_auto_reply(text: str | None, properties: Mapping[str, Any] | None = None) -> bool:
    """An automatic out-of-office reply: by its words, or by what Jira's mail handler marks."""
    if properties and any(str(k).lower() in ("auto-submitted", "x-autoreply") for k in properties):
        return True
    return bool(text and _AUTO_REPLY.search(text[:500]))


def urgency_texts(account: Account) -> dict[Urgency, Text]:
    """Each urgency class explained in one line, with the account's targets."""
    support = support_of(account)
    return {
        Urgency.EMERGENCY: sentence("support.explain.emergency", within=_duration(support.first_response.emergency)),
        Urgency.TASK: sentence("support.explain.task", within=_duration(support.first_response.task)),
    }


def _duration(minutes: int) -> Text:
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return sentence("duration.hours_minutes", hours=hours, minutes=mins)
    if hours:
        return sentence("duration.hours", count=hours)
    return sentence("duration.minutes", count=mins)


def duration_text(minutes: int) -> Text:
    return _duration(minutes)
