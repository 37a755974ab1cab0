"""The composition root, the one place that wires the bot. Nothing at import time.

`build_ports(settings)` makes the outside world from settings: Jira, Confluence, Slack, the store,
the clock and the accounts (`Ports`). `assemble(settings, ports)` makes the app and its background
work (digests, commands, listeners, scheduler, inbox worker) from ports. `pulse serve`, `pulse
digest`, `pulse demo`, the benchmarks and the tests all go through these two, the demo and the tests
with ports made of fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.accounts_file import load_accounts
from bot.clock import utc_now
from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig
from bot.domain.events import Event
from bot.domain.health import HealthChecks
from bot.domain.links import SiteLinks
from bot.errors import ConfigError
from bot.listeners import ListenerDeps, register_all
from bot.listeners.answers import Answers
from bot.logs import get_logger
from bot.scheduler import DigestScheduler
from bot.services.channel_audiences import ChannelAudiences
from bot.services.channel_links import LinkService, register_link_commands
from bot.services.charts import Charts
from bot.services.commands import CommandService
from bot.services.digest_commands import register_digest_commands
from bot.services.digests import INTENT_LEASE, DigestService
from bot.services.directory import Directory
from bot.services.doctor import ConfluenceChecks, JiraChecks, log_findings
from bot.services.exactly_once import OncePoster, owner_id
from bot.services.handover import HandoverService, register_handover_commands
from bot.services.handover_nudge import VacationNudges
from bot.services.handover_steps import HandoverSteps
from bot.services.inbox_worker import InboxWorker, WorkerSettings, run_inbox_worker, stop_inbox_worker
from bot.services.portfolio import PortfolioHome, PortfolioService, register_portfolio_commands
from bot.services.portfolio_weekly import WeeklyOverview
from bot.services.slack_intents import SlackIntents
from bot.services.subscriptions import register_subscribe_commands
from bot.services.support import SupportService, register_support_commands
from bot.settings import Settings
from bot.web import build_web_app
from integrations.confluence import AtlassianConfluence, ConfluencePort
from integrations.jira import AtlassianJira, JiraPort
from integrations.slack import SlackPause, SlackPort, SlackUsersByEmail, SlackWeb, make_web_client
from integrations.store.store import Store

log = get_logger("pulse.app")

# How often the handover clock looks for steps that are due.
HANDOVER_TICK_S = 60.0

# How long shutdown waits for a digest tick or an inbox batch in progress before cancelling it.
SHUTDOWN_GRACE_S = 30.0
# How often support requests Jira refused are tried again and first-response clocks are checked.
SUPPORT_TICK_S = 20.0


def create_bolt_app(
    *, client: AsyncWebClient, signing_secret: str | None, deps: ListenerDeps
) -> AsyncApp:
    """The Bolt app with every listener registered."""
    app = AsyncApp(
        client=client,
        # Socket Mode needs no signing secret; Bolt still wants a value.
        signing_secret=signing_secret or "socket-mode-unused",
        request_verification_enabled=signing_secret is not None,
        # Listeners ack and hand their work to deps.answers: Slack gets its answer as soon as
        # the listener returns, without Bolt's 10 ms ack polling (bot.listeners.answers).
        process_before_response=True,
    )

    @app.error
    async def on_error(error, body):
        # The operator gets the traceback; the user got an ack and (at worst) no answer.
        # Bolt calls this outside the `except` block: pass the exception itself for the traceback.
        log.error(
            "listener failed",
            exc_info=error,
            payload_type=body.get("type") if isinstance(body, dict) else None,
        )

    register_all(app, deps)
    return app


@dataclass
class Runtime:
    """Everything `pulse serve` runs, wired together."""

    settings: Settings
    accounts: AccountsConfig
    store: Store
    client: AsyncWebClient
    bolt: AsyncApp
    clock: Callable[[], dt.datetime] = utc_now
    jira: JiraPort | None = None
    scheduler: DigestScheduler | None = None
    slack: SlackPort | None = None
    digests: DigestService | None = None
    confluence: ConfluencePort | None = None
    background: list[asyncio.Task] = field(default_factory=list)
    # What /healthz reports besides the database: the background components register here.
    health: HealthChecks = field(default_factory=HealthChecks)
    # Commands and mentions acknowledged but still being answered; shutdown waits for them.
    answers: Answers | None = None
    # The `/pulse` command table (the demo prints its help).
    commands: CommandService | None = None
    # The one judge of channels' effective audiences (None without a Slack client).
    audiences: ChannelAudiences | None = None
    # Health snapshots per account (App Home, /pulse accounts), refreshed in the background.
    portfolio: PortfolioService | None = None
    # The ports it was assembled from (the inbox worker is built from them once serving).
    ports: Ports | None = None
    # Support requests (None without Slack to answer in).
    support: SupportService | None = None
    # Channels linked from Slack; other processes' links are picked up in the background.
    links: LinkService | None = None
    # Handover steps (None without Slack); a clock runs them every minute while serving with the scheduler on.
    handover_steps: HandoverSteps | None = None
    # Each role holder's weekly overview by DM (None: off, or without Slack); ticks with the scheduler on.
    weekly: WeeklyOverview | None = None
    # Slack requests recorded before their ack; the support tick answers those a dead process left.
    intents: SlackIntents | None = None
    _stop_worker: asyncio.Event | None = None
    _stop_portfolio: asyncio.Event | None = None
    _http: aiohttp.ClientSession | None = None

    async def _check_slack(self) -> None:
        """Log whether Slack answers; keep trying with backoff instead of crashing at start-up."""
        delay = 1.0
        while True:
            try:
                auth = await self.client.auth_test()
                log.info("slack connected", team=auth.get("team_id"), bot_user=auth.get("user_id"))
                return
            except Exception as exc:
                log.warning("slack unreachable, retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300)

    async def _refresh_links(self) -> None:
        """The store's channel links applied here now (before the inbox worker routes a batch)."""
        if self.links is not None:
            await asyncio.to_thread(self.links.sync)

    async def _handover_clock(self, steps: HandoverSteps) -> None:
        """Handover steps every minute; each is claimed in the store, so a step cut off by shutdown
        is taken over later and never posts twice. The first tick waits a minute: start-up's own
        work (the inbox backlog, the digests) comes first, and nothing here is urgent."""
        while True:
            await asyncio.sleep(HANDOVER_TICK_S)
            try:
                await steps.tick()
            except Exception:
                log.exception("handover tick failed")

    async def _weekly_clock(self, weekly: WeeklyOverview) -> None:
        """The weekly overviews every minute (each keyed per person and week: never twice)."""
        while True:
            await asyncio.sleep(HANDOVER_TICK_S)
            try:
                await weekly.tick()
            except Exception:
                log.exception("weekly overview tick failed")

    async def _socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        app_token = self.settings.slack.app_token
        if app_token is None:  # only started in Socket Mode, which the app token selects
            raise ConfigError("settings", ["SLACK_APP_TOKEN is not set: Socket Mode needs the app-level token (xapp-…)"])
        delay = 1.0
        while True:
            handler = AsyncSocketModeHandler(self.bolt, app_token.get_secret_value())
            try:
                await handler.connect_async()
                log.info("socket mode connected")
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                # Shutting down: say goodbye to Slack instead of leaving the socket hanging.
                await asyncio.shield(handler.close_async())
                raise
            except Exception as exc:
                log.warning("socket mode failed, retrying", error=str(exc), retry_in_s=delay)
                await handler.close_async()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300)

    async def _support_loop(self) -> None:
        """Retry support filings and watch first-response clocks, forever (idempotent in the store)."""
        assert self.support is not None
        while True:
            if self.intents is not None:
                try:
                    # First: requests acknowledged to Slack by a process that died before answering.
                    await self.intents.recover()
                except Exception:
                    log.exception("recovering recorded slack requests failed")
            try:
                await self.support.tick()
            except Exception:
                log.exception("support tick failed")
            await asyncio.sleep(SUPPORT_TICK_S)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # One HTTP session (and connection pool) for every Slack call and response_url answer:
        # slack_sdk and Bolt opened a new one per call. Made here, on the serving loop.
        self._http = aiohttp.ClientSession()
        self.client.session = self._http
        self.background.append(asyncio.create_task(self._check_slack()))
        if self.settings.slack.app_token is not None:
            self.background.append(asyncio.create_task(self._socket_mode()))
        if self.handover_steps is not None and self.settings.scheduler_enabled:
            self.background.append(asyncio.create_task(self._handover_clock(self.handover_steps), name="handover-clock"))
        if self.weekly is not None and self.settings.scheduler_enabled:
            self.background.append(asyncio.create_task(self._weekly_clock(self.weekly), name="weekly-overview"))
        if self.scheduler is not None:
            self.scheduler.start()
            register_scheduler_health(self.health, self.scheduler)
        worker = None
        if isinstance(self.slack, SlackWeb) and self.ports is not None:
            self.health.register("slack", self.slack.pause.health)
            # The worker drains the durable inbox: deliveries stored before a restart are not lost.
            worker, self._stop_worker = run_inbox_worker(build_inbox_worker(
                self.ports, audiences=self.audiences,
                on_events=self.portfolio.mark_stale if self.portfolio is not None else None,
                support=self.support,
                is_member=self.handover_steps.is_member if self.handover_steps is not None else None,
                refresh_links=self._refresh_links if self.links is not None else None,
            ), self.health
            )
        if self.portfolio is not None:
            self._stop_portfolio = asyncio.Event()
            self.background.append(asyncio.create_task(self.portfolio.run_forever(self._stop_portfolio),
                                                       name="portfolio"))
        if self.support is not None:
            self.background.append(asyncio.create_task(self._support_loop(), name="support"))
        if self.links is not None:
            self.background.append(asyncio.create_task(self.links.run_forever(asyncio.Event()), name="channel-links"))
        if isinstance(self.jira, JiraChecks):
            # The same checks as `pulse doctor`, logged; in the background, so start-up waits for
            # no Jira or Slack round trip, and never fatal: the bot serves what it can. (A fake
            # Jira without the doctor's calls is not checked.)
            confluence = self.confluence if isinstance(self.confluence, ConfluenceChecks) else None
            self.background.append(asyncio.create_task(log_findings(
                self.accounts, jira=self.jira, slack=self.client, confluence=confluence, now=self.clock(),
            ), name="start-up-check"))
        log.info(
            "pulse started",
            host=socket.gethostname(),
            accounts=len(self.accounts.accounts),
            mode="socket" if self.settings.slack.app_token else "http",
        )
        try:
            yield
        finally:
            await self._shut_down(app, worker)

    async def _shut_down(self, app: Starlette, worker: asyncio.Task | None) -> None:
        # Work in progress finishes first (a message on its way to Slack is recorded, so the next
        # process does not post it again); only what overruns the grace time is cancelled.
        if self.scheduler is not None:
            await self.scheduler.stop(timeout=SHUTDOWN_GRACE_S)
        if worker is not None and self._stop_worker is not None:
            await stop_inbox_worker(worker, self._stop_worker, SHUTDOWN_GRACE_S)
        if self.answers is not None:
            await self.answers.drain(SHUTDOWN_GRACE_S)  # commands acknowledged but not yet answered
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self._http is not None:
            self.client.session = None
            await self._http.close()
        if self.intents is not None:
            await self.intents.aclose()
        close_intake = getattr(app.state, "close_intake", None)
        if close_intake is not None:
            await close_intake()
        # Closing joins worker threads: off the event loop.
        for part in (self.digests, self.jira, self.confluence):
            close = getattr(part, "close", None)  # an in-memory fake has nothing to close
            if close is not None:
                await asyncio.to_thread(close)
        self.store.close()

    def asgi(self) -> Starlette:
        http_mode = self.settings.slack.app_token is None
        handler = AsyncSlackRequestHandler(self.bolt) if http_mode else None

        async def slack_events(request):
            return await handler.handle(request)

        return build_web_app(
            store=self.store,
            jira_secret=_secret(self.settings.jira.webhook_secret),
            confluence_secret=_secret(self.settings.confluence_webhook_secret),
            max_webhook_bytes=self.settings.webhook_max_bytes,
            clock=self.clock,
            slack_endpoint=slack_events if http_mode else None,
            slack_signing_secret=_secret(self.settings.slack.signing_secret) if http_mode else None,
            lifespan=self.lifespan,
            health=self.health,
        )


