"""`/pulse subscribe list|add|remove` answers: events grouped by kind, the channel's defaults marked."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.accounts import Audience
from bot.domain.subscriptions import Subscription, defaults_for, events_by_kind, format_subscription

DEFAULT_MARK = "★"


def _default_events(audience: Audience) -> frozenset:
    return frozenset().union(*(d.events for d in defaults_for(audience)))


def render_events(subscription: Subscription, audience: Audience, indent: str = "    ") -> list[str]:
    """One line per kind of event, defaults of the audience marked; then the filters, if any."""
    defaults = _default_events(audience)
    if not subscription.events:
        lines = [f"{indent}every event, of every kind ({', '.join(kind for kind, _ in events_by_kind(frozenset()))})"]
    else:
        lines = [
            f"{indent}{kind}: " + ", ".join(f"{t.value}{DEFAULT_MARK}" if t in defaults else t.value for t in types)
            for kind, types in events_by_kind(subscription.events)
        ]
    filters = format_subscription(subscription).split(" ")[1:]
    if filters:
        lines.append(f"{indent}only when: {' '.join(filters)}")
    return lines


def _title(subscription: Subscription, audience: Audience) -> str:
    if subscription in defaults_for(audience):
        return f"the defaults of {audience.value} channels"
    return f"`{format_subscription(subscription)}`"


def render_list(account_name: str, audience: Audience, rows: Sequence[tuple[int, Subscription]]) -> str:
    """What the channel hears: its stored subscriptions, or its defaults when it has none."""
    legend = f"{DEFAULT_MARK} = a default of {audience.value} channels."
    if not rows:
        return "\n".join([
            f"No subscriptions stored: this {audience.value} channel ({account_name}) gets the defaults:",
            *render_events(defaults_for(audience)[0], audience, "• "),
            legend,
            "`/pulse subscribe add <events> [filters]` adds to them.",
        ])
    lines = [f"Subscriptions of this channel ({account_name}):"]
    for sub_id, subscription in rows:
        lines.append(f"• #{sub_id} {_title(subscription, audience)}")
        lines += render_events(subscription, audience)
    lines.append(legend)
    lines.append("`/pulse subscribe remove <id>` removes one; with none left, the channel gets its defaults again.")
    return "\n".join(lines)


def render_added(sub_id: int, subscription: Subscription, audience: Audience, defaults_id: int | None) -> str:
    """The confirmation of `add`, saying plainly whether the defaults were kept."""
    lines = [f"Added subscription #{sub_id}: `{format_subscription(subscription)}`", *render_events(subscription, audience)]
    if defaults_id is not None:
        lines.append(
            f"This channel keeps its defaults too, now stored as #{defaults_id}: "
            f"`/pulse subscribe remove {defaults_id}` to hear only what you added."
        )
    return "\n".join(lines)


def render_removed(sub_id: int, removed: Subscription, audience: Audience, remaining: Sequence[tuple[int, Subscription]]) -> str:
    """The confirmation of `remove`, with what the channel still hears."""
    head = f"Removed subscription #{sub_id}: {_title(removed, audience)}."
    if not remaining:
        return head + f"\nNo subscriptions left: this {audience.value} channel gets its defaults again."
    kept = ", ".join(f"#{i} {_title(s, audience)}" for i, s in remaining)
    return head + f"\nStill subscribed: {kept}."
