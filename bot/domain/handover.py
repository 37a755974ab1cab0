"""Handover rules, pure: reading `/pulse handover @from @to 2026-12-21..2027-01-06 [account …]`, which
accounts a handover covers by default, and what refuses one. Role resolution itself is `bot.domain.roles`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.accounts import Account, AccountsConfig
from bot.domain.commands import UsageError
from bot.domain.roles import Handover, check_handover, roles_named, today_at
from bot.domain.words import CommandRef, sentence
from bot.errors import UserError

# Slack writes a picked person as <@U123|name> (or <@U123>) in an escaped slash command and a mention.
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
_USER_ID = re.compile(r"[UW][A-Z0-9]{6,}")
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DOT_DAY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
# Never longer: a handover is an absence, not a reorganization (and it keeps checks finite).
MAX_DAYS = 366
# Never further ahead: nobody plans cover years out, and "9999-12-31" typed for "open-ended" must be
# refused with a reason, not saved next to the end of the calendar (where date arithmetic overflows).
MAX_DAYS_AHEAD = 730
# Handover ids are positive and fit the store's integer column (PostgreSQL's is 32 bit).
MAX_ID = 2**31 - 1

USAGE = CommandRef(("handover",), "args.handover")


@dataclass(frozen=True)
class HandoverRequest:
    """What someone asked for; `account_keys` empty: the default accounts (see `default_accounts`)."""

    from_user: str
    to_user: str
    start: dt.date
    end: dt.date
    account_keys: tuple[str, ...] = ()
    note: str = ""


def read_user(word: str) -> str | None:
    """The Slack user id in a picked mention (`<@U0ANA0001|ana>`) or a bare id; None otherwise."""
    match = _MENTION.fullmatch(word)
    if match:
        return match.group(1)
    return word if _USER_ID.fullmatch(word) else None


def read_day(text: str) -> dt.date | None:
    """`2026-12-21` or `21.12.2026`; None if it is neither or no such day."""
    for pattern, order in ((_ISO_DAY, (1, 2, 3)), (_DOT_DAY, (3, 2, 1))):
        match = pattern.fullmatch(text.strip())
        if match:
            year, month, day = (int(match.group(i)) for i in order)
            try:
                return dt.date(year, month, day)
            except ValueError:
                return None
    return None


def read_id(word: str) -> int | None:
    """A handover id as typed (`7`, `#7`): the number, or None if it is no plausible id (not ASCII
    digits, zero, or too large for the store: no handover has it)."""
    digits = word.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_ID)):
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ID else None


def read_period(text: str) -> tuple[dt.date, dt.date]:
    """`start..end` (or one day); UsageError naming the part that is not a date."""
    parts = text.split("..")
    if len(parts) > 2:
        raise UsageError(sentence("handover.bad_period", text=text, usage=USAGE))
    days = [read_day(p) for p in parts]
    for part, day in zip(parts, days, strict=True):
        if day is None:
            raise UsageError(sentence("handover.bad_day", text=part, usage=USAGE))
    start, end = days[0], days[-1]
    assert start is not None and end is not None
    return start, end


def parse_request(args: Sequence[str]) -> HandoverRequest:
    """The words after `/pulse handover`: two people, a period, then optionally `account` and keys."""
    if len(args) < 3:
        raise UsageError(sentence("handover.usage", usage=USAGE))
    people = [read_user(w) for w in args[:2]]
    for word, user in zip(args[:2], people, strict=True):
        if user is None:
            raise UsageError(sentence("handover.pick_person", word=word, usage=USAGE))
    start, end = read_period(args[2])
    rest = list(args[3:])
    if rest and rest[0].lower() in ("account", "accounts", "konto", "konten", "аккаунт", "аккаунты"):
        rest = rest[1:]
    keys = tuple(dict.fromkeys(k.strip(",").lower() for k in rest if k.strip(",")))
    assert people[0] is not None and people[1] is not None
    return HandoverRequest(people[0], people[1], start, end, keys)


def default_accounts(config: AccountsConfig, user_id: str) -> list[Account]:
    """The accounts a handover of `user_id` covers when none are named: where the accounts file gives
    them a role (as one of its people or its deputy) or maps their Jira user (they work on it)."""
    found = []
    for account in config.accounts:
        deputy = any(role.deputy == user_id for role in account.roles.given().values())
        if roles_named(account, user_id) or deputy or user_id in account.people.values():
            found.append(account)
    return found


def target_accounts(config: AccountsConfig, request: HandoverRequest) -> list[Account]:
    """The accounts the request names (UsageError for an unknown key), else the default ones."""
    if not request.account_keys:
        found = default_accounts(config, request.from_user)
        if not found:
            raise UserError(sentence("handover.no_accounts", user=f"<@{request.from_user}>", usage=USAGE))
        return found
    accounts = []
    for key in request.account_keys:
        account = config.by_key(key)
        if account is None:
            known = ", ".join(a.key for a in config.accounts)
            raise UsageError(sentence("handover.unknown_account", key=key, known=known))
        accounts.append(account)
    return accounts


def refusal(
    request: HandoverRequest, accounts: Iterable[Account], now: dt.datetime
) -> UserError | None:
    """What is wrong with the request's dates and people on their own (None: nothing).
    The period is whole days in each account's timezone: it is past once its end is over there."""
    if request.from_user == request.to_user:
        return UserError(sentence("handover.same_person"))
    if request.end < request.start:
        return UserError(sentence("handover.end_before_start", start=request.start, end=request.end))
    if (request.end - request.start).days + 1 > MAX_DAYS:
        return UserError(sentence("handover.too_long", days=MAX_DAYS))
    for account in accounts:
        today = today_at(account, now)
        if request.end < today:
            return UserError(sentence("handover.in_the_past", end=request.end, account=account.name))
        if (request.start - today).days > MAX_DAYS_AHEAD:
            return UserError(sentence("handover.too_far", days=MAX_DAYS_AHEAD,
                                      last=today + dt.timedelta(days=MAX_DAYS_AHEAD)))
    return None


