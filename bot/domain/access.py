"""Who may do what: agency admins, agency members, and external people (Slack Connect, guests)."""

from __future__ import annotations

import enum
from collections.abc import Collection

from bot.domain.accounts import Audience


class Role(enum.IntEnum):
    """Ordered: a higher role may do everything a lower one may."""

    EXTERNAL = 0
    MEMBER = 1
    ADMIN = 2


def role_of(
    *,
    user_id: str,
    actor_team_id: str | None,
    home_team_id: str | None,
    admins: Collection[str],
    is_guest: bool = False,
    in_admin_group: bool = False,
) -> Role:
    """The role of a Slack user, decided by team id rather than `is_stranger` (which misses most)."""
    if actor_team_id and home_team_id and actor_team_id != home_team_id:
        # A Slack Connect user from the client's organization: never configuration rights,
        # even if their user id happens to be in the admin list.
        return Role.EXTERNAL
    if is_guest:
        # Our own workspace's guests (is_restricted / is_ultra_restricted) are treated as clients.
        return Role.EXTERNAL
    if user_id in admins or in_admin_group:
        return Role.ADMIN
    return Role.MEMBER


def audience_for(channel_audience: Audience, role: Role) -> Audience:
    """What an answer may contain: an external person never gets internal data, whatever the channel."""
    return Audience.CLIENT if role is Role.EXTERNAL else channel_audience
