"""bot.domain.roles: who holds a role on a day, with handovers, chains, cycles and the standing deputy."""

import datetime as dt

import pytest

from bot.domain.accounts import Account
from bot.domain.roles import (
    Cover,
    Handover,
    Holder,
    RoleProblem,
    all_roles,
    away,
    check_handover,
    holders,
    roles_held,
    roles_named,
    today_at,
)

D = dt.date


def _account(key="acme", roles=None, timezone="Europe/Berlin") -> Account:
    return Account.model_validate({
        "key": key, "name": key.title(), "timezone": timezone,
        "channels": [{"id": "C0INTERNAL", "audience": "internal"}], "jira": {"projects": ["ACME"]},
        "roles": roles if roles is not None else {
            "budget": "U0ANA0001", "backlog": ["U0ANA0001", "U0BEN0001"],
            "support": {"people": ["U0CEM0001"], "deputy": "U0DAN0001"},
        },
    })


def _h(hid, src, dst, start, end, keys=("acme",)) -> Handover:
    return Handover(hid, src, dst, start, end, frozenset(keys))


def test_without_handovers_the_people_of_the_file_hold_their_roles_and_the_deputy_stands_by():
    today = holders(_account(), "support", D(2026, 12, 22), [])
    assert today.user_ids == ("U0CEM0001",)
    assert today.holders == (Holder("U0CEM0001"),)
    assert today.deputy == Holder("U0DAN0001")
    assert (today.problems, today.covered) == ((), False)
    assert holders(_account(), "billing", D(2026, 12, 22), []).user_ids == ()  # nobody named: nothing to do


def test_a_handover_passes_the_role_for_whole_days_of_its_period_only_in_its_accounts():
    account = _account()
    handover = _h("h1", "U0ANA0001", "U0EVA0001", D(2026, 12, 21), D(2027, 1, 6))
    cover = Cover("U0ANA0001", D(2027, 1, 6), "h1", ("U0ANA0001", "U0EVA0001"))
    assert holders(account, "budget", D(2026, 12, 20), [handover]).user_ids == ("U0ANA0001",)
    for day in (D(2026, 12, 21), D(2027, 1, 6)):
        assert holders(account, "budget", day, [handover]).holders == (Holder("U0EVA0001", (cover,)),)
    assert holders(account, "budget", D(2027, 1, 7), [handover]).user_ids == ("U0ANA0001",)
    other = _account(key="globex")
    assert holders(other, "budget", D(2026, 12, 22), [handover]).user_ids == ("U0ANA0001",)
    assert away("acme", "U0ANA0001", D(2026, 12, 22), [handover]) == handover
    assert away("globex", "U0ANA0001", D(2026, 12, 22), [handover]) is None


def test_several_people_keep_their_order_and_a_cover_who_already_holds_the_role_appears_once():
    handover = _h("h1", "U0ANA0001", "U0BEN0001", D(2026, 12, 21), D(2027, 1, 6))
    today = holders(_account(), "backlog", D(2026, 12, 28), [handover])
    assert today.user_ids == ("U0BEN0001",)
    (holder,) = today.holders
    assert [c.for_user for c in holder.covering] == ["U0ANA0001"]


def test_a_chain_passes_on_while_the_cover_is_away_and_lasts_until_the_earliest_end():
    a_to_b = _h("h1", "U0ANA0001", "U0BEN0001", D(2026, 12, 21), D(2027, 1, 6))
    b_to_c = _h("h2", "U0BEN0001", "U0CEM0001", D(2026, 12, 28), D(2027, 1, 3))
    account = _account(roles={"budget": "U0ANA0001"})
    assert holders(account, "budget", D(2026, 12, 27), [a_to_b, b_to_c]).user_ids == ("U0BEN0001",)
    (holder,) = holders(account, "budget", D(2026, 12, 30), [a_to_b, b_to_c]).holders
    assert holder == Holder("U0CEM0001", (Cover("U0ANA0001", D(2027, 1, 3), "h1", ("U0ANA0001", "U0BEN0001", "U0CEM0001")),))
    assert holders(account, "budget", D(2027, 1, 4), [a_to_b, b_to_c]).user_ids == ("U0BEN0001",)


