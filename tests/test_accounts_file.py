import datetime as dt
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
    assert "line 6: accounts[0].channels[0].id: '#general' is not a Slack channel id like C0123ABCD (not a #name)" in message
    assert "line 7: accounts[0].channels[0].audience: Input should be 'client' or 'internal'" in message
    assert "line 9: accounts[0].jira.projects: 'acme' is not a Jira project key" in message
    assert "line 13: accounts[0].budget.colour: unknown key; the keys here are period, start, end, hours" in message


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
    # Each narrows TES by its JQL: webhooks are checked against each JQL, and check-config says so.
    from bot.domain.accounts import scope_notes
    (note,) = scope_notes(parse_accounts(projects, "x.yaml"))
    assert note.startswith("Jira project TES is in the scope of a, b") and "jql" in note
    one_unnarrowed = projects.replace(', jql: "component = B"', "")
    with pytest.raises(ConfigError, match="Jira project TES belongs to both 'a' and 'b'"):
        parse_accounts(one_unnarrowed, "x.yaml")
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
    from sandbox.agency import sandbox_accounts

    assert sandbox_accounts() == load_accounts(EXAMPLE)
    assert [a.holidays for a in sandbox_accounts().accounts] == ["DE-BE", "US", "GB-ENG"]


# --- duplicate keys (issue #8): YAML would silently keep the last value ---------------------------

ONE_ACCOUNT = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels:
      - id: C0AAAAAA1
        audience: client
        audience: internal
    jira: {projects: [A]}
    budget:
      hours: 10
      show_money_to_client: false
      show_money_to_client: true
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_accounts(text, "accounts.yaml")
    assert info.value.source == "accounts.yaml"
    return info.value.problems


def test_a_key_given_twice_names_both_lines_and_the_field():
    assert _problems(ONE_ACCOUNT) == [
        "line 8: accounts[0].channels[0].audience: given twice, on line 7 and line 8; "
        "YAML would silently keep only the last one: delete one of them",
        "line 13: accounts[0].budget.show_money_to_client: given twice, on line 12 and line 13; "
        "YAML would silently keep only the last one: delete one of them",
    ]


def test_duplicate_account_and_top_level_keys_are_refused_and_quoting_does_not_hide_them():
    text = """accounts:
  - key: a
    name: A
    "key": b
    timezone: UTC
    channels: [{id: C0AAAAAA1, audience: internal}]
    jira: {projects: [A]}
accounts: []
"""
    problems = _problems(text)
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 8"]
    assert problems[0].startswith("line 4: accounts[0].key: given twice, on line 2 and line 4")
    assert problems[1].startswith("line 8: accounts: given twice, on line 1 and line 8")


def test_keys_merged_from_an_anchor_may_be_overridden():
    text = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels: [{id: C0AAAAAA1, audience: internal}]
    jira: {projects: [A]}
    budget: &budget {period: monthly, hours: 10, currency: GBP}
  - key: b
    name: B
    timezone: UTC
    channels: [{id: C0BBBBBB1, audience: internal}]
    jira: {projects: [B]}
    budget:
      <<: *budget
      hours: 20
