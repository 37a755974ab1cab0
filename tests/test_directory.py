"""Roles from Slack user records, through the real slack_sdk client and the fake Slack server."""

import pytest

from bot.domain.access import Role
from bot.services.directory import Directory
from integrations.slack import make_web_client
from sandbox.slack_server import FakeSlack

HOME = "T0AGENCY1"


@pytest.fixture
def fake():
    with FakeSlack(team_id=HOME) as slack:
        slack.add_user("U0MEMBER01")
        slack.add_user("U0ADMIN001")
        slack.add_user("U0GRPADM01")
        slack.add_user("U0GUEST001", is_restricted=True)
        slack.add_user("U0SGUEST01", is_ultra_restricted=True)
        slack.add_user("U0STRANGER", team_id="T0CLIENT1")
        slack.usergroups["S0ADMINS1"] = ["U0GRPADM01", "U0GUEST001"]
        yield slack


@pytest.mark.parametrize(
    ("user", "actor_team", "expected"),
    [
        ("U0MEMBER01", HOME, Role.MEMBER),
        ("U0ADMIN001", HOME, Role.ADMIN),
        ("U0GRPADM01", HOME, Role.ADMIN),
        ("U0GUEST001", HOME, Role.EXTERNAL),  # a guest in the admin group is still a guest
        ("U0SGUEST01", HOME, Role.EXTERNAL),
        ("U0STRANGER", None, Role.EXTERNAL),  # Bolt could not name the team; users.info can
        ("U0STRANGER", HOME, Role.EXTERNAL),
        ("U0NOBODY01", HOME, Role.EXTERNAL),  # users.info fails: least privilege
        ("U0ADMIN001", "T0CLIENT1", Role.EXTERNAL),
    ],
)
async def test_role(fake, user, actor_team, expected):
    directory = Directory(make_web_client(fake.token, fake.api_url), ["U0ADMIN001"], "S0ADMINS1")
    assert await directory.role(user, actor_team, HOME) is expected


async def test_lookups_are_cached(fake):
    directory = Directory(make_web_client(fake.token, fake.api_url), [], "S0ADMINS1")
    for _ in range(3):
        assert await directory.role("U0MEMBER01", HOME, HOME) is Role.MEMBER
    assert len(fake.calls_to("users.info")) == 1
    assert len(fake.calls_to("usergroups.users.list")) == 1


async def test_other_team_needs_no_lookup(fake):
    directory = Directory(make_web_client(fake.token, fake.api_url), [], None)
    assert await directory.role("U0MEMBER01", "T0CLIENT1", HOME) is Role.EXTERNAL
    assert fake.calls == []


# --- users.info shapes (review finding: "unknown Slack team counts as agency staff") ------------
# A full member's record as Slack's users.info documents it; every variant below is derived from it.
MEMBER_RECORD = {"id": "U0ODD00001", "team_id": HOME, "name": "ann", "deleted": False, "is_bot": False,
                 "is_restricted": False, "is_ultra_restricted": False, "profile": {"real_name": "Ann"}}
GRID = {"id": "W0GRID0001", "enterprise_id": "E0CLIENT1", "enterprise_name": "Client Org",
        "is_admin": False, "is_owner": False, "teams": ["T0CLIENT1", "T0CLIENT2"]}


def _without(key):
    return {k: v for k, v in MEMBER_RECORD.items() if k != key}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"ok": True, "user": MEMBER_RECORD}, Role.MEMBER),  # the control: a full member of ours
        ({"ok": True}, Role.EXTERNAL),  # no user at all
        ({"ok": True, "user": None}, Role.EXTERNAL),
        ({"ok": True, "user": "U0ODD00001"}, Role.EXTERNAL),
        ({"ok": True, "user": _without("team_id")}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "team_id": None}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "team_id": ""}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "team_id": [HOME]}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "team_id": "T0CLIENT1"}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "is_restricted": True}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "is_ultra_restricted": True}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "is_restricted": "false"}}, Role.EXTERNAL),  # not a boolean
        ({"ok": True, "user": _without("is_restricted")}, Role.EXTERNAL),  # guest flags unknown
        ({"ok": True, "user": _without("is_ultra_restricted")}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "deleted": True}}, Role.EXTERNAL),
        ({"ok": True, "user": {**MEMBER_RECORD, "is_stranger": True}}, Role.EXTERNAL),
        # Enterprise Grid: another organization's member, whatever team the record names first.
        ({"ok": True, "user": {**MEMBER_RECORD, "team_id": "T0CLIENT1", "enterprise_user": GRID}}, Role.EXTERNAL),
        ({"ok": True, "user": {**_without("team_id"), "enterprise_user": {**GRID, "teams": [HOME]}}}, Role.EXTERNAL),
        ({"ok": False, "error": "user_not_found"}, Role.EXTERNAL),
    ],
)
@pytest.mark.parametrize("actor_team", [None, HOME])
async def test_every_users_info_shape_but_a_plain_member_of_ours_is_external(fake, answer, expected, actor_team):
    fake.users_info_answers["U0ODD00001"] = answer
    directory = Directory(make_web_client(fake.token, fake.api_url), ["U0ODD00001"], None)
    # In the admin list: an unknown team must not make the user an admin either.
    assert await directory.role("U0ODD00001", actor_team, HOME) is (Role.ADMIN if expected is Role.MEMBER else expected)


async def test_without_our_own_team_nobody_is_staff(fake):
    directory = Directory(make_web_client(fake.token, fake.api_url), ["U0ADMIN001"], None)
    assert await directory.role("U0ADMIN001", HOME, None) is Role.EXTERNAL
    assert await directory.role("U0MEMBER01", None, None) is Role.EXTERNAL
