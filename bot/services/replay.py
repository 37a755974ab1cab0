"""`pulse replay-webhook`: what one stored payload would become in a channel of an audience.

Orchestration without I/O: normalize → audience policy → subscriptions → render, with every
decision and its reason, so an operator can answer "why did (or didn't) the client see this?"
without posting anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.accounts import Account, AccountsConfig, Audience
from bot.domain.events import Event, NormalizedDelivery
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import NAME_ONLY_LOOKUPS, account_for, event_verdict, scope_verdict
from bot.domain.subscriptions import Subscription, wanted
from bot.domain.webhooks import normalize
from bot.render.blocks import Message
from bot.render.notifications import render_event


@dataclass(frozen=True, slots=True)
class ReplayDecision:
    """One event: allowed by the audience policy? wanted by the subscriptions? the message."""

    event: Event
    allowed: bool
    reason: str
    subscribed: bool
    message: Message | None

    @property
    def delivered(self) -> bool:
        return self.message is not None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    delivery: NormalizedDelivery
    decisions: tuple[ReplayDecision, ...]

    @property
    def messages(self) -> list[Message]:
        return [d.message for d in self.decisions if d.message is not None]


def replay(
    payload: Any,  # the parsed body, whatever it is (an empty file: None); `normalize` copes
    audience: Audience,
    account: Account,
    *,
    event_hint: str | None = None,
    subscriptions: Sequence[Subscription] | None = None,
    language: str | None = None,
    links: SiteLinks | None = None,
) -> ReplayResult:
    """Replay a webhook body for a channel of `audience` in `account` (defaults if no subscriptions).

    Routing is not checked here: the operator names the account. Events of another project or
    space are reported as not allowed.
    """
    delivery = normalize(payload, event_hint)
    decisions = []
    for event in delivery.events:
        verdict = event_verdict(event, audience, account)
        reason = verdict.reason
        allowed = verdict.allowed
        # The routing rule itself (not a copy): replay must not disagree with what was delivered.
        if allowed and account_for(event, AccountsConfig(accounts=[account])) is None:
            if event.routing_key is None:
                # Only ids in the body (Confluence Data Center, a sprint's board…): the worker
                # looks them up; replay is offline.
                missing = ", ".join(n for n in event.needs_lookup() if n not in NAME_ONLY_LOOKUPS) or "project"
                allowed, reason = False, f"needs lookup first: {missing}; replay makes no Jira or Confluence calls"
            else:
                allowed, reason = False, f"belongs to {event.routing_key!r}, not to account {account.key!r}"
        # One account, offline: a shared support project's other claimants are not known here.
        elif allowed and not (scope := scope_verdict(event, account, [account])).allowed:
            allowed, reason = False, f"{scope.reason}; replay makes no Jira calls"
        subscribed = wanted(event, audience, subscriptions)
        message = render_event(event, audience, account, language, links=links) if allowed and subscribed else None
        if allowed and not subscribed:
            reason = "not subscribed"
        decisions.append(ReplayDecision(event, allowed, reason, subscribed, message))
    return ReplayResult(delivery, tuple(decisions))
