"""A handover summary as a Confluence page (storage format, XHTML). Pure.

Everything that comes from outside (issue titles, statuses, milestone names, the handover's note,
people's names) is escaped, and characters XML does not allow are dropped: a title such as
`<ac:structured-macro ac:name="html">…` stays text on the page, never a macro or markup.
Links are built from the configured sites (`SiteLinks`), never from what Jira sent.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping

from bot.domain.accounts import Account
from bot.domain.handover_notes import CommentNote, IssueNote, Summary
from bot.domain.links import SiteLinks
from bot.domain.roles import Handover
from bot.render.handover import _budget_line, role_name
from bot.render.i18n import format_day, translate

# Confluence refuses titles longer than 255 characters.
TITLE_LIMIT = 255
# XML 1.0 allows tab, newline, carriage return and most of the rest; these would make Confluence
# refuse the whole page (400), so one odd character in an issue title would block it for good.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def text(value: object) -> str:
    """Plain text for storage format: escaped (quotes too) and without characters XML refuses."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _link(url: str | None, label: str) -> str:
    return f'<a href="{text(url)}">{text(label)}</a>' if url else text(label)


def handover_page_title(account: Account, handover: Handover) -> str:
    """Unique in the space (the handover id and the account key) and stable for the handover's life:
    the page is found again by it after an uncertain create."""
    fixed = translate(account.language, "handover.page.title", id=handover.id, account="", key=account.key,
                      start=handover.start.isoformat(), end=handover.end.isoformat())
    name = account.name[: max(1, TITLE_LIMIT - len(fixed))]
    return _NOT_XML.sub("", translate(account.language, "handover.page.title", id=handover.id, account=name,
                                      key=account.key, start=handover.start.isoformat(),
                                      end=handover.end.isoformat()))[:TITLE_LIMIT]


def handover_page_status(
    account: Account, handover: Handover, names: Mapping[str, str], cancelled_on: dt.date | None = None
) -> str:
    """The page's first lines: who covers whom when, and a cancel once there is one."""
    lang = account.language

    def name(user: str) -> str:
        return names.get(user) or user

    cover = translate(lang, "handover.page.cover", to=name(handover.to_user), away=name(handover.from_user),
                      start=format_day(handover.start, lang), end=format_day(handover.end, lang))
    if cancelled_on is None:
        return f"<p><strong>{text(cover)}</strong></p>"
    cancelled = translate(lang, "handover.page.cancelled", day=format_day(cancelled_on, lang),
                          away=name(handover.from_user))
    return f"<p><strong>{text(cancelled)}</strong></p><p><s>{text(cover)}</s></p>"


def _issue_item(note: IssueNote, language: str, links: SiteLinks, account: Account,
                comments: tuple[CommentNote, ...] = ()) -> str:
    said = "".join(f"<li>💬 {text(c.who)} · {text(format_day(c.at.astimezone(account.tz).date(), language))}: "
                   f"{text(c.text)}</li>" for c in comments)
    flags = ("⏰ " if note.due_during else "") + ("🔒 " if note.internal else "")
    parts = [note.status]
    if note.priority:
        parts.append(note.priority)
    if note.due is not None:
        parts.append(translate(language, "handover.due", day=format_day(note.due, language)))
    if note.waiting:
        parts.append(translate(language, "handover.waiting"))
    return (f"<li>{text(flags)}{_link(links.issue(note.key), note.key)} {text(note.summary)}"
            f" · {text(' · '.join(parts))}{f'<ul>{said}</ul>' if said else ''}</li>")


def handover_page_body(s: Summary, links: SiteLinks) -> str:
    """The summary below the status lines: note, roles, open issues, waiting, milestones, budget, space."""
    lang, h = s.account.language, s.handover
    out = [f"<h2>{text(s.account.name)}</h2>"]
    if h.note:
        out.append(f"<p>{text(translate(lang, 'handover.summary.note', note=h.note))}</p>")
    if s.roles:
        roles = ", ".join(role_name(r, lang) for r in s.roles)
        out.append(f"<p>{text(translate(lang, 'handover.summary.roles', roles=roles))}</p>")
    if s.issues:
        out.append(f"<h3>{text(translate(lang, 'handover.page.issues', count=len(s.issues) + s.more_issues))}</h3>")
        out.append("<ul>" + "".join(_issue_item(n, lang, links, s.account, s.comments.get(n.key, ()))
                                    for n in s.issues) + "</ul>")
        if s.more_issues:
            out.append(f"<p>{text(translate(lang, 'handover.summary.more', count=s.more_issues))}</p>")
    else:
        out.append(f"<p>{text(translate(lang, 'handover.summary.no_issues'))}</p>")
    waiting = [n.key for n in s.issues if n.waiting]
    if waiting:
        out.append(f"<p>{text(translate(lang, 'handover.summary.waiting', keys=', '.join(waiting)))}</p>")
    if s.milestones:
        out.append(f"<h3>{text(translate(lang, 'handover.summary.milestones'))}</h3>")
        items = []
        for m in s.milestones:
            day = format_day(m.release_date, lang) if m.release_date else "—"
            line = translate(lang, "handover.summary.milestone", name=m.name, day=day, count=m.open_issues)
            items.append(f"<li>{text(line.removeprefix('• '))}</li>")
        out.append("<ul>" + "".join(items) + "</ul>")
    budget = _budget_line(s.budget, lang)
    if budget:
        out.append(f"<p>{text(budget)}</p>")
    space = links.space(s.account.confluence.space) if s.account.confluence else None
    if space:
        out.append(f"<p>{_link(space, translate(lang, 'handover.summary.space', url=space))}</p>")
    return "".join(out)
