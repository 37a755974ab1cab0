"""Who holds an account's role on a given day, with handovers (cover) applied. Pure: values in, values out.

The accounts file names each role's people and an optional standing deputy (`Account.roles.of(name)`,
see `bot.domain.accounts.Roles`). A `Handover` says one person is away for whole days (in the account's
timezone) and who covers for them, in which accounts. This module puts the two together; every place
that mentions a role holder asks it, so cover applies everywhere at once.

    from bot.domain.roles import holders, today_at

    today = today_at(account, now)                         # the date in the account's timezone
    budget = holders(account, "budget", today, handovers)  # -> RoleToday
    budget.user_ids        # ('U0BEN',): who to mention / ask today, deduplicated, in the file's order
    budget.holders[0]      # Holder(user_id='U0BEN', covering=(Cover(for_user='U0ANA', until=2027-01-06, …),))
    budget.deputy          # Holder | None: the role's standing deputy, resolved the same way (escalation)
    budget.problems        # (RoleProblem(kind='cycle' | 'nobody', …), …): report to the internal channel

- A role's person who is away is replaced by their cover; if the cover is away too, by the cover's
  cover, and so on (A→B while B is away → C). `Cover.until` is the last day the chain as a whole
  lasts (the earliest end along it), `Cover.chain` the people it passed through (A, B, C).
- A chain that comes back to someone already in it is a **cycle**: nobody in it is present. That
  person counts as not resolved; the role falls back to its standing deputy (resolved the same way)
  and the problem is reported. A role none of whose people and no deputy resolves has the problem
  **nobody**. `check_handover` tells before a handover is saved whether it would cause either.
- `roles_held(account, user, on, handovers)` gives the roles a person holds on a day, in their own
  right or as cover (the portfolio's "accounts where I hold a role"); `away(…)` whether someone is away.
- User groups (S…) hold roles but are never away.

`handovers` is every handover that is not cancelled (the store's `active` list, or any iterable); this
module filters by account and day itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.domain.accounts import ROLE_NAMES, Account


@dataclass(frozen=True)
class Handover:
    """One person away for whole days `start`..`end` (inclusive, in each account's timezone), covered
    by `to_user` in the accounts `account_keys`."""

    id: str
    from_user: str
    to_user: str
    start: dt.date
    end: dt.date
    account_keys: frozenset[str]
    note: str = ""

    def applies(self, account_key: str, on: dt.date) -> bool:
        return account_key in self.account_keys and self.start <= on <= self.end


@dataclass(frozen=True)
class Cover:
    """Why a holder holds a role today: covering for `for_user` through `until` (inclusive)."""

    for_user: str
    until: dt.date
    handover_id: str  # the first handover of the chain (the one `for_user` made)
    chain: tuple[str, ...]  # for_user, …, the holder: everyone the role passed through


@dataclass(frozen=True)
class Holder:
    """Someone who does a role's job today; `covering` empty means in their own right."""

    user_id: str
    covering: tuple[Cover, ...] = ()


@dataclass(frozen=True)
class RoleProblem:
    """`cycle`: the people in `people` all cover for each other and are all away;
    `nobody`: none of the role's people nor its deputy is present."""

    kind: Literal["cycle", "nobody"]
    role: str
    people: tuple[str, ...]


@dataclass(frozen=True)
class RoleToday:
    """A role of one account on one day."""

    account_key: str
    role: str
    on: dt.date
    holders: tuple[Holder, ...] = ()
    deputy: Holder | None = None
    problems: tuple[RoleProblem, ...] = field(default=())

    @property
    def user_ids(self) -> tuple[str, ...]:
        """Who holds the role today, each once (falls back to the deputy when nobody else resolves)."""
        return tuple(h.user_id for h in self.holders)

    @property
    def covered(self) -> bool:
        """Whether anyone holds the role as cover today."""
        return any(h.covering for h in self.holders)


def today_at(account: Account, now: dt.datetime) -> dt.date:
    """The date it is in the account's timezone at the aware instant `now`."""
    return now.astimezone(account.tz).date()


def away(account_key: str, user_id: str, on: dt.date, handovers: Iterable[Handover]) -> Handover | None:
    """The handover that has `user_id` away in this account on `on`, if any (the earliest made, if several)."""
    found = [h for h in handovers if h.from_user == user_id and h.applies(account_key, on)]
    return min(found, key=lambda h: (h.start, h.id)) if found else None


def _follow(
    account_key: str, user_id: str, on: dt.date, handovers: Sequence[Handover]
) -> Holder | tuple[str, ...]:
    """Who does `user_id`'s job on `on`: a Holder, or the people of the cycle the chain ran into."""
    chain = [user_id]
    first: Handover | None = None
    until: dt.date | None = None
    while (handover := away(account_key, chain[-1], on, handovers)) is not None:
        first = first or handover
        until = handover.end if until is None else min(until, handover.end)
        if handover.to_user in chain:
            return tuple(chain[chain.index(handover.to_user):])
        chain.append(handover.to_user)
    if first is None or until is None:
        return Holder(user_id)
    return Holder(chain[-1], (Cover(for_user=user_id, until=until, handover_id=first.id, chain=tuple(chain)),))


def follow(account_key: str, user_id: str, on: dt.date, handovers: Iterable[Handover]) -> Holder | tuple[str, ...]:
    """Who does `user_id`'s job in the account on `on`, chains followed: a Holder (covering empty
    when they are there themselves), or the people of the cycle the chain ran into."""
    active = [h for h in handovers if h.applies(account_key, on)]
    return _follow(account_key, user_id, on, active)


def holders(account: Account, role: str, on: dt.date, handovers: Iterable[Handover]) -> RoleToday:
    """Who holds `role` (one of ROLE_NAMES) in `account` on the day `on` (in the account's timezone)."""
    if role not in ROLE_NAMES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLE_NAMES)}")
    spec = account.roles.of(role)
    if spec is None:
        return RoleToday(account.key, role, on)
    active = [h for h in handovers if account.key in h.account_keys and h.start <= on <= h.end]
    problems: list[RoleProblem] = []
    merged: dict[str, list[Cover]] = {}
    for person in spec.people:
        found = _follow(account.key, person, on, active)
        if isinstance(found, Holder):
            merged.setdefault(found.user_id, []).extend(found.covering)
        elif not any(p.kind == "cycle" and set(p.people) == set(found) for p in problems):
            problems.append(RoleProblem("cycle", role, found))
    deputy = None
    if spec.deputy is not None:
        found = _follow(account.key, spec.deputy, on, active)
        if isinstance(found, Holder):
            deputy = found
        elif not any(p.kind == "cycle" and set(p.people) == set(found) for p in problems):
            problems.append(RoleProblem("cycle", role, found))
    result = tuple(Holder(user, tuple(covers)) for user, covers in merged.items())
    if not result:
        if deputy is not None:
            result = (deputy,)
        else:
            problems.append(RoleProblem("nobody", role, spec.people))
    return RoleToday(account.key, role, on, result, deputy, tuple(problems))


