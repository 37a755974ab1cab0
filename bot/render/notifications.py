"""Channel notifications for internal events and bursts: Slack text and blocks, en and de.

Pure. The audience policy decides *whether* a channel sees an event; this module still leaves
logged time out for a client channel of an account that does not show money, so a direct call
cannot leak it either. Comment mentions become Slack mentions when `Account.people` knows the
person, else their display name — never a raw Jira account id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bot.domain.accounts import Account, Audience
from bot.domain.audience import worklog_amounts_visible
from bot.domain.events import ConfluenceEvent, Event, EventType, JiraEvent, Person
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import Burst
from bot.render.blocks import MAX_BLOCKS, MAX_SECTION_CHARS, Message, escape_mrkdwn
from bot.render.i18n import format_day, format_hours

E = EventType
COMMENT_PREVIEW_CHARS = 1500

_T: dict[str, dict[str, str]] = {
    "en": {
        "someone": "someone",
        "none": "none",
        E.ISSUE_CREATED: "{actor} created {issue}",
        E.ISSUE_DELETED: "{actor} deleted {issue}",
        E.STATUS_CHANGED: "{issue}: status {old} → {new}",
        E.ISSUE_RESOLVED: "{issue} is done ({new})",
        "resolved.as": "{issue}: resolved as {resolution}",
        "resolved.as.status": "{issue}: resolved as {resolution} ({new})",
        E.ISSUE_REOPENED: "{issue} was reopened",
        E.ASSIGNEE_CHANGED: "{issue}: assignee {old} → {new}",
        "assignee.set": "{issue}: assigned to {new}",
        "assignee.removed": "{issue}: unassigned (was {old})",
        "sprint.set": "{issue}: added to sprint {new}",
        "sprint.removed": "{issue}: removed from sprint {old}",
        "milestone.set": "{issue}: added to milestone {new}",
        "milestone.removed": "{issue}: removed from milestone {old}",
        "components.set": "{issue}: component {new} added",
        "components.removed": "{issue}: component {old} removed",
        "labels.delta": "{issue}: labels {delta}",
        "labels.added": "added: {items}",
        "labels.removed": "removed: {items}",
        E.PRIORITY_RAISED: "{issue}: priority raised {old} → {new}",
        E.PRIORITY_LOWERED: "{issue}: priority lowered {old} → {new}",
        E.PRIORITY_CHANGED: "{issue}: priority {old} → {new}",
        E.DUE_DATE_SET: "{issue}: due date set to {new}",
        E.DUE_DATE_CHANGED: "{issue}: due date moved {old} → {new}",
        E.DUE_DATE_REMOVED: "{issue}: due date removed (was {old})",
        E.FIX_VERSION_CHANGED: "{issue}: milestone {old} → {new}",
        E.SUMMARY_CHANGED: "{issue}: renamed from “{old}”",
        E.DESCRIPTION_CHANGED: "{actor} updated the description of {issue}",
        E.LABELS_CHANGED: "{issue}: labels {old} → {new}",
        E.COMPONENTS_CHANGED: "{issue}: components {old} → {new}",
        E.SPRINT_CHANGED: "{issue}: sprint {old} → {new}",
        E.ISSUE_TYPE_CHANGED: "{issue}: type {old} → {new}",
        E.ISSUE_MOVED: "{old} moved to {issue}",
        E.FIELD_CHANGED: "{issue}: {field} {old} → {new}",
        E.COMMENT_CREATED: "{actor} commented on {issue}",
        E.COMMENT_UPDATED: "{actor} edited a comment on {issue}",
        E.COMMENT_DELETED: "A comment on {issue} was deleted",
        E.WORKLOG_CREATED: "{actor} logged {time} on {issue}",
        E.WORKLOG_UPDATED: "{actor} changed a work log on {issue} ({time})",
        E.WORKLOG_DELETED: "{actor} deleted a work log on {issue} ({time})",
        "worklog.no_amount.created": "{actor} logged work on {issue}",
        "worklog.no_amount.updated": "{actor} changed a work log on {issue}",
        "worklog.no_amount.deleted": "{actor} deleted a work log on {issue}",
        E.ISSUELINK_CREATED: "{issue} {relation} {linked}",
        E.VERSION_CREATED: "New milestone {version}{date}",
        E.VERSION_RELEASED: "Milestone {version} released{date}",
        E.VERSION_UNRELEASED: "Milestone {version} is no longer released",
        E.VERSION_UPDATED: "Milestone {version} updated{date}",
        "version.date": " (release date {date})",
        "version.released_on": " on {date}",
        E.SPRINT_STARTED: "Sprint {sprint} started",
        "sprint.started_until": "Sprint {sprint} started, ends {end}",
        E.SPRINT_CLOSED: "Sprint {sprint} closed",
        E.PAGE_CREATED: "{actor} created the page {page}",
        E.PAGE_UPDATED: "{actor} updated the page {page}",
        E.PAGE_TRASHED: "{actor} moved the page {page} to the trash",
        E.PAGE_RESTORED: "{actor} restored the page {page}",
        E.PAGE_REMOVED: "{actor} deleted the page {page}",
        E.PAGE_MOVED: "{actor} moved the page {page}",
        E.BLOG_CREATED: "{actor} published the blog post {page}",
        E.BLOG_UPDATED: "{actor} updated the blog post {page}",
        E.BLOG_TRASHED: "{actor} moved the blog post {page} to the trash",
        E.BLOG_RESTORED: "{actor} restored the blog post {page}",
        E.BLOG_REMOVED: "{actor} deleted the blog post {page}",
        E.PAGE_COMMENT_CREATED: "{actor} commented on {page}",
        E.PAGE_COMMENT_UPDATED: "{actor} edited a comment on {page}",
        E.PAGE_COMMENT_REMOVED: "A comment on {page} was deleted",
        "page.untitled": "a page",
        "burst.title": "{count} updates in {issues} issues",
        "burst.title.one": "{count} updates in 1 issue",
        "burst.pages": "Pages: {titles}",
        "burst.issues": "Issues: {keys}",
        "burst.more": "… and {count} more",
        "thread.status": "Status: {status}",
    },
    # The issue (key and title) goes last where a verb would follow it: a title in the middle of
    # a German sentence ("hat ACME-1 Checkout: Zahlung schlägt fehl kommentiert") is hard to read.
    "de": {
        "someone": "jemand",
        "none": "keine",
        E.ISSUE_CREATED: "{actor} hat einen Vorgang angelegt: {issue}",
        E.ISSUE_DELETED: "{actor} hat einen Vorgang gelöscht: {issue}",
        E.STATUS_CHANGED: "{issue}: Status {old} → {new}",
        E.ISSUE_RESOLVED: "{issue} ist erledigt ({new})",
        "resolved.as": "{issue}: abgeschlossen mit Lösung „{resolution}“",
        "resolved.as.status": "{issue}: abgeschlossen mit Lösung „{resolution}“ ({new})",
        E.ISSUE_REOPENED: "Wieder geöffnet: {issue}",
        E.ASSIGNEE_CHANGED: "{issue}: zuständig {old} → {new}",
        "assignee.set": "{issue}: zugewiesen an {new}",
        "assignee.removed": "{issue}: Zuweisung entfernt (vorher {old})",
        "sprint.set": "{issue}: in Sprint {new} aufgenommen",
        "sprint.removed": "{issue}: aus Sprint {old} entfernt",
        "milestone.set": "{issue}: dem Meilenstein {new} zugeordnet",
        "milestone.removed": "{issue}: vom Meilenstein {old} entfernt",
        "components.set": "{issue}: Komponente {new} hinzugefügt",
        "components.removed": "{issue}: Komponente {old} entfernt",
        "labels.delta": "{issue}: Labels {delta}",
        "labels.added": "hinzugefügt: {items}",
        "labels.removed": "entfernt: {items}",
        E.PRIORITY_RAISED: "{issue}: Priorität erhöht {old} → {new}",
        E.PRIORITY_LOWERED: "{issue}: Priorität gesenkt {old} → {new}",
        E.PRIORITY_CHANGED: "{issue}: Priorität {old} → {new}",
        E.DUE_DATE_SET: "{issue}: fällig am {new}",
        E.DUE_DATE_CHANGED: "{issue}: Fälligkeit verschoben {old} → {new}",
        E.DUE_DATE_REMOVED: "{issue}: Fälligkeit entfernt (war {old})",
        E.FIX_VERSION_CHANGED: "{issue}: Meilenstein {old} → {new}",
        E.SUMMARY_CHANGED: "{issue}: umbenannt (vorher „{old}“)",
        E.DESCRIPTION_CHANGED: "{actor} hat die Beschreibung geändert: {issue}",
        E.LABELS_CHANGED: "{issue}: Labels {old} → {new}",
        E.COMPONENTS_CHANGED: "{issue}: Komponenten {old} → {new}",
        E.SPRINT_CHANGED: "{issue}: Sprint {old} → {new}",
        E.ISSUE_TYPE_CHANGED: "{issue}: Typ {old} → {new}",
        E.ISSUE_MOVED: "{old} ist jetzt {issue}",
        E.FIELD_CHANGED: "{issue}: {field} {old} → {new}",
        E.COMMENT_CREATED: "{actor} hat kommentiert: {issue}",
        E.COMMENT_UPDATED: "{actor} hat einen Kommentar bearbeitet: {issue}",
        E.COMMENT_DELETED: "Ein Kommentar zu {issue} wurde gelöscht",
        E.WORKLOG_CREATED: "{actor} hat {time} gebucht: {issue}",
        E.WORKLOG_UPDATED: "{actor} hat eine Zeitbuchung geändert ({time}): {issue}",
        E.WORKLOG_DELETED: "{actor} hat eine Zeitbuchung gelöscht ({time}): {issue}",
        "worklog.no_amount.created": "{actor} hat Zeit gebucht: {issue}",
        "worklog.no_amount.updated": "{actor} hat eine Zeitbuchung geändert: {issue}",
        "worklog.no_amount.deleted": "{actor} hat eine Zeitbuchung gelöscht: {issue}",
        E.ISSUELINK_CREATED: "{issue} {relation} {linked}",
        E.VERSION_CREATED: "Neuer Meilenstein {version}{date}",
        E.VERSION_RELEASED: "Meilenstein {version}{date} veröffentlicht",
        E.VERSION_UNRELEASED: "Meilenstein {version} ist nicht mehr veröffentlicht",
        E.VERSION_UPDATED: "Meilenstein {version} geändert{date}",
        "version.date": " (Veröffentlichung {date})",
        "version.released_on": " am {date}",
        E.SPRINT_STARTED: "Sprint {sprint} hat begonnen",
        "sprint.started_until": "Sprint {sprint} hat begonnen, endet am {end}",
        E.SPRINT_CLOSED: "Sprint {sprint} ist abgeschlossen",
        E.PAGE_CREATED: "{actor} hat die Seite {page} angelegt",
        E.PAGE_UPDATED: "{actor} hat die Seite {page} geändert",
        E.PAGE_TRASHED: "{actor} hat die Seite {page} in den Papierkorb verschoben",
        E.PAGE_RESTORED: "{actor} hat die Seite {page} wiederhergestellt",
        E.PAGE_REMOVED: "{actor} hat die Seite {page} gelöscht",
        E.PAGE_MOVED: "{actor} hat die Seite {page} verschoben",
        E.BLOG_CREATED: "{actor} hat den Blogbeitrag {page} veröffentlicht",
        E.BLOG_UPDATED: "{actor} hat den Blogbeitrag {page} geändert",
        E.BLOG_TRASHED: "{actor} hat den Blogbeitrag {page} in den Papierkorb verschoben",
        E.BLOG_RESTORED: "{actor} hat den Blogbeitrag {page} wiederhergestellt",
        E.BLOG_REMOVED: "{actor} hat den Blogbeitrag {page} gelöscht",
        E.PAGE_COMMENT_CREATED: "{actor} hat kommentiert: {page}",
        E.PAGE_COMMENT_UPDATED: "{actor} hat einen Kommentar bearbeitet: {page}",
        E.PAGE_COMMENT_REMOVED: "Ein Kommentar zu {page} wurde gelöscht",
        "page.untitled": "eine Seite",
        "burst.title": "{count} Änderungen in {issues} Vorgängen",
        "burst.title.one": "{count} Änderungen in 1 Vorgang",
        "burst.pages": "Seiten: {titles}",
        "burst.issues": "Vorgänge: {keys}",
        "burst.more": "… und {count} weitere",
        "thread.status": "Status: {status}",
    },
}


def _lang(language: str | None) -> str:
    # ru and anything else: English until the catalogs grow.
    return language if language in _T else "en"


def _t(language: str, key: str, **params: object) -> str:
    return _T[_lang(language)].get(key, _T["en"][key]).format(**params)


# --- people and mentions -------------------------------------------------------------------


def _slack_user(p: Person | None, account: Account) -> str | None:
    if p is None:
        return None
    for key in (p.account_id, p.email, p.username, p.key):
        if key and key in account.people:
            return account.people[key]
    return None


def _name(p: Person | None, language: str) -> str:
    """A person's display name (escaped), never their account id."""
    if p is None:
        return _t(language, "someone")
    return escape_mrkdwn(p.display_name or p.username or _t(language, "someone"))


