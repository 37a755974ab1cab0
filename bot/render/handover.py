"""Handover and roles in words: command answers, `/pulse roles`, `@Account Pulse who`. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from bot.domain.accounts import Account
from bot.domain.roles import Handover, Holder, RoleToday
from bot.render.blocks import escape_mrkdwn, slack_mention
from bot.render.i18n import format_day, translate

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
