"""The portfolio in words and Block Kit: `/pulse accounts`, the App Home view, bad-news notices.

Every figure comes from a stored snapshot (`bot.domain.portfolio.AccountHealth`). Health is
internal: these renderers are only called for agency members and internal channels.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain.accounts import Account, AccountsConfig
from bot.domain.links import SiteLinks
from bot.domain.portfolio import AccountHealth, Concern, Reason, Scope, Verdict, Worsening
from bot.render.blocks import MAX_BLOCKS, MAX_MESSAGE_CHARS, MAX_SECTION_CHARS, Message, escape_mrkdwn, slack_mention
from bot.render.i18n import format_day, format_days_left, format_percent_value, translate

MAX_HOME_BLOCKS = 100  # Slack's limit for a Home tab view
# Accounts per Home page: each is two blocks (its row, its buttons); with the page's header,
# toggle and footer a page stays far below MAX_HOME_BLOCKS.
HOME_PAGE_SIZE = 20
MARK = {Verdict.OK: "🟢", Verdict.WATCH: "🟡", Verdict.AT_RISK: "🔴"}
KEY_MARK = "⭐"
STALE_MARK = "⏳"

# Action ids of the Home's buttons (bot.listeners.portfolio answers them).
ACTION_SCOPE = "portfolio.scope"
ACTION_PAGE_PREVIOUS = "portfolio.page.previous"
ACTION_PAGE_NEXT = "portfolio.page.next"
ACTION_POST_DIGEST = "portfolio.post_digest"
ACTION_OPEN_JIRA = "portfolio.open_jira"
ACTION_OPEN_CONFLUENCE = "portfolio.open_confluence"
ACTION_START_HANDOVER = "portfolio.start_handover"  # opens the handover form (bot.listeners.handover)


def _t(language: str, message_id: str, **params: object) -> str:
    return translate(language, message_id, **params)


# A Jira version name may be 255 characters (and escaping `<`, `>`, `&` quadruples it); it appears
# twice in a row (reason, next milestone): cut before escaping, so a row stays a few hundred characters.
MAX_NAME_CHARS = 80


def _name(name: str) -> str:
    name = name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS - 1] + "…"
    return escape_mrkdwn(name)


def _percent(value: Decimal | str, language: str) -> str:
    return format_percent_value(Decimal(value), language)


def _day(value: str | dt.date, language: str) -> str:
    return format_day(dt.date.fromisoformat(value) if isinstance(value, str) else value, language)


def reason_text(reason: Reason, language: str) -> str:
    """One reason as a short phrase in `language` (names escaped for mrkdwn)."""
    facts = reason.facts
    concern = reason.concern
    mid = f"portfolio.reason.{concern.value}"
    if concern is Concern.BUDGET_EXHAUSTED:
        return _t(language, mid, percent=_percent(str(facts.get("percent", "100")), language))
    if concern is Concern.BUDGET_RUNS_OUT:
        return _t(language, mid, date=_day(str(facts["date"]), language))
    if concern is Concern.BUDGET_THRESHOLD:
        return _t(language, mid, threshold=_percent(str(facts["threshold"]), language))
    if concern in (Concern.MILESTONE_AT_RISK, Concern.MILESTONE_OVERDUE):
        date = _day(str(facts["date"]), language) if "date" in facts else "—"
        return _t(language, mid, name=_name(str(facts["name"])), date=date)
    if concern is Concern.QUIET and "count" not in facts:
        return _t(language, "portfolio.reason.quiet_unknown")
    return _t(language, mid, count=int(facts.get("count", 0)))


def verdict_text(verdict: Verdict, language: str) -> str:
    return _t(language, f"portfolio.verdict.{int(verdict)}")


def _figures(health: AccountHealth, language: str) -> str:
    if health.percent_used is not None and health.percent_elapsed is not None:
        budget = _t(language, "portfolio.budget", used=_percent(health.percent_used, language),
                    elapsed=_percent(health.percent_elapsed, language))
    else:
        budget = _t(language, "portfolio.no_budget")
    m = health.next_milestone
    if m is None:
        milestone = _t(language, "portfolio.no_milestone")
    else:
        when = (f"{format_day(m.release_date, language)} ({format_days_left(m.days_left, language)})"
                if m.release_date is not None and m.days_left is not None else "")
        milestone = _t(language, "portfolio.next", name=_name(m.name), when=when).strip()
    parts = [budget, milestone]
    if health.support_open:
        parts.append(_t(language, "portfolio.support_open", count=health.support_open))
    return " · ".join(parts)


def account_row(health: AccountHealth, language: str, account: Account | None = None,
                subscriptions: Mapping[str, int] | None = None) -> str:
    """One account in a few lines: mark, name, verdict; its reasons; its figures (and, with the
    account, its channels with their audience and digest schedule)."""
    marks = f" {KEY_MARK}" if health.key_account else ""
    stale = f" {STALE_MARK} _{_t(language, 'portfolio.stale')}_" if health.stale else ""
    lines = [f"{MARK[health.verdict]} *{escape_mrkdwn(health.account_name)}*{marks} — "
             f"{verdict_text(health.verdict, language)}{stale}"]
    if health.reasons:
        lines.append(" · ".join(reason_text(r, language) for r in health.reasons))
    lines.append(f"_{_figures(health, language)}_")
    if account is not None:
        subscriptions = subscriptions or {}

        def notifications(channel_id: str) -> str:
            count = subscriptions.get(channel_id, 0)
            return (_t(language, "home.subscriptions", count=count) if count
                    else _t(language, "home.default_notifications"))

        channels = " · ".join(
            f"<#{c.id}> {c.audience.value}" + (f" `{c.digest.cron}`" if c.digest else "") + f" ({notifications(c.id)})"
            for c in account.channels
        )
        lines.append(_t(language, "home.links", channels=channels))
    return "\n".join(lines)


def _summary(healths: Sequence[AccountHealth], language: str) -> str:
    count = {v: sum(1 for h in healths if h.verdict is v) for v in Verdict}
    return _t(language, "portfolio.summary", at_risk=count[Verdict.AT_RISK], watch=count[Verdict.WATCH], ok=count[Verdict.OK])


def _as_of(healths: Sequence[AccountHealth], language: str) -> str:
    oldest = min((h.computed_at for h in healths), default=None)
    return _t(language, "portfolio.as_of", time=oldest.strftime("%Y-%m-%d %H:%M UTC")) if oldest else ""


def _cut(row: str, limit: int) -> str:
    """A row within `limit` characters, cut at a line's end (never inside an escape or a mention)."""
    if len(row) <= limit:
        return row
    head = row[:limit - 1]
    return (head[:head.rfind("\n")] if "\n" in head else head.rsplit(" ", 1)[0]) + "…"


