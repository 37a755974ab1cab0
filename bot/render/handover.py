"""Handover and roles in words: command answers, `/pulse roles`, `@Account Pulse who`. Pure."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.domain.accounts import Account
from bot.domain.budget import BudgetStatus
from bot.domain.cover import CoverNote
from bot.domain.handover_notes import CommentNote, IssueNote, Summary, WhileAway
from bot.domain.links import SiteLinks
from bot.domain.roles import Handover, Holder, RoleToday
from bot.render.blocks import Message, escape_mrkdwn, slack_mention
from bot.render.i18n import format_day, format_hours, format_percent_value, translate

# Roles a client may hear about (`who`): billing is the agency's business.
CLIENT_ROLES = ("budget", "backlog", "support")


def role_name(role: str, language: str) -> str:
    return translate(language, f"role.{role}")


def _holder(holder: Holder, language: str, mention: Callable[[str], str] = slack_mention) -> str:
    if not holder.covering:
        return mention(holder.user_id)
    return ", ".join(
        translate(language, "roles.covering", person=mention(holder.user_id), away=mention(cover.for_user),
                  until=format_day(cover.until, language))
        for cover in holder.covering
    )


def holders_text(role: RoleToday, mention: Callable[[str], str], language: str) -> str:
    """Who holds a role today, for agency eyes: `@Ben (covering for @Ana until Jan 6, 2027)`."""
    return ", ".join(_holder(h, language, mention) for h in role.holders)


def render_roles(account: Account, today: dt.date, roles: Mapping[str, RoleToday]) -> str:
    """`/pulse roles`: each role's holders today (agency eyes only: mentions, cover, problems)."""
    language = account.language
    if not roles:
        return translate(language, "roles.none", account=escape_mrkdwn(account.name))
    lines = [translate(language, "roles.title", account=escape_mrkdwn(account.name), day=format_day(today, language))]
    for name, role in roles.items():
        people = [_holder(h, language) for h in role.holders]
        if role.deputy is not None and role.deputy.user_id not in role.user_ids:
            people.append(translate(language, "roles.deputy", person=_holder(role.deputy, language)))
        lines.append(translate(language, "roles.line", role=role_name(name, language), people=", ".join(people) or "—"))
        for problem in role.problems:
            lines.append(translate(language, f"roles.problem.{problem.kind}", role=role_name(name, language),
                                   people=", ".join(slack_mention(p) for p in problem.people)))
    return "\n".join(lines)


def render_who(language: str, roles: Mapping[str, RoleToday], name_of: Callable[[str], str | None]) -> str:
    """`@Account Pulse who` in a client channel: who to contact for what, until when, by name only
    (no mention pings anyone, no word of who is away or why)."""
    lines = []
    for name in CLIENT_ROLES:
        role = roles.get(name)
        if role is None or not role.holders:
            continue
        people = []
        for holder in role.holders:
            person = escape_mrkdwn(name_of(holder.user_id) or translate(language, "who.team"))
            if holder.covering:
                until = min(c.until for c in holder.covering)
                person = translate(language, "who.until", person=person, until=format_day(until, language))
            people.append(person)
        lines.append(translate(language, "who.line", role=role_name(name, language), people=", ".join(dict.fromkeys(people))))
    if not lines:
        return translate(language, "who.none")
    return "\n".join([translate(language, "who.title"), *lines])


def render_list(items: Iterable[Handover], accounts_by_key: Mapping[str, Account], language: str) -> str:
    lines = [translate(language, "handover.list_title")]
    for h in items:
        names = ", ".join(escape_mrkdwn(accounts_by_key[k].name) for k in sorted(h.account_keys) if k in accounts_by_key)
        lines.append(translate(language, "handover.list_item", id=h.id, away=slack_mention(h.from_user),
                               to=slack_mention(h.to_user), start=format_day(h.start, language),
                               end=format_day(h.end, language), accounts=names))
    return "\n".join(lines)


