"""Sentences not yet in a language: what the domain wants said, for render to put into words.

The domain decides *what* to tell a person (a usage hint, a refusal); the catalog in
`bot.render.i18n` decides *how* in their language. A `Text` is a catalog id with its
parameters (which may be further `Text`s, or a `CommandRef` to be written the way the person
can type it: `/pulse hilfe` or `@Account Pulse hilfe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """A catalog message id and its parameters."""

    message_id: str
    params: dict[str, Any] = field(default_factory=dict)


def sentence(message_id: str, **params: Any) -> Text:
    """`Text(message_id, params)`, written like a call: `sentence("command.unknown", word=w)`."""
    return Text(message_id, params)


@dataclass(frozen=True)
class UserWords:
    """Words a person typed, echoed back: rendered escaped (their `<!channel>` stays text, never
    Slack markup the bot did not build)."""

    text: str


@dataclass(frozen=True)
class CommandRef:
    """A command as the person should type it; rendered with their prefix and their language's verbs."""

    path: tuple[str, ...]
    args: str = ""
    # Accepts a trailing `public` (shown only in the slash form: a mention is answered in a thread).
    public: bool = False