"""
    a, b = parse_accounts(text, "x.yaml").accounts
    assert (a.budget.hours, b.budget.hours, b.budget.currency) == (10, 20, "GBP")


# --- bounds (issue #9): whatever the file holds, loading ends quickly with a clear error --------


def test_a_billion_laughs_file_is_refused_before_it_expands(tmp_path):
    # 9 aliases per level, 12 levels: 9**12 (282 billion) values if expanded. Composing stops at
    # MAX_NODES, so this returns at once; a loader that expanded it would never return.
    levels = ['a0: &a0 ["lol"]']
    for i in range(1, 13):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    text = "\n".join(levels) + "\naccounts: []\n"
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].startswith("line 6: the file expands to more than 100,000 values (YAML anchors and aliases")


def test_an_alias_inside_its_own_anchor_is_refused():
    assert _problems("accounts: &a [*a]\n") == ["line 1: alias *a is inside its own anchor &a"]


def test_deep_nesting_is_refused_with_its_line():
    text = "accounts:\n  - key: " + "[" * 5000 + "]" * 5000 + "\n"
    assert _problems(text) == ["line 2: values are nested more than 32 levels deep"]


def test_impossible_dates_huge_numbers_and_unbounded_values_name_their_line():
    base = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels: [{id: C0AAAAAA1, audience: internal, digest: {cron: "0 9 * * mon", grace_minutes: GRACE}}]
    jira: {projects: [A]}
    budget: {period: project, start: START, end: 2027-01-01, hours: HOURS}
"""

    def problems(grace="10", start="2026-01-01", hours="10"):
        return _problems(base.replace("GRACE", grace).replace("START", start).replace("HOURS", hours))

    assert problems(start="2026-02-30") == [
        "line 7: 2026-02-30 is not a date in the calendar (day is out of range for month)"
    ]
    assert problems(hours="9" * 5000) == ["line 7: a number of 5,000 digits is too long for any field"]
    assert problems(hours="1" + "0" * 40 + ".5") == ["line 7: a number of 42 digits is too long for any field"]
    assert problems(hours=".inf") == ["line 7: accounts[0].budget.hours: Input should be a finite number"]
    assert problems(hours="1e400") == [
        "line 7: accounts[0].budget.hours: Input should be less than or equal to 1000000"
    ]
    assert problems(grace="99999999999999") == [
        "line 5: accounts[0].channels[0].digest.grace_minutes: Input should be less than or equal to 10080"
    ]


def test_a_file_over_5_mb_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"accounts: []\n" + b"#" * (6 * 1024 * 1024))
    with pytest.raises(ConfigError) as info:
        load_accounts(big)
    assert info.value.problems == [
        "the file is larger than 5 MB (5,242,881 bytes or more); an accounts file takes about 1 KB "
        "per account: is this the right file?"
    ]


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("accounts:\n  - key: acme\n    name: ACME Gärten GmbH\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_accounts(latin1)
    assert info.value.problems == ["line 3: the file is not UTF-8 (byte 0xe4); save it as UTF-8 in your editor"]
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_accounts(bom) == load_accounts(EXAMPLE)


@pytest.mark.parametrize(
    "content, expected",
    [
        (ONE_ACCOUNT.encode(), "2 problem(s)\n  - line 8: accounts[0].channels[0].audience: given twice, on line 7 and line 8"),
        (b"accounts:\n  - key: \xff\n", "line 2: the file is not UTF-8 (byte 0xff)"),
        (b"accounts:\n  - key: " + b"[" * 100 + b"]" * 100 + b"\n", "line 2: values are nested more than 32 levels deep"),
        (b"accounts:\n  - start: 2026-02-30\n", "line 2: 2026-02-30 is not a date in the calendar"),
        (b"accounts:\n  - hours: " + b"7" * 5000 + b"\n", "line 2: a number of 5,000 digits is too long"),
        (b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 10)}]\n".encode() for i in range(1, 9)
        ) + b"accounts: []\n", "line 5: the file expands to more than 100,000 values"),
        (b"accounts: []\n" + b"#" * (5 * 1024 * 1024), "the file is larger than 5 MB (5,242,881 bytes or more)"),
    ],
    ids=["duplicate", "not-utf8", "deep", "date", "huge-number", "billion-laughs", "too-large"],
)
def test_check_config_reports_bad_files_without_a_traceback(tmp_path, pulse_cli, content, expected):
    path = tmp_path / "accounts.yaml"
    path.write_bytes(content)
    result = pulse_cli("check-config", str(path))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    if "problem(s)" not in expected:
        expected = f"1 problem(s)\n  - {expected}"
    assert result.output.startswith(f"{path}: {expected}")


# --- check-config catches what would break `pulse serve` (issue #10) ------------------------------

ACCOUNT = """accounts:
  - key: a
    name: A
    timezone: Europe/Berlin
    channels:
      - id: CHANNEL
        audience: client
        digest: {cron: "CRON"}
    jira: {projects: [A]}
    roles:
      budget: BUDGET
"""


def _account(cron="0 9 * * mon", channel="C0AAAAAA1", budget="U0BUDGET1"):
    return ACCOUNT.replace("CRON", cron).replace("CHANNEL", channel).replace("BUDGET", budget)