# Jira wiki markup a comment preview turns into Slack's: mentions [~accountid:…] / [~user], links
# [text|url] and [url], code and noformat blocks.
_TOKEN = re.compile(
    r"\[~(?P<by_account>accountid:)?(?P<ref>[^\]\s]+)\]"
    r"|\[(?P<label>[^\]|\n]*)\|(?P<url>(?:https?|mailto):[^\]\s|<>]+)\]"
    r"|\[(?P<bare>(?:https?|mailto):[^\]\s|<>]+)\]"
)
_CODE_BLOCK = re.compile(r"\{(?:code|noformat)(?::[^}]*)?\}")
_HEADING = re.compile(r"^h[1-6]\.[ \t]+", re.MULTILINE)
# Every line break Python's splitlines() knows (the quote is built with it), as "\n".
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


class _Preview:
    """Slack text built piece by piece within a length: never cut inside an escape or a link."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.used, self.cut = limit, [], 0, False

    def text(self, raw: str) -> None:
        for char in raw:
            # A line break costs three: the message quotes each line with "> ".
            if not self._add(escape_mrkdwn(char), 3 if char == "\n" else None):
                return

    def token(self, mrkdwn: str) -> None:
        self._add(mrkdwn)

    def _add(self, piece: str, cost: int | None = None) -> bool:
        cost = len(piece) if cost is None else cost
        if self.cut or self.used + cost > self.limit:
            self.cut = True
            return False
        self.parts.append(piece)
        self.used += cost
        return True

    def result(self) -> str:
        text = "".join(self.parts).rstrip()
        if self.cut:
            text += " …"
        if text.count("```") % 2:  # a code block cut open would swallow the rest of the message
            text += "\n```"
        return text


def _find(ref: str, by_account: bool, people: Iterable[Person]) -> Person | None:
    for p in people:
        if (by_account and p.account_id == ref) or (not by_account and ref in (p.username, p.key)):
            return p
    return None


def _adf_text(node: Any) -> str:
    # Cloud may send comment bodies as Atlassian Document Format; flatten to wiki-ish text and
    # turn mention nodes back into [~accountid:…] so one mention path handles both.
    if isinstance(node, list):
        return "".join(_adf_text(n) for n in node)
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "mention":
        return f"[~accountid:{node.get('attrs', {}).get('id', '')}]"
    if kind == "hardBreak":
        return "\n"
    inner = _adf_text(node.get("content", []))
    return inner + "\n" if kind in ("paragraph", "heading", "listItem", "codeBlock") else inner


def comment_mrkdwn(body: Any, account: Account, people: Iterable[Person], language: str) -> str:
    """A Jira comment body as Slack mrkdwn: mentions resolved, links and code blocks converted,
    user text escaped, at most COMMENT_PREVIEW_CHARS long."""
    text = _adf_text(body) if isinstance(body, Mapping) else str(body or "")
    text = _LINE_BREAKS.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", _HEADING.sub("", _CODE_BLOCK.sub("```", text))).strip()
    people = tuple(people)
    out = _Preview(COMMENT_PREVIEW_CHARS)
    pos = 0
    for m in _TOKEN.finditer(text):
        out.text(text[pos:m.start()])
        pos = m.end()
        if m.group("url") or m.group("bare"):
            url = m.group("url") or m.group("bare")
            label = m.group("label")
            url = url.replace("&", "&amp;")  # Slack decodes its three escapes in URLs too
            out.token(f"<{url}|{escape_mrkdwn(label)}>" if label else f"<{url}>")
            continue
        by_account, ref = m.group("by_account") is not None, m.group("ref")
        p = _find(ref, by_account, people) or (Person(account_id=ref) if by_account else Person(username=ref))
        slack = _slack_user(p, account)
        if slack:
            out.token(f"<@{slack}>")
        elif p.display_name:
            out.token("@" + escape_mrkdwn(p.display_name))
        elif not by_account:
            out.token("@" + escape_mrkdwn(ref))  # a Server username is a login name, not an id
        else:
            out.token("@" + _t(language, "someone"))
    out.text(text[pos:])
    return out.result()


# --- values --------------------------------------------------------------------------------


def _issue_link(event: JiraEvent, links: SiteLinks, key: str | None = None) -> str:
    key = key or event.issue_key or "?"
    summary = event.issue.summary if event.issue and key == event.issue_key else None
    gone = event.type is E.ISSUE_DELETED and key == event.issue_key  # a link would lead nowhere
    # The configured site and the key, never the payload's `self` (see bot.domain.links).
    url = None if gone else links.issue(key)
    # Linked only when it has a key's shape (SiteLinks); escaped either way, like every payload text.
    label = f"<{url}|{escape_mrkdwn(key)}>" if url else f"*{escape_mrkdwn(key)}*"
    return f"{label} {escape_mrkdwn(summary)}" if summary else label


def _value(raw: str | None, language: str, *, is_date: bool = False) -> str:
    if raw is None:
        return _t(language, "none")
    if is_date:
        try:
            return format_day(dt.date.fromisoformat(raw[:10]), language)
        except ValueError:
            pass
    return escape_mrkdwn(raw)


def _local_day(raw: str | None, account: Account) -> dt.date | None:
    """The day of a Jira timestamp ("2020-07-21T00:37:06.000Z") in the account's timezone."""
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return moment.astimezone(account.tz).date() if moment.tzinfo else moment.date()
    except (ValueError, OverflowError):  # not a timestamp, or year 1 / 9999 moved across midnight
        return None