def register_scheduler_health(health: HealthChecks, scheduler: object) -> bool:
    """HOOK for the scheduler's health in /healthz: its `health() -> list[str]` (failing channels,
    a stuck tick; the scheduling work of issue #10) is registered as "scheduler" once the
    scheduler has it. True if registered."""
    check = getattr(scheduler, "health", None)
    if not callable(check):
        return False
    health.register("scheduler", check)
    return True


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_commands(
    accounts: AccountsConfig,
    digests: DigestService | None,
    store: Store | None,
    clock: Callable[[], dt.datetime] = utc_now,
    jira_browse_url: str | None = None,
    audiences: ChannelAudiences | None = None,
    portfolio: PortfolioService | None = None,
    handovers: HandoverService | None = None,
    support: SupportService | None = None,
    links: LinkService | None = None,
) -> CommandService:
    """The `/pulse` command table with every feature's commands."""
    commands = CommandService(accounts, audiences=audiences)
    if digests is not None:
        register_digest_commands(commands, digests, clock, jira_browse_url, digests.charts)
    if store is not None:
        register_subscribe_commands(commands, store, accounts, clock)
    if portfolio is not None:
        register_portfolio_commands(commands, portfolio, audiences)
    if handovers is not None:
        register_handover_commands(commands, handovers)
    if support is not None:
        register_support_commands(commands, support)
    if links is not None:
        register_link_commands(commands, links)
    return commands