def all_roles(account: Account, on: dt.date, handovers: Iterable[Handover]) -> dict[str, RoleToday]:
    """Every role the account names, resolved for `on`, in ROLE_NAMES order."""
    listed = list(handovers)
    return {name: holders(account, name, on, listed) for name in account.roles.given()}


def roles_held(account: Account, user_id: str, on: dt.date, handovers: Iterable[Handover]) -> list[RoleToday]:
    """The roles `user_id` holds in `account` on `on`, in their own right or as cover."""
    return [today for today in all_roles(account, on, handovers).values() if user_id in today.user_ids]


def roles_named(account: Account, user_id: str) -> list[str]:
    """The roles the accounts file gives `user_id` in `account` (as one of the people, not as deputy)."""
    return [name for name, role in account.roles.given().items() if user_id in role.people]


def day_after(day: dt.date) -> dt.date:
    """The next day; the last day Python knows has none (a handover stored up to it simply never
    ends), so it is its own "day after" instead of an OverflowError."""
    return day if day == dt.date.max else day + dt.timedelta(days=1)


def check_handover(
    accounts: Iterable[Account], new: Handover, existing: Iterable[Handover]
) -> list[tuple[str, dt.date, RoleProblem]]:
    """What saving `new` next to `existing` would break: (account key, first day, problem) for each
    role of `new`'s accounts that would run into a cycle or have nobody on some day of its period
    (and did not already have that problem without it). Empty: safe to save."""
    before = [h for h in existing if h.id != new.id]
    after = [*before, new]
    # Who holds what only changes where a handover starts or the day after one ends.
    days = {new.start} | {
        d for h in before for d in (h.start, day_after(h.end)) if new.start <= d <= new.end
    }
    found: list[tuple[str, dt.date, RoleProblem]] = []
    for account in accounts:
        if account.key not in new.account_keys:
            continue
        seen: set[tuple[str, str, frozenset[str]]] = set()
        for day in sorted(days):
            old = {(p.role, p.kind, frozenset(p.people)) for r in all_roles(account, day, before).values() for p in r.problems}
            for today in all_roles(account, day, after).values():
                for problem in today.problems:
                    mark = (problem.role, problem.kind, frozenset(problem.people))
                    if mark not in old and mark not in seen:
                        seen.add(mark)
                        found.append((account.key, day, problem))
    return found