def _chunks(rows: Sequence[str], limit: int = MAX_SECTION_CHARS - 100) -> list[str]:
    """Rows joined into texts of at most `limit` characters (a row is never split)."""
    out: list[str] = []
    for row in rows:
        row = _cut(row, limit)
        if out and len(out[-1]) + 2 + len(row) <= limit:
            out[-1] += "\n\n" + row
        else:
            out.append(row)
    return out


def render_overview_messages(
    healths: Sequence[AccountHealth], scope: Scope, language: str, *, pending: int = 0
) -> list[Message]:
    """`/pulse accounts …`: title, counts, then a row per account (by attention), in as many
    messages as Slack's limits need (like a digest: at most MAX_BLOCKS blocks and
    MAX_MESSAGE_CHARS characters each); the footer (as of, pending) closes the last."""
    title = f"*{_t(language, f'portfolio.title.{scope.value}')}* — {_summary(healths, language)}"
    rows = [account_row(h, language) for h in healths]
    if not rows:
        rows = [_t(language, "portfolio.none_mine" if scope is Scope.MINE else "portfolio.none")]
    footer = " · ".join(p for p in (_as_of(healths, language),
                                    _t(language, "portfolio.pending", count=pending) if pending else "") if p)
    messages: list[Message] = []
    texts, blocks, chars = [title], [_section(title)], len(title)
    for chunk in _chunks(rows):
        # Room for this section and the footer's context block in the current message?
        if len(blocks) + 2 > MAX_BLOCKS or chars + 2 + len(chunk) + 2 + len(footer) > MAX_MESSAGE_CHARS:
            messages.append(Message("\n\n".join(texts), blocks))
            texts, blocks, chars = [], [], 0
        texts.append(chunk)
        blocks.append(_section(chunk))
        chars += len(chunk) + 2
    if footer:
        texts.append(footer)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    messages.append(Message("\n\n".join(texts).strip(), blocks))
    return messages


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def render_overview(
    healths: Sequence[AccountHealth], scope: Scope, language: str, *, pending: int = 0
) -> Message:
    """The overview's first message (all of it, for a portfolio that fits one; the demo's)."""
    return render_overview_messages(healths, scope, language, pending=pending)[0]


