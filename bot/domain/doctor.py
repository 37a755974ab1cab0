"""`pulse doctor`: verdicts on what each account links to, from facts read from Slack and Jira.

One finding per item (a Jira project, the account's query, a channel, a Confluence space) with a
verdict and, when something is wrong, what to change. Pure: the service reads the facts, this
module judges them and writes the lines.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.accounts import Audience, Channel
from bot.domain.jira_trouble import JiraTrouble, jira_trouble
from bot.errors import UpstreamError


class Verdict(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    account: str
    item: str
    verdict: Verdict
    detail: str

    def line(self) -> str:
        return f"{self.verdict.value:<4}  {self.account}: {self.item} — {self.detail}"


@dataclass(frozen=True)
class ChannelFacts:
    """What Slack's conversations.info says about a channel (None when it says channel_not_found)."""

    id: str
    name: str | None
    is_member: bool
    is_ext_shared: bool
    is_archived: bool = False


def channel_findings(account: str, channel: Channel, facts: ChannelFacts | None) -> list[Finding]:
    """The channel exists, is not archived, the bot is in it, and its audience fits how it is shared."""
    item = f"Slack channel {channel.id}" + (f" ({channel.name})" if channel.name else "")
    if facts is None:
        return [Finding(account, item, Verdict.FAIL,
                        "not found: check the channel id in the accounts file; a private channel is invisible "
                        "until the bot is invited (/invite @Account Pulse)")]
    if facts.is_archived:
        return [Finding(account, item, Verdict.FAIL, "archived: unarchive it or link another channel")]
    found = []
    if not facts.is_member:
        found.append(Finding(account, item, Verdict.FAIL,
                             f"the bot is not a member: invite it with /invite @Account Pulse in #{facts.name or channel.id}"))
    if channel.audience is Audience.INTERNAL and facts.is_ext_shared:
        # Fail closed: internal digests and notifications would reach another organization.
        found.append(Finding(account, item, Verdict.FAIL,
                             "audience: internal, but the channel is shared with another organization (Slack "
                             "Connect): set audience: client in the accounts file, or stop sharing the channel"))
    elif channel.audience is Audience.CLIENT and not facts.is_ext_shared:
        found.append(Finding(account, item, Verdict.WARN,
                             "audience: client, but the channel is not shared with another organization: if only the "
                             "agency is in it, set audience: internal; if the client is in it as guests, leave it"))
    if not found:
        shared = "shared with another organization" if facts.is_ext_shared else "not shared outside the agency"
        found.append(Finding(account, item, Verdict.OK, f"the bot is a member; {shared}; audience: {channel.audience.value}"))
    return found


def jira_failure(account: str, item: str, error: UpstreamError, fix: str) -> Finding:
    """A Jira item that could not be read, with what to do for this kind of trouble."""
    trouble = jira_trouble(error)
    if trouble is JiraTrouble.NOT_FOUND:
        todo = fix
    elif trouble is JiraTrouble.FORBIDDEN:
        todo = "give the bot's Jira user access (Browse projects), or check JIRA_USER and JIRA_API_TOKEN"
    else:
        todo = "Jira did not answer: check JIRA_URL and try again later"
    return Finding(account, item, Verdict.FAIL, f"{error.message.rstrip('.')}; {todo}")


def summary(findings: Iterable[Finding]) -> tuple[str, int]:
    """The closing line and the exit code (1 when anything failed)."""
    findings = list(findings)
    failed = sum(f.verdict is Verdict.FAIL for f in findings)
    warned = sum(f.verdict is Verdict.WARN for f in findings)
    text = f"{len(findings)} check(s): {failed} failed, {warned} warning(s)"
    return text, 1 if failed else 0
