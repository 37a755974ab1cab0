"""`pulse digest`: print an account's digest as of a moment, and post it only when asked."""

from __future__ import annotations

import datetime

import click

from bot.cli.context import fail, open_store
from bot.clock import utc_now
from bot.errors import ConfigError
from bot.logs import get_logger
from bot.settings import load_settings

log = get_logger("pulse.cli")


def parse_at(value: str | None, tz: datetime.tzinfo) -> datetime.datetime:
    if value is None:
        return utc_now()
    try:
        at = datetime.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--at {value!r} is not an ISO date-time (e.g. 2026-11-23T09:00 or 2026-11-23T09:00+01:00).", 2)
    # A time without offset means the account's local time ("what will Monday 9:00 say").
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


@click.command("digest")
@click.option("--account", "account_key", required=True, help="Account key from the accounts file.")
@click.option("--audience", type=click.Choice(["client", "internal"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "blocks", "json"]), default="text", show_default=True)
@click.option("--at", "at", default=None, help="As of this ISO date-time (default: now; no offset = account's time).")
@click.option("--since", default=None, help="Count news since this ISO date-time (default: a week before --at).")
@click.option("--post", is_flag=True, help="Also post it to the account's channels of that audience.")
@click.option("--chart", "chart", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write the audience's chart to this PNG file (see --chart-kind).")
@click.option("--chart-kind", "chart_kind", type=click.Choice(["burn-up", "timeline"]), default="burn-up",
              show_default=True, help="Which chart --chart writes: the budget burn-up or the milestone timeline.")
def digest(account_key: str, audience: str, fmt: str, at: str | None, since: str | None, post: bool,
           chart: str | None, chart_kind: str) -> None:
    """Print an account's digest as of now (or --at); post it only with --post."""
    import asyncio
    import json

    from bot.accounts_file import load_accounts
    from bot.app import build_digests, build_ports
    from bot.domain.accounts import Audience
    from bot.errors import UpstreamError
    from bot.render.digest import digest_to_json
    from bot.services.channel_audiences import ChannelAudiences

    settings = load_settings()
    missing = settings.missing_for_digest(post)
    if missing:
        fail("pulse digest needs these settings: " + ", ".join(missing)
              + " (in .env or the environment). Without credentials, try `pulse demo`.", 2)
    assert settings.accounts_file is not None  # missing_for_digest() names it when it is missing
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        fail(str(exc))
    account = accounts.by_key(account_key)
    if account is None:
        fail(f"No account {account_key!r} in {settings.accounts_file}; known: {', '.join(a.key for a in accounts.accounts)}", 2)
    as_of = parse_at(at, account.tz)
    since_at = parse_at(since, account.tz) if since else None
    # Slack only with --post: without it the digest is rendered and printed, nothing can be posted.
    ports = build_ports(settings, accounts=accounts, clock=lambda: as_of, store=open_store(settings.database_url),
                        slack=post)
    service = build_digests(ports)

    async def build_and_post():
        result, rendered, data = await service.compose(account, Audience(audience), as_of, since_at)
        posted = []
        if post:
            stamp = utc_now().isoformat()
            # As Slack shares them now: an internal channel shared with another organization
            # is a client channel (bot.services.channel_audiences).
            audiences = ChannelAudiences(ports.slack_client, accounts)
            for channel in account.channels:
                if await audiences.audience(account, channel) == audience:
                    await service.post_manual(channel.id, rendered, stamp)
                    posted.append(channel.name or channel.id)
        return result, rendered, data, posted

    try:
        result, rendered, data, posted = asyncio.run(build_and_post())
    except UpstreamError as exc:
        fail(f"Jira or Slack did not answer, so nothing was printed or posted: {exc}")
    finally:
        service.close()
        ports.close()
    if fmt == "text":
        click.echo(rendered.text)
    elif fmt == "blocks":
        click.echo(json.dumps([m.blocks for m in rendered.messages], ensure_ascii=False, indent=2))
    else:
        click.echo(json.dumps(digest_to_json(result), ensure_ascii=False, indent=2))
    log.info("digest built", account=account.key, audience=audience, jira_calls=data.calls, issues=len(data.issues))
    if chart is not None:
        from bot.services.charts import burn_up_png, timeline_png

        if chart_kind == "timeline":
            image = timeline_png(account, Audience(audience), data.issues, data.versions, as_of, since_at)
            if image is None:
                fail(f"{account.key} has no milestone with a date: there is no timeline to draw.", 2)
        else:
            image = burn_up_png(account, Audience(audience), data.issues, as_of)
            if image is None:
                fail(f"{account.key} has no budget in hours: there is no burn-up to draw.", 2)
        with open(chart, "wb") as out:
            out.write(image)
        click.echo(f"chart written to {chart}", err=fmt != "text")
    for name in posted:
        # Part of the answer: on stdout with the text; beside JSON or blocks, on stderr (stdout stays parseable).
        click.echo(f"posted to {name}", err=fmt != "text")
