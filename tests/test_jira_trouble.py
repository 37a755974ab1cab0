"""A command answer tells "Jira is down" from "this account's Jira project is not found or not
readable": the agency gets the cause, a client a neutral line, the log the cause and traceback.
Real atlassian-python-api against the fake Jira."""

import datetime as dt

import pytest
from structlog.testing import capture_logs

from bot.app import build_commands
from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig
from bot.domain.jira_trouble import JiraTrouble, jira_trouble
from bot.errors import UpstreamError, UpstreamUnavailable
from bot.services.commands import Asker
from bot.services.digests import DigestService
from integrations.jira import AtlassianJira
from integrations.upstream_errors import RetryPolicy
from sandbox.agency import build_sandbox, sandbox_accounts
from sandbox.atlassian_server import Failure, FakeAtlassian
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("status", "retryable", "trouble"),
    [
        (404, False, JiraTrouble.NOT_FOUND), (400, False, JiraTrouble.NOT_FOUND),
        (401, False, JiraTrouble.FORBIDDEN), (403, False, JiraTrouble.FORBIDDEN),
        (503, True, JiraTrouble.DOWN), (503, False, JiraTrouble.DOWN), (429, True, JiraTrouble.DOWN),
        (None, True, JiraTrouble.DOWN), (None, False, JiraTrouble.DOWN), (410, False, JiraTrouble.DOWN),
    ],
)
def test_trouble_is_decided_on_the_status(status, retryable, trouble):
    assert jira_trouble(UpstreamError("jira", "x", retryable=retryable, status=status)) is trouble
    assert jira_trouble(UpstreamUnavailable("jira", "x", retryable=retryable, status=status)) is trouble


def _accounts(jira: dict) -> AccountsConfig:
    """The sandbox accounts with ACME's Jira scope replaced."""
    data = sandbox_accounts().model_dump(mode="json")
    acme = next(a for a in data["accounts"] if a["key"] == "acme-shop")
    acme["jira"].update(jira)
    acme["language"] = "en"
    return AccountsConfig.model_validate(data)


@pytest.fixture
def fake():
    with FakeAtlassian(build_sandbox(NOW).seed) as jira:
        yield jira


async def _ask(fake, store, accounts, text, channel, role):
    jira = AtlassianJira(fake.url, user="bot@agency.example", api_token="t", retry=RetryPolicy(attempts=1))
    digests = DigestService(jira=jira, slack=InMemorySlack(), store=store, clock=lambda: NOW, retry_delays=())
    try:
        commands = build_commands(accounts, digests, None, lambda: NOW)
        with capture_logs() as logs:
            reply = await commands.run(text, Asker("U0ASKER001", channel, role))
    finally:
        digests.close()
        jira.close()
    return reply, logs


async def test_a_missing_project_is_named_for_the_agency_and_logged_with_its_cause(fake, sqlite_store):
    accounts = _accounts({"projects": ["ACME", "NOPE"]})
    reply, logs = await _ask(fake, sqlite_store, accounts, "status", "C0ACMEINTL", Role.MEMBER)
    assert reply.text.startswith("I cannot answer from Jira: it does not know this account's projects or query (ACME, NOPE).")
    # Whichever call failed first: the search (400) or the versions (404); both name the project.
    assert "Jira said: HTTP 4" in reply.text and "'NOPE'" in reply.text.split("Jira said:")[1]
    assert "try again" not in reply.text
    (line,) = [entry for entry in logs if entry["event"] == "command could not read Jira"]
    assert line["log_level"] == "error" and line["trouble"] == "not_found" and line["account"] == "acme-shop"
    assert isinstance(line["exc_info"], UpstreamError) and "NOPE" in line["error"]


async def test_a_client_gets_a_neutral_line_without_project_keys(fake, sqlite_store):
    accounts = _accounts({"projects": ["ACME", "NOPE"]})
    for channel, role in (("C0ACMECLNT", Role.MEMBER), ("C0ACMEINTL", Role.EXTERNAL)):
        reply, _ = await _ask(fake, sqlite_store, accounts, "budget", channel, role)
        assert reply.text == "I cannot answer this right now. The agency team has been told."


async def test_a_query_naming_an_unknown_project_is_not_found_too(fake, sqlite_store):
    accounts = _accounts({"projects": [], "jql": "project = NOPE"})
    reply, _ = await _ask(fake, sqlite_store, accounts, "digest", "C0ACMEINTL", Role.ADMIN)
    assert "(`project = NOPE`)" in reply.text
    assert "The value 'NOPE' does not exist for the field 'project'." in reply.text


async def test_a_forbidden_project_says_so_and_an_outage_says_try_later(fake, sqlite_store):
    accounts = _accounts({})
    fake.script(Failure(403, match="/versions"))
    forbidden, _ = await _ask(fake, sqlite_store, accounts, "status", "C0ACMEINTL", Role.MEMBER)
    assert forbidden.text.startswith("I cannot answer from Jira: the bot's Jira user may not read this account's projects")
    fake.script(Failure(503), Failure(503))
    down, logs = await _ask(fake, sqlite_store, accounts, "status", "C0ACMEINTL", Role.MEMBER)
    assert down.text.startswith("Jira is not answering right now")
    (line,) = [entry for entry in logs if entry["event"] == "command could not read Jira"]
    assert line["log_level"] == "warning" and line["trouble"] == "down"
