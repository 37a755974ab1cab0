from pathlib import Path

import pytest

from bot.accounts_file import load_accounts, parse_accounts
from bot.domain.accounts import Audience
from bot.errors import ConfigError

EXAMPLE = Path(__file__).parents[1] / "config" / "accounts.example.yaml"


def test_example_file_is_valid():
    config = load_accounts(EXAMPLE)
    assert [a.key for a in config.accounts] == ["acme-shop", "northwind", "globex"]
    account, channel = config.by_channel("C0NWCLIENT")
    assert (account.key, channel.audience) == ("northwind", Audience.CLIENT)
    assert config.by_project("ACME").key == "acme-shop"
    assert account.jira.scope_jql() == "project in (NW)"
    assert str(account.budget.hours) == "600"


def test_every_problem_names_line_and_field():
    text = """accounts:
  - key: Bad Key
    name: X
    timezone: Mars/Olympus
    channels:
      - id: "#general"
        audience: clients
    jira:
      projects: [acme]
    budget:
      period: project
      hours: 10
      colour: red
"""
    with pytest.raises(ConfigError) as info:
        parse_accounts(text, "accounts.yaml")
    message = str(info.value)
    assert message.startswith("accounts.yaml: 6 problem(s)")
    assert "line 2: accounts[0].key: must be lower case letters" in message
    assert "line 4: accounts[0].timezone: 'Mars/Olympus' is not an IANA timezone" in message
    assert "line 6: accounts[0].channels[0].id: must be a Slack channel id" in message
    assert "line 7: accounts[0].channels[0].audience: Input should be 'client' or 'internal'" in message
    assert "line 9: accounts[0].jira.projects: 'acme' is not a Jira project key" in message
    assert "line 13: accounts[0].budget.colour: Extra inputs are not permitted" in message


def test_cross_field_rules_point_at_their_section():
    text = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels: [{id: C0AAAAAA1, audience: internal}]
    jira: {projects: [A]}
    budget:
      period: project
      hours: 10
"""
    with pytest.raises(ConfigError) as info:
        parse_accounts(text, "accounts.yaml")
    assert str(info.value) == (
        "accounts.yaml: 1 problem(s)\n"
        "  - line 8: accounts[0].budget: a project budget needs 'start' and 'end' dates"
    )


def test_channel_linked_to_two_accounts_is_refused():
    text = """accounts:
  - {key: a, name: A, timezone: UTC, channels: [{id: C0SHARED1, audience: client}], jira: {projects: [A]}}
  - {key: b, name: B, timezone: UTC, channels: [{id: C0SHARED1, audience: client}], jira: {projects: [B]}}
"""
    with pytest.raises(ConfigError, match="channel C0SHARED1 is linked to both 'a' and 'b'"):
        parse_accounts(text, "x.yaml")


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)x.yaml: 1 problem.*line 3: not valid YAML"):
        parse_accounts("accounts:\n  - key: [unclosed\n", "x.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_accounts("- 1\n", "x.yaml")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_accounts(tmp_path / "nope.yaml")


def test_a_project_or_space_shared_by_two_accounts_is_refused():
    projects = """accounts:
  - {key: a, name: A, timezone: UTC, channels: [{id: C0AAAAAA1, audience: client}], jira: {projects: [TES], jql: "component = A"}}
  - {key: b, name: B, timezone: UTC, channels: [{id: C0BBBBBB1, audience: client}], jira: {projects: [TES], jql: "component = B"}}
"""
    with pytest.raises(ConfigError, match="Jira project TES belongs to both 'a' and 'b'"):
        parse_accounts(projects, "x.yaml")
    spaces = """accounts:
  - {key: a, name: A, timezone: UTC, channels: [{id: C0AAAAAA1, audience: client}], jira: {projects: [A]}, confluence: {space: DOC}}
  - {key: b, name: B, timezone: UTC, channels: [{id: C0BBBBBB1, audience: client}], jira: {projects: [B]}, confluence: {space: DOC}}
"""
    with pytest.raises(ConfigError, match="Confluence space DOC belongs to both 'a' and 'b'"):
        parse_accounts(spaces, "x.yaml")


def test_jql_with_its_own_order_by_is_refused():
    text = """accounts:
  - {key: a, name: A, timezone: UTC, channels: [{id: C0AAAAAA1, audience: client}], jira: {jql: "labels = a ORDER BY created"}}
"""
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.jira\.jql: leave out ORDER BY"):
        parse_accounts(text, "x.yaml")


def test_the_sandbox_agency_is_the_example_file():
    from bot.sandbox import sandbox_accounts

    assert sandbox_accounts() == load_accounts(EXAMPLE)
    assert [a.holidays for a in sandbox_accounts().accounts] == ["DE-BE", "US", "GB-ENG"]
