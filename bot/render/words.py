"""A domain `Text` in a person's words: the catalog's message, with commands written the way this
person can type them (`/pulse hilfe`, or `@Account Pulse hilfe` for a mention: Slack Connect users
cannot run slash commands).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.commands import CommandSpec
from bot.domain.words import CommandRef, Text, UserWords
from bot.render.blocks import escape_mrkdwn
from bot.render.i18n import MESSAGES, format_day, language_or_default, translate

SLASH = "/pulse"


def _catalog_or_literal(language: str, words: str) -> str:
    # Command tables of features name catalog ids; a table written for a test may carry its text.
    return translate(language, words) if words in MESSAGES["en"] else words


@dataclass(frozen=True)
class Voice:
    """How to speak to one person: their language and how they call the bot."""

    language: str = "en"
    prefix: str = SLASH

    @classmethod
    def for_asker(cls, language: str | None, mention_name: str | None = None) -> Voice:
        return cls(language_or_default(language), f"@{mention_name}" if mention_name else SLASH)

    def verb(self, word: str) -> str:
        """A command word in this language (`help` → `hilfe`); words without a translation as they are."""
        message_id = f"verb.{word}"
        return translate(self.language, message_id) if message_id in MESSAGES["en"] else word

    def command(self, ref: CommandRef, with_args: bool = True) -> str:
        """`/pulse subscribe add <events> [filters] [public]`, in this language and form."""
        words = [self.prefix, *(self.verb(w) for w in ref.path)]
        if with_args and ref.args:
            words.append(_catalog_or_literal(self.language, ref.args))
        if with_args and ref.public and self.prefix == SLASH:
            words.append(f"[{self.verb('public')}]")
        return " ".join(words)

    def summary(self, spec: CommandSpec) -> str:
        return _catalog_or_literal(self.language, spec.summary)

    def usage_lines(self, specs: tuple[CommandSpec, ...] | list[CommandSpec]) -> str:
        return "\n".join(f"• `{self.command(s.ref)}` — {self.summary(s)}" for s in specs)

    def say(self, text: Text | str) -> str:
        """The text in this language; nested texts, commands and command lists resolved alike."""
        if isinstance(text, str):
            return text
        params = {name: self._value(value) for name, value in text.params.items()}
        return translate(self.language, text.message_id, **params)

    def _value(self, value: Any) -> Any:
        if isinstance(value, Text):
            return self.say(value)
        if isinstance(value, UserWords):
            return escape_mrkdwn(value.text)
        if isinstance(value, dt.date):
            return format_day(value, self.language)
        if isinstance(value, CommandRef):
            # A command named in a sentence (a refusal, a hint) is written with its arguments.
            return self.command(value)
        if isinstance(value, tuple) and value and all(isinstance(v, CommandSpec) for v in value):
            return self.usage_lines(value)
        return value


def verbs(language: str) -> Mapping[str, str]:
    """The command words of a language, mapped to the table's (English) words: {'hilfe': 'help'}."""
    language = language_or_default(language)
    prefix = "verb."
    return {
        str(translate(language, message_id)).lower(): message_id.removeprefix(prefix)
        for message_id in MESSAGES["en"]
        if message_id.startswith(prefix)
    }

