"""Digest rendering: Slack Block Kit messages, plain text and JSON, in the account's language.

Slack allows 50 blocks per message and 3,000 characters per section text, so a long digest is
split: ``messages[0]`` is the digest, the rest continue it (the service posts them as thread
replies). ``Message.text`` is the Slack fallback (mrkdwn, escaped); ``RenderedDigest.text`` is the
whole digest as plain text for the CLI.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any

from bot.domain.accounts import Account, Audience
from bot.domain.budget import BudgetStatus, Forecast
from bot.domain.deadlines import DeadlinesSection, IssueLine
from bot.domain.digest import ChangesSection, Digest
from bot.domain.lookback import DEFAULT_LOOKBACK
from bot.domain.milestones import Milestone, MilestonesSection, ReleasedVersion, Risk
from bot.domain.support_figures import SupportFigures
from bot.domain.work import ISSUE_KEY
from bot.render.blocks import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_SECTION_CHARS,
    Message,
    escape_mrkdwn,
    slack_mention,
)
from bot.render.handover import holders_text
from bot.render.i18n import (
    format_day,
    format_days_left,
    format_hours,
    format_money,
    format_month,
    format_percent_value,
    translate,
)
from bot.render.support import format_minutes

BAR_WIDTH = 10
# Room for a continuation title in the same section text.
MAX_LINE_CHARS = MAX_SECTION_CHARS - 200


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """The messages to post (first = digest, rest = thread continuation) and the plain text."""

    messages: list[Message]
    text: str

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.messages[0].blocks if self.messages else []


def progress_bar(ratio: Fraction | Decimal | float, width: int = BAR_WIDTH) -> str:
    """A text bar like ▓▓▓▓▓░░░░░ for a ratio 0..1 (clamped; rounded down: full only when complete)."""
    cells = (Decimal(str(float(ratio))) * width).quantize(Decimal(1), rounding=ROUND_FLOOR)
    filled = max(0, min(width, int(cells)))
    return "▓" * filled + "░" * (width - filled)


# --- styles: one builder renders a line both as Slack mrkdwn and as plain text ---------------


@dataclass(frozen=True, slots=True)
class _Style:
    slack: bool
    jira_url: str | None = None

    def esc(self, text: str) -> str:
        return escape_mrkdwn(text) if self.slack else text

    def bold(self, text: str) -> str:
        return f"*{text}*" if self.slack else text

    def issue(self, key: str) -> str:
        if not self.slack:
            return key
        # Linked only when it has a key's shape; escaped either way (it came from Jira).
        if self.jira_url and ISSUE_KEY.fullmatch(key):
            return f"<{self.jira_url.rstrip('/')}/browse/{key}|{key}>"
        return escape_mrkdwn(key)

    def mention(self, user_id: str) -> str:
        return slack_mention(user_id) if self.slack else f"@{user_id}"


LineBuilder = Callable[[_Style], str]


@dataclass(frozen=True, slots=True)
class _Section:
    title: LineBuilder
    lines: list[LineBuilder]


class _Lang:
    """Shortcuts bound to one language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def t(self, message_id: str, **params: object) -> str:
        return translate(self.language, message_id, **params)

    def hours(self, value: Decimal) -> str:
        return format_hours(value, self.language)

    def day(self, value: dt.date) -> str:
        return format_day(value, self.language)

    def percent(self, value: Decimal | Fraction | int) -> str:
        return format_percent_value(value, self.language)

    def money(self, value: Decimal, currency: str) -> str:
        return format_money(value, currency, self.language)


# --- sections ---------------------------------------------------------------------------------


