"""Support configuration per account: defaults, problems with file/line/field, shared support projects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.accounts_file import load_accounts, parse_accounts
from bot.domain.accounts import Urgency
from bot.errors import ConfigError

EXAMPLE = Path(__file__).parents[1] / "config" / "accounts.example.yaml"


def _account(key: str, support: str, *, projects: str = "[X]", channel: str = "C0AAAAAA1") -> str:
    return f"""  - key: {key}
    name: {key}
    timezone: Europe/Berlin
    channels: [{{id: {channel}, audience: client}}]
    jira: {{projects: {projects}}}
{support}"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_accounts(text, "accounts.yaml")
    return info.value.problems


def test_defaults_need_only_the_project():
    config = parse_accounts("accounts:\n" + _account("a", "    support: {project: SUP}\n"), "accounts.yaml")
    support = config.accounts[0].support
    assert support is not None
    assert (support.issue_type, support.priority.emergency, support.priority.task) == ("Task", "Highest", "Medium")
    assert (support.label, support.escalate_at_percent, support.mirror_replies) == ("pulse-support", 75, False)
    assert support.hours.weekday_numbers() == frozenset(range(5))
    assert (support.hours.start, support.hours.end, support.hours.timezone) == (dt.time(9), dt.time(17), None)
    assert support.first_response.minutes(Urgency.EMERGENCY) == 60
    assert support.first_response.minutes(Urgency.TASK) == 480
    assert support.waiting_statuses is None  # the account's jira.waiting_statuses


def test_an_account_without_support_config_has_none():
    config = parse_accounts("accounts:\n" + _account("a", ""), "accounts.yaml")
    assert config.accounts[0].support is None


def test_durations_and_unquoted_clock_times_are_read():
    support = """    support:
      project: SUP
      hours: {start: 8:30, end: "18:00", weekdays: [Monday, tue, sat], timezone: Asia/Tokyo}
      first_response: {emergency: 1h30m, task: 2d}
"""
    account = parse_accounts("accounts:\n" + _account("a", support), "accounts.yaml").accounts[0]
    assert account.support is not None
    hours = account.support.hours
    assert (hours.start, hours.end, hours.weekdays, hours.timezone) == (dt.time(8, 30), dt.time(18), ["mon", "tue", "sat"], "Asia/Tokyo")
    assert (account.support.first_response.emergency, account.support.first_response.task) == (90, 2 * 24 * 60)


def test_every_support_problem_names_line_and_field():
    support = """    support:
      project: sup
      hours: {start: "17:00", end: "09:00", weekdays: [funday]}
      first_response: {emergency: soon, task: 0}
      escalate_at_percent: 150
      label: two words
      match: {component: A, label: b}
"""
    problems = _problems("accounts:\n" + _account("a", support))
    assert problems == [
        "line 8: accounts[0].support.project: 'sup' is not a Jira project key (upper case, e.g. SUP)",
        "line 9: accounts[0].support.hours.weekdays: 'funday' is not a weekday; write mon, tue, wed, thu, fri, sat, sun",
        "line 10: accounts[0].support.first_response.emergency: 'soon' is not a duration; write e.g. 1h, 30m or 1h30m",
        "line 10: accounts[0].support.first_response.task: 0: a first-response target is between 1 minute and 90 days",
        "line 11: accounts[0].support.escalate_at_percent: Input should be less than or equal to 100",
        "line 12: accounts[0].support.label: 'two words' is not a Jira label (no spaces, at most 255 characters)",
        "line 13: accounts[0].support.match: give exactly one of 'component', 'label' or 'organization'",
    ]


def test_business_hours_must_end_after_they_start():
    support = "    support:\n      project: SUP\n      hours: {start: \"17:00\", end: \"09:00\"}\n"
    assert _problems("accounts:\n" + _account("a", support)) == [
        "line 9: accounts[0].support.hours: 'end' (09:00) must be after 'start' (17:00) on the same day",
    ]


def test_a_shared_support_project_needs_a_match_in_every_account():
    text = ("accounts:\n" + _account("a", "    support: {project: SUP, match: {component: A}}\n")
            + _account("b", "    support: {project: SUP}\n", projects="[Y]", channel="C0BBBBBB1"))
    problems = _problems(text)
    assert [p.split(": Jira project SUP belongs to both 'a' and 'b'")[0] for p in problems] == [
        "line 7: accounts[0].support.project", "line 13: accounts[1].support.project",
    ]
    assert all("support.match: component, label or organization" in p for p in problems)


def test_two_accounts_may_not_recognise_their_issues_the_same_way():
    text = ("accounts:\n" + _account("a", "    support: {project: SUP, match: {component: A}}\n")
            + _account("b", "    support: {project: SUP, match: {component: A}}\n", projects="[Y]", channel="C0BBBBBB1"))
    assert _problems(text) == [
        "line 7: accounts[0].support.match: component 'A' in support project SUP is used by both 'a' and 'b'",
        "line 13: accounts[1].support.match: component 'A' in support project SUP is used by both 'a' and 'b'",
    ]


def test_a_shared_support_project_may_not_be_in_an_accounts_jira_scope():
    # Jira scope feeds digests and routes webhooks by project: a shared project there would show one
    # client the other's issues. Shared, it is named under `support:` only.
    text = ("accounts:\n" + _account("a", "    support: {project: SUP, match: {component: A}}\n", projects="[X, SUP]")
            + _account("b", "    support: {project: SUP, match: {label: b}}\n", projects="[Y]", channel="C0BBBBBB1"))
    problems = _problems(text)
    assert problems[0].startswith("line 6: accounts[0].jira.projects[1]: Jira project SUP belongs to both 'a' and 'b'")
    text = text.replace("[X, SUP]", "[X]")
    config = parse_accounts(text, "accounts.yaml")
    assert [a.key for a in config.support_accounts("SUP")] == ["a", "b"]


def test_an_organization_may_leave_its_field_to_jiras_field_list():
    """Without `organization_field` the site's Organizations field is the one Jira's field list
    names (asked once per process); a field given must look like a custom field id."""
    support = "    support:\n      project: SUP\n      match: {organization: '3'}\n"
    [account] = parse_accounts("accounts:\n" + _account("a", support), "accounts.yaml").accounts
    assert account.support.match.organization == "3" and account.support.match.organization_field is None
    bad = "    support:\n      project: SUP\n      match: {organization: '3', organization_field: Organizations}\n"
    assert "is not a custom field id" in _problems("accounts:\n" + _account("a", bad))[0]


def test_the_example_shares_one_support_project_by_component():
    config = load_accounts(EXAMPLE)
    assert [a.key for a in config.support_accounts("SUP")] == ["acme-shop", "globex"]
    assert config.by_key("northwind").support is None


def test_the_readme_says_what_the_bot_reads_of_the_message_events_the_manifest_subscribes_to():
    """The manifest subscribes to message events for support: the README's account of what the bot
    reads in Slack must name them and say what is kept (author, time, answered; never the text)."""
    import yaml

    root = Path(__file__).parents[1]
    manifest = yaml.safe_load((root / "config" / "slack-manifest.yaml").read_text())
    events = [e for e in manifest["settings"]["event_subscriptions"]["bot_events"] if e.startswith("message.")]
    assert events == ["message.channels", "message.groups"]
    readme = (root / "README.md").read_text()
    reads = readme[readme.index("**What the bot reads in Slack"):readme.index("3. **Jira.**")]
    assert "subscribes to no message events" not in reads
    for event in events:
        assert f"`{event}`" in reads
    assert "never the text" in reads