def _hours(seconds: int | None, language: str) -> str:
    if seconds is None:
        return "?"
    return f"{format_hours((Decimal(seconds) / 3600).quantize(Decimal('0.01')), language)} h"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}}


# --- events --------------------------------------------------------------------------------


# Changes that set or clear one value: said as such, not as an arrow from or to "none".
_ONE_SIDED = {E.ASSIGNEE_CHANGED: "assignee", E.SPRINT_CHANGED: "sprint", E.FIX_VERSION_CHANGED: "milestone",
              E.COMPONENTS_CHANGED: "components"}


def _jira_headline(event: JiraEvent, audience: Audience, account: Account, language: str, links: SiteLinks) -> str:
    actor = _name(event.actor, language)
    params: dict[str, object] = {"actor": actor, "issue": _issue_link(event, links)}
    is_date = event.type in (E.DUE_DATE_SET, E.DUE_DATE_CHANGED, E.DUE_DATE_REMOVED)
    params["old"] = _value(event.from_value, language, is_date=is_date)
    params["new"] = _value(event.to_value, language, is_date=is_date)
    params["field"] = escape_mrkdwn(event.field or "")
    if event.type is E.ISSUE_MOVED:
        params["issue"] = _issue_link(event, links, event.to_value or event.issue_key)
        params["old"] = escape_mrkdwn(event.from_value or "?")
    if event.type.is_worklog:
        if not worklog_amounts_visible(audience, account):
            return _t(language, "worklog.no_amount." + event.type.value.removeprefix("worklog_"), **params)
        wl = event.worklog
        if wl is not None and wl.previous_seconds is not None:
            params["time"] = f"{_hours(wl.previous_seconds, language)} → {_hours(wl.seconds, language)}"
        else:
            params["time"] = _hours(wl.seconds if wl else None, language)
    if event.version is not None:
        params["version"] = f"*{escape_mrkdwn(event.version.name)}*"
        date = event.version.release_date
        # "released on Sep 9, 2020"; other version events: "(release date …)".
        date_key = "version.released_on" if event.type is E.VERSION_RELEASED else "version.date"
        params["date"] = _t(language, date_key, date=_value(date, language, is_date=True)) if date else ""
    if event.sprint is not None:
        params["sprint"] = f"*{escape_mrkdwn(event.sprint.name)}*"
        end = _local_day(event.sprint.end, account) if event.type is E.SPRINT_STARTED else None
        if end is not None:
            return _t(language, "sprint.started_until", end=format_day(end, language), **params)
    if event.link is not None:
        params["relation"] = escape_mrkdwn(event.link.outward or "→")
        linked = event.linked_issue
        # Key only, never its summary: the linked issue may belong to another account.
        params["linked"] = _issue_link(event, links, linked.key) if linked and linked.key else "?"
    if event.type is E.ISSUE_RESOLVED and event.resolution:
        # "resolved as Won't Do", not "is done": a client must not read a refusal as delivery.
        params["resolution"] = escape_mrkdwn(event.resolution)
        return _t(language, "resolved.as.status" if event.field_id == "status" else "resolved.as", **params)
    one_sided = _ONE_SIDED.get(event.type)
    if one_sided and (event.from_value is None) != (event.to_value is None):
        # "assigned to Ann", "removed from sprint 3" rather than an arrow from or to "none".
        return _t(language, f"{one_sided}.set" if event.from_value is None else f"{one_sided}.removed", **params)
    if event.type is E.LABELS_CHANGED:
        # Jira sends both label lists space-separated: say what was added and removed.
        before, after = (event.from_value or "").split(), (event.to_value or "").split()
        added = [escape_mrkdwn(x) for x in after if x not in before]
        removed = [escape_mrkdwn(x) for x in before if x not in after]
        delta = [_t(language, f"labels.{kind}", items=", ".join(items))
                 for kind, items in (("added", added), ("removed", removed)) if items]
        if delta:
            return _t(language, "labels.delta", delta="; ".join(delta), **params)
    return _t(language, event.type, **params)


