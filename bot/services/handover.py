"""Handovers: `/pulse handover … | list | cancel`, `/pulse roles`, `@Account Pulse who`, and `RoleBook`,
the one place the rest of the bot asks who holds a role *now* (cover applied).

Authorization: the handover commands are for agency members (the command table's `min_role`); the
people named must be agency members Slack knows (`PeopleCheck`), checked again on every request.
They answer only where the answer stays internal (`_only_internal`): who is away and who covers which
accounts is the agency's business, never a client channel's (configured, or shared per Slack).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.access import Role, audience_for
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.commands import CommandSpec, Invocation, UsageError
from bot.domain.handover import (
    USAGE,
    HandoverRequest,
    chain_refusal,
    default_accounts,
    parse_request,
    read_day,
    read_id,
    refusal,
    target_accounts,
)
from bot.domain.roles import Handover, RoleToday, all_roles, holders, roles_named, today_at
from bot.domain.words import CommandRef, sentence
from bot.errors import UserError
from bot.logs import get_logger
from bot.render.blocks import slack_mention
from bot.render.handover import handover_modal, render_list, render_roles, render_saved, render_who
from bot.render.i18n import language_or_default, translate
from bot.render.words import Voice
from bot.services.commands import Asker, CommandService, Reply, answer_stays_internal
from integrations.store.handovers import StoredHandover
from integrations.store.store import Store

log = get_logger("pulse.handover")

HANDOVER_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("handover",), "summary.handover", args="args.handover", min_role=Role.MEMBER),
    CommandSpec(("handover", "list"), "summary.handover.list", min_role=Role.MEMBER),
    CommandSpec(("handover", "cancel"), "summary.handover.cancel", args="args.id", min_role=Role.MEMBER),
    CommandSpec(("roles",), "summary.roles", min_role=Role.MEMBER, needs_account=True),
    CommandSpec(("who",), "summary.who", min_role=Role.EXTERNAL, needs_account=True),
)


class PeopleCheck(Protocol):
    """Who someone named in a request is (`bot.services.directory.Directory` is one)."""

    async def kind_of(self, user_id: str, home_team_id: str | None) -> str: ...

    async def display_name(self, user_id: str) -> str | None: ...


class RoleBook:
    """Who holds an account's roles now, from the store's handovers (read per question: a handover
    saved or cancelled by another process counts at once)."""

    def __init__(self, store: Store, clock: Callable[[], dt.datetime]):
        self.store = store
        self.clock = clock

    def handovers(self, around: dt.date | None = None) -> list[Handover]:
        # A day's margin: the accounts' timezones put "today" a day either side of UTC's.
        since = (around or self.clock().date()) - dt.timedelta(days=1)
        return self.store.handovers.active(since)

    def holders_now(self, account: Account, role: str, now: dt.datetime | None = None) -> RoleToday:
        today = today_at(account, now or self.clock())
        return holders(account, role, today, self.handovers(today))

    def all_now(self, account: Account, now: dt.datetime | None = None) -> dict[str, RoleToday]:
        today = today_at(account, now or self.clock())
        return all_roles(account, today, self.handovers(today))


# What the service does once a handover is saved or cancelled (summaries, DMs: later steps).
AfterChange = Callable[[StoredHandover], Awaitable[None]]
# The keys of the accounts where a Slack user has open Jira issues, from what the bot stores (the
# portfolio's snapshots): never a Jira call while someone waits for a form.
Assigned = Callable[[str], Iterable[str]]

# The form field a refusal is shown on (by its catalog id); anything else: on who is away.
_FIELD = {
    "command.members_only": "from", "handover.external_person": "from",
    "handover.external_deputy": "to", "handover.same_person": "to", "handover.cycle": "to", "handover.nobody": "to",
    "handover.end_before_start": "end", "handover.too_long": "end", "handover.in_the_past": "end",
    "handover.too_far": "start", "handover.no_accounts": "accounts", "handover.unknown_account": "accounts",
}
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


@dataclass(frozen=True)
class Submitted:
    """A form's outcome: errors by field (the modal stays open), or the saved handover's confirmation."""

    errors: dict[str, str] | None = None
    confirmation: str = ""


async def _nothing(_stored: StoredHandover) -> None:
    return None


class HandoverService:
    def __init__(
        self, store: Store, accounts: AccountsConfig, clock: Callable[[], dt.datetime], people: PeopleCheck,
        after_create: AfterChange = _nothing, after_cancel: AfterChange = _nothing, assigned: Assigned | None = None,
    ):
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self.people = people
        self.book = RoleBook(store, clock)
        self.after_create = after_create
        self.after_cancel = after_cancel
        self.assigned = assigned

    # --- create -------------------------------------------------------------------------------

    async def check_people(self, request: HandoverRequest, home_team: str | None) -> None:
        """Both people must be agency members Slack knows (UserError otherwise)."""
        for user, external in ((request.from_user, "handover.external_person"), (request.to_user, "handover.external_deputy")):
            kind = await self.people.kind_of(user, home_team)
            if kind == "unknown":
                raise UserError(sentence("handover.unknown_user", user=slack_mention(user)))
            if kind != "member":
                raise UserError(sentence(external, user=slack_mention(user)))

    async def create(self, request: HandoverRequest, asker: Asker) -> tuple[StoredHandover, list[Account]]:
        """Check and save a handover (UserError says why not); then run what follows a creation."""
        if asker.role < Role.MEMBER:  # the table says so too; a modal submission comes here directly
            raise UserError(sentence("command.members_only", command=USAGE))
        accounts = target_accounts(self.accounts, request)
        problem = refusal(request, accounts, self.clock())
        if problem is not None:
            raise problem
        await self.check_people(request, asker.home_team)
        existing = await asyncio.to_thread(self.store.handovers.active, request.start - dt.timedelta(days=1))
        draft = Handover("new", request.from_user, request.to_user, request.start, request.end,
                         frozenset(a.key for a in accounts), request.note)
        problem = chain_refusal(accounts, draft, existing)
        if problem is not None:
            raise problem
        now = self.clock()
        stored = await asyncio.to_thread(
            self.store.handovers.add, request.from_user, request.to_user, request.start, request.end,
            [a.key for a in accounts], request.note, asker.user_id, now,
        )
        await asyncio.to_thread(
            self.store.audit.record, asker.user_id, "handover.create", now, channel_id=asker.channel_id or None,
            details={"id": stored.id, "from": request.from_user, "to": request.to_user, "start": request.start.isoformat(),
                     "end": request.end.isoformat(), "accounts": sorted(stored.handover.account_keys)},
        )
        log.info("handover saved", handover=stored.id, accounts=sorted(stored.handover.account_keys))
        await self.after_create(stored)
        return stored, accounts

    @staticmethod
    def _only_internal(asker: Asker, channel: Channel | None) -> None:
        """UserError unless an answer here is for the agency alone (`answer_stays_internal`)."""
        if not answer_stays_internal(asker, channel):
            raise UserError(sentence("handover.client_channel"))

    async def handover(self, inv: Invocation, asker: Asker, _a: Account | None, channel: Channel | None) -> Reply:
        self._only_internal(asker, channel)
        if not inv.args and asker.open_view is not None:  # `/pulse handover` alone: the form
            if not await asker.open_view(await self.form(asker.user_id, asker.language)):
                return Reply(translate(asker.language, "handover.form.failed"))
            return Reply(translate(asker.language, "handover.form.opened"))
        stored, accounts = await self.create(parse_request(inv.args), asker)
        passing = {a.key: roles_named(a, stored.handover.from_user) for a in accounts}
        return Reply(render_saved(stored.handover, accounts, passing, asker.language))

    # --- the form (modal) ----------------------------------------------------------------------

    async def default_keys(self, user_id: str) -> list[str]:
        """The accounts a form for `user_id` preselects: where they hold a role (or are named in
        `people:`), as a one-line handover without accounts covers, and where the stored snapshots
        show them with open issues (left out, with a log line, if those cannot be read)."""
        keys = {a.key for a in default_accounts(self.accounts, user_id)}
        if self.assigned is not None:
            try:
                keys |= set(await asyncio.to_thread(self.assigned, user_id))
            except Exception:
                log.warning("open issues per account unknown; the form preselects by roles only", exc_info=True)
        return [a.key for a in self.accounts.accounts if a.key in keys]

    async def form(self, user_id: str, language: str, start: dt.date | None = None,
                   end: dt.date | None = None, keys: list[str] | None = None) -> dict[str, Any]:
        """The handover modal for `user_id` (away: them, unless they pick someone else); the
        accounts `keys` preselected (None: their default ones)."""
        selected = keys if keys is not None else await self.default_keys(user_id)
        return handover_modal(language, self.accounts.accounts, away=user_id, selected=selected, start=start, end=end)

    async def open_form(self, user_id: str, role: Role, language: str, open_view: Callable[[dict[str, Any]], Awaitable[Any]],
                        *, account_key: str | None = None, start: dt.date | None = None,
                        end: dt.date | None = None) -> bool:
        """Open the form from a button (the Home's, a DM's: places only the person sees) for an
        agency member; False (nothing opened) for anyone else. `account_key`: that account preselected."""
        if role < Role.MEMBER:
            log.info("handover form refused", user=user_id, role=role.name.lower())
            return False
        keys = [account_key] if account_key and self.accounts.by_key(account_key) is not None else None
        await open_view(await self.form(user_id, language, start, end, keys))
        return True

    async def submit(self, user_id: str, role: Role, home_team: str | None, view: dict[str, Any]) -> Submitted:
        """Save the handover a form describes, through `create` (the same checks as the one-line
        command, the submitter's role included: a view can be replayed), or say per field why not."""
        try:
            language = language_or_default(json.loads(view.get("private_metadata") or "{}").get("language"))
        except (ValueError, AttributeError):
            language = "en"
        values = (view.get("state") or {}).get("values") or {}

        def value(block: str, key: str) -> Any:
            field = (values.get(block) or {}).get(block) or {}
            return field.get(key) if isinstance(field, dict) else None

        people = {block: value(block, "selected_user") for block in ("from", "to")}
        days = {block: read_day(str(value(block, "selected_date") or "")) for block in ("start", "end")}
        missing = [b for b, v in {**people, **days}.items() if not v or (b in people and not isinstance(v, str))]
        if missing:
            return Submitted(errors={b: translate(language, "handover.form.missing") for b in missing})
        keys = tuple(str(o.get("value")) for o in value("accounts", "selected_options") or [] if isinstance(o, dict))
        note = str(value("note", "value") or "").strip()[:500]
        assert days["start"] is not None and days["end"] is not None
        request = HandoverRequest(str(people["from"]), str(people["to"]), days["start"], days["end"], keys, note)
        asker = Asker(user_id=user_id, channel_id="", role=role, language=language, home_team=home_team)
        try:
            stored, accounts = await self.create(request, asker)
        except UserError as exc:
            return Submitted(errors={self._field(exc, request): await self._plain(Voice(language).say(exc.text))})
        passing = {a.key: roles_named(a, stored.handover.from_user) for a in accounts}
        return Submitted(confirmation=render_saved(stored.handover, accounts, passing, language))

    @staticmethod
    def _field(exc: UserError, request: HandoverRequest) -> str:
        if exc.text.message_id == "handover.unknown_user":
            return "from" if exc.text.params.get("user") == slack_mention(request.from_user) else "to"
        return _FIELD.get(exc.text.message_id, "from")

    async def _plain(self, text: str) -> str:
        """A refusal for a modal's error line (plain text: `<@U…>` would show as it is): people by name."""
        names = {u: await self.people.display_name(u) for u in set(_MENTION.findall(text))}
        return _MENTION.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(1)), text)

    # --- list and cancel ----------------------------------------------------------------------

    async def list(self, _inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        self._only_internal(asker, channel)
        current = await asyncio.to_thread(self.store.handovers.active, self.clock().date() - dt.timedelta(days=1))
        if account is not None:  # in an account's channel: that account's handovers
            current = [h for h in current if account.key in h.account_keys]
        if not current:
            return Reply(asker.voice().say(sentence("handover.list_empty", usage=USAGE)))
        return Reply(render_list(current, {a.key: a for a in self.accounts.accounts}, asker.language))

    async def cancel(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        self._only_internal(asker, channel)
        listing = CommandRef(("handover", "list"))
        if len(inv.args) != 1 or not inv.args[0].lstrip("#").isdigit():
            raise UsageError(sentence("handover.cancel_usage", command=CommandRef(("handover", "cancel"), "args.id"),
                                      list=listing))
        handover_id = inv.args[0].lstrip("#")
        number = read_id(handover_id)  # "²", "0" or a 23-digit number: digits, but no handover has them
        found = None if number is None else await asyncio.to_thread(self.store.handovers.get, str(number))
        if found is None or found.cancelled:
            raise UserError(sentence("handover.no_such", id=handover_id, list=listing))
        if not self._may_cancel(found, asker, account):
            raise UserError(sentence("handover.cancel_not_here", id=found.id))
        now = self.clock()
        stored = await asyncio.to_thread(self.store.handovers.cancel, found.id, asker.user_id, now)
        if stored is None:  # cancelled meanwhile by someone else
            raise UserError(sentence("handover.no_such", id=handover_id, list=listing))
        await asyncio.to_thread(self.store.audit.record, asker.user_id, "handover.cancel", now,
                                channel_id=asker.channel_id, details={"id": stored.id})
        log.info("handover cancelled", handover=stored.id)
        await self.after_cancel(stored)
        return Reply(translate(asker.language, "handover.cancelled", id=stored.id,
                               away=slack_mention(stored.handover.from_user)))

    @staticmethod
    def _may_cancel(stored: StoredHandover, asker: Asker, account: Account | None) -> bool:
        """Cancelling gives the person away their roles back, mid-absence: what a team expects is
        that those it concerns decide — the person away (back early), their cover, whoever saved it
        (often a lead planning for others), an admin — or the team of one of its accounts, in that
        account's own channel (the team whose cover it is; `handover list` there shows it). A member
        of another account's channel (or a DM) who is none of these sees it in no list of theirs and
        has no reason to end it: refused, naming who can."""
        handover = stored.handover
        if asker.role >= Role.ADMIN or asker.user_id in (handover.from_user, handover.to_user, stored.created_by):
            return True
        return account is not None and account.key in handover.account_keys

    # --- roles and who ------------------------------------------------------------------------

    async def roles(self, _inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        assert account is not None and channel is not None
        if audience_for(channel.audience, asker.role) is Audience.CLIENT:
            raise UserError(sentence("roles.client_channel", who=CommandRef(("who",))))
        now = self.clock()
        roles = await asyncio.to_thread(self.book.all_now, account, now)
        return Reply(render_roles(account, today_at(account, now), roles))

    async def who(self, _inv: Invocation, _asker: Asker, account: Account | None, _c: Channel | None) -> Reply:
        assert account is not None
        roles = await asyncio.to_thread(self.book.all_now, account)
        names = {u: await self.people.display_name(u) for r in roles.values() for h in r.holders for u in [h.user_id]}
        # The client reads names only; a user group (S…) has no person's name: "the agency team".
        return Reply(render_who(account.language, roles, lambda u: None if u.startswith("S") else names.get(u)))


def register_handover_commands(commands: CommandService, service: HandoverService) -> None:
    """Add `/pulse handover [list|cancel]`, `/pulse roles` and `who` to the command table."""
    create, listing, cancel, roles, who = HANDOVER_COMMANDS
    commands.add(create, service.handover)
    commands.add(listing, service.list)
    commands.add(cancel, service.cancel)
    commands.add(roles, service.roles)
    commands.add(who, service.who)