def build_listener_deps(
    accounts: AccountsConfig,
    client: AsyncWebClient,
    settings: Settings,
    digests: DigestService | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    store: Store | None = None,
    audiences: ChannelAudiences | None = None,
    portfolio: PortfolioService | None = None,
    support: SupportService | None = None,
    links: LinkService | None = None,
    directory: Directory | None = None,
    handover_steps: HandoverSteps | None = None,
    slack: SlackPort | None = None,
) -> ListenerDeps:
    directory = directory or Directory(client, settings.admin_users, settings.admin_usergroup)
    handovers = None
    if store is not None:
        handovers = HandoverService(store, accounts, clock, directory,
                                    assigned=portfolio.assigned_to if portfolio is not None else None)
        if handover_steps is not None:
            # The summary right after saving; "while you were away" right after a cancel.
            handovers.after_create = handovers.after_cancel = handover_steps.start
    if support is not None:
        support.names = directory.display_name  # requesters are named in Jira (clients have no seat)
    nudges = None
    if store is not None and slack is not None:
        nudges = VacationNudges(accounts, store, clock, directory, slack,
                                OncePoster(store, slack, clock, owner_id(), INTENT_LEASE))
    return ListenerDeps(
        commands=build_commands(accounts, digests, store, clock, settings.jira.url, audiences, portfolio, handovers,
                                support, links),
        directory=directory,
        audiences=audiences,
        home=PortfolioHome(portfolio, digests, site_links(settings), audiences) if portfolio is not None else None,
        support=support,
        links=links,
        handovers=handovers,
        nudges=nudges,
        intents=SlackIntents.for_store(store, clock, owner_id()) if store is not None and support is not None else None,
    )


