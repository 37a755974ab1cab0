"""What each `/pulse` subcommand does, independent of how it was asked (slash command or mention)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.access import Role, audience_for
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.commands import COMMANDS, CommandSpec, Invocation, available, parse
from bot.domain.words import sentence
from bot.errors import UserError
from bot.logs import get_logger
from bot.render.help import render_help
from bot.render.i18n import LANGUAGES, language_of_locale
from bot.render.words import Voice, verbs
from bot.services.channel_audiences import ChannelAudiences

log = get_logger("pulse.commands")


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and how (a mention answers in a thread, with the mention form in help)."""

    user_id: str
    channel_id: str
    role: Role
    via_mention: bool = False
    bot_name: str = "Account Pulse"
    # The person's Slack locale ("de-DE"), asked for only where no account decides the language
    # (a DM, an unlinked channel); None when Slack does not say.
    locale: Callable[[], Awaitable[str | None]] | None = field(default=None, compare=False)
    # The language answers are in: set by CommandService.run (the account's, else the locale's).
    language: str = "en"
    # The team that installed the app (other people's roles are decided against it); None: unknown.
    home_team: str | None = None
    # A mention's message and the thread it is in (None for a slash command): a support request's
    # conversation continues there.
    message_ts: str | None = None
    thread_ts: str | None = None
    # Opens a modal for the asker (a slash command's trigger_id, valid for 3 s); False if Slack
    # refused. None where there is no trigger (a mention).
    open_view: Callable[[dict[str, Any]], Awaitable[bool]] | None = field(default=None, compare=False)
    # What makes this invocation one (a slash command's trigger, hashed; ≤ 32 chars): a support
    # request filed by it and answered again after a restart is found, not filed twice.
    request_key: str | None = None

    def voice(self) -> Voice:
        """How to answer: in the asker's language, with commands in the form they can type."""
        return Voice.for_asker(self.language, self.bot_name if self.via_mention else None)


def answer_stays_internal(asker: Asker, channel: Channel | None) -> bool:
    """Does an answer given here stay with the agency? The one rule for every command whose answer
    is internal (handovers, the accounts overview, the account list of `link`'s hint).

    `channel` is the account's channel at its effective audience (CommandService.run asked
    ChannelAudiences: an internal channel Slack calls shared is a client channel); an external
    asker makes any channel a client one. A channel no account links may hold anyone (a Slack
    Connect channel, the workspace's own guests, who are no other organization): a mention's answer
    is posted there in a thread for all, so only a slash command's (ephemeral, for the member who
    asked) or a direct message's answer stays internal."""
    if channel is not None:
        return audience_for(channel.audience, asker.role) is Audience.INTERNAL
    return asker.channel_id.startswith("D") or not asker.via_mention


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict] = field(default_factory=list)
    public: bool = False
    # Continuation messages of a long answer (a digest over Slack's limits), sent after this one.
    more: tuple[Reply, ...] = ()


Handler = Callable[[Invocation, Asker, Account | None, Channel | None], Awaitable[Reply]]


class CommandService:
    """Parses a command for the asker's role and runs its handler; errors become hints."""

    def __init__(
        self, accounts: AccountsConfig, table: tuple[CommandSpec, ...] = COMMANDS,
        audiences: ChannelAudiences | None = None,
    ):
        self._accounts = accounts
        # Channels' effective audiences (an internal channel Slack calls shared answers in the
        # client view); None: as configured.
        self._audiences = audiences
        self._table = table
        self._handlers: dict[str, Handler] = {"help": self._help, "status": self._status}

    def add(self, spec: CommandSpec, handler: Handler) -> None:
        """Register a further command (features add theirs at composition time)."""
        self._table = (*self._table, spec)
        self._handlers[spec.name] = handler

    def replace_handler(self, name: str, handler: Handler, summary: str | None = None) -> None:
        """Give an existing command a richer implementation (and summary) once a feature is wired."""
        if summary is not None:
            self._table = tuple(
                dataclasses.replace(s, summary=summary) if s.name == name else s for s in self._table
            )
        self._handlers[name] = handler

    def handler(self, name: str) -> Handler:
        """The handler of a command (a feature may wrap another's answer)."""
        return self._handlers[name]

    @property
    def accounts(self) -> AccountsConfig:
        return self._accounts

    @property
    def table(self) -> tuple[CommandSpec, ...]:
        return self._table

    def is_free_text(self, text: str) -> bool:
        """Does `text` start with a free-text command (`request …`, `notfall …`) in any language?
        Those carry what a person wrote (a support request): the mention listener records them
        before Slack is acknowledged. Whether this person may run it is decided later, as always."""
        words = [w.lower() for w in (text or "").split()]
        for language in LANGUAGES:
            words_of = verbs(language)
            for spec in self._table:
                n = len(spec.path)
                if spec.free_text and [words_of.get(w, w) for w in words[:n]] == list(spec.path):
                    return True
        return False

    async def run(self, text: str, asker: Asker) -> Reply:
        """Answer one command in the language of the channel's account (else the person's Slack
        locale); a UserError (usage, permission) becomes an ephemeral hint."""
        link = self._accounts.by_channel(asker.channel_id)
        account, channel = link if link else (None, None)
        if account is not None and channel is not None and self._audiences is not None:
            channel = await self._audiences.channel(account, channel)
        language = account.language if account else await self._user_language(asker)
        asker = dataclasses.replace(asker, language=language)
        voice = asker.voice()
        try:
            invocation = parse(text, asker.role, self._table, verbs(voice.language))
            if invocation.spec.needs_account and account is None:
                raise UserError(sentence("command.not_linked"))
            return await self._handlers[invocation.spec.name](invocation, asker, account, channel)
        except UserError as exc:
            return Reply(voice.say(exc.text))
        except Exception:
            # The person gets a short apology, never a traceback; the operator gets the traceback.
            # (Raising out of the listener would also make Bolt drop its ack on fast failures.)
            log.exception("command failed", user=asker.user_id, channel=asker.channel_id, text=text[:100])
            return Reply(voice.say(sentence("command.failed")))

    @staticmethod
    async def _user_language(asker: Asker) -> str:
        return language_of_locale(await asker.locale() if asker.locale else None)

    async def _help(self, _inv: Invocation, asker: Asker, _a: Account | None, _c: Channel | None) -> Reply:
        help_text, blocks = render_help(
            available(asker.role, self._table), asker.bot_name if asker.via_mention else None, asker.language
        )
        return Reply(help_text, blocks)

    async def _status(self, _inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        assert account is not None and channel is not None
        who = "status.channel_client" if channel.audience is Audience.CLIENT else "status.channel_internal"
        return Reply(asker.voice().say(sentence(who, account=account.name)))