def _budget_section(status: BudgetStatus | None, account: Account, lang: _Lang) -> _Section:
    title = lang.t("budget.title")
    if status is None:
        return _Section(lambda s: s.bold(title), [lambda s: lang.t("budget.none")])
    budget = account.budget
    if budget is not None and budget.period == "monthly":
        period = format_month(status.period.start, lang.language)
    else:
        period = lang.t(
            "budget.period", start=lang.day(status.period.start), end=lang.day(status.period.end)
        )
    lines: list[LineBuilder] = []
    spent = lang.hours(status.spent_hours)
    if status.budget_hours is not None and status.percent_used is not None:
        bar = progress_bar(status.percent_used / 100)
        pct = lang.percent(status.percent_used)
        lines.append(lambda s: f"{bar} {pct}")
        assert status.remaining_hours is not None
        if status.overspent:
            used = lang.t(
                "budget.overspent",
                spent=spent,
                budget=lang.hours(status.budget_hours),
                over=lang.hours(-status.remaining_hours),
            )
        else:
            used = lang.t(
                "budget.used",
                spent=spent,
                budget=lang.hours(status.budget_hours),
                remaining=lang.hours(status.remaining_hours),
            )
    else:
        used = lang.t("budget.spent_only", spent=spent)
    lines.append(lambda s: used)

    if status.money_visible and status.spent_money is not None:
        cur = status.currency
        if status.remaining_money is not None and status.remaining_money < 0:
            assert status.budget_money is not None
            money = lang.t(
                "budget.money_over",
                spent=lang.money(status.spent_money, cur),
                budget=lang.money(status.budget_money, cur),
                over=lang.money(-status.remaining_money, cur),
            )
        elif status.budget_money is not None and status.remaining_money is not None:
            money = lang.t(
                "budget.money",
                spent=lang.money(status.spent_money, cur),
                budget=lang.money(status.budget_money, cur),
                remaining=lang.money(status.remaining_money, cur),
            )
        else:
            money = lang.t("budget.money_spent_only", spent=lang.money(status.spent_money, cur))
        lines.append(lambda s: money)

    if status.burn_hours_per_working_day is not None:
        burn = lang.t(
            "budget.burn",
            burn=lang.hours(status.burn_hours_per_working_day),
            elapsed=status.working_days_elapsed,
            total=status.working_days_total,
        )
        lines.append(lambda s: burn)
    forecast = None
    if status.forecast is Forecast.DATE and status.forecast_date is not None:
        forecast = lang.t("budget.forecast.date", date=lang.day(status.forecast_date))
    elif status.forecast in (Forecast.EXHAUSTED, Forecast.NO_BURN, Forecast.TOO_EARLY):
        forecast = lang.t(f"budget.forecast.{status.forecast.value}")
    if forecast:
        lines.append(lambda s: forecast)
    # Not just "lasts past the period end": how much the pace leaves, or misses, by then.
    end = _end_balance(status, lang)
    if end:
        lines.append(lambda s: end)

    if status.thresholds_crossed:
        threshold = lang.t("budget.threshold", percent=lang.percent(status.thresholds_crossed[-1]))
        role = status.budget_role

        def alert(s: _Style) -> str:
            people = holders_text(role, s.mention, lang.language) if role is not None else ""
            cc = " · " + lang.t("budget.mention", mention=people) if people else ""
            return f"⚠️ {threshold}{cc}"

        lines.append(alert)
    return _Section(lambda s: f"{s.bold(title)} · {period}", lines)


def _end_balance(status: BudgetStatus, lang: _Lang) -> str | None:
    """How much the pace leaves (or misses) at the period end, in hours and money where shown."""
    hours = status.end_balance_hours
    if hours is None or hours == 0:
        return None
    kind = "left_at_end" if hours > 0 else "missing_at_end"
    money = status.end_balance_money if status.money_visible else None
    if money is not None:
        return lang.t(f"budget.forecast.{kind}_money", hours=lang.hours(abs(hours)), money=lang.money(abs(money), status.currency))
    return lang.t(f"budget.forecast.{kind}", hours=lang.hours(abs(hours)))


def _milestone_line(m: Milestone, lang: _Lang) -> LineBuilder:
    if m.release_date is not None and m.days_left is not None:
        due = lang.t("milestone.due", date=lang.day(m.release_date))
        when = f"{due} ({format_days_left(m.days_left, lang.language)})"
    else:
        when = lang.t("milestone.undated")
    parts = []
    if m.issue_ratio is not None:
        parts.append(progress_bar(m.issue_ratio) + " " + lang.percent(m.issue_ratio * 100))
    parts.append(lang.t("milestone.issues", done=m.issues_done, total=m.issues_total))
    if m.estimate_ratio is not None:
        parts.append(lang.t("milestone.estimate", percent=lang.percent(m.estimate_ratio * 100)))
    progress = " · ".join(parts)
    risk = ""
    if m.risk is Risk.OVERDUE:
        risk = "  🔴 " + lang.t("milestone.risk.overdue")
    elif m.risk is Risk.PACE:
        risk = "  ⚠️ " + lang.t("milestone.risk.pace")
    return lambda s: f"• {s.bold(s.esc(m.name))} — {when}{risk}\n   {progress}"


def _released_line(r: ReleasedVersion, lang: _Lang) -> LineBuilder:
    day = lang.day(r.release_date)
    return lambda s: f"🚀 {s.bold(s.esc(r.name))} — {day}"