@pytest.mark.parametrize(
    "cron, problem",
    [
        ("0 9 * * mo", "'0 9 * * mo': 'mo' is not a weekday; did you mean 'mon'?"),
        ("0 9 * * thurs", "'0 9 * * thurs': 'thurs' is not a weekday; did you mean 'thu'?"),
        ("0 25 * * mon", "'0 25 * * mon': the hour field: Error validating expression '25': the last value (25) "
                         "is higher than the maximum value (23)"),
        ("0 9 * * 8", "'0 9 * * 8': write the weekday as a name (mon, tue, wed, thu, fri, sat, sun), not a number"),
        # APScheduler 3 reads weekday 1 as Tuesday, crontab as Monday: a number is refused, not guessed.
        ("0 9 * * 1", "'0 9 * * 1': write the weekday as a name"),
        ("0 9 31 2 *", "'0 9 31 2 *' never fires (no such date)"),
        ("0 9 * *", "'0 9 * *' has 4 field(s); a schedule has 5: minute hour day-of-month month weekday"),
    ],
)
def test_a_schedule_the_scheduler_cannot_read_is_refused_with_field_line_value_and_example(cron, problem):
    (message,) = _problems(_account(cron=cron))
    assert message.startswith(f"line 8: accounts[0].channels[0].digest.cron: {problem}")
    assert message.endswith("; e.g. '0 9 * * mon' (Mondays 09:00) or '30 8 * * mon-fri' (weekdays 08:30)")


def test_every_accepted_schedule_is_one_the_scheduler_reads():
    from bot.domain.schedule import slots_between

    for cron in ("0 9 * * mon", "30 8 * * mon-fri", "0 10 * * MON,THU", "*/15 9-17 * * mon-fri/2", "0 9 1 * *"):
        schedule = parse_accounts(_account(cron=cron), "x.yaml").accounts[0].channels[0].digest
        start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
        assert slots_between(schedule.cron, "Europe/Berlin", start, start + dt.timedelta(days=31))


@pytest.mark.parametrize(
    "value, problem",
    [
        ("ana", "'ana' is not a Slack user id (U… or W…: profile → ⋮ → Copy member ID) or user group id (S…), not a name"),
        ("u0budget1", "'u0budget1' is not a Slack user id (U… or W…: profile → ⋮ → Copy member ID) or user group id "
                      "(S…); Slack ids are upper case: write U0BUDGET1"),
        ("C0AAAAAA1", "'C0AAAAAA1' is not a Slack user id (U… or W…: profile → ⋮ → Copy member ID) or user group id "
                      "(S…), not a channel"),
    ],
)
def test_a_role_must_be_a_slack_user_or_user_group_id(value, problem):
    assert _problems(_account(budget=value)) == [f"line 11: accounts[0].roles.budget: {problem}"]


def test_a_role_may_name_a_user_group_and_is_mentioned_as_one():
    from bot.render.blocks import slack_mention

    account = parse_accounts(_account(budget="S0AMTEAM1"), "x.yaml").accounts[0]
    assert account.roles.budget == "S0AMTEAM1"
    assert (slack_mention("S0AMTEAM1"), slack_mention("U0BUDGET1")) == ("<!subteam^S0AMTEAM1>", "<@U0BUDGET1>")


@pytest.mark.parametrize(
    "link",
    [
        "https://agency.slack.com/archives/C0SHARED1",
        "https://agency.slack.com/archives/C0SHARED1/p1732611111000200",
        "https://agency.enterprise.slack.com/archives/C0SHARED1/",
        "https://app.slack.com/client/T0AGENCY1/C0SHARED1",
    ],
)
def test_a_pasted_channel_link_is_read_as_its_id(link):
    assert parse_accounts(_account(channel=link), "x.yaml").accounts[0].channels[0].id == "C0SHARED1"


def test_channel_id_hints_say_what_is_wrong():
    assert _problems(_account(channel="c0shared1")) == [
        "line 6: accounts[0].channels[0].id: 'c0shared1' is not a Slack channel id like C0123ABCD; "
        "Slack ids are upper case: write C0SHARED1"
    ]
    (general,) = _problems(_account(channel="general"))
    assert general.startswith("line 6: accounts[0].channels[0].id: 'general' is not a Slack channel id like C0123ABCD (not a #name); ")
    (other_site,) = _problems(_account(channel="https://example.com/archives/C0SHARED1"))
    assert "is not a Slack channel id" in other_site


