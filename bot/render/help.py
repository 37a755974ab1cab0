"""The help message: only the commands this user may run, as Block Kit and plain text."""

from __future__ import annotations

from bot.domain.commands import CommandSpec


def render_help(commands: list[CommandSpec], mention_name: str | None = None) -> tuple[str, list[dict]]:
    """Help text and blocks; with `mention_name`, show the @mention form (for Slack Connect users)."""
    prefix = f"@{mention_name}" if mention_name else "/pulse"
    lines = [f"• `{c.usage(prefix, offer_public=mention_name is None)}` — {c.summary}" for c in commands]
    text = "Account Pulse commands you can use here:\n" + "\n".join(lines)
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Account Pulse* — commands you can use here"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]
    return text, blocks