def render_saved(handover: Handover, accounts: list[Account], passing: Mapping[str, list[str]], language: str) -> str:
    """The creator's confirmation; `passing`: account key -> roles of the leaver there."""
    text = translate(language, "handover.saved", id=handover.id, to=slack_mention(handover.to_user),
                     away=slack_mention(handover.from_user), start=format_day(handover.start, language),
                     end=format_day(handover.end, language),
                     accounts=", ".join(escape_mrkdwn(a.name) for a in accounts))
    roles = [f"{escape_mrkdwn(a.name)}: {', '.join(role_name(r, language) for r in passing[a.key])}"
             for a in accounts if passing.get(a.key)]
    if roles:
        return text + "\n" + translate(language, "handover.saved_roles", roles="; ".join(roles))
    return text + "\n" + translate(language, "handover.saved_no_roles", away=slack_mention(handover.from_user))


# --- summary, client line, while you were away ------------------------------------------------

_SECTION_LIMIT = 2900  # Slack allows 3,000 characters per section text


def _message(lines: list[str]) -> Message:
    """Lines as one message: fallback text, and sections cut at line ends below Slack's limit."""
    text = "\n".join(lines)
    blocks: list[dict[str, Any]] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > _SECTION_LIMIT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line[:_SECTION_LIMIT])
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    return Message(text=text, blocks=blocks)


def _issue_line(note: IssueNote, language: str, links: SiteLinks) -> str:
    url = links.issue(note.key)
    key = f"<{url}|{note.key}>" if url else note.key
    parts = [f"{key} {escape_mrkdwn(note.summary)}", escape_mrkdwn(note.status)]
    if note.priority:
        parts.append(escape_mrkdwn(note.priority))
    if note.due is not None:
        parts.append(translate(language, "handover.due", day=format_day(note.due, language)))
    flags = ("⏰ " if note.due_during else "") + ("🔒 " if note.internal else "")
    waiting = " · " + translate(language, "handover.waiting") if note.waiting else ""
    return f"• {flags}{' · '.join(parts)}{waiting}"


def _comment_day(c: CommentNote, account: Account) -> str:
    return format_day(c.at.astimezone(account.tz).date(), account.language)


def _answer_line(c: CommentNote, account: Account, links: SiteLinks) -> str:
    lang = account.language
    url = links.issue(c.issue_key) if c.source == "jira" else None
    where = f"<{url}|{c.issue_key}>" if url else (escape_mrkdwn(c.issue_key) if c.source == "jira" and c.issue_key
                                                   else "Slack")
    params = {"who": escape_mrkdwn(c.who), "day": _comment_day(c, account), "where": where}
    if c.text:
        return translate(lang, "away.answer", text=escape_mrkdwn(c.text), **params)
    return translate(lang, "away.answer_bare", **params)


def _budget_line(budget: BudgetStatus | None, language: str) -> str | None:
    if budget is None or budget.budget_hours is None or budget.percent_used is None:
        return None
    return translate(language, "handover.budget", spent=format_hours(budget.spent_hours, language),
                     budget=format_hours(budget.budget_hours, language),
                     percent=format_percent_value(budget.percent_used, language))


def render_summary(s: Summary, links: SiteLinks, page_url: str | None = None) -> Message:
    """The handover summary of one account, DM'd to the cover and the leaver (agency eyes only);
    `page_url`: its Confluence page, where there is one."""
    lang, h = s.account.language, s.handover
    lines = [translate(lang, "handover.summary.title", account=escape_mrkdwn(s.account.name), id=h.id,
                       away=slack_mention(h.from_user), to=slack_mention(h.to_user),
                       start=format_day(h.start, lang), end=format_day(h.end, lang))]
    if h.note:
        lines.append(translate(lang, "handover.summary.note", note=escape_mrkdwn(h.note)))
    if s.roles:
        lines.append(translate(lang, "handover.summary.roles", roles=", ".join(role_name(r, lang) for r in s.roles)))
    if s.issues:
        header = "handover.summary.issues_comments" if s.comments else "handover.summary.issues"
        lines.append(translate(lang, header, count=len(s.issues) + s.more_issues))
        for n in s.issues:
            lines.append(_issue_line(n, lang, links))
            lines.extend(translate(lang, "handover.summary.comment", who=escape_mrkdwn(c.who),
                                   day=_comment_day(c, s.account), text=escape_mrkdwn(c.text))
                         for c in s.comments.get(n.key, ()))
        if s.more_issues:
            lines.append(translate(lang, "handover.summary.more", count=s.more_issues))
    else:
        lines.append(translate(lang, "handover.summary.no_issues"))
    waiting = [n for n in s.issues if n.waiting]
    if waiting:
        lines.append(translate(lang, "handover.summary.waiting", keys=", ".join(n.key for n in waiting)))
    if s.milestones:
        lines.append(translate(lang, "handover.summary.milestones"))
        for m in s.milestones:
            day = format_day(m.release_date, lang) if m.release_date else "—"
            lines.append(translate(lang, "handover.summary.milestone", name=escape_mrkdwn(m.name), day=day, count=m.open_issues))
    budget = _budget_line(s.budget, lang)
    if budget:
        lines.append(budget)
    space = links.space(s.account.confluence.space) if s.account.confluence else None
    if space:
        lines.append(translate(lang, "handover.summary.space", url=space))
    if page_url:
        lines.append(translate(lang, "handover.page.link", url=page_url))
    return _message(lines)