def test_unknown_keys_get_a_did_you_mean_at_every_level():
    text = """acounts: []
accounts:
  - key: a
    name: A
    timezone: UTC
    budjet: {hours: 10}
    channels:
      - id: C0AAAAAA1
        audiance: client
        digest: {crn: "0 9 * * mon"}
    jira: {projects: [A], internal_lables: [x]}
    roles: {budgte: U0BUDGET1}
"""
    assert _problems(text) == [
        "line 1: acounts: unknown key; did you mean 'accounts'?",
        "line 6: accounts[0].budjet: unknown key; did you mean 'budget'?",
        "line 8: accounts[0].channels[0].audience: Field required",
        "line 9: accounts[0].channels[0].audiance: unknown key; did you mean 'audience'?",
        "line 10: accounts[0].channels[0].digest.cron: Field required",
        "line 10: accounts[0].channels[0].digest.crn: unknown key; did you mean 'cron'?",
        "line 11: accounts[0].jira.internal_lables: unknown key; did you mean 'internal_labels'?",
        "line 12: accounts[0].roles.budgte: unknown key; did you mean 'budget'?",
    ]


def test_problems_come_in_file_order():
    text = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels: [{id: C0AAAAAA1, audience: internal, digest: {cron: "0 9 * * mo"}}]
    jira: {projects: [a]}
    budget: {hours: 10, currency: eur}
    roles: {budget: ana}
    language: fr
"""
    lines = [int(p.split(":")[0].removeprefix("line ")) for p in _problems(text)]
    assert lines == [5, 6, 7, 8, 9]


def test_what_two_accounts_may_not_share_is_reported_at_both_places():
    text = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels:
      - {id: C0SHARED1, audience: client}
    jira: {projects: [A, SHARED]}
    confluence: {space: DOC}
  - key: b
    name: B
    timezone: UTC
    channels:
      - {id: C0BBBBBB1, audience: internal}
      - {id: C0SHARED1, audience: client}
    jira: {projects: [SHARED]}
    confluence: {space: DOC}
  - {key: a, name: C, timezone: UTC, channels: [{id: C0CCCCCC1, audience: client}], jira: {projects: [C]}}
"""
    shared_project = "Jira project SHARED belongs to both 'a' and 'b'; split it into two projects, or narrow it in each account by jql"
    assert _problems(text) == [
        "line 2: accounts[0].key: account key 'a' is used twice",
        "line 6: accounts[0].channels[0].id: channel C0SHARED1 is linked to both 'a' and 'b'",
        f"line 7: accounts[0].jira.projects[1]: {shared_project}",
        "line 8: accounts[0].confluence.space: Confluence space DOC belongs to both 'a' and 'b'",
        "line 14: accounts[1].channels[1].id: channel C0SHARED1 is linked to both 'a' and 'b'",
        f"line 15: accounts[1].jira.projects[0]: {shared_project}",
        "line 16: accounts[1].confluence.space: Confluence space DOC belongs to both 'a' and 'b'",
        "line 17: accounts[2].key: account key 'a' is used twice",
    ]


def test_check_config_says_what_each_role_is_for(pulse_cli):
    # Changed with issue #12: every role has a use now (/pulse roles, who, handovers), none is "not used yet".
    result = pulse_cli("check-config", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: roles.budget (acme-shop, northwind): named (cc) under the budget line of internal digests "
        "and in budget threshold alerts (the cover during a handover); told by DM and named in the internal "
        "channel when the budget gets worse (runs out earlier, a threshold crossed, used up); shown by /pulse "
        "roles and to the client by @Account Pulse who",
        "note: roles.billing (acme-shop): shown by /pulse roles; passes to the cover during a handover",
        "note: roles.backlog (acme-shop): shown by /pulse roles and to the client by @Account Pulse who; passes "
        "to the cover during a handover; told by DM and named in the internal channel when a milestone becomes "
        "at risk or slips, or overdue issues, items waiting for the client or a quiet spell get worse; pinged in "
        "a support request's thread when the request turns out to be project work",
        "note: roles.support (acme-shop, northwind, globex): shown by /pulse roles and to the client by "
        "@Account Pulse who; passes to the cover during a handover; pinged when a support request nears its "
        "first-response target, and by DM at once for emergencies; told by DM and named in the internal "
        "channel when requests pass their first-response target",
    ]
    assert "not used yet" not in result.output