def _milestones_sections(section: MilestonesSection, lang: _Lang) -> list[_Section]:
    title = lang.t("milestones.title")
    lines = [_milestone_line(m, lang) for m in section.milestones] or [
        lambda s: lang.t("milestones.none")
    ]
    out = [_Section(lambda s: s.bold(title), lines)]
    if section.released:
        released = (lang.t("milestones.released") if section.since_last_digest
                    else lang.t("milestones.released_window", count=DEFAULT_LOOKBACK.days))
        out.append(
            _Section(
                lambda s: s.bold(released), [_released_line(r, lang) for r in section.released]
            )
        )
    return out


LOCK = "🔒"


def _lock(item: IssueLine) -> str:
    # Internal digests only: the client view withholds this issue (legend: "digest.client_hidden").
    return f"{LOCK} " if item.client_hidden else ""


def _legend(lines: Iterable[IssueLine], lang: _Lang) -> str | None:
    return lang.t("digest.client_hidden") if any(i.client_hidden for i in lines) else None


def _deadline_line(item: IssueLine, lang: _Lang) -> LineBuilder:
    icon = "🔴" if item.overdue else "•"
    bits = []
    if item.due is not None and item.days_left is not None:
        bits.append(lang.t("deadline.due", date=lang.day(item.due)))
        bits.append(format_days_left(item.days_left, lang.language))
    unassigned = lang.t("deadline.unassigned")

    def line(s: _Style) -> str:
        who = s.esc(item.assignee) if item.assignee else unassigned
        return " · ".join([f"{icon} {_lock(item)}{s.issue(item.key)} {s.esc(item.summary)}", *bits, who])

    return line


def _waiting_line(item: IssueLine, lang: _Lang) -> LineBuilder:
    due = lang.t("deadline.due", date=lang.day(item.due)) if item.due is not None else None

    def line(s: _Style) -> str:
        parts = [f"• {s.issue(item.key)} {s.esc(item.summary)}", s.esc(item.status)]
        if due:
            parts.append(due)
        return " · ".join(parts)

    return line


def _deadlines_sections(section: DeadlinesSection, lang: _Lang) -> list[_Section]:
    title = lang.t("deadlines.title", count=section.horizon_days)
    lines = [_deadline_line(i, lang) for i in section.items] or [lambda s: lang.t("deadlines.none")]
    out = [_Section(lambda s: s.bold(title), lines)]
    if section.waiting is not None:
        waiting_title = lang.t("waiting.title")
        waiting = [_waiting_line(i, lang) for i in section.waiting] or [
            lambda s: lang.t("waiting.none")
        ]
        out.append(_Section(lambda s: s.bold(waiting_title), waiting))
    return out


def _change_line(item: IssueLine) -> LineBuilder:
    return lambda s: f"• {_lock(item)}{s.issue(item.key)} {s.esc(item.summary)} · {s.esc(item.status)}"


def _bold(text: str) -> LineBuilder:
    return lambda s: s.bold(text)


def _changes_sections(section: ChangesSection, lang: _Lang) -> list[_Section]:
    out: list[_Section] = []
    for message_id, items in (
        ("changes.created", section.created),
        ("changes.resolved", section.resolved),
    ):
        # Without a previous digest the lists cover the default window: say which.
        title = (lang.t(message_id) if section.since_last_digest
                 else lang.t(f"{message_id}_window", count=DEFAULT_LOOKBACK.days))
        lines: list[LineBuilder] = [_change_line(i) for i in items] or [lambda s: lang.t("changes.none")]
        out.append(_Section(_bold(title), lines))
    return out


def _literal(text: str) -> LineBuilder:
    return lambda s: text


def _support_section(figures: SupportFigures, lang: _Lang) -> _Section:
    def duration(minutes: float | None) -> str:
        return lang.t("duration.none") if minutes is None else format_minutes(minutes, lang.language)

    median = duration(figures.median_minutes)
    if figures.audience is Audience.CLIENT:
        line = lang.t("support.digest.client", opened=figures.opened, resolved=figures.resolved, median=median)
        lines: list[LineBuilder] = [lambda s: line]
    elif not (figures.opened or figures.open or figures.resolved):
        none = lang.t("support.digest.none")
        lines = [lambda s: none]
    else:
        texts = [
            lang.t("support.digest.by_urgency", emergency=figures.emergencies, task=figures.tasks, messages=figures.messages),
            lang.t("support.digest.first_response", median=median, worst=duration(figures.worst_minutes)),
            lang.t("support.digest.breaches", count=figures.breaches),
            lang.t("support.digest.open", count=figures.open),
        ]
        lines = [_literal(t) for t in texts]
    return _Section(_bold(lang.t("support.digest.title")), lines)