def _confluence_headline(event: ConfluenceEvent, language: str, links: SiteLinks) -> str:
    title = escape_mrkdwn(event.parent_title or event.title or "") or _t(language, "page.untitled")
    gone = event.type in (E.PAGE_REMOVED, E.BLOG_REMOVED)  # deleted for good: a link would lead nowhere
    # A comment links to its page; the configured site and the id, never the payload's `self`.
    url = None if gone else links.content(event.page_id if event.type.value.startswith("page_comment") else event.content_id)
    page = f"<{url}|{title}>" if url else f"*{title}*"
    return _t(language, event.type, actor=_name(event.actor, language), page=page)


def _sentence(text: str, language: str) -> str:
    # "someone created the page …" when the actor is unknown: a message starts with a capital.
    # (Only that word: user names keep their own spelling.)
    someone = _t(language, "someone")
    return someone.capitalize() + text[len(someone):] if text.startswith(someone) else text


def render_event(
    event: Event, audience: Audience, account: Account, language: str | None = None, *, links: SiteLinks | None = None
) -> Message:
    """One channel message for one event, in the account's (or the given) language; links to the
    configured sites (`links`), none without them."""
    language = _lang(language or account.language)
    links = links or SiteLinks()
    blocks: list[dict[str, Any]] = []
    if isinstance(event, JiraEvent):
        headline = _sentence(_jira_headline(event, audience, account, language, links), language)
        blocks.append(_section(headline))
        text = headline
        if event.comment is not None and event.type is not E.COMMENT_DELETED:
            body = comment_mrkdwn(event.comment.body, account, event.people, language)
            if body:
                quoted = "\n".join("> " + line for line in body.split("\n"))
                blocks.append(_section(quoted))
                text = f"{headline}\n{quoted}"
    else:
        headline = _sentence(_confluence_headline(event, language, links), language)
        blocks.append(_section(headline))
        text = headline
    return Message(text=text, blocks=blocks)