def render_internal_note(s: Summary, page_url: str | None = None) -> Message:
    """The short post in the account's internal channel (with the handover's page, if any)."""
    lang, h = s.account.language, s.handover
    roles = ", ".join(role_name(r, lang) for r in s.roles) or "—"
    text = translate(lang, "handover.internal", away=slack_mention(h.from_user), to=slack_mention(h.to_user),
                     start=format_day(h.start, lang), end=format_day(h.end, lang), roles=roles,
                     count=len(s.issues) + s.more_issues)
    if page_url:
        return _message([text, translate(lang, "handover.page.link", url=page_url)])
    return _message([text])


def render_client_line(account: Account, roles: Sequence[str], name: str, until: dt.date) -> Message:
    """The one line a client channel gets: who is the contact for what, until when (a name only)."""
    lang = account.language
    text = translate(lang, "handover.client_line", name=escape_mrkdwn(name),
                     roles=", ".join(role_name(r, lang) for r in roles), until=format_day(until, lang))
    return _message([text])


def render_client_line_ended(account: Account, roles: Sequence[str], day: dt.date) -> Message:
    """What the client line says once its handover was cancelled: the usual contacts are back (no
    names, nothing about who was away or why)."""
    lang = account.language
    text = translate(lang, "handover.client_line_ended", day=format_day(day, lang),
                     roles=", ".join(role_name(r, lang) for r in roles))
    return _message([text])


def render_problem(account: Account, role: str, kind: str, people: Sequence[str], day: dt.date) -> Message:
    lang = account.language
    return _message([translate(lang, f"handover.problem.{kind}", role=role_name(role, lang),
                               people=", ".join(slack_mention(p) for p in people), day=format_day(day, lang))])


def render_while_away(w: WhileAway, links: SiteLinks) -> Message:
    """"While you were away" for the returner, one account."""
    lang = w.account.language
    lines = [translate(lang, "away.title", account=escape_mrkdwn(w.account.name), start=format_day(w.since, lang),
                       end=format_day(w.until, lang), to=slack_mention(w.handover.to_user))]
    if w.done:
        lines.append(translate(lang, "away.done", count=len(w.done)))
        lines.extend(_issue_line(n, lang, links) for n in w.done)
    if w.open:
        lines.append(translate(lang, "away.open", count=len(w.open)))
        lines.extend(_issue_line(n, lang, links) for n in w.open)
    if w.new:
        lines.append(translate(lang, "away.new", count=len(w.new) + w.more_new))
        lines.extend(_issue_line(n, lang, links) for n in w.new)
    for milestone in w.reached:
        lines.append(translate(lang, "away.reached", name=escape_mrkdwn(milestone.name),
                               day=format_day(milestone.release_date, lang) if milestone.release_date else "—"))
    for milestone in w.slipped:
        lines.append(translate(lang, "away.slipped", name=escape_mrkdwn(milestone.name),
                               day=format_day(milestone.release_date, lang) if milestone.release_date else "—"))
    if w.answers:
        lines.append(translate(lang, "away.answers", count=len(w.answers) + w.more_answers))
        lines.extend(_answer_line(c, w.account, links) for c in w.answers)
        if w.more_answers:
            lines.append(translate(lang, "away.more_answers", count=w.more_answers))
    if w.logged_hours:
        lines.append(translate(lang, "away.logged", hours=format_hours(Decimal(str(w.logged_hours)), lang)))
    budget = _budget_line(w.budget, lang)
    if budget:
        lines.append(budget)
    if len(lines) == 1:
        lines.append(translate(lang, "away.quiet"))
    return _message(lines)