# --- layout: sections → blocks → messages within Slack's limits -------------------------------


class _Packer:
    """Fills messages with blocks, starting a new message before any limit would be passed."""

    def __init__(self, lang: _Lang, slack: _Style, plain: _Style) -> None:
        self.lang = lang
        self.slack = slack
        self.plain = plain
        self.messages: list[Message] = []
        self.plain_parts: list[str] = []
        self._blocks: list[dict[str, Any]] = []
        self._texts: list[str] = []
        self._chars = 0

    def _flush(self) -> None:
        if self._blocks and self._blocks[-1]["type"] == "divider":
            self._blocks.pop()
        if self._blocks:
            self.messages.append(Message(text="\n\n".join(self._texts), blocks=self._blocks))
        self._blocks, self._texts, self._chars = [], [], 0

    def _room_for(self, text: str) -> bool:
        """Would one more block with this text fit in the current message?"""
        if len(text) > MAX_SECTION_CHARS or len(self._blocks) >= MAX_BLOCKS:
            return False
        # Counted as in the fallback text: blocks joined by a blank line.
        return not self._blocks or self._chars + 2 + len(text) <= MAX_MESSAGE_CHARS

    def add(self, block: dict[str, Any], text: str | None) -> None:
        """Append a block; ``text`` is its part of the fallback (None for a divider)."""
        if not self._room_for(text or ""):
            self._flush()
        self._blocks.append(block)
        if text is not None:
            self._chars += len(text) + (2 if self._texts else 0)
            self._texts.append(text)

    def header(self, title: str, context: str) -> None:
        self.add(
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _clip(title, MAX_HEADER_CHARS),
                    "emoji": True,
                },
            },
            # Header blocks are plain_text, but the fallback text is mrkdwn: escape it there.
            f"*{escape_mrkdwn(title)}*",
        )
        self.add({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}, context)

    def section(self, section: _Section) -> None:
        title = section.title(self.slack)
        # An untitled section (the status glance) is just its lines.
        plain_title = [section.title(self.plain)] if title else []
        plain_lines = [*plain_title, *(line(self.plain) for line in section.lines)]
        self.plain_parts.append("\n".join(plain_lines))
        if self._blocks:
            self.add({"type": "divider"}, None)
        chunk = [title] if title else []
        for builder in section.lines:
            line = _clip(builder(self.slack), MAX_LINE_CHARS)
            if self._room_for("\n".join([*chunk, line])):
                chunk.append(line)
                continue
            if len(chunk) == 1:
                # Only the title is pending: move it to the next message instead of orphaning it.
                self._flush()
                chunk.append(line)
                continue
            self._section_block("\n".join(chunk))
            chunk = [line]
            if not self._room_for(line):
                self._flush()
            if not self._blocks:
                # A section continued in a new message repeats its title so it reads on its own.
                chunk.insert(0, self.lang.t("section.continued", title=title))
        self._section_block("\n".join(chunk))

    def _section_block(self, text: str) -> None:
        self.add({"type": "section", "text": {"type": "mrkdwn", "text": text}}, text)

    def result(self) -> RenderedDigest:
        self._flush()
        return RenderedDigest(messages=self.messages, text="\n\n".join(self.plain_parts) + "\n")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(
    sections: Sequence[_Section],
    language: str,
    *,
    jira_url: str | None,
    heading: tuple[str, str] | None = None,
) -> RenderedDigest:
    lang = _Lang(language)
    packer = _Packer(lang, _Style(slack=True, jira_url=jira_url), _Style(slack=False))
    if heading is not None:
        title, context = heading
        packer.header(title, escape_mrkdwn(context))
        packer.plain_parts.append(f"{title}\n{context}")
    for section in sections:
        packer.section(section)
    return packer.result()


def render_digest(
    digest: Digest, account: Account, language: str | None = None, *, jira_url: str | None = None
) -> RenderedDigest:
    """The whole digest as Slack messages and plain text (language defaults to the account's)."""
    lang = _Lang(language or account.language)
    title = "📊 " + lang.t("digest.title", account=digest.account_name)
    context = lang.t(
        "digest.context",
        since=lang.day(digest.since.astimezone(account.tz).date()),
        today=lang.day(digest.today),
    )
    sections: list[_Section] = []
    if digest.budget is not None:
        sections.append(_budget_section(digest.budget, account, lang))
    sections += _milestones_sections(digest.milestones, lang)
    sections += _deadlines_sections(digest.deadlines, lang)
    sections += _changes_sections(digest.changes, lang)
    if digest.support is not None:
        sections.append(_support_section(digest.support, lang))
    legend = _legend((*digest.deadlines.items, *digest.changes.created, *digest.changes.resolved), lang)
    if legend:
        context = f"{context} · {legend}"
    return _render(sections, lang.language, jira_url=jira_url, heading=(title, context))