def chain_refusal(
    accounts: Iterable[Account], new: Handover, existing: Iterable[Handover]
) -> UserError | None:
    """A refusal if `new` would leave a role with nobody present (a cycle of covers) on some day."""
    listed = list(accounts)
    problems = check_handover(listed, new, existing)
    if not problems:
        return None
    key, day, problem = problems[0]
    account = next(a for a in listed if a.key == key)
    people = ", ".join(f"<@{p}>" for p in problem.people)
    role = sentence(f"role.{problem.role}")
    return UserError(sentence(f"handover.{problem.kind}", role=role, account=account.name, day=day, people=people))


# --- a vacation Slack status --------------------------------------------------------------------

# What makes a Slack status look like an absence (the one list: emoji exactly, words case-insensitive
# as whole words). A status naming none of these never gets the "hand your roles over?" DM.
VACATION_EMOJI = frozenset({
    ":palm_tree:", ":desert_island:", ":airplane:", ":airplane_departure:", ":beach_with_umbrella:",
    ":luggage:", ":tropical_drink:", ":surfer:", ":skier:",
})
VACATION_WORDS = (
    "vacation", "vacations", "holiday", "holidays", "on leave", "annual leave", "out of office", "out of the office",
    "ooo", "pto", "urlaub", "ferien", "abwesend", "отпуск", "в отпуске", "отпуске",
)
_VACATION_TEXT = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in VACATION_WORDS) + r")(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class SlackStatus:
    """A person's Slack status as `user_status_changed` tells it."""

    emoji: str
    text: str
    expiration: dt.datetime | None  # None: the status does not expire

    def looks_like_vacation(self) -> bool:
        return self.emoji.lower() in VACATION_EMOJI or _VACATION_TEXT.search(self.text) is not None


def read_status(user: object) -> SlackStatus | None:
    """The status in a `user_status_changed` event's `user` (None when it is unreadable)."""
    if not isinstance(user, dict) or not isinstance(user.get("profile"), dict):
        return None
    profile = user["profile"]
    emoji, text, expires = profile.get("status_emoji"), profile.get("status_text"), profile.get("status_expiration")
    if not isinstance(emoji, str) or not isinstance(text, str):
        return None
    expiration = None
    if isinstance(expires, int | float) and not isinstance(expires, bool) and 0 < expires < 253402300799:
        expiration = dt.datetime.fromtimestamp(expires, tz=dt.timezone.utc)
    return SlackStatus(emoji.strip(), text.strip(), expiration)


def away_days(account: Account, now: dt.datetime, until: dt.datetime) -> tuple[dt.date, dt.date]:
    """The whole days of an absence from now until a status expires, in the account's timezone: a
    status that ends at midnight ends the day before (back that morning)."""
    start = today_at(account, now)
    local = until.astimezone(account.tz)
    end = local.date() - dt.timedelta(days=1) if local.time() == dt.time(0, 0) else local.date()
    return start, max(start, end)
