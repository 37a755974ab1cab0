"""Channels linked from Slack (`/pulse link`), next to the accounts file's own (pure).

The accounts file is the seed and wins: a runtime link for a channel the file already links (to
any account) is ignored with a note (and retired from the store by `LinkService.sync`, so it cannot
come back when the file later drops the channel), and so is one for an account the file no longer
has, or one whose stored channel id or schedule this version cannot use. What a
runtime link may be is decided fail-closed on Slack's word about sharing: a channel shared with
another organization — or one Slack tells us nothing readable about — can only be a client channel.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

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


def allowed_audiences(sharing: Sharing, outsiders: bool | None = None) -> tuple[Audience, ...]:
    """What a channel may be linked as, the proposal first: only `client` unless Slack positively
    says no other organization is in it *and* none of its members is a guest or another team's
    (`outsiders` False: a workspace guest is no other organization, but a client all the same);
    then `internal` is proposed, `client` allowed. Not knowing either is `client` only."""
    if sharing is Sharing.PRIVATE_TO_US and outsiders is False:
        return (Audience.INTERNAL, Audience.CLIENT)
    return (Audience.CLIENT,)


# A channel a link may name: a public (C) or private (G, or C for newer ones) channel, never a DM.
_LINKABLE = re.compile(r"[CG][A-Z0-9]{6,}")


def linkable(channel_id: str) -> bool:
    """Is `channel_id` shaped like a channel a link may name (not a DM, not a name, not garbage)?"""
    return _LINKABLE.fullmatch(channel_id) is not None and len(channel_id) <= 32


def overridden(seed: AccountsConfig, links: Iterable[RuntimeLink]) -> list[tuple[RuntimeLink, str]]:
    """The runtime links whose channel the accounts file links too (the file wins), each with the
    file's account for it: retired, not kept dormant (they would come back when the file drops
    the channel)."""
    out = []
    for link in links:
        linked = seed.by_channel(link.channel_id)
        if linked is not None:
            out.append((link, linked[0].key))
    return out


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
        try:
            digest = DigestSchedule(cron=link.cron) if link.cron else None
            channel = Channel(id=link.channel_id, audience=link.audience, name=link.name, digest=digest)
        except ValidationError as exc:
            # One bad row (written by an older version, by hand, or a forged form) costs its link only.
            notes.append(f"runtime link of {link.channel_id!r} to {link.account_key!r} cannot be used and is "
                         f"ignored: {exc.errors()[0].get('msg', exc)}")
            continue
        added.setdefault(link.account_key, []).append(channel)
    accounts = [
        a.model_copy(update={"channels": [*a.channels, *added[a.key]]}) if a.key in added else a
        for a in seed.accounts
    ]
    return AccountsConfig.model_construct(accounts=accounts), notes
