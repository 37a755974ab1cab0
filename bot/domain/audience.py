"""The one audience policy: what a client channel may see.

Everything that can reach a channel passes through here. Internal channels see everything of
their own account; client channels never see restricted work, and derived numbers (counts, sums)
are computed only over what they may see, so a client cannot infer what was withheld.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.accounts import Account, Audience
from bot.domain.work import Issue


def issue_visible(issue: Issue, audience: Audience, account: Account) -> bool:
    """May a channel of this audience see this issue (and anything derived from it)?"""
    if audience is Audience.INTERNAL:
        return True
    if issue.security_level:
        return False
    scope = account.jira
    if set(issue.labels) & set(scope.internal_labels):
        return False
    if issue.issue_type in scope.internal_issue_types:
        return False
    return True


def visible_issues(issues: Iterable[Issue], audience: Audience, account: Account) -> list[Issue]:
    """The issues a channel of this audience may see, in their original order."""
    return [i for i in issues if issue_visible(i, audience, account)]


def money_visible(audience: Audience, account: Account) -> bool:
    """Money (hours x rate) is internal unless the account explicitly shows it to the client."""
    if account.budget is None or account.budget.rate is None:
        return False
    return audience is Audience.INTERNAL or account.budget.show_money_to_client


def restriction(
    account: Account,
    *,
    security_level: str | None,
    labels: Iterable[str] = (),
    issue_type: str | None = None,
) -> str | None:
    """Why a client may not see an issue with these facts ("security level", …), or None.

    The same rules as `issue_visible`, for issues known only from a webhook body.
    """
    if security_level:
        return "security level"
    internal = set(labels) & set(account.jira.internal_labels)
    if internal:
        return "internal label " + ", ".join(sorted(internal))
    if issue_type is not None and issue_type in account.jira.internal_issue_types:
        return f"internal issue type {issue_type}"
    return None


def worklog_amounts_visible(audience: Audience, account: Account) -> bool:
    """Logged time is internal unless the account's budget shows money to the client."""
    if audience is Audience.INTERNAL:
        return True
    return account.budget is not None and account.budget.show_money_to_client
