"""Channel notifications for internal events and bursts: Slack text and blocks, in the account's
language (words from the catalog, `bot/render/catalog/notifications.py`).

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
from bot.domain.roles import Holder
from bot.render.blocks import MAX_BLOCKS, MAX_SECTION_CHARS, Message, escape_mrkdwn, slack_mention
from bot.render.i18n import format_day, format_hours, language_or_default, translate

E = EventType
COMMENT_PREVIEW_CHARS = 1500


def _t(language: str, key: str | EventType, **params: object) -> str:
    # Event headlines are `notify.event.<type>`; the other pieces `notify.<key>`.
    message_id = f"notify.event.{key.value}" if isinstance(key, EventType) else f"notify.{key}"
    return translate(language, message_id, **params)


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
        self.parts: list[str] = []
        self.limit, self.used, self.cut = limit, 0, False

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


def covering_text(away: str, holder: Holder, language: str) -> str:
    """`<@Ben> (covering for <@Ana> until Jan 6, 2027)`: the cover named where `away` would be."""
    covers = [c for c in holder.covering if c.for_user == away] or list(holder.covering)
    return ", ".join(
        translate(language, "roles.covering", person=slack_mention(holder.user_id), away=slack_mention(c.for_user),
                  until=format_day(c.until, language))
        for c in covers
    )


def comment_mrkdwn(
    body: Any, account: Account, people: Iterable[Person], language: str, covers: Mapping[str, Holder] | None = None
) -> str:
    """A Jira comment body as Slack mrkdwn: mentions resolved, links and code blocks converted,
    user text escaped, at most COMMENT_PREVIEW_CHARS long. `covers` (internal channels only):
    a mention of someone away names their cover instead, marked as covering for them."""
    covers = covers or {}
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
        if slack and slack in covers:
            out.token(covering_text(slack, covers[slack], language))
        elif slack:
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
    return _t(language, "hours", hours=format_hours((Decimal(seconds) / 3600).quantize(Decimal("0.01")), language))


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
    event: Event, audience: Audience, account: Account, language: str | None = None, *, links: SiteLinks | None = None,
    covers: Mapping[str, Holder] | None = None,
) -> Message:
    """One channel message for one event, in the account's (or the given) language; links to the
    configured sites (`links`), none without them. `covers` (Slack id of someone away → who covers
    them today, `bot.domain.cover`): in an internal channel their mentions name the cover, and a
    "cc" line names the cover of the rest the event concerns (their issue); a client channel reads
    as without it (no cover, no word of who is away)."""
    language = language_or_default(language or account.language)
    links = links or SiteLinks()
    covers = covers if audience is Audience.INTERNAL and covers else {}
    blocks: list[dict[str, Any]] = []
    if isinstance(event, JiraEvent):
        headline = _sentence(_jira_headline(event, audience, account, language, links), language)
        blocks.append(_section(headline))
        text = headline
        body = ""
        if event.comment is not None and event.type is not E.COMMENT_DELETED:
            body = comment_mrkdwn(event.comment.body, account, event.people, language, covers)
            if body:
                quoted = "\n".join("> " + line for line in body.split("\n"))
                blocks.append(_section(quoted))
                text = f"{headline}\n{quoted}"
        # Someone away the quote does not name (the assignee, or a mention cut off): cc their cover.
        rest = [covering_text(away, holder, language) for away, holder in covers.items()
                if slack_mention(away) not in body]
        if rest:
            cc = _t(language, "cover.cc", people=", ".join(rest))
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cc[:MAX_SECTION_CHARS]}]})
            text = f"{text}\n{cc}"
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
    language = language_or_default(language)
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


def _type_label(type_: EventType, language: str) -> str:
    """The short name of an event type in a burst's tally ("4× due date set")."""
    return translate(language, f"notify.type.{type_.value}")


def render_burst(burst: Burst, language: str | None = None) -> Message:
    """One summary message for a burst, listing every changed issue key (and page title)."""
    language = language_or_default(language or burst.account.language)
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