def site_links(settings: Settings) -> SiteLinks:
    """Where message links point: the configured sites (never a payload's `self`)."""
    return SiteLinks(jira=settings.jira.url, confluence=settings.confluence_url)


def build_jira(settings: Settings) -> AtlassianJira:
    """The Jira adapter for the configured site (Cloud: email + API token; Data Center: PAT)."""
    if not settings.jira.url:
        raise ConfigError("settings", ["JIRA_URL is not set: the Jira site, e.g. https://agency.atlassian.net"])
    return AtlassianJira(
        settings.jira.url,
        user=settings.jira.user,
        api_token=_secret(settings.jira.api_token),
        cloud=settings.jira.is_cloud,
    )


def build_slack_client(settings: Settings, **options: Any) -> AsyncWebClient:
    """The Slack Web API client with the bot token (`options`: e.g. `max_retries` for `pulse doctor`)."""
    if settings.slack.bot_token is None:
        raise ConfigError("settings", ["SLACK_BOT_TOKEN is not set: the bot token (xoxb-…) from the Slack app's OAuth page"])
    return make_web_client(settings.slack.bot_token.get_secret_value(), settings.slack.api_url, **options)


def build_confluence(settings: Settings) -> AtlassianConfluence | None:
    """The Confluence adapter, or None when CONFLUENCE_URL is not set."""
    if not settings.confluence_url:
        return None
    return AtlassianConfluence(
        settings.confluence_url,
        user=settings.confluence_user,
        api_token=_secret(settings.confluence_token),
        cloud=settings.confluence.is_cloud,
    )