def test_check_config_refuses_a_cron_typo_that_serve_could_not_schedule(tmp_path, pulse_cli):
    path = tmp_path / "accounts.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace('cron: "0 9 * * mon"}', 'cron: "0 9 * * mo"}'))
    result = pulse_cli("check-config", str(path))
    assert result.exit_code == 1
    assert result.output.startswith(
        f"{path}: 1 problem(s)\n  - line 14: accounts[0].channels[0].digest.cron: '0 9 * * mo': 'mo' is not a weekday; "
        "did you mean 'mon'?; e.g. '0 9 * * mon'"
    )


def test_a_channel_or_project_listed_twice_in_one_account_says_so():
    text = """accounts:
  - key: a
    name: A
    timezone: UTC
    channels:
      - {id: C0AAAAAA1, audience: client}
      - {id: C0AAAAAA1, audience: internal}
    jira: {projects: [A, A]}
"""
    assert _problems(text) == [
        "line 6: accounts[0].channels[0].id: channel C0AAAAAA1 is listed twice in 'a'",
        "line 7: accounts[0].channels[1].id: channel C0AAAAAA1 is listed twice in 'a'",
        "line 8: accounts[0].jira.projects[0]: Jira project A is listed twice in 'a'",
        "line 8: accounts[0].jira.projects[1]: Jira project A is listed twice in 'a'",
    ]


# --- roles: one person, several, or people with a standing deputy (issue #12) ------------------------

def _roles(roles: str) -> str:
    return ACCOUNT.replace("CRON", "0 9 * * mon").replace("CHANNEL", "C0AAAAAA1").replace("    roles:\n      budget: BUDGET\n", roles)


def test_a_role_is_one_id_a_list_or_people_with_a_deputy_and_reads_the_same_way():
    from bot.domain.accounts import Role

    account = parse_accounts(_roles(
        "    roles:\n      budget: U0ANA0001\n      backlog: [U0ANA0001, U0BEN0001]\n"
        "      support: {people: [U0CEM0001], deputy: S0SUPPORT1}\n      billing: {people: U0DAN0001}\n"
    ), "x.yaml").accounts[0]
    assert account.roles.budget == "U0ANA0001"  # the short form stays as written
    assert account.roles.of("budget") == Role(people=("U0ANA0001",))
    assert account.roles.of("backlog") == Role(people=("U0ANA0001", "U0BEN0001"))
    assert account.roles.of("support") == Role(people=("U0CEM0001",), deputy="S0SUPPORT1")
    assert account.roles.of("billing") == Role(people=("U0DAN0001",))
    assert list(account.roles.given()) == ["budget", "billing", "backlog", "support"]


@pytest.mark.parametrize(
    "roles, problem",
    [
        ("backlog: [U0ANA0001, ana]", "line 11: accounts[0].roles.backlog: [1]: 'ana' is not a Slack user id"),
        ("backlog: []", "line 11: accounts[0].roles.backlog: give one or more Slack user ids"),
        ("backlog: [U0ANA0001, U0ANA0001]", "line 11: accounts[0].roles.backlog: someone is listed twice"),
        ("support: {people: [U0ANA0001], deputy: U0ANA0001}",
         "line 11: accounts[0].roles.support: deputy: U0ANA0001 already holds the role; the deputy is someone else"),
        ("support: {people: [U0ANA0001], deputy: c0general1}", "line 11: accounts[0].roles.support: deputy: 'c0general1' is not"),
        ("support: {poeple: [U0ANA0001]}", "line 11: accounts[0].roles.support: unknown key 'poeple'; a role with a deputy"),
        ("support: {deputy: U0ANA0001}", "line 11: accounts[0].roles.support: people: give one or more Slack user ids"),
        ("support: 7", "line 11: accounts[0].roles.support: give a Slack user id (U0ANA0001), a list of them, or"),
    ],
)
def test_a_role_written_wrongly_is_refused_with_line_field_and_what_to_write(roles, problem):
    (message,) = _problems(_roles(f"    roles:\n      {roles}\n"))
    assert message.startswith(problem), message
