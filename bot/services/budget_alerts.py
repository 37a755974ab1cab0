"""Budget threshold alerts after worklogs: once per threshold, period, audience and channel."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from structlog.contextvars import bound_contextvars

from bot.domain.accounts import Account, AccountsConfig, Audience
from bot.domain.budget import budget_period, budget_status
from bot.domain.digest_query import earliest_needed
from bot.domain.events import JiraEvent
from bot.domain.notify_policy import accounts_for
from bot.logs import get_logger
from bot.render.budget_alerts import render_budget_alert
from bot.services.exactly_once import OncePoster, PostBusy
from bot.services.inbox_batch import Work, deliveries_context, fail_where, log_failure
from integrations.jira import JiraPort
from integrations.store.inbox import InboxItem
from integrations.store.store import Store

log = get_logger("pulse.inbox")


@dataclass(frozen=True)
class Alerted:
    """What the budget check of a batch did: the works with its failures, alerts posted, Jira calls."""

    works: list[Work]
    alerts: int
    jira_calls: int


class BudgetAlerts:
    """Checks the accounts a batch's worklogs touched and alerts the thresholds they crossed."""

    def __init__(
        self,
        store: Store,
        jira: JiraPort,
        accounts: AccountsConfig,
        clock: Callable[[], dt.datetime],
        once: OncePoster,
    ):
        self.store = store
        self.once = once
        self.jira = jira
        self.accounts = accounts
        self.clock = clock

    async def check(self, works: list[Work]) -> Alerted:
        """Worklogs may push an account over a threshold: check each such account once."""
        by_account: dict[str, tuple[Account, list[InboxItem]]] = {}
        for w in works:
            if not w.ok:
                continue
            for e in w.events:
                if isinstance(e, JiraEvent) and e.type.is_worklog:
                    # Every account whose scope could hold the issue: each check is scoped by its JQL.
                    for account in accounts_for(e, self.accounts):
                        if account.budget is not None and account.budget.hours:
                            by_account.setdefault(account.key, (account, []))[1].append(w.item)
        alerts = calls = 0
        failures: dict[int, Exception] = {}
        for account, items in by_account.values():
            with bound_contextvars(**deliveries_context(items)):
                try:
                    alerted, made = await self._check_account(account)
                    alerts, calls = alerts + alerted, calls + made
                except PostBusy as exc:
                    log.warning("budget check failed", account=account.key, error=str(exc))
                    failures.update({i.id: exc for i in items if i.id not in failures})
                except Exception as exc:
                    log_failure(exc, f"the budget check of {account.key}")
                    failures.update({i.id: exc for i in items if i.id not in failures})
        return Alerted(fail_where(works, failures), alerts, calls)

    async def _check_account(self, account: Account) -> tuple[int, int]:
        """Alert each audience on the thresholds its own view of the budget crossed; the number of
        audiences alerted, and of Jira calls made."""
        assert account.budget is not None
        now = self.clock()
        period = budget_period(account, now)
        assert period is not None
        period_key = f"{period.start.isoformat()}..{period.end.isoformat()}"
        # A client channel sees only what the client may see: its percentage, and its thresholds
        # (alerting the client on the internal figure would reveal withheld work).
        audiences = [Audience.INTERNAL] + ([Audience.CLIENT] if account.budget.alert_client else [])
        sent = {
            a: await asyncio.to_thread(self.store.budget_alerts.sent, account.key, period_key, a.value)
            for a in audiences
        }
        if all(set(account.budget.thresholds) <= sent[a] for a in audiences):
            return 0, 0  # every threshold already alerted this period: no Jira call needed
        # Jira reads the date in its user's timezone: start where the digest query starts (a day
        # early), or work logged early on the period's first local day is missed.
        first = earliest_needed(account, now, since=now)
        jql = f'{account.jira.scope_jql()} AND worklogDate >= "{first.isoformat()}"'
        issues = await asyncio.to_thread(self.jira.fetch_issues, jql)
        # The budget role as held today: a cover is named "covering for … until …".
        handovers = await asyncio.to_thread(self.store.handovers.active, now.date() - dt.timedelta(days=1))
        alerted = 0
        for audience in audiences:
            status = budget_status(account, audience, issues, now, handovers)
            assert status is not None
            new = [t for t in status.thresholds_crossed if t not in sent[audience]]
            if not new:
                continue
            threshold = new[-1]  # a jump over 80 and 100 at once is one alert, the higher one
            for channel in account.channels:
                if channel.audience is not audience:
                    continue
                key = f"budget:{account.key}:{period_key}:{audience.value}:{threshold}:{channel.id}"
                message = render_budget_alert(account.name, status, threshold, account.language)
                await self.once.post([key], channel.id, message)
            for t in new:
                await asyncio.to_thread(
                    self.store.budget_alerts.record, account.key, period_key, t, str(status.percent_used), now,
                    audience.value,
                )
            log.info(
                "budget threshold alert", account=account.key, audience=audience.value,
                threshold=threshold, percent=str(status.percent_used),
            )
            alerted += 1
        return alerted, 1
