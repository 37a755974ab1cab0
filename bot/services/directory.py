"""Who a Slack user is for us (admin, member, external), with a short cache of Slack lookups."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

from bot.domain.access import Role, SlackUser, read_slack_user, role_of
from bot.logs import get_logger

log = get_logger("pulse.directory")


class SlackLookups(Protocol):
    async def users_info(self, *, user: str, include_locale: bool = False) -> Any: ...

    async def usergroups_users_list(self, *, usergroup: str) -> Any: ...

    async def auth_test(self) -> Any: ...


class Directory:
    """Resolves roles; caches users.info and usergroup members for `ttl` seconds."""

    def __init__(
        self,
        client: SlackLookups,
        admins: list[str],
        admin_usergroup: str | None,
        ttl: float = 600,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._admins = set(admins)
        self._usergroup = admin_usergroup
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    async def _cached(self, key: str, fetch: Callable[[], Any], fresh: bool = False) -> Any:
        hit = self._cache.get(key)
        if hit and not fresh and self._clock() - hit[0] < self._ttl:
            return hit[1]
        value = await fetch()
        self._cache[key] = (self._clock(), value)
        return value

    async def _profile(self, user_id: str, fresh: bool = False) -> SlackUser | None:
        """The user as users.info tells (read fail-closed); None when Slack cannot tell us."""

        async def fetch() -> SlackUser:
            answer = await self._client.users_info(user=user_id)
            return read_slack_user(answer.get("user"))

        try:
            return await self._cached(f"user:{user_id}", fetch, fresh)
        except Exception as exc:
            log.warning("users.info failed; treating user as external", user=user_id, error=str(exc))
            return None

    async def locale(self, user_id: str) -> str | None:
        """The user's Slack locale ("de-DE"), for answers no account's language decides (a DM, an
        unlinked channel); None when Slack cannot tell us."""

        async def fetch() -> str | None:
            return (await self._client.users_info(user=user_id, include_locale=True))["user"].get("locale")

        try:
            return await self._cached(f"locale:{user_id}", fetch)
        except Exception as exc:
            log.warning("users.info failed; answering in English", user=user_id, error=str(exc))
            return None

    async def display_name(self, user_id: str) -> str | None:
        """The name people know the user by (a support request's requester in Jira); None when
        Slack cannot tell us."""

        async def fetch() -> str | None:
            user = (await self._client.users_info(user=user_id))["user"]
            profile = user.get("profile") or {}
            for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
                if isinstance(name, str) and name.strip():
                    return name.strip()[:100]
            return None

        try:
            return await self._cached(f"name:{user_id}", fetch)
        except Exception as exc:
            log.warning("users.info failed; no display name", user=user_id, error=str(exc))
            return None

    async def _admin_group(self, fresh: bool = False) -> set[str]:
        group = self._usergroup
        if not group:
            return set()

        async def fetch() -> set[str]:
            return set((await self._client.usergroups_users_list(usergroup=group))["users"])

        try:
            return await self._cached("admins", fetch, fresh)
        except Exception:
            log.warning("usergroups.users.list failed; no group admins", exc_info=True)
            return set()

    async def kind_of(self, user_id: str, home_team_id: str | None) -> Literal["member", "external", "unknown"]:
        """Whether someone named in a request (not the asker) is one of the agency: `unknown` when
        Slack does not know them (or cannot tell), `external` for another team's user or a guest."""
        if not home_team_id:
            return "unknown"
        profile = await self._profile(user_id)
        if profile is None or profile.team_id is None:
            return "unknown"
        if profile.is_guest or profile.team_id != home_team_id:
            return "external"
        return "member"

    async def home_team(self) -> str | None:
        """The team that installed the bot (auth.test), for checks outside a request; None when
        Slack cannot tell us."""

        async def fetch() -> str | None:
            return (await self._client.auth_test()).get("team_id")

        try:
            return await self._cached("home_team", fetch)
        except Exception as exc:
            log.warning("auth.test failed; home team unknown", error=str(exc))
            return None

    async def is_member(self, user_id: str) -> bool | None:
        """Whether the user is one of the agency today (not a guest, not another team's); None when
        Slack cannot tell us (the caller tries again later rather than guess)."""
        kind = await self.kind_of(user_id, await self.home_team())
        return None if kind == "unknown" else kind == "member"

    async def role(self, user_id: str, actor_team_id: str | None, home_team_id: str | None, *,
                   fresh: bool = False) -> Role:
        """The user's role; an external team (or not knowing our own) decides without a Slack call.
        `fresh`: asked of Slack now, not from the cache (authorization at the moment of a write:
        someone removed from the admins' user group loses the right at once, not after `ttl`).

        Agency roles need the user's own record to name our team: Bolt cannot always name the
        actor's team (Enterprise Grid `user_team` ids in Slack Connect payloads), and a payload's
        team says where the request came from, not whose the user is."""
        if not home_team_id or (actor_team_id and actor_team_id != home_team_id):
            return Role.EXTERNAL
        profile = await self._profile(user_id, fresh)
        if profile is None:
            # If Slack cannot tell us who this is, assume the least privilege.
            return Role.EXTERNAL
        if profile.team_id is None:
            log.warning("users.info names no team; treating user as external", user=user_id)
            return Role.EXTERNAL
        in_group = user_id in await self._admin_group(fresh) if not profile.is_guest else False
        return role_of(
            user_id=user_id,
            actor_team_id=profile.team_id,
            home_team_id=home_team_id,
            admins=self._admins,
            is_guest=profile.is_guest,
            in_admin_group=in_group,
        )
