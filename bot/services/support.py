"""Support requests from Slack: store first, ask the urgency, file in Jira exactly once, promise.

Order of events, each step durable before the next:

1. The request is stored (`store.support.open`), with its id; a redelivered mention finds it.
2. The urgency question is posted in the request's thread (through `OncePoster`).
3. The urgency is chosen: a conditional update (a second click, or a replayed one, changes nothing).
4. Filing: the worker claims the request (a lease), searches Jira for the label
   `pulse-req-<id>` together with the request's marker `pulse-rq-<digest>` (ids restart in another
   database; the marker does not), and creates the issue only if there is none. A worker killed after Jira
   created the issue but before the store recorded the key leaves the request `filing`; the
   next attempt finds the issue by its label instead of creating a second one.
5. The key, the link and the promised first response are posted in the thread. If Jira is down,
   the thread hears once that the request is recorded and the key follows; `tick` retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, Urgency
from bot.domain.commands import CommandSpec, Invocation
from bot.domain.events import EventType, JiraEvent
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import event_visible, scope_verdict
from bot.domain.retry import backoff
from bot.domain.roles import Handover, holders, today_at
from bot.domain.support import (
    OWNER_FIELDS,
    REQUEST_ARGS,
    adoption_labels,
    check_filer,
    check_text,
    is_auto_reply,
    is_project_work,
    issue_fields,
    organization_fields,
    parse_urgency,
    request_label,
    request_marker,
    still_the_requests,
    support_of,
    target,
)
from bot.domain.support_clock import ClockRules, due_at, elapsed
from bot.domain.words import CommandRef, Text, sentence
from bot.errors import UserError
from bot.logs import get_logger
from bot.render import support as render
from bot.render.blocks import Message, slack_mention
from bot.render.notifications import render_event
from bot.render.words import Voice
from bot.services.channel_audiences import ChannelAudiences
from bot.services.commands import Asker, CommandService, Reply
from bot.services.exactly_once import OncePoster, PostBusy
from bot.services.inbox_batch import Work
from bot.services.notification_posting import Outgoing, current_status, post_key
from integrations.jira import JiraPort
from integrations.slack import SlackPort
from integrations.store.store import Store
from integrations.store.support import SupportRequest

log = get_logger("pulse.support")

SUPPORT_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("request",), "summary.request", args=REQUEST_ARGS, min_role=Role.EXTERNAL, needs_account=True,
                free_text=True),
    CommandSpec(("emergency",), "summary.emergency", args=REQUEST_ARGS, min_role=Role.EXTERNAL, needs_account=True,
                free_text=True),
)

# How long one worker holds a request while it files it; renewed every FILING_HEARTBEAT while the
# Jira calls run (they may take their full timeouts), so a live worker keeps it and a killed one's
# request is free again within seconds, not minutes.
FILING_LEASE = dt.timedelta(seconds=10)
FILING_HEARTBEAT = dt.timedelta(seconds=2)
# How long filing waits for the request's Slack link (chat.getPermalink): a rate-limited or slow
# Slack must not hold the filing up; the issue is filed without the link (logged).
PERMALINK_WAIT = dt.timedelta(seconds=3)
# The internal channel hears about a request Jira keeps refusing after this many attempts.
TELL_TEAM_AFTER = 3
# Jira Cloud's accountType of a licensed user (portal customers are "customer", apps "app").
AGENCY_ACCOUNT_TYPE = "atlassian"
# A request whose urgency nobody chose is filed as a task after this long: never lost in a thread.
URGENCY_WAIT = dt.timedelta(minutes=15)


def retry_delay(attempts: int) -> dt.timedelta:
    """30 s, 1, 2, 4, 8 min, then every 15 min."""
    return backoff(attempts, dt.timedelta(seconds=30), dt.timedelta(minutes=15))


@dataclass(frozen=True)
class Filer:
    """Who files, as the listener worked it out (the role is re-derived on every click)."""

    user_id: str
    role: Role


class SupportService:
    def __init__(
        self, *, accounts: AccountsConfig, store: Store, jira: JiraPort, slack: SlackPort, poster: OncePoster,
        clock: Callable[[], dt.datetime], links: SiteLinks,
        names: Callable[[str], Awaitable[str | None]] | None = None,
        handovers: Callable[[], Iterable[Handover]] = tuple,
        audiences: ChannelAudiences | None = None,
        is_member: Callable[[str], Awaitable[bool | None]] | None = None,
    ):
        self.accounts = accounts
        self.store = store
        self.jira = jira
        self.slack = slack
        self.poster = poster
        self.clock = clock
        self.links = links
        # The requester's name for Jira (Slack's display name); the composition root sets it.
        self.names = names
        # Handovers in effect (who covers whom): escalations reach whoever does the job today.
        self.handovers = handovers
        # Channels' effective audiences: an "internal" channel Slack calls shared hears nothing internal.
        self.audiences = audiences
        # Whether someone is one of the agency today (Directory.is_member; None: Slack cannot tell
        # now): asked right before each emergency DM, like every other DM with account content.
        self.is_member = is_member

    # -- filing from a command or mention

    async def request(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        """`request <text>`: store it, then ask the urgency in its thread."""
        return await self._open(inv, asker, account, channel, None)

    async def emergency(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        """`emergency <text>` (`notfall …`): the urgency is said already; file at once."""
        return await self._open(inv, asker, account, channel, Urgency.EMERGENCY)

    async def _open(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None,
                    urgency: Urgency | None) -> Reply:
        assert account is not None and channel is not None
        support_of(account)
        check_filer(asker.role, channel)
        text = check_text(inv.args[0] if inv.args else "", CommandRef(inv.spec.path, REQUEST_ARGS))
        request_id = await self.open_request(
            account, channel, user_id=asker.user_id, role=asker.role, text=text,
            source_ts=asker.message_ts or asker.request_key,
            thread_ts=asker.thread_ts, urgency=urgency,
        )
        if request_id is None or asker.via_mention:
            return Reply("")  # answered in the thread (or, for a redelivered mention, before)
        return Reply(Voice(account.language).say(sentence("support.opened_thread", id=request_id)))

    async def open_request(
        self, account: Account, channel: Channel, *, user_id: str, role: Role, text: str, source_ts: str | None,
        thread_ts: str | None, urgency: Urgency | None = None, permalink: str | None = None,
        requester_id: str | None = None,
    ) -> int | None:
        """Store a request and carry it on (ask the urgency, or file it); its id, or None when this
        source message was a request already (a redelivered event)."""
        now = self.clock()
        requester = requester_id or user_id
        name = await self._name(requester)
        request_id, new = await asyncio.to_thread(
            self.store.support.open, account_key=account.key, channel_id=channel.id, requester_id=requester,
            now=now, text=text, source_ts=source_ts, thread_ts=thread_ts, requester_name=name,
            requester_external=role is Role.EXTERNAL and requester == user_id, permalink=permalink,
            urgency=urgency.value if urgency else None,
        )
        if not new:
            log.info("support request seen before", request=request_id)
            await self._carry_on(request_id, account)
            return None
        log.info("support request stored", request=request_id, account=account.key, urgency=urgency)
        if thread_ts is None:
            # A slash command has no thread: the request's own message in the channel starts one.
            parent = await self.poster.post([f"support:{request_id}:parent"], channel.id,
                                             render.request_parent(account.language, request_id, requester, text))
            thread_ts = parent.ts
            await asyncio.to_thread(self.store.support.set_thread, request_id, thread_ts)
        if urgency is None:
            await self.poster.post([f"support:{request_id}:ask"], channel.id,
                                   render.urgency_question(account, request_id), thread_ts=thread_ts)
        else:
            await self.file(request_id)
        return request_id

    async def _carry_on(self, request_id: int, account: Account) -> None:
        """The same request again (a recorded mention answered after a restart): whatever step a
        dead process left undone is done now, once — the question's post is keyed, filing is claimed."""
        request = await asyncio.to_thread(self.store.support.get, request_id)
        if request is None or request.kind != "request":
            return
        if request.thread_ts is None:
            # Filed from the modal (no message): its own message in the channel starts the thread.
            try:
                parent = await self.poster.post([f"support:{request_id}:parent"], request.channel_id,
                                                render.request_parent(account.language, request_id,
                                                                      request.requester_id, request.text or ""))
            except PostBusy:
                return
            await asyncio.to_thread(self.store.support.set_thread, request_id, parent.ts)
            request = dataclasses.replace(request, thread_ts=parent.ts)
        if request.state == "asked":
            try:
                await self.poster.post([f"support:{request_id}:ask"], request.channel_id,
                                       render.urgency_question(account, request_id), thread_ts=request.thread_ts)
            except PostBusy:
                pass  # another worker is posting it right now
        elif request.state == "filing":
            await self.file(request_id)

    async def _name(self, user_id: str) -> str | None:
        return await self.names(user_id) if self.names is not None else None

    # -- the message shortcut ("Turn into support request")

    def may_turn_into_request(self, role: Role, channel_id: str) -> Text | None:
        """Agency members turn messages of an account's channel into requests; a refusal or None."""
        if role < Role.MEMBER:
            return sentence("support.members_only")
        link = self.accounts.by_channel(channel_id)
        if link is None:
            return sentence("command.not_linked")
        if link[0].support is None:
            return sentence("support.not_configured", account=link[0].name)
        return None

    def may_file_here(self, role: Role, channel_id: str) -> Text | None:
        """May this person file a request of their own in this channel? A refusal or None."""
        link = self.accounts.by_channel(channel_id)
        if link is None:
            return sentence("command.not_linked")
        account, channel = link
        if account.support is None:
            return sentence("support.not_configured", account=account.name)
        try:
            check_filer(role, channel)
        except UserError as exc:
            return exc.text
        return None

    async def from_message(self, *, user_id: str, role: Role, channel_id: str, message_ts: str | None,
                           author: str | None, text: str, urgency: str, permalink: str | None,
                           view_id: str | None = None) -> Text | None:
        """The modal's submission: checked again from scratch (a view can be replayed). From the
        shortcut (a message named): agency members only, the message becomes a request of its
        author in its own thread. From the "Request support" button (no message): whoever may file
        in the channel, as themselves, in a new thread."""
        if message_ts is not None:
            refusal = self.may_turn_into_request(role, channel_id)
        else:
            refusal = self.may_file_here(role, channel_id)
            author = user_id
        if refusal is not None:
            return refusal
        link = self.accounts.by_channel(channel_id)
        assert link is not None
        account, channel = link
        try:
            chosen = parse_urgency(urgency)
            body = check_text(text, CommandRef(("request",), REQUEST_ARGS))
        except UserError as exc:
            return exc.text
        # A request of its own (no message) is keyed by the modal's view: a submission answered
        # again after a restart (bot.services.slack_intents) finds it instead of filing twice.
        source = message_ts if message_ts is not None else (f"view:{view_id}"[:32] if view_id else None)
        await self.open_request(account, channel, user_id=user_id, role=role, text=body, source_ts=source,
                                thread_ts=message_ts, urgency=chosen, permalink=permalink,
                                requester_id=author or user_id)
        return None

    # -- the urgency button

    async def choose(self, request_id: str, urgency_value: str, filer: Filer, channel_id: str,
                     question_ts: str | None) -> Text | None:
        """A click on an urgency button. Nothing in the button is trusted: the account comes from
        the channel the click came from, the request must be that channel's, and the clicker must
        be its requester or agency staff. A refusal to tell the clicker, or None."""
        link = self.accounts.by_channel(channel_id)
        if link is None:
            return sentence("command.not_linked")
        account, channel = link
        request = await asyncio.to_thread(self.store.support.get, int(request_id)) if request_id.isdigit() else None
        if request is None or request.channel_id != channel.id or request.account_key != account.key:
            return sentence("support.gone")
        try:
            support_of(account)
            check_filer(filer.role, channel)
            urgency = parse_urgency(urgency_value)
        except UserError as refusal:
            return refusal.text
        if filer.role is Role.EXTERNAL and filer.user_id != request.requester_id:
            return sentence("support.not_yours", requester=slack_mention(request.requester_id))
        if not await asyncio.to_thread(self.store.support.choose_urgency, request.id, urgency.value, self.clock()):
            return sentence("support.already_chosen")
        log.info("support urgency chosen", request=request.id, urgency=urgency.value, by=filer.user_id)
        if question_ts:
            try:
                await self.slack.update_message(channel.id, question_ts,
                                                *_parts(render.urgency_chosen(account.language, urgency, filer.user_id)))
            except Exception as exc:  # the buttons stay; a second click is answered "chosen already"
                log.warning("could not update the urgency question", request=request.id, error=str(exc))
        await self.file(request.id)
        return None

    # -- filing in Jira

    async def file(self, request_id: int) -> str | None:
        """Find or create the request's issue and tell the thread; the key, or None (not now)."""
        now = self.clock()
        owner = self.poster.owner
        if not await asyncio.to_thread(self.store.support.claim_filing, request_id, owner, now, FILING_LEASE):
            return None  # filed already, or another worker is at it
        request = await asyncio.to_thread(self.store.support.get, request_id)
        assert request is not None and request.urgency is not None
        account = self.accounts.by_key(request.account_key)
        if account is None or account.support is None:
            log.error("support request of an account without support config", request=request_id,
                      account=request.account_key)
            await asyncio.to_thread(self.store.support.filing_failed, request_id, owner, "no support config",
                                    now + dt.timedelta(hours=1))
            return None
        urgency = Urgency(request.urgency)
        try:
            async with self._holding(request_id):
                if request.permalink is None and request.thread_ts is not None:
                    # The Slack message the request came from (or the thread the bot opened for
                    # it): linked in the issue, for the agency and for clients without a Jira seat.
                    # Asked inside the lease's heartbeat, and briefly: a slow Slack files without.
                    request = dataclasses.replace(request, permalink=await self._permalink(request.channel_id,
                                                                                           request.thread_ts))
                key = await asyncio.to_thread(self._find_or_create, account, request, urgency)
        except Exception as exc:
            await self._not_filed(account, request, owner, exc)
            return None
        await asyncio.to_thread(self._record_filed, request, key)
        log.info("support request filed", request=request_id, issue=key, attempts=request.attempts)
        await self._announce(account, request, key, urgency)
        return key

    async def _permalink(self, channel_id: str, ts: str) -> str | None:
        """The message's Slack link, or None when Slack cannot give it (filed without it, logged)."""
        try:
            return await asyncio.wait_for(self.slack.permalink(channel_id, ts), PERMALINK_WAIT.total_seconds())
        except Exception as exc:
            log.warning("no slack link for the request's issue", channel=channel_id, error=str(exc))
            return None

    @contextlib.asynccontextmanager
    async def _holding(self, request_id: int) -> AsyncIterator[None]:
        """Renew this worker's filing lease while the body runs (the heartbeat)."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(FILING_HEARTBEAT.total_seconds())
                try:
                    await asyncio.to_thread(self.store.support.renew_filing, request_id, self.poster.owner,
                                            self.clock(), FILING_LEASE)
                except Exception as exc:  # the next beat tries again; the lease outlives a few misses
                    log.warning("support filing lease not renewed", request=request_id, error=str(exc))

        task = asyncio.create_task(beat(), name=f"support-filing-{request_id}")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _record_filed(self, request: SupportRequest, key: str) -> None:
        now = self.clock()
        self.store.support.filed(request.id, key, now)
        if request.thread_ts is not None:
            # The issue's news in this channel goes into the request's thread (the notification
            # pipeline posts an issue's messages in its thread).
            self.store.threads.start(request.channel_id, key, request.thread_ts, now)

    def _find_or_create(self, account: Account, request: SupportRequest, urgency: Urgency) -> str:
        support = support_of(account)
        label = request_label(request.id)
        marker = request_marker(account.key, request.channel_id, request.requester_id, request.created_at, request.id)
        # Only an issue carrying this request's marker too (and the account's match label, if it
        # has one): `pulse-req-<id>` alone may be another database's request, another client's.
        found = self.jira.find_issue_by_label(support.project, label, also=adoption_labels(account, marker))
        if found is not None:
            # An earlier attempt created it and died before recording the key.
            log.warning("support issue found by its request label, not created again", request=request.id, issue=found)
            return found
        who = request.requester_name or request.requester_id
        description = render.issue_description(account.language, request.text or "", who, request.id, urgency,
                                               request.permalink)
        match = support.match
        site_field = None
        if match is not None and match.organization and not match.organization_field:
            # Recognised by organization on a site whose Organizations field the file does not
            # name: Jira's field list names it. Unknown: not filed (an issue without the
            # organization would be nobody's); retried, and the team hears after 3 attempts.
            site_field = self.jira.organizations_field_id()
        return self.jira.create_issue(issue_fields(account, request.id, urgency, request.text or "", description,
                                                   marker, site_field))

    async def _not_filed(self, account: Account, request: SupportRequest, owner: str, exc: Exception) -> None:
        attempts = request.attempts  # counted when the filing was claimed
        error = f"{type(exc).__name__}: {exc}"
        log.warning("support request not filed yet", request=request.id, attempts=attempts, error=error,
                    exc_info=not isinstance(exc, UserError) and "Upstream" not in type(exc).__name__)
        await asyncio.to_thread(self.store.support.filing_failed, request.id, owner, error,
                                self.clock() + retry_delay(attempts))
        try:
            if request.thread_ts:
                await self.poster.post([f"support:{request.id}:recorded"], request.channel_id,
                                       render.recorded(account.language, request.id), thread_ts=request.thread_ts)
            internal = await self._internal_channel(account)
            if attempts >= TELL_TEAM_AFTER and internal is not None:
                await self.poster.post([f"support:{request.id}:not-filed"], internal.id,
                                       render.not_filed(account, account.language, request.id, str(exc)))
        except Exception as post_error:
            log.warning("could not tell the thread the request is recorded", request=request.id, error=str(post_error))

    async def _announce(self, account: Account, request: SupportRequest, key: str, urgency: Urgency) -> None:
        """The key, the link and the promise, in the request's thread (once)."""
        rules = ClockRules.for_account(account, urgency)
        due = due_at(rules, request.created_at, target(account, urgency), request.pauses)
        if request.thread_ts is None:
            return
        message = render.filed(account, key, self.links.issue(key), urgency, due or request.created_at, rules.tz)
        await self.poster.post([f"support:{request.id}:filed"], request.channel_id, message, thread_ts=request.thread_ts)
        if urgency is Urgency.EMERGENCY:
            await self._emergency_pings(account, request, key)

    # -- who answers, and who is pinged when nobody does

    def support_people(self, account: Account) -> tuple[str, ...]:
        """Who holds the support role today, cover applied (a deputy during a handover)."""
        return holders(account, "support", today_at(account, self.clock()), tuple(self.handovers())).user_ids

    async def _emergency_pings(self, account: Account, request: SupportRequest, key: str) -> None:
        """Emergencies reach the support people at once, each by DM (in the internal channel
        when Slack cannot open a DM)."""
        ref = render.issue_ref(key, self.links.issue(key), request.id, account.language)
        message = render.emergency_dm(account, account.language, ref, request.text or "")
        for person in self.support_people(account):
            if not await self._may_tell(account, request, person):
                continue
            try:
                channel = await self._dm_channel(person)
            except Exception as exc:
                log.warning("could not open a DM for an emergency", request=request.id, user=person, error=str(exc))
                channel = None
            if channel is not None:
                # A DM cannot be read back (no im:history): at most once through a crash.
                await self.poster.post_unread([f"support:{request.id}:dm:{person}"], channel, message)
            elif (internal := await self._internal_channel(account)) is not None:
                mention = Message(f"{message.text} {slack_mention(person)}", message.blocks)
                await self.poster.post([f"support:{request.id}:dm:{person}"], internal.id, mention)

    async def _may_tell(self, account: Account, request: SupportRequest, person: str) -> bool:
        """Is this support holder (cover applied) still one of the agency, as Slack says now? A
        guest or someone of another team gets no emergency (the request's text, the account): the
        key is recorded as handled, logged. Slack unable to tell: not now, the next tick asks
        again (`announce_owed`: the DM's key is still owed). A user group is not a person: mentioned."""
        if self.is_member is None or person.startswith("S"):
            return True
        member = await self.is_member(person)
        if member is None:
            log.warning("cannot tell whether the support holder is an agency member; emergency DM later",
                        request=request.id, user=person)
            return False
        if not member:
            log.warning("support holder is no longer an agency member; no emergency DM", request=request.id,
                        user=person, account=account.key)
            await asyncio.to_thread(self.store.posts.record, f"support:{request.id}:dm:{person}", request.channel_id,
                                    None, None, self.clock())
        return member

    async def _internal_channel(self, account: Account) -> Channel | None:
        """The account's first internal channel that is still internal (Slack may call it shared:
        then it gets nothing internal, and the ping waits for an operator's fix; logged)."""
        for channel in account.channels:
            if channel.audience is not Audience.INTERNAL:
                continue
            if self.audiences is None or await self.audiences.audience(account, channel) is Audience.INTERNAL:
                return channel
            log.warning("internal channel is shared; support notice withheld", channel=channel.id)
        return None

    async def _client_thread(self, account: Account, channel_id: str) -> bool:
        """Are replies in this channel's threads meant for the client (and so for a public Jira
        comment)? Only in a channel configured for the client, whose effective audience is client
        too. An internal channel Slack calls shared is not: its people wrote for the team."""
        channel = account.channel(channel_id)
        if channel is None or channel.audience is not Audience.CLIENT:
            return False
        return self.audiences is None or await self.audiences.audience(account, channel) is Audience.CLIENT

    async def _dm_channel(self, user_id: str) -> str | None:
        if user_id.startswith("S"):
            return None  # a user group has no DM: it is mentioned in the internal channel
        return await self.slack.open_dm(user_id)

    async def thread_reply(self, channel_id: str, thread_ts: str, user_id: str, role: Role, ts: str,
                           text: str | None) -> None:
        """A reply in a request's thread: the agency's first one is the first response; with
        `mirror_replies`, every reply becomes a public Jira comment ("via Slack: <name>")."""
        request = await asyncio.to_thread(self.store.support.by_thread, channel_id, thread_ts)
        if request is None:
            return
        if role >= Role.MEMBER and not is_auto_reply(text):
            at = _slack_time(ts) or self.clock()
            if await asyncio.to_thread(self.store.support.first_response, request.id, at, f"slack:{user_id}"):
                log.info("support first response", request=request.id, via="slack", by=user_id)
        account = self.accounts.by_key(request.account_key)
        if (account is None or account.support is None or not account.support.mirror_replies
                or request.issue_key is None or not (text or "").strip() or request.kind != "request"):
            return
        if not await self._client_thread(account, request.channel_id):
            return  # the team's talk in an internal channel never becomes a public comment
        if not await self._still_ours(account, request):
            return  # moved to another client (or Jira cannot say): never a public comment there
        # At most once: the reply is recorded as mirrored before Jira is called (a redelivered
        # event, or a second process, finds the record); a crash in between loses the copy, never doubles it.
        if not await asyncio.to_thread(self.store.posts.record, f"support-mirror:{channel_id}:{ts}", channel_id,
                                       None, thread_ts, self.clock()):
            return
        name = await self._name(user_id) or user_id
        body = f"{render.via_slack(account.language, name)}\n{text}"
        try:
            await asyncio.to_thread(self.jira.add_comment, request.issue_key, body)
            log.info("thread reply mirrored to jira", request=request.id, issue=request.issue_key)
        except Exception as exc:
            log.warning("thread reply not mirrored to jira", request=request.id, error=str(exc))

    async def _still_ours(self, account: Account, request: SupportRequest) -> bool:
        """Right before a public comment: Jira is asked whether the issue is still this request's
        and this account's alone (an agent may have moved it to another client: component, label
        or Service Desk organization), by the webhooks' rule (`still_the_requests`). Jira unable
        to say (down, no such issue, the Organizations field unknown): not mirrored, logged."""
        assert account.support is not None and request.issue_key is not None
        project = account.support.project
        try:
            named = organization_fields(self.accounts.accounts, project)
            field: str | None = None
            if named is not None:
                if len(named) == 1:
                    field = next(iter(named))
                elif not named:
                    field = await asyncio.to_thread(self.jira.organizations_field_id)
                if field is None:
                    log.warning("organizations field not known; reply not mirrored", request=request.id)
                    return False
            fields = await asyncio.to_thread(self.jira.issue_field_values, request.issue_key,
                                             [*OWNER_FIELDS, *([field] if field else [])])
        except Exception as exc:
            log.warning("jira cannot say whose the issue is now; reply not mirrored", request=request.id,
                        issue=request.issue_key, error=f"{type(exc).__name__}: {exc}")
            return False
        if fields is None or not still_the_requests(account, self.accounts.accounts, request.id, fields, field):
            log.warning("issue is no longer this request's (or this account's alone); reply not mirrored",
                        request=request.id, issue=request.issue_key, account=account.key)
            return False
        return True

    # -- the notification pipeline's steps

    def without_mirrored(self, works: Sequence[Work]) -> list[Work]:
        """Before anything is planned: Jira's webhooks for a comment this bot mirrored from a Slack
        reply (its "via Slack" first line) in a support project. Its words are in the thread
        already; posted back they would appear twice (in every channel of the account)."""
        projects = {a.support.project for a in self.accounts.accounts if a.support is not None}
        out = []
        for w in works:
            keep = [e for e in w.events if not (isinstance(e, JiraEvent) and e.project_key in projects
                                                and e.comment is not None and isinstance(e.comment.body, str)
                                                and _mirrored(e.comment.body))]
            out.append(w if len(keep) == len(w.events) else w.with_events(keep))
        return out

    async def thread_messages(self, works: Sequence[Work], accounts: AccountsConfig,
                              planned: Iterable[Outgoing]) -> list[Outgoing]:
        """Status changes and public comments of a request's issue, as messages for the request's
        thread (between `plan` and `post_all`). The request names the account and channel (the
        bot filed the issue for it), the issue must still carry the request's label, and the
        audience policy decides as for any message: nothing it withholds reaches the thread.
        Also tracks the request: waiting statuses pause its clock, a done status resolves it,
        a public agency comment is its first response."""
        keys = {e.issue_key for w in works if w.ok for e in w.events if isinstance(e, JiraEvent) and e.issue_key}
        if not keys:
            return []
        requests = await asyncio.to_thread(self.store.support.by_issues, sorted(keys))
        if not requests:
            return []
        already = {k for o in planned for k in o.keys}
        out: list[Outgoing] = []
        for w in works:
            if not w.ok:
                continue
            for e in w.events:
                if not isinstance(e, JiraEvent) or e.issue is None:
                    continue
                for request in requests.get(e.issue_key or "", []):
                    account = accounts.by_key(request.account_key)
                    channel = account.channel(request.channel_id) if account is not None else None
                    if (account is None or channel is None or not _marks_request(e, request.id)
                            or not scope_verdict(e, account, accounts.accounts).allowed):
                        continue  # the issue is (no longer) known to be this request's, in this account
                    await self._track(e, request, account)
                    status = current_status(e)
                    if status is None and e.type is not EventType.COMMENT_CREATED:
                        continue
                    if not event_visible(e, channel.audience, account):
                        continue
                    key = post_key(w.item.delivery_id, channel.id, e)
                    if key in already:
                        continue  # the ordinary route posts it in this channel (and so in the thread)
                    already.add(key)
                    message = render_event(e, channel.audience, account, links=self.links)
                    out.append(Outgoing(account, channel, message, (key,), (w.item,), e.issue_key, status))
        return out

    async def _project_work(self, e: JiraEvent, request: SupportRequest, account: Account) -> None:
        """Bigger than support (an estimate above `project_work_hours`, or a project-work label):
        the client hears it politely in the thread, where the backlog role is named (pinged), once."""
        assert account.support is not None
        estimate = None
        if e.field_id in ("timeoriginalestimate", "timeestimate") and e.to_value:
            estimate = estimate_hours(e.to_value)
        labels = e.issue.labels if e.issue is not None else ()
        if request.project_work or not is_project_work(account.support, estimate, labels) or request.thread_ts is None:
            return
        backlog = holders(account, "backlog", today_at(account, self.clock()), tuple(self.handovers())).user_ids
        message = render.project_work(account.language, backlog[0] if backlog else None)
        await self.poster.post([f"support:{request.id}:project-work"], request.channel_id, message,
                               thread_ts=request.thread_ts)
        await asyncio.to_thread(self.store.support.flag_project_work, request.id)
        log.info("support request flagged as project work", request=request.id, estimate_hours=estimate)

    async def _track(self, e: JiraEvent, request: SupportRequest, account: Account) -> None:
        assert account.support is not None
        at = dt.datetime.fromtimestamp(e.timestamp_ms / 1000, dt.timezone.utc) if e.timestamp_ms else self.clock()
        status = current_status(e)
        if status is not None:
            waiting = set(account.support.waiting_statuses or account.jira.waiting_statuses)
            pauses = list(request.pauses)
            open_pause = bool(pauses) and pauses[-1][1] is None
            if status in waiting and not open_pause:
                pauses.append((at, None))
            elif status not in waiting and open_pause:
                pauses[-1] = (pauses[-1][0], max(at, pauses[-1][0]))
            await asyncio.to_thread(self.store.support.set_status, request.id, status, pauses)
            if e.issue is not None and e.issue.status_category == "done" or e.type is EventType.ISSUE_RESOLVED:
                await asyncio.to_thread(self.store.support.mark, request.id, "resolved_at", at)
        await self._project_work(e, request, account)
        if e.type is EventType.COMMENT_CREATED and e.comment is not None:
            comment = e.comment
            created = _jira_time(comment.created) or at
            body = comment.body if isinstance(comment.body, str) else None
            author = comment.author.account_id or comment.author.username if comment.author else None
            account_type = comment.author.account_type if comment.author else None
            await self.jira_comment(request.issue_key or "", author, not comment.restricted, created, body,
                                    account_type=account_type,
                                    author_key=comment.author.key if comment.author else None)

    async def channel_message(self, channel_id: str, user_id: str, role: Role, ts: str, to_the_bot: bool) -> None:
        """A top-level message in an account's channel. A client's starts a task's clock (a question
        that never became a request is not lost; only who and when are kept, never the text); an
        agency person's answers the client messages before it in that channel."""
        link = self.accounts.by_channel(channel_id)
        if link is None or link[0].support is None:
            return
        account, channel = link
        if to_the_bot:
            return  # a message to the bot is answered by the bot: nobody's answer, nobody's question
        at = _slack_time(ts) or self.clock()
        if role >= Role.MEMBER:
            answered = await asyncio.to_thread(self.store.support.answer_messages, channel_id, at, f"slack:{user_id}")
            if answered:
                log.info("client messages answered in the channel", channel=channel_id, count=answered)
            return
        if channel.audience is not Audience.CLIENT:
            return
        request_id, new = await asyncio.to_thread(
            self.store.support.open, account_key=account.key, channel_id=channel_id, requester_id=user_id, now=at,
            text=None, source_ts=ts, thread_ts=ts, requester_external=True, urgency=Urgency.TASK.value,
            kind="message",
        )
        if new:
            log.info("client message clocked", request=request_id, account=account.key)

    async def jira_comment(self, issue_key: str, author: str | None, public: bool, at: dt.datetime,
                           text: str | None, *, account_type: str | None = None, author_key: str | None = None) -> None:
        """A Jira comment on a request's issue: a public one by a person positively known to be the
        agency's (a licensed Atlassian account — `accountType` "atlassian" — not a client of the
        account; not an automatic reply, not a reply mirrored from Slack) is a first response. A
        Service Desk portal customer ("customer"), an app, or an author of unknown type never stops
        the clock: the client's own nudge is no answer. Jira Server/Data Center payloads name no
        type: there only an author whose user key (an id; usernames can be renamed) the account
        lists in `support.agency_jira_users` counts (off by default: none listed)."""
        if not public or not author:
            return
        for request in await asyncio.to_thread(self.store.support.by_issue, issue_key):
            account = self.accounts.by_key(request.account_key)
            if account is None or account.support is None:
                continue
            agency = account_type == AGENCY_ACCOUNT_TYPE or (
                account_type is None and author_key is not None and author_key in account.support.agency_jira_users)
            if not agency or author in account.jira.client_users or is_auto_reply(text) or _mirrored(text):
                continue
            if await asyncio.to_thread(self.store.support.first_response, request.id, at, f"jira:{author}"):
                log.info("support first response", request=request.id, via="jira", by=author)

    async def watch(self) -> None:
        """Escalate at the account's share of the target, tell the internal channel on a breach:
        each once (the post's key and the store's mark), whatever restarts in between."""
        now = self.clock()
        for request in await asyncio.to_thread(self.store.support.open_clocks):
            account = self.accounts.by_key(request.account_key)
            if account is None or account.support is None or request.urgency is None:
                continue
            try:
                await self._watch_one(account, request, now)
            except Exception:
                log.exception("support clock check failed", request=request.id)

    async def _watch_one(self, account: Account, request: SupportRequest, now: dt.datetime) -> None:
        assert account.support is not None
        urgency = Urgency(request.urgency or "task")
        rules = ClockRules.for_account(account, urgency)
        goal = target(account, urgency)
        share = elapsed(rules, request.created_at, now, request.pauses) / goal
        internal = await self._internal_channel(account)
        if internal is None:
            return
        language = account.language
        ref = render.issue_ref(request.issue_key, self.links.issue(request.issue_key), request.id, language)
        if request.kind == "message":
            ref = Voice(language).say(sentence("support.unanswered", who=slack_mention(request.requester_id)))
        due = due_at(rules, request.created_at, goal, request.pauses)
        if share >= account.support.escalate_at_percent / 100 and request.escalated_at is None:
            people = self.support_people(account)
            message = render.escalation(account, language, ref, urgency, share, due, rules.tz, people)
            await self.poster.post([f"support:{request.id}:escalate"], internal.id, message)
            await asyncio.to_thread(self.store.support.mark, request.id, "escalated_at", now)
            log.info("support escalated", request=request.id, share=round(share, 2), to=people)
        if share >= 1 and request.breached_at is None:
            message = render.breach(account, language, ref, urgency, int(goal.total_seconds() // 60), due, rules.tz)
            await self.poster.post([f"support:{request.id}:breach"], internal.id, message)
            await asyncio.to_thread(self.store.support.mark, request.id, "breached_at", now)
            log.info("support first-response time breached", request=request.id)

    # -- the background work

    async def tick(self) -> None:
        """Retry what is due (filings Jira refused or a dead worker left), then watch the clocks."""
        now = self.clock()
        for request_id in await asyncio.to_thread(self.store.support.unanswered_questions, now - URGENCY_WAIT):
            if await asyncio.to_thread(self.store.support.choose_urgency, request_id, Urgency.TASK.value, now):
                log.info("support urgency not chosen; filed as a task", request=request_id)
        due = await asyncio.to_thread(self.store.support.due_for_filing, now)
        for request_id in due:
            await self.file(request_id)
        await self.announce_owed()
        await self.watch()

    async def announce_owed(self) -> None:
        """A filed request whose key never reached its thread (Slack failed, or the process died
        between the store's `filed` and the post), or whose emergency DMs were not all sent: told
        now. The posts are keyed, so whatever was posted already is not posted again."""
        owed = [r for r in await asyncio.to_thread(self.store.support.open_clocks)
                if r.kind == "request" and r.state == "filed" and r.issue_key and r.thread_ts and r.urgency]
        if not owed:
            return
        done = await asyncio.to_thread(self.store.posts.recorded, [k for r in owed for k in self._announce_keys(r)])
        for request in owed:
            account = self.accounts.by_key(request.account_key)
            if account is None or account.support is None or set(self._announce_keys(request)) <= done:
                continue
            assert request.issue_key is not None and request.urgency is not None
            try:
                await self._announce(account, request, request.issue_key, Urgency(request.urgency))
            except Exception as exc:
                log.warning("support request still not announced", request=request.id, error=str(exc))

    def _announce_keys(self, request: SupportRequest) -> list[str]:
        """The keys `_announce` posts under: the thread's answer and, for an emergency, each DM."""
        keys = [f"support:{request.id}:filed"]
        account = self.accounts.by_key(request.account_key)
        if request.urgency == Urgency.EMERGENCY.value and account is not None:
            keys += [f"support:{request.id}:dm:{person}" for person in self.support_people(account)]
        return keys


def _parts(message: Message) -> tuple[str, list[dict]]:
    return message.text, message.blocks


_ESTIMATE_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([wdhm])", re.IGNORECASE)
# Jira's time tracking defaults: a day is 8 hours, a week 5 days.
_HOURS_PER = {"w": Decimal(40), "d": Decimal(8), "h": Decimal(1), "m": Decimal(1) / 60}


def estimate_hours(value: str) -> Decimal | None:
    """An estimate as a changelog writes it ("3d 4h", "24h") or in seconds ("86400"), in hours."""
    value = value.strip()
    if value.isdigit():
        return Decimal(value) / 3600
    parts = _ESTIMATE_PART.findall(value)
    if not parts:
        return None
    return sum((Decimal(n.replace(",", ".")) * _HOURS_PER[unit.lower()] for n, unit in parts), Decimal(0))


def _marks_request(e: JiraEvent, request_id: int) -> bool:
    """The issue as the event (or Jira's answer) shows it still carries the request's label:
    a label read from a complete issue, never assumed."""
    return e.issue is not None and e.issue.complete and request_label(request_id) in e.issue.labels


def _jira_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return parsed.astimezone(dt.timezone.utc) if parsed.tzinfo else None


def _slack_time(ts: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _mirrored(text: str | None) -> bool:
    """A comment this bot wrote from a Slack reply: it starts with the "via Slack" line."""
    return text is not None and text.lstrip().startswith(render.via_slack_prefixes())


def register_support_commands(commands: CommandService, service: SupportService) -> None:
    """Add `request` and `emergency` (`anfrage`, `notfall` …) to the command table, and a
    "Request support" button under the status answers of accounts that file requests."""
    request_spec, emergency_spec = SUPPORT_COMMANDS
    commands.add(request_spec, service.request)
    commands.add(emergency_spec, service.emergency)
    status = commands.handler("status")

    async def status_with_button(inv: Invocation, asker: Asker, account: Account | None,
                                 channel: Channel | None) -> Reply:
        reply = await status(inv, asker, account, channel)
        if account is None or account.support is None or channel is None or not reply.blocks:
            return reply
        if asker.role is Role.EXTERNAL and channel.audience is not Audience.CLIENT:
            return reply  # a client may not file here: no button to a refusal
        return dataclasses.replace(reply, blocks=[*reply.blocks, render.request_button(account.language)])

    commands.replace_handler("status", status_with_button)


__all__ = ["SUPPORT_COMMANDS", "Filer", "SupportService", "register_support_commands", "retry_delay"]

