"""Is a Slack channel shared with another organization, and what does that make its audience.

The accounts file says which channels are `internal`; Slack says whether a channel is shared with
another organization (Slack Connect), and that can change after the file was written. A channel
configured internal that Slack calls shared — or about which Slack tells us nothing we can read —
gets the client view until an admin fixes the configuration. A client channel is never upgraded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from bot.domain.accounts import Audience


class Sharing(enum.Enum):
    PRIVATE_TO_US = "not shared"  # Slack said plainly: no other organization is in it
    SHARED = "shared with another organization"
    UNKNOWN = "unknown"  # Slack could not answer, or answered in a shape we cannot read


def read_sharing(channel: Any) -> Sharing:
    """A `conversations.info` channel object, read fail-closed.

    `is_ext_shared`: shared with another organization. `is_pending_ext_shared`: an invitation to
    one is out (counted as shared: the other side may accept at any moment, and Slack sends
    `shared_channel_invite_accepted` only to apps it knows of). `is_shared` without
    `is_org_shared` names no team of our own Enterprise Grid org: another organization's."""
    if not isinstance(channel, Mapping):
        return Sharing.UNKNOWN
    ext, pending = channel.get("is_ext_shared"), channel.get("is_pending_ext_shared", False)
    shared, org = channel.get("is_shared", False), channel.get("is_org_shared", False)
    if not all(isinstance(flag, bool) for flag in (ext, pending, shared, org)):
        return Sharing.UNKNOWN
    if ext or pending or (shared and not org):
        return Sharing.SHARED
    return Sharing.PRIVATE_TO_US


def effective_audience(configured: Audience, sharing: Sharing) -> Audience:
    """The audience a channel's content is for: the configured one, downgraded to client unless
    Slack positively says no other organization is in an internal channel."""
    if configured is Audience.INTERNAL and sharing is Sharing.PRIVATE_TO_US:
        return Audience.INTERNAL
    return Audience.CLIENT
