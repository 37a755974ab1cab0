"""Block Kit basics every renderer shares: the `Message`, mrkdwn escaping and mentions, Slack's limits.

Slack allows 50 blocks per message and 3,000 characters per section text (150 in a header); a
message should stay well below ~12 k characters in all, so blocks and fallback text each get half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_MESSAGE_CHARS = 6000


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: fallback text (mrkdwn) and its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def slack_mention(slack_id: str) -> str:
    """Mention markup for a user (U…/W…) or a user group (S…): roles may name either."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so user text cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
