"""On-demand digests: `/pulse digest|budget|milestones|deadlines` and `@Account Pulse status`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from bot.domain.access import Role, audience_for
from bot.domain.accounts import Account, Audience, Channel
from bot.domain.commands import CommandSpec, Invocation
from bot.domain.jira_trouble import JiraTrouble, jira_scope, jira_trouble
from bot.domain.words import CommandRef
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.blocks import escape_mrkdwn
from bot.render.digest import RenderedDigest, render_budget, render_deadlines, render_milestones, render_status
from bot.render.i18n import translate
from bot.render.words import Voice
from bot.services.charts import Charts
from bot.services.commands import Asker, CommandService, Reply
from bot.services.digests import DigestService

log = get_logger("pulse.commands")

SECTIONS: dict[str, Callable] = {
    "budget": lambda digest, account, url: render_budget(digest.budget, account),
    "milestones": lambda digest, account, url: render_milestones(digest.milestones, account),
    "deadlines": lambda digest, account, url: render_deadlines(digest.deadlines, account, jira_url=url),
}


def jira_trouble_reply(error: UpstreamError, account: Account, audience: Audience) -> Reply:
    """The answer when Jira failed: "try later" when it is down; the cause for the agency when this
    account's projects or query are wrong or unreadable; a neutral line for a client."""
    trouble = jira_trouble(error)
    if trouble is JiraTrouble.DOWN:
        return Reply(translate(account.language, "command.jira_unavailable"))
    if audience is Audience.CLIENT:
        # How the agency's Jira is set up is not the client's business (nor are its project keys).
        return Reply(translate(account.language, "command.unanswerable"))
    message_id = "command.jira_not_found" if trouble is JiraTrouble.NOT_FOUND else "command.jira_forbidden"
    return Reply(translate(account.language, message_id, scope=escape_mrkdwn(jira_scope(account)), detail=escape_mrkdwn(error.message)))


def _more_hint(asker: Asker, account: Account) -> str:
    """Where the whole is: the full digest for agency members; the sections a client may ask for."""
    if asker.role >= Role.MEMBER:
        # The slash form: members can run it, and its `public` is theirs to add.
        digest = Voice(account.language).command(CommandRef(("digest",)))
        return translate(account.language, "status.more_digest", command=f"`{digest}`")
    voice = asker.voice()
    commands = ", ".join(f"`{voice.command(CommandRef((name,)))}`" for name in ("budget", "milestones", "deadlines"))
    return translate(account.language, "status.more_sections", commands=commands)


def _reply(rendered: RenderedDigest, public: bool) -> Reply:
    first, *rest = rendered.messages
    more = tuple(Reply(m.text, m.blocks, public) for m in rest)
    return Reply(first.text, first.blocks, public, more)


def register_digest_commands(
    commands: CommandService,
    service: DigestService,
    clock: Callable[[], dt.datetime],
    jira_browse_url: str | None = None,
    charts: Charts | None = None,
) -> None:
    """Add the digest commands to the command table (`charts`: `/pulse budget` shows the burn-up,
    `/pulse milestones` the timeline)."""

    async def answer(inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        assert account is not None and channel is not None
        audience = audience_for(channel.audience, asker.role)
        try:
            digest, rendered, data = await service.compose(account, audience, clock())
        except UpstreamError as exc:
            trouble = jira_trouble(exc)
            # The operator gets the real cause and the traceback; the person a reply that fits.
            (log.warning if trouble is JiraTrouble.DOWN else log.error)(
                "command could not read Jira", exc_info=exc, trouble=trouble.value, account=account.key,
                channel=channel.id, command=inv.spec.name, error=str(exc),
            )
            return jira_trouble_reply(exc, account, audience)
        section = inv.spec.path[0]
        if section == "status":
            rendered = render_status(digest, account, _more_hint(asker, account))
        elif section in SECTIONS:
            rendered = SECTIONS[section](digest, account, jira_browse_url)
        reply = _reply(rendered, inv.public)
        if section == "budget" and charts is not None:
            # The audience's burn-up (a client's: its hours only, never money).
            try:
                chart = await charts.burn_up_block(account, audience, data.issues, digest.generated_at)
            except Exception:
                log.exception("the budget chart was left out", account=account.key)
                chart = None
            if chart is not None:
                reply = dataclasses.replace(reply, blocks=[*reply.blocks, chart])
        if section == "milestones" and charts is not None:
            # The audience's timeline: a client's holds only the milestones its answer shows.
            try:
                chart = await charts.timeline_block(account, audience, data.issues, data.versions, digest.generated_at)
            except Exception:
                log.exception("the milestone timeline was left out", account=account.key)
                chart = None
            if chart is not None:
                reply = dataclasses.replace(reply, blocks=[*reply.blocks, chart])
        return reply

    commands.replace_handler("status", answer, summary="summary.status.glance")
    commands.add(CommandSpec(("digest",), "summary.digest", needs_account=True, can_be_public=True), answer)
    for name in ("budget", "milestones", "deadlines"):
        commands.add(
            CommandSpec((name,), f"summary.{name}", min_role=Role.EXTERNAL, needs_account=True, can_be_public=True),
            answer,
        )