@dataclass(frozen=True)
class HomeState:
    """What the Home shows: whose accounts and which page (kept in the buttons' values)."""

    scope: Scope = Scope.MINE
    page: int = 0

    def value(self) -> str:
        return f"{self.scope.value}:{self.page}"

    @classmethod
    def parse(cls, value: str | None) -> HomeState:
        scope, _, page = (value or "").partition(":")
        try:
            return cls(Scope(scope) if scope in (Scope.MINE.value, Scope.ALL.value) else Scope.MINE, max(0, int(page or 0)))
        except ValueError:
            return cls()


def _button(text: str, action_id: str, value: str | None = None, url: str | None = None,
            style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id,
                              "text": {"type": "plain_text", "text": text[:75], "emoji": True}}
    if value is not None:
        button["value"] = value[:2000]
    if url is not None:
        button["url"] = url
    if style is not None:
        button["style"] = style
    return button


def render_home(
    healths: Sequence[AccountHealth],
    accounts: AccountsConfig,
    state: HomeState,
    language: str,
    *,
    pending: int = 0,
    links: SiteLinks | None = None,
    subscriptions: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The Home tab view for an agency member: `healths` are the accounts of `state.scope`, by
    attention; a page of HOME_PAGE_SIZE rows, each with its buttons."""
    links = links or SiteLinks()
    pages = max(1, math.ceil(len(healths) / HOME_PAGE_SIZE))
    page = min(state.page, pages - 1)
    shown = healths[page * HOME_PAGE_SIZE:(page + 1) * HOME_PAGE_SIZE]
    other = Scope.ALL if state.scope is Scope.MINE else Scope.MINE
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _t(language, "home.title")[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(p for p in (
            f"*{_t(language, f'portfolio.title.{state.scope.value}')}*", _summary(healths, language),
            _as_of(healths, language)) if p)}]},
        {"type": "actions", "elements": [
            _button(_t(language, "home.show_all" if other is Scope.ALL else "home.show_mine"), ACTION_SCOPE,
                    HomeState(other, 0).value()),
            # Without an account: the form preselects the person's own accounts.
            _button(_t(language, "home.start_handover"), ACTION_START_HANDOVER),
        ]},
        {"type": "divider"},
    ]
    if not shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _t(
            language, "portfolio.none_mine" if state.scope is Scope.MINE else "portfolio.none")}})
    for health in shown:
        account = accounts.by_key(health.account_key)
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": account_row(health, language, account, subscriptions)[:MAX_SECTION_CHARS]}})
        buttons = [_button(_t(language, "home.post_digest"), ACTION_POST_DIGEST, health.account_key)]
        if account is not None:
            board = links.project(account.jira.projects[0]) if account.jira.projects else None
            if board:
                buttons.append(_button(_t(language, "home.jira"), ACTION_OPEN_JIRA, health.account_key, url=board))
            space = links.space(account.confluence.space) if account.confluence else None
            if space:
                buttons.append(_button(_t(language, "home.confluence"), ACTION_OPEN_CONFLUENCE, health.account_key, url=space))
        buttons.append(_button(_t(language, "home.start_handover"), ACTION_START_HANDOVER, health.account_key))
        blocks.append({"type": "actions", "block_id": f"account:{health.account_key}", "elements": buttons})
    footer = []
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(_button(_t(language, "home.previous"), ACTION_PAGE_PREVIOUS, HomeState(state.scope, page - 1).value()))
        if page < pages - 1:
            nav.append(_button(_t(language, "home.next"), ACTION_PAGE_NEXT, HomeState(state.scope, page + 1).value()))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _t(
            language, "home.page", page=page + 1, pages=pages)}]})
        blocks.append({"type": "actions", "elements": nav})
    if pending:
        footer.append(_t(language, "portfolio.pending", count=pending))
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(footer)}]})
    return {"type": "home", "blocks": blocks}


def render_external_home(language: str) -> dict[str, Any]:
    """The Home for a Slack Connect user or a guest: a short explanation, no account data."""
    return {"type": "home", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": _t(language, "home.externals")}},
    ]}


def render_worsening(account: Account, news: Worsening, people: Sequence[str], verdict: Verdict | None = None,
                     role: str | None = None) -> Message:
    """Bad news for the account's internal channel: what got worse, what it was, who is responsible
    (`role`: the direct message to a holder of that role says why they get it)."""
    language = account.language
    what = reason_text(news.reason, language)
    lines = [_t(language, "portfolio.news.title", account=escape_mrkdwn(account.name), what=what)]
    if news.was is not None and news.was != news.reason:
        lines.append(_t(language, "portfolio.news.was", was=reason_text(news.was, language)))
    if verdict is not None:
        lines.append(_t(language, "portfolio.news.verdict", verdict=verdict_text(verdict, language)))
    if people:
        lines.append(_t(language, "portfolio.news.cc", people=" ".join(slack_mention(p) for p in people)))
    if role is not None:
        lines.append(_t(language, "portfolio.news.yours", role=_t(language, f"role.{role}")))
    text = "\n".join(lines)
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}}])


def render_weekly(healths: Sequence[AccountHealth], language: str, *, pending: int = 0) -> Message:
    """A manager's weekly overview (a direct message): their accounts by need of attention, those
    to look at first under their own heading, then the ones that are well; the Home's rows."""
    title = f"*{_t(language, 'weekly.title')}* — {_summary(healths, language)}"
    attention = [h for h in healths if h.verdict > Verdict.OK]
    well = [h for h in healths if h.verdict is Verdict.OK]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    texts = [title]
    for heading, group in (("weekly.attention", attention), ("weekly.well", well)):
        if not group:
            continue
        head = f"*{_t(language, heading, count=len(group))}*"
        rows = [account_row(h, language) for h in group]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": head}})
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in _chunks(rows)]
        texts += [head, *rows]
    if not healths:
        texts.append(_t(language, "portfolio.none_mine"))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": texts[-1]}})
    footer = " · ".join(p for p in (_as_of(healths, language),
                                    _t(language, "portfolio.pending", count=pending) if pending else "",
                                    _t(language, "weekly.footer")) if p)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    texts.append(footer)
    # Blocks beyond Slack's limit would be refused: the rows are packed into sections of ~3,000
    # characters, so this holds for any portfolio a person can hold.
    return Message("\n\n".join(texts), blocks[:MAX_BLOCKS])


