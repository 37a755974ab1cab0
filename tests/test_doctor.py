"""`pulse doctor` (and the start-up check of `pulse serve`) against the fake Slack, Jira and
Confluence through the real clients: a missing project and a channel the bot is not in."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from bot.domain.accounts import AccountsConfig, Channel
from bot.domain.doctor import ChannelFacts, Verdict, channel_findings, summary
from bot.services.doctor import examine, log_findings
from integrations.confluence import AtlassianConfluence
from integrations.jira import AtlassianJira
from integrations.slack import make_web_client
from integrations.upstream_errors import RetryPolicy
from sandbox.agency import build_sandbox, sandbox_accounts
from sandbox.atlassian_server import FakeAtlassian
from sandbox.slack_server import FakeSlack

ROOT = Path(__file__).parents[1]
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)


def _facts(**kw):
    return ChannelFacts(**{"id": "C0XCHANNEL", "name": "x", "is_member": True, "is_ext_shared": False, **kw})


@pytest.mark.parametrize(
    ("audience", "facts", "verdicts", "says"),
    [
        ("client", _facts(is_ext_shared=True), [Verdict.OK], "shared with another organization"),
        ("internal", _facts(), [Verdict.OK], "not shared outside the agency"),
        ("client", _facts(), [Verdict.WARN], "set audience: internal"),
        # Fail closed: internal news would reach another organization.
        ("internal", _facts(is_ext_shared=True), [Verdict.FAIL], "set audience: client"),
        ("internal", _facts(is_member=False), [Verdict.FAIL], "invite it with /invite @Account Pulse in #x"),
        ("client", _facts(is_member=False), [Verdict.FAIL, Verdict.WARN], "invite it"),
        ("internal", None, [Verdict.FAIL], "not found: check the channel id"),
        ("internal", _facts(is_archived=True), [Verdict.FAIL], "archived"),
    ],
)
def test_channel_verdicts(audience, facts, verdicts, says):
    found = channel_findings("acme", Channel(id="C0XCHANNEL", audience=audience), facts)
    assert [f.verdict for f in found] == verdicts
    assert says in found[0].detail


def _accounts() -> AccountsConfig:
    data = sandbox_accounts().model_dump(mode="json")
    acme = next(a for a in data["accounts"] if a["key"] == "acme-shop")
    acme["jira"]["projects"] = ["ACME", "NOPE"]
    return AccountsConfig.model_validate(data)


@pytest.fixture
def fakes():
    with FakeAtlassian(build_sandbox(NOW).seed) as atlassian, FakeSlack() as slack:
        slack.add_channel("C0ACMECLNT", "acme-shop", is_ext_shared=True)
        slack.add_channel("C0ACMEINTL", "acme-shop-intern", is_private=True, is_member=False)  # not invited
        slack.add_channel("C0NWCLIENT", "northwind", is_ext_shared=True)
        slack.add_channel("C0NWINTERN", "northwind-intern")
        slack.add_channel("C0GLXINTL1", "globex-team")
        slack.add_channel("C0GLXCLNT1", "globex", is_ext_shared=False)  # client channel, not shared
        yield atlassian, slack


async def _examine(atlassian, slack, accounts):
    with AtlassianJira(atlassian.url, user="bot@agency.example", api_token="t", retry=RetryPolicy(attempts=1)) as jira:
        confluence = AtlassianConfluence(atlassian.url, user="bot@agency.example", api_token="t")
        try:
            return await examine(accounts, jira=jira, slack=make_web_client(slack.token, slack.api_url),
                                 confluence=confluence, now=NOW)
        finally:
            confluence.close()


async def test_doctor_names_the_missing_project_and_the_channel_the_bot_is_not_in(fakes):
    atlassian, slack = fakes
    findings = await _examine(atlassian, slack, _accounts())
    lines = [f.line() for f in findings]
    acme = [line for line in lines if " acme-shop: " in line]
    assert acme[0].startswith("ok    acme-shop: Jira project ACME — ")
    assert acme[1] == (
        f"FAIL  acme-shop: Jira project NOPE — HTTP 404 on GET {atlassian.url}/rest/api/3/project/NOPE: No project could be found "
        "with key 'NOPE'; check the key under jira.projects in the accounts file (or the bot's Jira user may not browse it)"
    )
    assert acme[2].startswith(f"FAIL  acme-shop: Jira query — HTTP 400 on POST {atlassian.url}/rest/api/3/search/approximate-count: "
                              "The value 'NOPE' does not exist for the field 'project'; check the key under jira.projects")
    assert acme[3].startswith("ok    acme-shop: Slack channel C0ACMECLNT (#acme-shop) — the bot is a member; shared")
    # A private channel the bot was not invited to: Slack says channel_not_found.
    assert acme[4].startswith("FAIL  acme-shop: Slack channel C0ACMEINTL (#acme-shop-intern) — not found")
    assert acme[5] == "ok    acme-shop: Confluence space ACME — exists (id 98305)"
    assert "warn  globex: Slack channel C0GLXCLNT1 (#globex-support) — audience: client, but the channel is not shared" in "\n".join(lines)
    assert all(line.startswith("ok ") for line in lines if " northwind: " in line)
    assert summary(findings) == (f"{len(findings)} check(s): 3 failed, 1 warning(s)", 1)


async def test_a_public_channel_the_bot_is_not_in_says_to_invite_it(fakes):
    atlassian, slack = fakes
    slack.add_channel("C0ACMEINTL", "acme-shop-intern", is_member=False)
    findings = await _examine(atlassian, slack, sandbox_accounts())
    (finding,) = [f for f in findings if "C0ACMEINTL" in f.item]
    assert finding.detail == "the bot is not a member: invite it with /invite @Account Pulse in #acme-shop-intern"
    assert summary(findings)[1] == 1


async def test_all_well_is_exit_code_0(fakes):
    atlassian, slack = fakes
    slack.add_channel("C0ACMEINTL", "acme-shop-intern")
    slack.add_channel("C0GLXCLNT1", "globex", is_ext_shared=True)
    findings = await _examine(atlassian, slack, sandbox_accounts())
    assert {f.verdict for f in findings} == {Verdict.OK}
    assert summary(findings)[1] == 0


async def test_serve_logs_the_same_checks_without_failing(fakes):
    atlassian, slack = fakes
    with AtlassianJira(atlassian.url, user="bot@agency.example", api_token="t", retry=RetryPolicy(attempts=1)) as jira:
        with capture_logs() as logs:
            await log_findings(_accounts(), jira=jira, slack=make_web_client(slack.token, slack.api_url),
                               confluence=None, now=NOW)
    errors = [e for e in logs if e["log_level"] == "error"]
    assert {(e["account"], e["item"]) for e in errors} == {
        ("acme-shop", "Jira project NOPE"), ("acme-shop", "Jira query"), ("acme-shop", "Slack channel C0ACMEINTL (#acme-shop-intern)"),
    }
    # Without CONFLUENCE_URL the space is not checked, and that is said.
    assert any(e["item"] == "Confluence space ACME" and e["log_level"] == "warning" for e in logs)
    assert logs[-1]["event"] == "start-up check done" and logs[-1]["failed"] == 3


def test_pulse_doctor_command(fakes, tmp_path):
    atlassian, slack = fakes
    accounts_file = tmp_path / "accounts.yaml"
    accounts_file.write_text(yaml.safe_dump(_accounts().model_dump(mode="json", exclude_defaults=True), allow_unicode=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "JIRA_", "CONFLUENCE_", "PULSE_", "DATABASE_URL"))}
    env.update({
        "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url,
        "JIRA_URL": atlassian.url, "JIRA_USER": "bot@agency.example", "JIRA_API_TOKEN": "t", "JIRA_CLOUD": "true",
        "CONFLUENCE_URL": atlassian.url, "CONFLUENCE_CLOUD": "true", "PULSE_ACCOUNTS_FILE": str(accounts_file),
    })
    result = subprocess.run([sys.executable, "-m", "bot", "doctor"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert "FAIL  acme-shop: Jira project NOPE — HTTP 404" in "\n".join(lines)
    assert any(line.startswith("FAIL  acme-shop: Slack channel C0ACMEINTL") for line in lines)
    assert lines[-1].endswith("3 failed, 1 warning(s)")


async def test_doctor_on_jira_data_center(fakes):
    """Server/Data Center: /rest/api/2 project and versions, the query counted by a maxResults=0 search."""
    _, slack = fakes
    with FakeAtlassian(build_sandbox(NOW).seed, flavor="server") as server:
        url = server.url
        with AtlassianJira(server.url, api_token="pat", cloud=False, retry=RetryPolicy(attempts=1)) as jira:
            findings = await examine(_accounts(), jira=jira, slack=make_web_client(slack.token, slack.api_url),
                                     confluence=None, now=NOW)
        searches = [c for c in server.calls if c.path == "/rest/api/2/search"]
    lines = [f.line() for f in findings if f.account == "acme-shop" and f.item.startswith("Jira")]
    assert lines[0].startswith("ok    acme-shop: Jira project ACME — ")
    assert lines[1].startswith(f"FAIL  acme-shop: Jira project NOPE — HTTP 404 on GET {url}/rest/api/2/project/NOPE")
    assert lines[2].startswith("FAIL  acme-shop: Jira query — HTTP 400 on GET")
    assert searches and all(c.query.get("maxResults") == ["0"] for c in searches)
    northwind = next(f for f in findings if f.account == "northwind" and f.item == "Jira query")
    assert northwind.verdict is Verdict.OK and "issue(s) for a digest now" in northwind.detail


def test_the_real_scheduler_is_wired_into_healthz_by_the_hook(sqlite_store):
    from bot.app import register_scheduler_health
    from bot.domain.health import HealthChecks
    from bot.scheduler import DigestScheduler

    checks = HealthChecks()
    scheduler = DigestScheduler(sandbox_accounts(), None, sqlite_store, lambda: NOW)
    assert register_scheduler_health(checks, scheduler) is True
    assert checks.names == ["scheduler"] and checks.problems() == {}


def _with_handover_place(parent: str):
    data = _accounts().model_dump(mode="json")
    acme = next(a for a in data["accounts"] if a["key"] == "acme-shop")
    acme["confluence"].update(handover_space="AGY", handover_parent=parent)
    return AccountsConfig.model_validate(data)


@pytest.fixture
def agency_space_fakes():
    from sandbox.atlassian_server import space_json

    seed = build_sandbox(NOW).seed
    seed.spaces.append(space_json("7001", "AGY", "Agency", "7002"))
    home = dict(seed.pages[0])
    seed.pages.append({**home, "id": "7002", "spaceId": "7001", "title": "Agency Home"})
    seed.pages.append({**home, "id": "7003", "spaceId": "7001", "title": "Handovers", "parentId": "7002"})
    with FakeAtlassian(seed) as atlassian, FakeSlack() as slack:
        yield atlassian, slack


@pytest.mark.parametrize("parent, verdict, detail", [
    ("7003", "ok   ", "page 'Handovers' is in space AGY"),
    ("98306", "FAIL ", "page 98306 is not in space AGY (it is in space id 98305): no handover page is written"),
    ("4242", "FAIL ", "HTTP 404"),
])
async def test_doctor_checks_where_handover_pages_go(agency_space_fakes, parent, verdict, detail):
    atlassian, slack = agency_space_fakes
    findings = await _examine(atlassian, slack, _with_handover_place(parent))
    (line,) = [f.line() for f in findings if "handover pages" in f.item]
    assert line.startswith(f"{verdict} acme-shop: Confluence handover pages (AGY, under page {parent}) — ")
    assert detail in line
