"""`pulse doctor` and the start-up check of `pulse serve`: read what each account links to from
Slack, Jira and Confluence through the adapters, and judge it (`bot.domain.doctor`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Protocol, runtime_checkable

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.accounts import Account, AccountsConfig
from bot.domain.digest_query import digest_jql
from bot.domain.doctor import Finding, Verdict, channel_findings, jira_failure
from bot.domain.lookback import default_since
from bot.errors import UpstreamError
from bot.logs import get_logger
from integrations.jira import JiraPort
from integrations.slack import read_channel

log = get_logger("pulse.doctor")

_PROJECT_FIX = "check the key under jira.projects in the accounts file (or the bot's Jira user may not browse it)"


@runtime_checkable
class JiraChecks(JiraPort, Protocol):
    """What the checks ask of Jira besides the port: does a project exist, how many issues match."""

    def project(self, project_key: str) -> dict[str, Any]: ...

    def count(self, jql: str) -> int: ...


@runtime_checkable
class ConfluenceChecks(Protocol):
    """What the checks ask of Confluence: does the space exist; where is a page."""

    def space(self, space_key: str) -> dict[str, Any]: ...

    def page(self, page_id: str) -> dict[str, Any]: ...


async def examine(
    accounts: AccountsConfig, *, jira: JiraChecks, slack: AsyncWebClient, confluence: ConfluenceChecks | None, now: dt.datetime
) -> list[Finding]:
    """Every finding for every account, accounts in file order."""
    found: list[Finding] = []
    for account in accounts.accounts:
        found += await examine_account(account, jira=jira, slack=slack, confluence=confluence, now=now)
    return found


async def examine_account(
    account: Account, *, jira: JiraChecks, slack: AsyncWebClient, confluence: ConfluenceChecks | None, now: dt.datetime
) -> list[Finding]:
    found = await asyncio.to_thread(_jira_findings, account, jira, now)
    for channel in account.channels:
        try:
            facts = await read_channel(slack, channel.id)
        except UpstreamError as exc:
            found.append(Finding(account.key, f"Slack channel {channel.id}", Verdict.FAIL,
                                 f"Slack refused conversations.info ({exc.message}): the app needs the channels:read "
                                 "and groups:read scopes (config/slack-manifest.yaml) and a valid SLACK_BOT_TOKEN"))
            continue
        found += channel_findings(account.key, channel, facts)
    found += await asyncio.to_thread(_confluence_findings, account, confluence)
    return found


def _jira_findings(account: Account, jira: JiraChecks, now: dt.datetime) -> list[Finding]:
    found = []
    for key in account.jira.projects:
        item = f"Jira project {key}"
        try:
            project = jira.project(key)
            versions = jira.fetch_versions(key)
        except UpstreamError as exc:
            found.append(jira_failure(account.key, item, exc, _PROJECT_FIX))
            continue
        found.append(Finding(account.key, item, Verdict.OK,
                             f"{project.get('name') or key}: readable, {len(versions)} version(s)"))
    # The query every digest runs: the account's projects and JQL with the digest's own clauses.
    try:
        count = jira.count(digest_jql(account, now, default_since(now, None)))
    except UpstreamError as exc:
        fix = "check jira.jql and jira.projects in the accounts file" if account.jira.jql else _PROJECT_FIX
        found.append(jira_failure(account.key, "Jira query", exc, fix))
    else:
        found.append(Finding(account.key, "Jira query", Verdict.OK, f"parses; {count} issue(s) for a digest now"))
    return found


def _confluence_findings(account: Account, confluence: ConfluenceChecks | None) -> list[Finding]:
    scope = account.confluence
    if scope is None:
        return []
    item = f"Confluence space {scope.space}"
    if confluence is None:
        return [Finding(account.key, item, Verdict.WARN,
                        "not checked: CONFLUENCE_URL is not set, so no Confluence news reaches client channels")]
    try:
        space = confluence.space(scope.space)
    except UpstreamError as exc:
        todo = ("check confluence.space in the accounts file, and that the bot's Confluence user may view it"
                if exc.status in (403, 404) else "Confluence did not answer: check CONFLUENCE_URL and try again later")
        return [Finding(account.key, item, Verdict.FAIL, f"{exc.message.rstrip('.')}; {todo}")]
    return [Finding(account.key, item, Verdict.OK, f"exists (id {space.get('id')})"),
            *_handover_page_findings(account, confluence)]


def _handover_page_findings(account: Account, confluence: ConfluenceChecks) -> list[Finding]:
    """Where handover pages go: the agency's space exists and the parent page lies in it (else the
    bot writes no page and the summaries go without a link)."""
    scope = account.confluence
    if scope is None or scope.handover_space is None or scope.handover_parent is None:
        return []
    item = f"Confluence handover pages ({scope.handover_space}, under page {scope.handover_parent})"
    try:
        space = confluence.space(scope.handover_space)
        page = confluence.page(scope.handover_parent)
    except UpstreamError as exc:
        todo = ("check confluence.handover_space and handover_parent in the accounts file, and that the bot's "
                "Confluence user may view and add pages there" if exc.status in (403, 404) or not exc.retryable
                else "Confluence did not answer: check CONFLUENCE_URL and try again later")
        return [Finding(account.key, item, Verdict.FAIL, f"{exc.message.rstrip('.')}; {todo}")]
    if str(page.get("spaceId")) != str(space.get("id")):
        return [Finding(account.key, item, Verdict.FAIL,
                        f"page {scope.handover_parent} is not in space {scope.handover_space} (it is in space id "
                        f"{page.get('spaceId')}): no handover page is written; name a page of "
                        f"{scope.handover_space} as handover_parent")]
    return [Finding(account.key, item, Verdict.OK, f"page {page.get('title')!r} is in space {scope.handover_space}")]


async def log_findings(
    accounts: AccountsConfig, *, jira: JiraChecks, slack: AsyncWebClient, confluence: ConfluenceChecks | None, now: dt.datetime
) -> None:
    """The start-up check of `pulse serve`: every finding logged (ok as info, warn as warning,
    FAIL as error), never raising — the bot serves whatever the check finds."""
    try:
        findings = await examine(accounts, jira=jira, slack=slack, confluence=confluence, now=now)
    except Exception:  # noqa: BLE001 - a check must never stop the bot it checks
        log.exception("start-up check failed to run; run `pulse doctor` for details")
        return
    for f in findings:
        level = {Verdict.OK: log.info, Verdict.WARN: log.warning, Verdict.FAIL: log.error}[f.verdict]
        level("start-up check", account=f.account, item=f.item, verdict=f.verdict.value, detail=f.detail)
    failed = sum(f.verdict is Verdict.FAIL for f in findings)
    log.info("start-up check done", checks=len(findings), failed=failed,
             hint="run `pulse doctor` for the same checks on the command line" if failed else None)
