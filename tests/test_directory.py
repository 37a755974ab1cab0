"""Roles from Slack user records, through the real slack_sdk client and the fake Slack server."""

import pytest

from bot.domain.access import Role
from bot.services.directory import Directory
from integrations.fake_slack import FakeSlack
from integrations.slack import make_web_client

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
