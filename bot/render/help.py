"""The help message: only the commands this user may run, as Block Kit and plain text."""

from __future__ import annotations

from typing import Any

from bot.domain.commands import CommandSpec
from bot.render.i18n import translate
from bot.render.words import Voice


def render_help(
    commands: list[CommandSpec], mention_name: str | None = None, language: str = "en"
) -> tuple[str, list[dict[str, Any]]]:
    """Help text and blocks in `language`; with `mention_name`, the @mention form (for Slack Connect
    users) and no `[public]`, since a mention is answered in a thread."""
    voice = Voice.for_asker(language, mention_name)
    lines = voice.usage_lines(commands)
    text = translate(voice.language, "help.text") + "\n" + lines
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": translate(voice.language, "help.title")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": lines}},
    ]
    return text, blocks
