"""Who may do what: agency admins, agency members, and external people (Slack Connect, guests)."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.accounts import Audience


class Role(enum.IntEnum):
    """Ordered: a higher role may do everything a lower one may."""

    EXTERNAL = 0
    MEMBER = 1
    ADMIN = 2


@dataclass(frozen=True, slots=True)
class SlackUser:
    """What a `users.info` record tells about a user, as far as roles go."""

    team_id: str | None  # None: Slack did not say (then the user is not known to be ours)
    is_guest: bool  # True unless Slack said plainly that the user is a full member


def read_slack_user(record: Any) -> SlackUser:
    """A `users.info` user record read fail-closed: anything missing or odd means "not known to be
    agency staff" (no team, or a guest)."""
    if not isinstance(record, Mapping):
        return SlackUser(team_id=None, is_guest=True)
    team = record.get("team_id")
    # Guests of our own workspace are is_restricted (multi-channel) or is_ultra_restricted
    # (single-channel). Slack always sends both flags: only `false` for both is a full member.
    full_member = record.get("is_restricted") is False and record.get("is_ultra_restricted") is False
    # A deactivated account, or one Slack itself marks as a stranger, is nobody's staff.
    gone = record.get("deleted") is True or record.get("is_stranger") is True
    return SlackUser(team_id=team if isinstance(team, str) and team else None, is_guest=not full_member or gone)


def role_of(
    *,
    user_id: str,
    actor_team_id: str | None,
    home_team_id: str | None,
    admins: Collection[str],
    is_guest: bool = False,
    in_admin_group: bool = False,
) -> Role:
    """The role of a Slack user, decided by team id rather than `is_stranger` (which misses most).

    Agency roles need positive knowledge: the user's team is known and is the team that installed
    the app. An unknown team (Slack did not say, or we do not know our own) is least privilege."""
    if not actor_team_id or not home_team_id or actor_team_id != home_team_id:
        # A Slack Connect user from the client's organization, or a user we cannot place: never
        # configuration rights, even if their user id happens to be in the admin list.
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