@dataclass
class Ports:
    """The outside world as the bot sees it: from settings (`build_ports`) or, in the demo and the
    tests, from fakes. `close()` closes what was opened for it."""

    accounts: AccountsConfig
    store: Store
    jira: JiraPort
    clock: Callable[[], dt.datetime] = utc_now
    # Posting (paced per channel, paused while the token is refused); None: render only, post nothing.
    slack: SlackPort | None = None
    # The Web API client behind it: Bolt, the user directory, the start-up checks.
    slack_client: AsyncWebClient | None = None
    confluence: ConfluencePort | None = None
    links: SiteLinks = field(default_factory=SiteLinks)

    def close(self) -> None:
        for port in (self.jira, self.confluence, self.store):
            close = getattr(port, "close", None)  # an in-memory fake has nothing to close
            if close is not None:
                close()


def build_ports(
    settings: Settings,
    *,
    accounts: AccountsConfig | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    store: Store | None = None,
    slack: bool = True,
) -> Ports:
    """Every port from settings: `store` if given (else the database at DATABASE_URL), Slack only
    with `slack` (a digest that is only printed needs no token)."""
    if accounts is None:
        if settings.accounts_file is None:
            raise ConfigError("settings", ["PULSE_ACCOUNTS_FILE is not set: the accounts file (see config/accounts.example.yaml)"])
        accounts = load_accounts(settings.accounts_file)
    client = build_slack_client(settings) if slack else None
    return Ports(
        accounts=accounts,
        store=store or Store.open(settings.database_url),
        jira=build_jira(settings),
        clock=clock,
        # One Slack adapter, so digests and notifications share the per-channel pacing.
        slack=SlackWeb(client, pause=SlackPause(client, clock=clock)) if client is not None else None,
        slack_client=client,
        confluence=build_confluence(settings),
        links=site_links(settings),
    )


def build_audiences(settings: Settings, ports: Ports) -> ChannelAudiences | None:
    """The one judge of every channel's effective audience (an internal channel Slack calls shared
    gets the client view); None without a Slack client (nothing is posted then)."""
    if ports.slack_client is None:
        return None
    notices = OncePoster(ports.store, ports.slack, ports.clock, owner_id(), INTENT_LEASE) if ports.slack else None
    return ChannelAudiences(ports.slack_client, ports.accounts, notices=notices, admins=settings.admin_users)