STATUS_BLOCK_ID = "pulse_thread_status"


def render_thread_parent(
    text: str, blocks: list[dict[str, Any]], status: str, language: str | None = None
) -> Message:
    """A thread's parent as first posted plus one context block with the issue's current status."""
    language = _lang(language)
    label = _t(language, "thread.status", status=escape_mrkdwn(status))
    # The stored parent never holds a status block; dropping one anyway keeps it single.
    kept = [b for b in blocks if b.get("block_id") != STATUS_BLOCK_ID][: MAX_BLOCKS - 1]
    context = {"type": "context", "block_id": STATUS_BLOCK_ID, "elements": [{"type": "mrkdwn", "text": label}]}
    return Message(text=text, blocks=[*kept, context])


def _chunks(items: list[str], limit: int) -> list[list[str]]:
    """The items in runs whose ", "-joined text stays within `limit`."""
    chunks: list[list[str]] = []
    current: list[str] = []
    length = 0
    for item in items:
        extra = len(item) + (2 if current else 0)
        if current and length + extra > limit:
            chunks.append(current)
            current, length, extra = [], 0, len(item)
        current.append(item)
        length += extra
    if current:
        chunks.append(current)
    return chunks


# Short names of event types for a burst's tally ("4× due date set"); English is the value itself.
_TYPE_LABELS_DE: dict[EventType, str] = {
    E.ISSUE_CREATED: "angelegt", E.ISSUE_DELETED: "gelöscht", E.STATUS_CHANGED: "Status geändert",
    E.ISSUE_RESOLVED: "abgeschlossen", E.ISSUE_REOPENED: "wieder geöffnet", E.ASSIGNEE_CHANGED: "Zuständigkeit geändert",
    E.PRIORITY_RAISED: "Priorität erhöht", E.PRIORITY_LOWERED: "Priorität gesenkt", E.PRIORITY_CHANGED: "Priorität geändert",
    E.DUE_DATE_SET: "Fälligkeit gesetzt", E.DUE_DATE_CHANGED: "Fälligkeit verschoben", E.DUE_DATE_REMOVED: "Fälligkeit entfernt",
    E.FIX_VERSION_CHANGED: "Meilenstein geändert", E.SUMMARY_CHANGED: "umbenannt", E.DESCRIPTION_CHANGED: "Beschreibung geändert",
    E.LABELS_CHANGED: "Labels geändert", E.COMPONENTS_CHANGED: "Komponenten geändert", E.SPRINT_CHANGED: "Sprint geändert",
    E.ISSUE_TYPE_CHANGED: "Typ geändert", E.ISSUE_MOVED: "verschoben", E.FIELD_CHANGED: "Feld geändert",
    E.COMMENT_CREATED: "Kommentar", E.COMMENT_UPDATED: "Kommentar bearbeitet", E.COMMENT_DELETED: "Kommentar gelöscht",
    E.WORKLOG_CREATED: "Zeit gebucht", E.WORKLOG_UPDATED: "Zeitbuchung geändert", E.WORKLOG_DELETED: "Zeitbuchung gelöscht",
    E.ISSUELINK_CREATED: "verknüpft", E.VERSION_CREATED: "Meilenstein angelegt", E.VERSION_RELEASED: "Meilenstein veröffentlicht",
    E.VERSION_UNRELEASED: "Veröffentlichung zurückgenommen", E.VERSION_UPDATED: "Meilenstein geändert",
    E.SPRINT_STARTED: "Sprint begonnen", E.SPRINT_CLOSED: "Sprint abgeschlossen",
    E.PAGE_CREATED: "Seite angelegt", E.PAGE_UPDATED: "Seite geändert", E.PAGE_TRASHED: "Seite im Papierkorb",
    E.PAGE_RESTORED: "Seite wiederhergestellt", E.PAGE_REMOVED: "Seite gelöscht", E.PAGE_MOVED: "Seite verschoben",
    E.BLOG_CREATED: "Blogbeitrag veröffentlicht", E.BLOG_UPDATED: "Blogbeitrag geändert", E.BLOG_TRASHED: "Blogbeitrag im Papierkorb",
    E.BLOG_RESTORED: "Blogbeitrag wiederhergestellt", E.BLOG_REMOVED: "Blogbeitrag gelöscht",
    E.PAGE_COMMENT_CREATED: "Seitenkommentar", E.PAGE_COMMENT_UPDATED: "Seitenkommentar bearbeitet",
    E.PAGE_COMMENT_REMOVED: "Seitenkommentar gelöscht",
}