def render_link_notice(account: Account, internal: bool, *, cron: str | None, subscriptions: Sequence[str],
                       by: str) -> Message:
    """Said once in a channel just linked from Slack: in an internal channel the account, audience,
    digest schedule, notifications and who linked it; anywhere else (a client channel, or one whose
    audience is not positively internal) one line naming the account only."""
    language = account.language
    name = escape_mrkdwn(account.name)
    if internal:
        schedule = (_t(language, "link.notice.schedule", cron=escape_mrkdwn(cron), timezone=account.timezone)
                    if cron else _t(language, "link.notice.no_schedule"))
        subs = " · ".join(f"`{escape_mrkdwn(s)}`" for s in subscriptions if s) or _t(language, "link.notice.defaults")
        text = _t(language, "link.notice.internal", account=name, user=slack_mention(by), schedule=schedule,
                  subscriptions=subs)
    else:
        text = _t(language, "link.notice.client", account=name)
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}}])


def render_unlink_notice(account: Account, internal: bool, *, by: str) -> Message:
    """Said once in a channel unlinked from Slack (who did it only where the channel is internal)."""
    name = escape_mrkdwn(account.name)
    text = (_t(account.language, "unlink.notice.internal", account=name, user=slack_mention(by)) if internal
            else _t(account.language, "unlink.notice.client", account=name))
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}}])