def build_digests(ports: Ports, audiences: ChannelAudiences | None = None, **tuning: Any) -> DigestService:
    """The digest service over the ports (it posts only if the ports have Slack); `tuning` for the
    benchmarks (`jira_concurrency`, `retry_delays`)."""
    digests = DigestService(
        jira=ports.jira, slack=ports.slack, store=ports.store, clock=ports.clock, jira_browse_url=ports.links.jira,
        confluence=ports.confluence, audiences=audiences, **tuning,
    )
    # Charts need Slack's file upload (SlackWeb has it; a port without it posts no charts).
    if ports.slack is not None and callable(getattr(ports.slack, "upload_file", None)):
        digests.charts = Charts(ports.slack)  # type: ignore[arg-type]
    return digests


def build_portfolio(ports: Ports, digests: DigestService, audiences: ChannelAudiences | None = None,
                    directory: Directory | None = None) -> PortfolioService:
    """Health snapshots per account: refreshed from every scheduled digest's Jira data (hooked in
    here) and in the background; bad news told through its own OncePoster (the responsible role's
    holders by DM too, when the directory can say they are agency members)."""
    notices = OncePoster(ports.store, ports.slack, ports.clock, owner_id(), INTENT_LEASE) if ports.slack else None
    portfolio = PortfolioService(accounts=ports.accounts, digests=digests, store=ports.store, clock=ports.clock,
                                 notices=notices, audiences=audiences, handovers=ports.store.handovers.active,
                                 is_member=directory.is_member if directory is not None else None)
    digests.on_fetched = portfolio.from_digest
    return portfolio


def build_inbox_worker(
    ports: Ports,
    settings: WorkerSettings | None = None,
    *,
    audiences: ChannelAudiences | None = None,
    on_events: Callable[[list[Event]], Awaitable[None]] | None = None,
    support: SupportService | None = None,
    is_member: Callable[[str], Awaitable[bool | None]] | None = None,
    refresh_links: Callable[[], Awaitable[None]] | None = None,
) -> InboxWorker:
    """The inbox worker over the ports (`pulse serve` runs it once serving; the demo and the
    benchmarks run it by hand). It posts, so the ports need Slack."""
    if ports.slack is None:
        raise ValueError("the inbox worker posts: its ports need Slack")
    return InboxWorker(
        ports.store, ports.accounts, ports.slack, ports.jira, ports.clock, settings,
        confluence=ports.confluence,
        # Jira people mentioned in comments become Slack mentions when Slack knows their email.
        people_lookup=SlackUsersByEmail(ports.slack_client) if ports.slack_client is not None else None,
        # Slack refusing the token pauses posting (a fake Slack never refuses).
        pause=ports.slack.pause if isinstance(ports.slack, SlackWeb) else None,
        links=ports.links,
        audiences=audiences,
        on_events=on_events,
        support=support,
        # Covers are DM'd of the away person's issues only once Slack says they are of the agency.
        is_member=is_member,
        refresh_links=refresh_links,
    )


def build_support(ports: Ports, audiences: ChannelAudiences | None = None,
                  directory: Directory | None = None) -> SupportService | None:
    """Support requests over the ports; None without Slack (there is no thread to answer in)."""
    if ports.slack is None:
        return None
    return SupportService(
        accounts=ports.accounts, store=ports.store, jira=ports.jira, slack=ports.slack,
        poster=OncePoster(ports.store, ports.slack, ports.clock, owner_id(), INTENT_LEASE),
        clock=ports.clock, links=ports.links,
        # Who covers whom today: escalations and emergency DMs reach the person doing the job.
        handovers=lambda: ports.store.handovers.active(ports.clock().date() - dt.timedelta(days=1)),
        audiences=audiences,
        # Emergency DMs only to agency members (a cover who became a guest gets none).
        is_member=directory.is_member if directory is not None else None,
    )


