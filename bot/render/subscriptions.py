"""`/pulse subscribe list|add|remove` answers: events grouped by kind, the channel's defaults marked.

Event names and filters stay as typed (they are the syntax); everything around them is in the
asker's language.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.accounts import Audience
from bot.domain.events import EventType
from bot.domain.subscriptions import Subscription, defaults_for, events_by_kind, format_subscription
from bot.domain.words import CommandRef
from bot.render.i18n import translate
from bot.render.words import Voice

DEFAULT_MARK = "★"


def _default_events(audience: Audience) -> frozenset[EventType]:
    return frozenset[EventType]().union(*(d.events for d in defaults_for(audience)))


def _channels(audience: Audience, language: str) -> str:
    return translate(language, f"channels.{audience.value}")


def _this_channel(audience: Audience, language: str) -> str:
    return translate(language, f"channel.this.{audience.value}")


def render_events(subscription: Subscription, audience: Audience, language: str = "en", indent: str = "    ") -> list[str]:
    """One line per kind of event, defaults of the audience marked; then the filters, if any."""
    defaults = _default_events(audience)
    if not subscription.events:
        kinds = ", ".join(translate(language, kind) for kind, _ in events_by_kind(frozenset()))
        lines = [indent + translate(language, "subscribe.every_event", kinds=kinds)]
    else:
        lines = [
            f"{indent}{translate(language, kind)}: "
            + ", ".join(f"{t.value}{DEFAULT_MARK}" if t in defaults else t.value for t in types)
            for kind, types in events_by_kind(subscription.events)
        ]
    filters = format_subscription(subscription).split(" ")[1:]
    if filters:
        lines.append(indent + translate(language, "subscribe.only_when", filters=" ".join(filters)))
    return lines


def _title(subscription: Subscription, audience: Audience, language: str) -> str:
    if subscription in defaults_for(audience):
        return translate(language, "subscribe.defaults_of", channels=_channels(audience, language))
    return f"`{format_subscription(subscription)}`"


def render_list(account_name: str, audience: Audience, rows: Sequence[tuple[int, Subscription]], voice: Voice | None = None) -> str:
    """What the channel hears: its stored subscriptions, or its defaults when it has none."""
    voice = voice or Voice()
    language = voice.language
    legend = translate(language, "subscribe.legend", mark=DEFAULT_MARK, channels=_channels(audience, language))
    if not rows:
        return "\n".join([
            translate(language, "subscribe.none_stored", channel=_this_channel(audience, language), account=account_name),
            *render_events(defaults_for(audience)[0], audience, language, "• "),
            legend,
            translate(language, "subscribe.add_hint", command=voice.command(CommandRef(("subscribe", "add"), "args.events_filters"))),
        ])
    lines = [translate(language, "subscribe.list_title", account=account_name)]
    for sub_id, subscription in rows:
        lines.append(f"• #{sub_id} {_title(subscription, audience, language)}")
        lines += render_events(subscription, audience, language)
    lines.append(legend)
    lines.append(translate(language, "subscribe.remove_hint", command=voice.command(CommandRef(("subscribe", "remove"), "args.id"))))
    return "\n".join(lines)


def render_added(
    sub_id: int, subscription: Subscription, audience: Audience, defaults_id: int | None, voice: Voice | None = None
) -> str:
    """The confirmation of `add`, saying plainly whether the defaults were kept."""
    voice = voice or Voice()
    language = voice.language
    lines = [
        translate(language, "subscribe.added", id=sub_id, spec=format_subscription(subscription)),
        *render_events(subscription, audience, language),
    ]
    if defaults_id is not None:
        remove = voice.command(CommandRef(("subscribe", "remove"), str(defaults_id)))
        lines.append(translate(language, "subscribe.defaults_kept", id=defaults_id, command=remove))
    return "\n".join(lines)


def render_removed(
    sub_id: int, removed: Subscription, audience: Audience, remaining: Sequence[tuple[int, Subscription]],
    language: str = "en",
) -> str:
    """The confirmation of `remove`, with what the channel still hears."""
    head = translate(language, "subscribe.removed", id=sub_id, title=_title(removed, audience, language))
    if not remaining:
        return head + "\n" + translate(language, "subscribe.none_left", channel=_this_channel(audience, language))
    kept = ", ".join(f"#{i} {_title(s, audience, language)}" for i, s in remaining)
    return head + "\n" + translate(language, "subscribe.still", kept=kept)
