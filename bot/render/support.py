"""Support requests in Slack: the urgency question, the promise, escalations (pure Block Kit)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from typing import Any

from babel.dates import format_skeleton, format_time

from bot.domain.accounts import Account, Urgency
from bot.domain.support import duration_text, urgency_texts
from bot.render.blocks import MAX_SECTION_CHARS, Message, escape_mrkdwn, slack_mention
from bot.render.i18n import LANGUAGES, format_percent_value, language_or_default, translate
from bot.render.words import Voice

URGENCY_ACTION = "support_urgency_"  # + the urgency; the value is the request id


def urgency_name(language: str, urgency: Urgency) -> str:
    return translate(language, f"support.urgency.{urgency.value}")


def issue_ref(key: str | None, link: str | None, request_id: int, language: str) -> str:
    """`<link|ACME-12>`, or the key alone, or "request #5" while Jira has no key yet."""
    if key is None:
        return translate(language, "support.issue_pending", id=request_id)
    return f"<{link}|{key}>" if link else key


def format_due(due: dt.datetime, tz: dt.tzinfo, language: str) -> str:
    """"Mon, Nov 30, 12:00 CET" in the reader's language and the account's timezone."""
    local = due.astimezone(tz)
    locale = language_or_default(language)
    return f"{format_skeleton('MMMEd', local, locale=locale)}, {format_time(local, 'short', locale=locale)} {local.tzname()}"


def format_minutes(minutes: float, language: str) -> str:
    return Voice(language).say(duration_text(max(1, round(minutes))))


def urgency_question(account: Account, request_id: int) -> Message:
    """The question in the request's thread: one button per urgency, each explained in one line."""
    language = account.language
    voice = Voice(language)
    lines = [translate(language, "support.ask", id=request_id),
             *(voice.say(text) for text in urgency_texts(account).values())]
    buttons = [
        {
            "type": "button",
            "action_id": f"{URGENCY_ACTION}{urgency.value}",
            "text": {"type": "plain_text", "text": urgency_name(language, urgency)},
            "value": str(request_id),
            **({"style": "danger"} if urgency is Urgency.EMERGENCY else {"style": "primary"}),
        }
        for urgency in (Urgency.EMERGENCY, Urgency.TASK)
    ]
    text = "\n".join(lines)
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}},
                          {"type": "actions", "block_id": f"support_urgency_{request_id}", "elements": buttons}])


def urgency_chosen(language: str, urgency: Urgency, user_id: str) -> Message:
    """What the question becomes once answered (no buttons left to click)."""
    text = translate(language, "support.chosen", urgency=urgency_name(language, urgency), who=slack_mention(user_id))
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def _plain(text: str) -> Message:
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}}])


def request_parent(language: str, request_id: int, user_id: str, text: str) -> Message:
    """The channel message that starts a request's thread (a slash command has no thread of its own)."""
    head = translate(language, "support.parent", id=request_id, who=slack_mention(user_id))
    quoted = "\n".join(f">{escape_mrkdwn(line)}" for line in text.splitlines() or [""])
    return _plain(f"{head}\n{quoted}")


def filed(account: Account, key: str, link: str | None, urgency: Urgency, due: dt.datetime, tz: dt.tzinfo) -> Message:
    language = account.language
    return _plain(translate(language, "support.filed", issue=issue_ref(key, link, 0, language),
                            urgency=urgency_name(language, urgency), due=format_due(due, tz, language)))


def recorded(language: str, request_id: int) -> Message:
    return _plain(translate(language, "support.recorded", id=request_id))


def project_work(language: str, backlog: str | None) -> Message:
    who = slack_mention(backlog) if backlog else translate(language, "support.project_work_team")
    return _plain(translate(language, "support.project_work", backlog=who))