def render_cover_dm(account: Account, note: CoverNote, channel_id: str, links: SiteLinks) -> Message:
    """The cover's DM about an issue of someone they cover (once per issue and day): which issue,
    whose, until when, and the internal channel where its news is."""
    language = account.language
    url = links.issue(note.issue_key)
    issue = f"<{url}|{escape_mrkdwn(note.issue_key)}>" if url else f"*{escape_mrkdwn(note.issue_key)}*"
    if note.summary:
        issue = f"{issue} {escape_mrkdwn(note.summary)}"
    text = translate(language, "handover.cover_dm", account=escape_mrkdwn(account.name), issue=issue,
                     away=slack_mention(note.away), until=format_day(note.until, language), channel=f"<#{channel_id}>")
    return Message(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:_SECTION_LIMIT]}}])


# --- the handover form (modal) and the vacation-status nudge ---------------------------------------

MODAL = "handover.create"  # the modal's callback_id
NUDGE_ACTION = "handover.nudge_open"  # the nudge's button: opens the modal, prefilled
# Slack's limit of options in one static select.
MAX_OPTIONS = 100


def _plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def handover_modal(
    language: str, accounts: Sequence[Account], *, away: str, selected: Sequence[str],
    start: dt.date | None = None, end: dt.date | None = None,
) -> dict[str, Any]:
    """`/pulse handover` as a form: who is away (preset), who covers, the days, the accounts (those
    in `selected` preselected), a note. Block ids are the fields errors are shown on."""

    def t(message_id: str, **params: object) -> str:
        return translate(language, message_id, **params)

    chosen = set(selected)
    # Preselected first: Slack shows at most MAX_OPTIONS, and a preselected one must be among them.
    listed = sorted(accounts, key=lambda a: a.key not in chosen)[:MAX_OPTIONS]
    options = {a.key: {"text": _plain(a.name, 75), "value": a.key} for a in listed}

    def person(block: str, initial: str | None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "users_select", "action_id": block}
        if initial:
            element["initial_user"] = initial
        return {"type": "input", "block_id": block, "label": _plain(t(f"handover.form.{block}")), "element": element}

    def day(block: str, initial: dt.date | None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "datepicker", "action_id": block}
        if initial is not None:
            element["initial_date"] = initial.isoformat()
        return {"type": "input", "block_id": block, "label": _plain(t(f"handover.form.{block}")), "element": element}

    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": t("handover.form.intro")}},
        person("from", away), person("to", None), day("start", start), day("end", end),
    ]
    if options:
        select: dict[str, Any] = {"type": "multi_static_select", "action_id": "accounts",
                                  "placeholder": _plain(t("handover.form.accounts_placeholder")),
                                  "options": list(options.values())}
        initial = [options[k] for k in options if k in chosen]
        if initial:
            select["initial_options"] = initial
        blocks.append({"type": "input", "block_id": "accounts", "optional": True,
                       "label": _plain(t("handover.form.accounts")),
                       "hint": _plain(t("handover.form.accounts_hint")), "element": select})
    blocks.append({"type": "input", "block_id": "note", "optional": True, "label": _plain(t("handover.form.note")),
                   "element": {"type": "plain_text_input", "action_id": "note", "multiline": True, "max_length": 500}})
    return {
        "type": "modal", "callback_id": MODAL, "private_metadata": json.dumps({"language": language}),
        "title": _plain(t("handover.form.title"), 24), "submit": _plain(t("handover.form.submit"), 24),
        "close": _plain(t("handover.form.close"), 24), "blocks": blocks,
    }


def render_nudge(language: str, start: dt.date, end: dt.date) -> Message:
    """The DM to someone whose Slack status says they are away: hand the roles over? (a button
    opens the form with their days)."""
    text = translate(language, "handover.nudge", until=format_day(end, language))
    value = json.dumps({"start": start.isoformat(), "end": end.isoformat()})
    return Message(text=text, blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "handover_nudge", "elements": [
            {"type": "button", "action_id": NUDGE_ACTION, "style": "primary", "value": value,
             "text": _plain(translate(language, "handover.nudge_button"), 75)}]},
    ])
