"""Why Jira could not answer, as far as the person asking needs to know.

"Jira is down" and "this account's Jira scope is wrong" call for different people and actions:
the first passes (try again later), the second does not until an admin fixes the accounts file or
the bot's Jira permissions. Decided on the HTTP status the adapter kept, never on message text.
"""

from __future__ import annotations

import enum

from bot.domain.accounts import Account
from bot.errors import UpstreamError


class JiraTrouble(enum.Enum):
    DOWN = "down"  # unreachable, overloaded, 5xx, timeouts, anything unexpected: try again later
    NOT_FOUND = "not_found"  # a project or query Jira does not know (404, 400 on the JQL)
    FORBIDDEN = "forbidden"  # the bot's Jira user may not read it (401, 403)


def jira_trouble(error: UpstreamError) -> JiraTrouble:
    """What kind of trouble an upstream error from Jira is."""
    if error.retryable:
        return JiraTrouble.DOWN
    if error.status in (400, 404):
        return JiraTrouble.NOT_FOUND
    if error.status in (401, 403):
        return JiraTrouble.FORBIDDEN
    return JiraTrouble.DOWN


def jira_scope(account: Account) -> str:
    """What of Jira the account names (projects, JQL), for a message saying what to check."""
    parts = list(account.jira.projects)
    if account.jira.jql:
        parts.append(f"`{account.jira.jql}`")
    return ", ".join(parts)