def escalation(account: Account, language: str, ref: str, urgency: Urgency, share: float, due: dt.datetime | None,
               tz: dt.tzinfo, people: Sequence[str]) -> Message:
    return _plain(translate(
        language, "support.escalate", issue=ref, account=escape_mrkdwn(account.name),
        urgency=urgency_name(language, urgency), percent=format_percent_value(int(share * 100), language),
        due=format_due(due, tz, language) if due else "—", who=" ".join(slack_mention(p) for p in people),
    ))


def breach(account: Account, language: str, ref: str, urgency: Urgency, target_minutes: int,
           due: dt.datetime | None, tz: dt.tzinfo) -> Message:
    return _plain(translate(
        language, "support.breach", issue=ref, account=escape_mrkdwn(account.name),
        urgency=urgency_name(language, urgency), within=format_minutes(target_minutes, language),
        due=format_due(due, tz, language) if due else "—",
    ))


def emergency_dm(account: Account, language: str, ref: str, summary: str) -> Message:
    return _plain(translate(language, "support.emergency_dm", account=escape_mrkdwn(account.name), issue=ref,
                            summary=escape_mrkdwn(summary)))


def not_filed(account: Account, language: str, request_id: int, error: str) -> Message:
    return _plain(translate(language, "support.not_filed", id=request_id, account=escape_mrkdwn(account.name),
                            error=escape_mrkdwn(error[:300])))


def issue_description(language: str, text: str, who: str, request_id: int, urgency: Urgency, permalink: str | None) -> str:
    """The Jira issue's description: the request, then who asked where (clients often have no Jira seat)."""
    lines = [text, "", "----", translate(language, "support.description.by", who=who, id=request_id,
                                         urgency=urgency_name(language, urgency))]
    if permalink:
        lines.append(translate(language, "support.description.link", link=permalink))
    return "\n".join(lines)


def median_minutes(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def via_slack(language: str, name: str) -> str:
    """The first line of a Jira comment mirrored from a Slack reply."""
    return f"[{translate(language, 'support.via_slack', name=name)}]"


def via_slack_prefixes() -> tuple[str, ...]:
    """How every mirrored comment starts, in any language (so it never counts as a first response)."""
    return tuple("[" + translate(language, "support.via_slack", name="") for language in LANGUAGES)


REQUEST_BUTTON = "support_request_button"  # under status answers: opens the request modal


def request_button(language: str) -> dict[str, Any]:
    """The "Request support" button under the bot's status answers."""
    return {"type": "actions", "block_id": "support_request", "elements": [{
        "type": "button", "action_id": REQUEST_BUTTON, "value": "request",
        "text": {"type": "plain_text", "text": translate(language, "support.button.request")},
    }]}


SHORTCUT = "support_from_message"  # the message shortcut's callback id (config/slack-manifest.yaml)
MODAL = "support_modal"  # the modal's callback id
MAX_MODAL_TEXT = 3000  # a plain_text_input holds at most 3000 characters


def request_modal(language: str, text: str, private_metadata: str) -> dict[str, Any]:
    """The modal that turns a message into a request: its text (editable) and the urgency."""
    options = [
        {"text": {"type": "plain_text", "text": urgency_name(language, urgency)}, "value": urgency.value}
        for urgency in (Urgency.EMERGENCY, Urgency.TASK)
    ]
    return {
        "type": "modal",
        "callback_id": MODAL,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": translate(language, "support.modal.title")[:24]},
        "submit": {"type": "plain_text", "text": translate(language, "support.modal.submit")[:24]},
        "blocks": [
            {"type": "input", "block_id": "text", "label": {"type": "plain_text", "text": translate(language, "support.modal.text")},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                         "initial_value": text[:MAX_MODAL_TEXT], "max_length": MAX_MODAL_TEXT}},
            {"type": "input", "block_id": "urgency",
             "label": {"type": "plain_text", "text": translate(language, "support.modal.urgency")},
             "element": {"type": "radio_buttons", "action_id": "urgency", "options": options}},
        ],
    }