def _type_label(type_: EventType, language: str) -> str:
    if language == "de":
        return _TYPE_LABELS_DE.get(type_, type_.value.replace("_", " "))
    return type_.value.replace("_", " ")


def render_burst(burst: Burst, language: str | None = None) -> Message:
    """One summary message for a burst, listing every changed issue key (and page title)."""
    language = _lang(language or burst.account.language)
    # Keys come from payloads: escaped like every other payload text (a worker only gets
    # keys of Jira's shape, but this function cannot know who called it).
    keys = [escape_mrkdwn(k) for k in burst.issue_keys]
    title = _t(language, "burst.title.one" if len(keys) == 1 else "burst.title", count=len(burst.events), issues=len(keys))
    counts = " · ".join(f"{n}× {_type_label(t, language)}" for t, n in burst.counts.items())
    blocks: list[dict[str, Any]] = [_section(f"*{title}*\n{counts}")]
    lines: list[str] = [title, counts]
    prefix = _t(language, "burst.issues", keys="")
    chunks = _chunks(keys, MAX_SECTION_CHARS - len(prefix) - 50)
    titles = [escape_mrkdwn(t) for t in burst.page_titles]
    room = MAX_BLOCKS - 1 - (1 if titles else 0)
    for i, chunk in enumerate(chunks):
        if i == room - 1 and len(chunks) > room:
            shown = sum(len(c) for c in chunks[:i])
            more = _t(language, "burst.more", count=len(keys) - shown)
            blocks.append(_section(more))
            lines.append(more)
            break
        text = _t(language, "burst.issues", keys=", ".join(chunk)) if i == 0 else ", ".join(chunk)
        blocks.append(_section(text))
        lines.append(text)
    if titles:
        text = _t(language, "burst.pages", titles=", ".join(titles))
        blocks.append(_section(text))
        lines.append(text)
    return Message(text="\n".join(lines), blocks=blocks)

