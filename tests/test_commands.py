import pytest

from bot.domain.access import Role, role_of
from bot.domain.commands import COMMANDS, CommandSpec, UsageError, available, parse
from bot.errors import PermissionDenied
from bot.render.help import render_help

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
        (None, set(), False, Role.MEMBER),
    ],
)
def test_role_of(actor_team, admins, guest, expected):
    assert role_of(user_id="U1", actor_team_id=actor_team, home_team_id="T0HOME", admins=admins, is_guest=guest) is expected


def test_parse_paths_public_and_args():
    inv = parse("subscribe add status_changed priority=High", Role.ADMIN, TABLE)
    assert (inv.spec.name, inv.args, inv.public) == ("subscribe add", ["status_changed", "priority=High"], False)
    inv = parse("Digest public", Role.MEMBER, TABLE)
    assert (inv.spec.name, inv.public) == ("digest", True)
    assert parse("", Role.EXTERNAL, TABLE).spec.name == "help"


def test_parse_errors_are_hints():
    with pytest.raises(UsageError, match=r"I don't know `digset`. Did you mean `/pulse digest`\?"):
        parse("digset", Role.MEMBER, TABLE)
    with pytest.raises(PermissionDenied, match="for agency admins only"):
        parse("subscribe add x", Role.MEMBER, TABLE)
    with pytest.raises(PermissionDenied, match="for agency members only"):
        parse("digest", Role.EXTERNAL, TABLE)
    with pytest.raises(UsageError) as group:
        parse("subscribe", Role.ADMIN, TABLE)
    assert str(group.value) == (
        "`/pulse subscribe` needs one of:\n"
        "• `/pulse subscribe list` — List subscriptions\n"
        "• `/pulse subscribe add <events> [filters]` — Add one"
    )
    with pytest.raises(UsageError, match="needs one of:\n• `/pulse subscribe list`"):
        parse("subscribe lst", Role.MEMBER, TABLE)
    with pytest.raises(UsageError, match="quote is not closed"):
        parse('subscribe add "x', Role.ADMIN, TABLE)


def test_help_lists_only_what_the_role_may_run():
    text, blocks = render_help(available(Role.EXTERNAL, TABLE), mention_name="Account Pulse")
    assert "`@Account Pulse help`" in text and "`@Account Pulse status`" in text
    assert "digest" not in text and "subscribe" not in text
    text, _ = render_help(available(Role.ADMIN, TABLE))
    assert "`/pulse subscribe add <events> [filters]` — Add one" in text
    assert "`/pulse digest [public]`" in text
    assert len(blocks) == 2
