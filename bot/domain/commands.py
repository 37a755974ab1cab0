"""The `/pulse` command table: each subcommand path, its usage, who may run it; help is the fallback.

Mentions (`@Account Pulse status`) go through the same table, so Slack Connect users who cannot
run slash commands still reach everything meant for them.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.access import Role
from bot.domain.words import CommandRef, UserWords, sentence
from bot.errors import PermissionDenied, UserError


@dataclass(frozen=True)
class CommandSpec:
    path: tuple[str, ...]
    # A catalog id (`summary.help`), put into the reader's language by the help renderer.
    summary: str
    # Its arguments as shown in usage: a catalog id (`args.id`) or literal syntax.
    args: str = ""
    min_role: Role = Role.MEMBER
    # Needs the channel to be linked to an account (its data is the channel's account's).
    needs_account: bool = False
    # Accepts a trailing `public` to post in the channel instead of answering ephemerally.
    can_be_public: bool = False
    # Takes the rest of the text as it was typed (one argument, quotes and all): a support request.
    free_text: bool = False

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def ref(self) -> CommandRef:
        """The command as a person types it; `bot.render.words.Voice` writes it in their language and form."""
        return CommandRef(self.path, self.args, self.can_be_public)


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("help",), "summary.help", min_role=Role.EXTERNAL),
    CommandSpec(
        ("status",),
        "summary.status.channel",
        min_role=Role.EXTERNAL,
        needs_account=True,
        can_be_public=True,
    ),
)


# The portfolio's commands (handlers: `bot.services.portfolio.register_portfolio_commands`).
# Members only: health is internal; the handler also refuses client and shared channels.
PORTFOLIO_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("accounts",), "summary.accounts", args="args.portfolio_scope", min_role=Role.MEMBER),
)


# Linking channels from Slack (handlers: `bot.services.channel_links.register_link_commands`).
LINK_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("link",), "summary.link", args="args.account", min_role=Role.ADMIN),
    CommandSpec(("unlink",), "summary.unlink", min_role=Role.ADMIN, needs_account=True),
)


@dataclass(frozen=True)
class Invocation:
    spec: CommandSpec
    args: list[str] = field(default_factory=list)
    public: bool = False


class UsageError(UserError):
    """A command we could not understand; the message says what to type instead."""


def available(role: Role, table: tuple[CommandSpec, ...] = COMMANDS) -> list[CommandSpec]:
    """The commands a user with this role may run, in table order."""
    return [c for c in table if role >= c.min_role]


def parse(
    text: str, role: Role, table: tuple[CommandSpec, ...] = COMMANDS, verbs: Mapping[str, str] | None = None
) -> Invocation:
    """Turn the text after `/pulse` into an invocation; empty text means help.

    `verbs` maps the words of the asker's language to the table's (`hilfe` → `help`); the table's
    own words always work too.
    """
    verbs = verbs or {}
    free = _free_text(text, role, table, verbs)
    if free is not None:
        return free
    try:
        words = shlex.split(text or "")
    except ValueError:
        raise UsageError(sentence("command.quote_open")) from None
    if not words:
        words = ["help"]
    canonical = [verbs.get(w.lower(), w.lower()) for w in words]
    # Longest path first, so `subscribe add` wins over a hypothetical `subscribe`.
    for spec in sorted(table, key=lambda s: -len(s.path)):
        n = len(spec.path)
        if canonical[:n] == list(spec.path):
            if role < spec.min_role:
                who = "command.admins_only" if spec.min_role is Role.ADMIN else "command.members_only"
                raise PermissionDenied(sentence(who, command=spec.ref))
            args = words[n:]
            public = False
            if spec.can_be_public and args and canonical[-1] == "public":
                public, args = True, args[:-1]
            return Invocation(spec, args, public)
    group = [s for s in available(role, table) if len(s.path) > 1 and s.path[0] == canonical[0]]
    if group:
        # `/pulse subscribe` alone or with an unknown subcommand: show that group's usage.
        raise UsageError(sentence("command.group_usage", command=CommandRef((canonical[0],)),
                              usages=tuple(group)))
    # A typo is matched against the table's words and those of the asker's language alike.
    english = {s.path[0] for s in available(role, table)}
    known = {w: w for w in english} | {word: w for word, w in verbs.items() if w in english}
    guess = difflib.get_close_matches(words[0].lower(), sorted(known), n=1)
    hint = sentence("command.did_you_mean", command=CommandRef((known[guess[0]],))) if guess else ""
    raise UsageError(sentence("command.unknown", word=UserWords(words[0]), hint=hint, help=CommandRef(("help",))))


def _free_text(text: str, role: Role, table: tuple[CommandSpec, ...], verbs: Mapping[str, str]) -> Invocation | None:
    """A free-text command (`request Can't log in`): its words split on blanks only, so an
    apostrophe is text, not an open quote; the rest of the text is one argument."""
    words = (text or "").split()
    for spec in table:
        n = len(spec.path)
        if spec.free_text and [verbs.get(w.lower(), w.lower()) for w in words[:n]] == list(spec.path):
            if role < spec.min_role:
                who = "command.admins_only" if spec.min_role is Role.ADMIN else "command.members_only"
                raise PermissionDenied(sentence(who, command=spec.ref))
            rest = (text or "").strip()
            for word in words[:n]:
                rest = rest[len(word):].lstrip()
            return Invocation(spec, [rest] if rest else [])
    return None
