"""The `/pulse` command table: each subcommand path, its usage, who may run it; help is the fallback.

Mentions (`@Account Pulse status`) go through the same table, so Slack Connect users who cannot
run slash commands still reach everything meant for them.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field

from bot.domain.access import Role
from bot.errors import PermissionDenied, UserError


@dataclass(frozen=True)
class CommandSpec:
    path: tuple[str, ...]
    summary: str
    args: str = ""
    min_role: Role = Role.MEMBER
    # Needs the channel to be linked to an account (its data is the channel's account's).
    needs_account: bool = False
    # Accepts a trailing `public` to post in the channel instead of answering ephemerally.
    can_be_public: bool = False

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def usage(self, prefix: str = "/pulse", offer_public: bool = True) -> str:
        # Mentions are always answered in a thread, so they have no `public` form.
        public = " [public]" if self.can_be_public and offer_public else ""
        args = f" {self.args}" if self.args else ""
        return f"{prefix} {self.name}{args}{public}"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("help",), "Show the commands you can use here", min_role=Role.EXTERNAL),
    CommandSpec(
        ("status",),
        "Which account this channel belongs to, and for whom it is",
        min_role=Role.EXTERNAL,
        needs_account=True,
        can_be_public=True,
    ),
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


def parse(text: str, role: Role, table: tuple[CommandSpec, ...] = COMMANDS) -> Invocation:
    """Turn the text after `/pulse` into an invocation; empty text means help."""
    try:
        words = shlex.split(text or "")
    except ValueError:
        raise UsageError("I could not read that: a quote is not closed.") from None
    if not words:
        words = ["help"]
    # Longest path first, so `subscribe add` wins over a hypothetical `subscribe`.
    for spec in sorted(table, key=lambda s: -len(s.path)):
        n = len(spec.path)
        if [w.lower() for w in words[:n]] == list(spec.path):
            if role < spec.min_role:
                raise PermissionDenied(
                    f"`{spec.usage()}` is for agency {'admins' if spec.min_role is Role.ADMIN else 'members'} only."
                )
            args = words[n:]
            public = False
            if spec.can_be_public and args and args[-1].lower() == "public":
                public, args = True, args[:-1]
            return Invocation(spec, args, public)
    group = [s for s in available(role, table) if len(s.path) > 1 and s.path[0] == words[0].lower()]
    if group:
        # `/pulse subscribe` alone or with an unknown subcommand: show that group's usage.
        usages = "\n".join(f"• `{s.usage()}` — {s.summary}" for s in group)
        raise UsageError(f"`/pulse {words[0].lower()}` needs one of:\n{usages}")
    known = sorted({s.path[0] for s in available(role, table)})
    guess = difflib.get_close_matches(words[0].lower(), known, n=1)
    hint = f" Did you mean `/pulse {guess[0]}`?" if guess else ""
    raise UsageError(f"I don't know `{words[0]}`.{hint} Try `/pulse help`.")
