import re

import pytest

from bot.domain.access import Role, role_of
from bot.domain.commands import COMMANDS, CommandSpec, UsageError, available, parse
from bot.errors import PermissionDenied
from bot.render.help import render_help
from bot.render.words import Voice

TABLE = COMMANDS + (
    CommandSpec(("digest",), "Post the digest", needs_account=True, can_be_public=True),
    CommandSpec(("subscribe", "list"), "List subscriptions", min_role=Role.MEMBER),
    CommandSpec(("subscribe", "add"), "Add one", args="<events> [filters]", min_role=Role.ADMIN),
)


@pytest.mark.parametrize(
    ("actor_team", "admins", "guest", "expected"),
    [
        ("T0HOME", {"U1"}, False, Role.ADMIN),
        ("T0HOME", set(), False, Role.MEMBER),
        ("T0CLIENT", {"U1"}, False, Role.EXTERNAL),  # a client's admin is not ours
        ("T0HOME", {"U1"}, True, Role.EXTERNAL),
        # Deliberate change (review finding "unknown Slack team counts as agency staff"): a team
        # nobody can name is not known to be ours.
        (None, set(), False, Role.EXTERNAL),
        (None, {"U1"}, False, Role.EXTERNAL),
        ("", set(), False, Role.EXTERNAL),
    ],
)
def test_role_of(actor_team, admins, guest, expected):
    assert role_of(user_id="U1", actor_team_id=actor_team, home_team_id="T0HOME", admins=admins, is_guest=guest) is expected


def test_role_of_needs_our_own_team_to_be_known():
    assert role_of(user_id="U1", actor_team_id="T0HOME", home_team_id=None, admins={"U1"}) is Role.EXTERNAL
    assert role_of(user_id="U1", actor_team_id="T0HOME", home_team_id="T0HOME", admins={"U1"}) is Role.ADMIN


def test_parse_paths_public_and_args():
    inv = parse("subscribe add status_changed priority=High", Role.ADMIN, TABLE)
    assert (inv.spec.name, inv.args, inv.public) == ("subscribe add", ["status_changed", "priority=High"], False)
    inv = parse("Digest public", Role.MEMBER, TABLE)
    assert (inv.spec.name, inv.public) == ("digest", True)
    assert parse("", Role.EXTERNAL, TABLE).spec.name == "help"


def _said(error_type, text, role):
    """The error `parse` raises, as an English-speaking slash-command user reads it."""
    with pytest.raises(error_type) as info:
        parse(text, role, TABLE)
    return Voice().say(info.value.text)


def test_parse_errors_are_hints():
    assert re.search(r"I don't know `digset`. Did you mean `/pulse digest`\?", _said(UsageError, "digset", Role.MEMBER))
    assert "for agency admins only" in _said(PermissionDenied, "subscribe add x", Role.MEMBER)
    assert "for agency members only" in _said(PermissionDenied, "digest", Role.EXTERNAL)
    assert _said(UsageError, "subscribe", Role.ADMIN) == (
        "`/pulse subscribe` needs one of:\n"
        "• `/pulse subscribe list` — List subscriptions\n"
        "• `/pulse subscribe add <events> [filters]` — Add one"
    )
    assert re.search("needs one of:\n• `/pulse subscribe list`", _said(UsageError, "subscribe lst", Role.MEMBER))
    assert "quote is not closed" in _said(UsageError, 'subscribe add "x', Role.ADMIN)


def test_help_lists_only_what_the_role_may_run():
    text, blocks = render_help(available(Role.EXTERNAL, TABLE), mention_name="Account Pulse")
    assert "`@Account Pulse help`" in text and "`@Account Pulse status`" in text
    assert "digest" not in text and "subscribe" not in text
    text, _ = render_help(available(Role.ADMIN, TABLE))
    assert "`/pulse subscribe add <events> [filters]` — Add one" in text
    assert "`/pulse digest [public]`" in text
    assert len(blocks) == 2
