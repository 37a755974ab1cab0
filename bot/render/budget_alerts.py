"""Budget threshold alert messages, in every catalog language: internal ones mention the budget
person, client ones show money only when the account allows it."""

from __future__ import annotations

from bot.domain.budget import BudgetStatus
from bot.render.blocks import Message, escape_mrkdwn, slack_mention
from bot.render.handover import holders_text
from bot.render.i18n import (
    format_day,
    format_hours,
    format_money,
    format_percent_value,
    language_or_default,
    translate,
)


def render_budget_alert(account_name: str, status: BudgetStatus, threshold: int, language: str) -> Message:
    """One alert for one crossed threshold, for the audience `status` was computed for."""
    lang = language_or_default(language)
    lines = [
        translate(
            lang, "alert.budget.title", account=escape_mrkdwn(account_name), threshold=format_percent_value(threshold, lang)
        ),
    ]
    if status.budget_hours is not None and status.percent_used is not None:
        lines.append(
            translate(lang, "alert.budget.hours",
                spent=format_hours(status.spent_hours, lang),
                budget=format_hours(status.budget_hours, lang),
                percent=format_percent_value(status.percent_used, lang),
                start=format_day(status.period.start, lang),
                end=format_day(status.period.end, lang),
            )
        )
    if status.money_visible and status.spent_money is not None and status.budget_money is not None:
        lines.append(
            translate(lang, "alert.budget.money",
                spent=format_money(status.spent_money, status.currency, lang),
                budget=format_money(status.budget_money, status.currency, lang),
            )
        )
    people = holders_text(status.budget_role, slack_mention, lang) if status.budget_role is not None else ""
    if people:
        lines.append(translate(lang, "alert.budget.mention", mention=people))
    text = "\n".join(lines)
    return Message(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