def _status_budget(status: BudgetStatus | None, lang: _Lang) -> str:
    if status is None:
        return lang.t("status.budget_none")
    if status.percent_used is not None and status.remaining_hours is not None:
        percent = lang.percent(status.percent_used)
        if status.overspent:
            line = lang.t("status.budget_over", percent=percent, over=lang.hours(-status.remaining_hours))
        else:
            line = lang.t("status.budget", percent=percent, remaining=lang.hours(status.remaining_hours))
    else:
        line = lang.t("status.budget_spent", spent=lang.hours(status.spent_hours))
    # Money only where the audience may see it (the domain decided: `money_visible`).
    if status.money_visible and status.remaining_money is not None:
        if status.remaining_money >= 0:
            line += " · " + lang.t("status.money_left", money=lang.money(status.remaining_money, status.currency))
        else:
            line += " · " + lang.t("status.money_over", money=lang.money(-status.remaining_money, status.currency))
    if status.forecast is Forecast.DATE and status.forecast_date is not None:
        line += " · " + lang.t("status.runs_out", date=lang.day(status.forecast_date))
    return line


def _status_milestone(section: MilestonesSection, lang: _Lang) -> LineBuilder:
    if not section.milestones:
        none = lang.t("status.milestone_none")
        return lambda s: none
    m = section.milestones[0]  # soonest first, undated ones last
    if m.release_date is not None and m.days_left is not None:
        when = f"{lang.t('milestone.due', date=lang.day(m.release_date))} ({format_days_left(m.days_left, lang.language)})"
    else:
        when = lang.t("milestone.undated")
    return lambda s: lang.t("status.milestone", name=s.esc(m.name), when=when, done=m.issues_done, total=m.issues_total)


def render_status(digest: Digest, account: Account, more: str, language: str | None = None) -> RenderedDigest:
    """The digest at a glance, one screen: a line each for budget, next milestone, overdue and
    waiting-for-client counts, then `more` (where the whole is: e.g. `/pulse digest`)."""
    lang = _Lang(language or account.language)
    title = "📊 " + lang.t("status.title", account=digest.account_name)
    context = lang.t("status.as_of", today=lang.day(digest.today))
    budget = _status_budget(digest.budget, lang)
    waiting_id = "status.waiting_you" if digest.audience is Audience.CLIENT else "status.waiting_client"
    waiting = lang.t(waiting_id, count=digest.deadlines.waiting_for_client)
    overdue = lang.t("status.overdue", count=digest.deadlines.overdue_count)
    lines: list[LineBuilder] = [
        lambda s: budget,
        _status_milestone(digest.milestones, lang),
        lambda s: overdue,
        lambda s: waiting,
        lambda s: more,
    ]
    return _render([_Section(lambda s: "", lines)], lang.language, jira_url=None, heading=(title, context))


def render_budget(
    status: BudgetStatus | None, account: Account, language: str | None = None
) -> RenderedDigest:
    """Only the budget section (for ``/pulse budget``)."""
    lang = _Lang(language or account.language)
    return _render([_budget_section(status, account, lang)], lang.language, jira_url=None)


def render_milestones(
    section: MilestonesSection, account: Account, language: str | None = None
) -> RenderedDigest:
    """Only the milestones (for ``/pulse milestones``)."""
    lang = _Lang(language or account.language)
    return _render(_milestones_sections(section, lang), lang.language, jira_url=None)


def render_deadlines(
    section: DeadlinesSection,
    account: Account,
    language: str | None = None,
    *,
    jira_url: str | None = None,
) -> RenderedDigest:
    """Only deadlines and the client's waiting list (for ``/pulse deadlines``)."""
    lang = _Lang(language or account.language)
    sections = _deadlines_sections(section, lang)
    legend = _legend(section.items, lang)
    if legend:
        sections.append(_Section(lambda s: legend, []))
    return _render(sections, lang.language, jira_url=jira_url)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return data
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Fraction):
        return str(Decimal(value.numerator) / Decimal(value.denominator))
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def digest_to_json(digest: Digest) -> dict[str, Any]:
    """The digest as JSON-ready data: dates ISO 8601, Decimals as strings, enums by value."""
    data: dict[str, Any] = _jsonable(digest)
    return data