def build_links(ports: Ports, audiences: ChannelAudiences | None = None, directory: Directory | None = None) -> LinkService:
    """Channels linked from Slack, applied now to the accounts every part of the bot holds (the
    accounts file as loaded is kept as the seed, which wins). With the directory, a channel's
    members are checked before `internal` is offered and admin rights are asked of Slack at the write."""

    async def role_now(user_id: str, home_team: str | None) -> Role:
        assert directory is not None
        return await directory.role(user_id, None, home_team, fresh=True)

    poster = OncePoster(ports.store, ports.slack, ports.clock, owner_id(), INTENT_LEASE) if ports.slack else None
    links = LinkService(seed=ports.accounts.model_copy(deep=True), live=ports.accounts, store=ports.store,
                        clock=ports.clock, audiences=audiences, poster=poster,
                        members=ports.slack_client if directory is not None else None,
                        is_member=directory.is_member if directory is not None else None,
                        role_now=role_now if directory is not None else None)
    links.sync()
    return links


def assemble(settings: Settings, ports: Ports) -> Runtime:
    """The app and its background work from the ports: listeners, commands, digests, the portfolio,
    the scheduler (if enabled) and, once serving, the inbox worker."""
    if ports.slack_client is None:
        # Bolt, the user directory and the start-up check all need the Web API client.
        raise ValueError("assemble needs ports with a Slack client (build_ports(..., slack=True))")
    audiences = build_audiences(settings, ports)
    directory = Directory(ports.slack_client, settings.admin_users, settings.admin_usergroup)
    links = build_links(ports, audiences, directory)
    digests = build_digests(ports, audiences)
    portfolio = build_portfolio(ports, digests, audiences, directory)
    support = build_support(ports, audiences, directory)
    handover_steps = (
        HandoverSteps(ports.store, ports.accounts, digests, ports.slack, ports.clock, directory.display_name,
                      links=ports.links, audiences=audiences, is_member=directory.is_member,
                      confluence=ports.confluence)
        if ports.slack is not None else None
    )
    weekly = (
        WeeklyOverview(portfolio, OncePoster(ports.store, ports.slack, ports.clock, owner_id(), INTENT_LEASE),
                       directory.is_member, settings.weekly_overview)
        if ports.slack is not None and settings.weekly_overview else None
    )
    deps = build_listener_deps(ports.accounts, ports.slack_client, settings, digests, ports.clock, ports.store, audiences,
                               portfolio, support, links, directory, handover_steps, ports.slack)
    bolt = create_bolt_app(client=ports.slack_client, signing_secret=_secret(settings.slack.signing_secret), deps=deps)
    scheduler = DigestScheduler(ports.accounts, digests, ports.store, ports.clock) if settings.scheduler_enabled else None
    return Runtime(
        settings=settings, accounts=ports.accounts, store=ports.store, client=ports.slack_client, bolt=bolt,
        clock=ports.clock, jira=ports.jira, scheduler=scheduler, slack=ports.slack, digests=digests,
        confluence=ports.confluence, answers=deps.answers, commands=deps.commands, audiences=audiences,
        portfolio=portfolio, ports=ports, support=support, links=links,
        handover_steps=handover_steps, weekly=weekly, intents=deps.intents,
    )


def build_runtime(settings: Settings, *, accounts: AccountsConfig | None = None, clock: Callable[[], dt.datetime] = utc_now) -> Runtime:
    """Wire the whole bot from settings (the caller checked `missing_for_serve()` first)."""
    return assemble(settings, build_ports(settings, accounts=accounts, clock=clock))


def serving_app(runtime: Runtime) -> Starlette:
    """The ASGI app `pulse serve` runs, with what start-up made moved out of the collector's way.

    Start-up leaves ~150k long-lived objects (modules, the app, settings, accounts). Left in the
    collected generations, each full collection walks them all (~110 ms) and stalls every request
    in flight; frozen, collections only see what requests allocate.
    """
    app = runtime.asgi()
    gc.collect()
    gc.freeze()
    return app
