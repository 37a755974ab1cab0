"""The one audience policy: what a client channel may see.

Everything that can reach a channel passes through here. Internal channels see everything of
their own account; client channels never see restricted work, and derived numbers (counts, sums)
are computed only over what they may see, so a client cannot infer what was withheld.
Webhook events are judged by the same facts (`bot.domain.notify_policy`): one reader
(`bot.domain.facts`) reads them from webhook bodies and REST responses alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.accounts import Account, Audience
from bot.domain.facts import Fact, not_public
from bot.domain.work import Issue


def issue_withheld(issue: Issue, account: Account) -> list[Fact]:
    """What keeps this issue from the account's client channels (empty: known to be public)."""
    return not_public(issue.access.facts(account))


def issue_visible(issue: Issue, audience: Audience, account: Account) -> bool:
    """May a channel of this audience see this issue (and anything derived from it)? A client
    channel only when every fact about it is known to be public (`bot.domain.facts`)."""
    if audience is Audience.INTERNAL:
        return True
    return not issue_withheld(issue, account)


def visible_issues(issues: Iterable[Issue], audience: Audience, account: Account) -> list[Issue]:
    """The issues a channel of this audience may see, in their original order."""
    return [i for i in issues if issue_visible(i, audience, account)]


def money_visible(audience: Audience, account: Account) -> bool:
    """Money (hours x rate) is internal unless the account explicitly shows it to the client."""
    if account.budget is None or account.budget.rate is None:
        return False
    return audience is Audience.INTERNAL or account.budget.show_money_to_client


def worklog_amounts_visible(audience: Audience, account: Account) -> bool:
    """Logged time is internal unless the account's budget shows money to the client."""
    if audience is Audience.INTERNAL:
        return True
    return account.budget is not None and account.budget.show_money_to_client