def test_a_cycle_falls_back_to_the_deputy_and_is_reported():
    account = _account(roles={"support": {"people": ["U0ANA0001"], "deputy": "U0DAN0001"}, "budget": "U0ANA0001"})
    cycle = [_h("h1", "U0ANA0001", "U0BEN0001", D(2026, 12, 21), D(2026, 12, 31)),
             _h("h2", "U0BEN0001", "U0ANA0001", D(2026, 12, 24), D(2026, 12, 26))]
    support = holders(account, "support", D(2026, 12, 25), cycle)
    assert support.user_ids == ("U0DAN0001",)
    assert support.problems == (RoleProblem("cycle", "support", ("U0ANA0001", "U0BEN0001")),)
    budget = holders(account, "budget", D(2026, 12, 25), cycle)  # no deputy: nobody holds it
    assert budget.user_ids == ()
    assert [p.kind for p in budget.problems] == ["cycle", "nobody"]
    assert holders(account, "support", D(2026, 12, 27), cycle).problems == ()


def test_check_handover_refuses_what_would_make_a_cycle_on_any_day_and_accepts_the_rest():
    accounts = [_account(roles={"budget": "U0ANA0001"})]
    existing = [_h("h1", "U0ANA0001", "U0BEN0001", D(2026, 12, 21), D(2027, 1, 6))]
    # B away later, covered by A, while A is still away: a cycle from the 2nd of January.
    back = _h("h2", "U0BEN0001", "U0ANA0001", D(2027, 1, 2), D(2027, 1, 10))
    ((key, day, problem), *rest) = check_handover(accounts, back, existing)
    assert (key, day, problem.kind, set(problem.people)) == ("acme", D(2027, 1, 2), "cycle", {"U0ANA0001", "U0BEN0001"})
    assert [p.kind for _, _, p in rest] == ["nobody"]
    # The same after A is back, or covered by a third person: fine.
    assert check_handover(accounts, _h("h2", "U0BEN0001", "U0ANA0001", D(2027, 1, 7), D(2027, 1, 10)), existing) == []
    assert check_handover(accounts, _h("h2", "U0BEN0001", "U0CEM0001", D(2027, 1, 2), D(2027, 1, 10)), existing) == []
    # Only the new handover's accounts are checked.
    assert check_handover(accounts, _h("h2", "U0BEN0001", "U0ANA0001", D(2027, 1, 2), D(2027, 1, 10), ("other",)), existing) == []


def test_roles_held_and_named_answer_for_one_person():
    account = _account()
    handover = _h("h1", "U0CEM0001", "U0ANA0001", D(2026, 12, 21), D(2027, 1, 6))
    assert roles_named(account, "U0ANA0001") == ["budget", "backlog"]
    assert [r.role for r in roles_held(account, "U0ANA0001", D(2026, 12, 22), [handover])] == ["budget", "backlog", "support"]
    assert roles_held(account, "U0CEM0001", D(2026, 12, 22), [handover]) == []
    assert list(all_roles(account, D(2026, 12, 22), [handover])) == ["budget", "backlog", "support"]


def test_today_is_the_date_in_the_accounts_timezone():
    late = dt.datetime(2026, 12, 20, 23, 30, tzinfo=dt.timezone.utc)
    assert today_at(_account(timezone="Europe/Berlin"), late) == D(2026, 12, 21)
    assert today_at(_account(timezone="America/New_York"), late) == D(2026, 12, 20)


def test_an_unknown_role_name_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown role 'budjet'"):
        holders(_account(), "budjet", D(2026, 12, 22), [])
