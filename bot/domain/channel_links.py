"""Channels linked from Slack (`/pulse link`), next to the accounts file's own (pure).

The accounts file is the seed and wins: a runtime link for a channel the file already links (to
any account) is ignored with a note, and so is one for an account the file no longer has. What a
runtime link may be is decided fail-closed on Slack's word about sharing: a channel shared with
another organization — or one Slack tells us nothing readable about — can only be a client channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.accounts import AccountsConfig, Audience, Channel, DigestSchedule
from bot.domain.sharing import Sharing


@dataclass(frozen=True, slots=True)
class RuntimeLink:
    channel_id: str
    account_key: str
    audience: Audience
    cron: str | None
    created_by: str
    created_at: dt.datetime
    name: str | None = None


def allowed_audiences(sharing: Sharing) -> tuple[Audience, ...]:
    """What a channel may be linked as, the proposal first: only `client` unless Slack positively
    says no other organization is in it (then `internal` is proposed, `client` allowed)."""
    if sharing is Sharing.PRIVATE_TO_US:
        return (Audience.INTERNAL, Audience.CLIENT)
    return (Audience.CLIENT,)


def merge(seed: AccountsConfig, links: Iterable[RuntimeLink]) -> tuple[AccountsConfig, list[str]]:
    """The effective configuration: the seed's accounts with the runtime links' channels added,
    and a note for each link the seed overrides (or that names an account the seed lacks)."""
    notes: list[str] = []
    added: dict[str, list[Channel]] = {}
    for link in links:
        linked = seed.by_channel(link.channel_id)
        if linked is not None:
            notes.append(f"channel {link.channel_id} is linked to {linked[0].key!r} in the accounts file, which wins: "
                         f"its runtime link to {link.account_key!r} (by {link.created_by}) is ignored")
            continue
        if seed.by_key(link.account_key) is None:
            notes.append(f"channel {link.channel_id} is linked at runtime to {link.account_key!r}, which the accounts "
                         "file no longer has: ignored")
            continue
        digest = DigestSchedule(cron=link.cron) if link.cron else None
        added.setdefault(link.account_key, []).append(
            Channel(id=link.channel_id, audience=link.audience, name=link.name, digest=digest))
    accounts = [
        a.model_copy(update={"channels": [*a.channels, *added[a.key]]}) if a.key in added else a
        for a in seed.accounts
    ]
    return AccountsConfig.model_construct(accounts=accounts), notes
