"""Cover in notifications, pure: whom an event concerns (the issue's assignee, people its comment
mentions, as Slack users through the account's `people`) and who covers them today.

During a handover, an internal channel's notification that would mention someone away mentions
their cover instead, marked "covering for @Ana until Jan 6, 2027" (`bot.render.notifications`), and
the cover gets one DM per handover, issue and day (`bot.services.handover_cover`). Client channels
read as before: no cover, no word of who is away.

    notes = cover_notes(event, account, today, handovers)
    notes[0].away, notes[0].holder.user_id, notes[0].until   # 'U0ANA', 'U0BEN', 2027-01-06
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.accounts import Account
from bot.domain.events import Event, EventType, JiraEvent, Person
from bot.domain.roles import Handover, Holder, follow

# A mention in Jira wiki markup: [~accountid:5b10…] (Cloud) or [~login] (Server).
_WIKI_MENTION = re.compile(r"\[~(accountid:)?([^\]\s]+)\]")


@dataclass(frozen=True)
class CoverNote:
    """An event concerns `away` (their issue, or a comment mentioning them), who is away today;
    `holder` does their job today (the end of the chain), with its `Cover` (until, handover)."""

    away: str
    holder: Holder
    issue_key: str
    summary: str | None
    day: dt.date

    @property
    def until(self) -> dt.date:
        return self.holder.covering[0].until

    @property
    def handover_id(self) -> str:
        return self.holder.covering[0].handover_id


def slack_user(person: Person | None, account: Account) -> str | None:
    """The Slack user the account's `people` maps a Jira person to (by account id, email, login or key)."""
    if person is None:
        return None
    for key in (person.account_id, person.email, person.username, person.key):
        if key and key in account.people:
            return account.people[key]
    return None


def _adf_mentions(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for child in node:
            yield from _adf_mentions(child)
    elif isinstance(node, Mapping):
        if node.get("type") == "mention":
            ref = node.get("attrs", {}).get("id") if isinstance(node.get("attrs"), Mapping) else None
            if isinstance(ref, str) and ref:
                yield f"[~accountid:{ref}]"
        yield from _adf_mentions(node.get("content", []))


def mentioned(event: JiraEvent) -> list[Person]:
    """The people a comment event's body mentions (wiki markup or ADF), as the renderer reads them."""
    if event.comment is None or event.type is EventType.COMMENT_DELETED:
        return []
    body = event.comment.body
    text = " ".join(_adf_mentions(body)) if isinstance(body, Mapping) else str(body or "")
    found = []
    for match in _WIKI_MENTION.finditer(text):
        by_account, ref = match.group(1) is not None, match.group(2)
        person = next((p for p in event.people
                       if (by_account and p.account_id == ref) or (not by_account and ref in (p.username, p.key))),
                      None)
        found.append(person or (Person(account_id=ref) if by_account else Person(username=ref)))
    return found


def concerned(event: Event, account: Account) -> list[str]:
    """Slack users a Jira issue event is about: the issue's assignee, then the people its comment
    mentions (each once; people the account's `people` does not map are not anyone's to cover)."""
    if not isinstance(event, JiraEvent) or event.issue is None or not event.issue_key:
        return []
    people = [event.issue.assignee, *mentioned(event)]
    return list(dict.fromkeys(u for u in (slack_user(p, account) for p in people) if u))


def cover_notes(event: Event, account: Account, on: dt.date, handovers: Iterable[Handover]) -> tuple[CoverNote, ...]:
    """For each person the event concerns who is away in the account on `on`: who covers them
    (chains followed: A → B while B is away → C). A cycle (nobody present) gives no note: the
    mention stays theirs, and the clock reports the cycle to the internal channel."""
    users = concerned(event, account)
    if not users:
        return ()
    assert isinstance(event, JiraEvent) and event.issue is not None and event.issue_key
    active = [h for h in handovers if h.applies(account.key, on)]
    notes = []
    for user in users:
        holder = follow(account.key, user, on, active)
        if isinstance(holder, Holder) and holder.covering:
            notes.append(CoverNote(user, holder, event.issue_key, event.issue.summary, on))
    return tuple(notes)


def covering(notes: Iterable[CoverNote]) -> dict[str, Holder]:
    """Who covers whom, by the Slack id of the person away (what the renderer substitutes)."""
    return {n.away: n.holder for n in notes}


__all__ = ["CoverNote", "concerned", "cover_notes", "covering", "mentioned", "slack_user"]
