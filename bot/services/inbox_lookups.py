"""Jira and Confluence lookups that complete inbox events: issues, versions, boards, content, client evidence."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.domain.accounts import Account, AccountsConfig, Audience
from bot.domain.audience import issue_visible
from bot.domain.confluence_events import enrich, name_actor
from bot.domain.event_lookups import (
    actor_to_look_up,
    attach_found,
    board_to_look_up,
    comment_to_look_up,
    content_for_client,
    content_to_look_up,
    history_to_check,
    issue_lookups,
    lookup_failure,
    lookup_gap,
    scope_lookups,
    to_settle,
    versions_to_check,
)
from bot.domain.events import (
    ConfluenceEvent,
    Event,
    JiraEvent,
    Outcome,
    attach_client_issue,
    attach_client_visible,
    attach_comment,
    attach_history,
    attach_project,
    attach_scope,
    attach_version_scope,
    resolve_sprint_field,
    sprint_field_candidate,
)
from bot.domain.jira_events import past_since
from bot.domain.subscriptions import Subscription
from bot.domain.work import Issue
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.services.inbox_batch import BatchReport, Handled, mark_failed
from integrations.confluence import ConfluencePort
from integrations.jira import JiraPort

log = get_logger("pulse.inbox")


class EventLookups:
    """Fills in what events only name by id, with few calls; a failure marks only its deliveries."""

    def __init__(self, jira: JiraPort | None, confluence: ConfluencePort | None, accounts: AccountsConfig, keys_per_query: int):
        self.jira = jira
        # ConfluencePort (`content`, `read_restricted`); without it Data Center events stay
        # unsupported and no Confluence event reaches a client channel (no restriction evidence).
        self.confluence = confluence
        self.accounts = accounts
        self.keys_per_query = keys_per_query

    async def complete(
        self, handled: list[Handled], report: BatchReport,
        subscriptions: dict[str, list[Subscription]] | None = None,
    ) -> dict[tuple[str, str], str]:
        """Fill in what events only name by id (issues, projects, boards, Confluence content): few
        calls, batched keys. A failed lookup fails only the deliveries that needed what it would
        have found. Returns why some looked-up ids cannot be routed, by (kind, id)."""
        unroutable: dict[tuple[str, str], str] = {}
        if self.jira is not None:
            await self._issues(handled, report)
            await self._comments(handled, report)
            await self._histories(handled, report)
            await self._sprint_field(handled, report)
            await self._scopes(handled, report)
            await self._version_issues(handled, report, subscriptions or {})
            await self._boards(handled, report, unroutable)
        if self.confluence is not None:
            await self._contents(handled, report, unroutable)
            await self._actors(handled, report)
            # After `_contents`: a Data Center event has a space (an account) only once enriched.
            await self._restrictions(handled, report, subscriptions or {})
        return unroutable

    def drop_unroutable(self, handled: list[Handled], unroutable: dict[tuple[str, str], str] | None = None) -> None:
        """Mark deliveries no event of which can be routed `unsupported`; drop such events from the rest."""
        def gap_of(e: Event) -> str | None:
            return lookup_gap(e, unroutable, has_jira=self.jira is not None, has_confluence=self.confluence is not None)

        for h in handled:
            if h.error is not None:
                continue
            gaps = [(e, gap) for e in h.events if (gap := gap_of(e))]
            if not gaps:
                continue
            if len(gaps) == len(h.events):
                h.unsupported, h.events = gaps[0][1], []
                continue
            unsupported = get_logger(Outcome.UNSUPPORTED.logger_name)
            for e, gap in gaps:
                unsupported.info("webhook event unsupported", delivery_id=h.item.delivery_id,
                                 inbox_id=h.item.id, event_type=e.type.value, reason=gap)
            h.events = [e for e in h.events if not gap_of(e)]

    async def _issues(self, handled: list[Handled], report: BatchReport) -> None:
        """Issues (batched `key in (…)`, or by id) and the projects of versions."""
        keys, ids, version_ids = issue_lookups((e for h in handled for e in h.events), self.accounts)
        by_key: dict[str, Issue] = {}
        by_id: dict[str, Issue] = {}
        failed_keys: dict[str, Exception] = {}
        failed_ids: dict[str, Exception] = {}

        async def fetch(jql: str) -> list[Issue]:
            report.jira_calls += 1
            return await asyncio.to_thread(self.jira.fetch_issues, jql)

        async def fetch_keys(chunk: list[str]) -> None:
            try:
                for issue in await fetch("key in (" + ", ".join(chunk) + ")"):
                    by_key[issue.key] = issue
            except UpstreamError as exc:
                if len(chunk) > 1 and exc.status == 400 and not exc.retryable:
                    # Jira rejects a whole `key in (…)` when one key does not exist or is not
                    # visible to us: ask key by key, so only that key's deliveries fail.
                    for key in chunk:
                        await fetch_keys([key])
                    return
                log.warning("jira issue lookup failed", keys=chunk, error=str(exc), retryable=exc.retryable)
                failed_keys.update(dict.fromkeys(chunk, exc))
            except Exception as exc:
                log.exception("jira issue lookup failed unexpectedly", keys=chunk)
                failed_keys.update(dict.fromkeys(chunk, exc))

        ordered = sorted(keys)
        n = self.keys_per_query
        for i in range(0, len(ordered), n):
            await fetch_keys(ordered[i : i + n])
        # `Issue` carries no numeric id, so ids cannot be matched back from a batched result.
        for issue_id in sorted(ids):
            try:
                found = await fetch(f"id = {issue_id}")
            except Exception as exc:
                if isinstance(exc, UpstreamError):
                    log.warning("jira issue lookup failed", issue_id=issue_id, error=str(exc))
                else:
                    log.exception("jira issue lookup failed unexpectedly", issue_id=issue_id)
                failed_ids[issue_id] = exc
                continue
            if found:
                by_id[issue_id] = found[0]
        version_projects, version_error = await self._version_projects(version_ids, report)
        for h in handled:
            new_events = []
            for e in h.events:
                if isinstance(e, JiraEvent):
                    settle = to_settle(e, self.accounts)
                    e = attach_found(e, by_key, by_id, version_projects, settle=settle)
                    error = lookup_failure(e, failed_keys, failed_ids, version_error, settle=settle)
                    if error is not None:
                        # Without the lookup the client could never see it: try the delivery later.
                        h.error = h.error or error
                new_events.append(e)
            h.events = new_events

    async def _version_projects(
        self, version_ids: set[str], report: BatchReport
    ) -> tuple[dict[str, str], Exception | None]:
        """Project key of each version id (versions name only a numeric project id), and the
        first error of a project whose versions could not be read."""
        if not version_ids:
            return {}, None
        projects = [p for a in self.accounts.accounts for p in a.jira.projects]
        report.jira_calls += len(projects)
        try:
            versions = await asyncio.to_thread(self.jira.fetch_versions_for, projects)
            return {v.id: v.project for v in versions}, None
        except Exception as exc:
            log.warning("jira version lookup failed; asking project by project", error=str(exc))
        # One project failing fails the combined call: ask each alone, so the others still count.
        found: dict[str, str] = {}
        first_error: Exception | None = None
        for project in projects:
            report.jira_calls += 1
            try:
                for v in await asyncio.to_thread(self.jira.fetch_versions, project):
                    found[v.id] = v.project
            except Exception as exc:
                if isinstance(exc, UpstreamError):
                    log.warning("jira version lookup failed", project=project, error=str(exc))
                else:
                    log.exception("jira version lookup failed unexpectedly", project=project)
                first_error = first_error or exc
        return found, first_error

    async def _comments(self, handled: list[Handled], report: BatchReport) -> None:
        """Service Desk comments no flag marks public, for a client: one `…/comment/{id}?expand=properties`
        per distinct comment. Marked public there: the client may get it; else withheld; Jira
        failing: the delivery is retried."""
        pending = [h for h in handled if h.error is None]
        wanted = {c for h in pending for e in h.events if (c := comment_to_look_up(e, self.accounts))}
        if not wanted:
            return
        ids = {f"{key}/{comment_id}": (key, comment_id) for key, comment_id in wanted}
        found, failed = await _fetch_each(set(ids), lambda ref: self.jira.comment(*ids[ref]), "jira comment")
        report.jira_calls += len(ids)
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                ref = comment_to_look_up(e, self.accounts)
                if ref is not None and f"{ref[0]}/{ref[1]}" in failed:
                    h.error = h.error or failed[f"{ref[0]}/{ref[1]}"]
                elif ref is not None and isinstance(e, JiraEvent):
                    e = attach_comment(e, found.get(f"{ref[0]}/{ref[1]}"))
                new_events.append(e)
            h.events = new_events

    async def _histories(self, handled: list[Handled], report: BatchReport) -> None:
        """For each new or edited comment a client would read: the issue's changelog (one call per
        issue and batch), so a comment written while the issue was internal stays internal
        whichever of its webhooks arrives first. Jira failing: the delivery is retried."""
        pending = [h for h in handled if h.error is None]
        keys = {k for h in pending for e in h.events if (k := history_to_check(e, self.accounts))}
        if not keys:
            return
        histories, failed = await _fetch_each(keys, self.jira.changelog, "jira issue changelog")
        report.jira_calls += len(keys)
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                key = history_to_check(e, self.accounts)
                if key in failed:
                    h.error = h.error or failed[key]
                elif key is not None and isinstance(e, JiraEvent) and e.comment is not None:
                    e = attach_history(e, past_since(histories.get(key), e.comment.created))
                new_events.append(e)
            h.events = new_events

    async def _sprint_field(self, handled: list[Handled], report: BatchReport) -> None:
        """Which custom field is the site's sprint field (the adapter asks Jira's field list once
        and keeps the answer): a change of it is a sprint change, of any other field named
        "Sprint" a custom field's (internal-only). Jira failing: those deliveries are retried."""
        pending = [h for h in handled if h.error is None and any(sprint_field_candidate(e) for e in h.events)]
        if not pending:
            return
        report.jira_calls += 1
        try:
            sprint_field = await asyncio.to_thread(self.jira.sprint_field_id)
        except Exception as exc:
            if isinstance(exc, UpstreamError):
                log.warning("jira field lookup failed", error=str(exc))
            else:
                log.exception("jira field lookup failed unexpectedly")
            mark_failed(pending, exc, "the sprint field lookup")
            return
        for h in pending:
            h.events = [resolve_sprint_field(e, sprint_field) if sprint_field_candidate(e) else e for e in h.events]

    async def _scopes(self, handled: list[Handled], report: BatchReport) -> None:
        """Which issues match the JQL of the accounts scoped by JQL that could hold them: one
        `<scope> AND key in (…)` per such account and chunk of keys. A match puts the issue in
        that account's scope; no match keeps it out (never another client's); a failure retries
        the deliveries that needed it (never a guess)."""
        pending = [h for h in handled if h.error is None]
        wanted: dict[str, tuple[Account, set[str]]] = {}
        for h in pending:
            for e in h.events:
                for account, key in scope_lookups(e, self.accounts):
                    wanted.setdefault(account.key, (account, set()))[1].add(key)
        confirmed: set[tuple[str, str]] = set()
        failed: dict[tuple[str, str], Exception] = {}
        for account, keys in wanted.values():
            ordered = sorted(keys)
            for i in range(0, len(ordered), self.keys_per_query):
                chunk = ordered[i : i + self.keys_per_query]
                jql = f"{account.jira.scope_jql()} AND key in ({', '.join(chunk)})"
                report.jira_calls += 1
                try:
                    found = await asyncio.to_thread(self.jira.fetch_issues, jql)
                except Exception as exc:
                    if isinstance(exc, UpstreamError):
                        log.warning("jira scope lookup failed", account=account.key, keys=chunk, error=str(exc))
                    else:
                        log.exception("jira scope lookup failed unexpectedly", account=account.key, keys=chunk)
                    failed.update({(account.key, k): exc for k in chunk})
                    continue
                confirmed.update((account.key, issue.key) for issue in found if issue.key in chunk)
        if not wanted:
            return
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                pairs = [(a.key, k) for a, k in scope_lookups(e, self.accounts)]
                errors = [failed[p] for p in pairs if p in failed]
                if errors:
                    h.error = h.error or errors[0]
                elif isinstance(e, JiraEvent) and pairs:
                    e = attach_scope(e, frozenset(p for p in pairs if p in confirmed))
                new_events.append(e)
            h.events = new_events

    async def _version_issues(
        self, handled: list[Handled], report: BatchReport, subscriptions: dict[str, list[Subscription]]
    ) -> None:
        """Whether each version a client would hear of has an issue the client may see (and, for
        an account scoped by JQL, one matching that JQL): one `fixVersion = N` per distinct
        version and scope. Without one, the policy withholds it."""
        pending = [h for h in handled if h.error is None]
        checks = {(version_id, account.key): account for h in pending for e in h.events
                  for version_id, account in versions_to_check(e, self.accounts, subscriptions)}
        if not checks:
            return

        def query(version_id: str, account: Account) -> str:
            return f"fixVersion = {version_id}" + (f" AND {account.jira.scope_jql()}" if account.jira.jql else "")

        queries = {pair: query(pair[0], account) for pair, account in checks.items()}
        issues, failed = await _fetch_each(set(queries.values()), self.jira.fetch_issues, "jira version issues")
        report.jira_calls += len(set(queries.values()))
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                for version_id, account in versions_to_check(e, self.accounts, subscriptions):
                    jql = queries[(version_id, account.key)]
                    if jql in failed:
                        # Same as the other lookups: only this delivery waits for a retry.
                        h.error = h.error or failed[jql]
                        continue
                    found = issues.get(jql) or ()
                    client_issue = any(issue_visible(i, Audience.CLIENT, account) for i in found)
                    if account.jira.jql:
                        if found:
                            e = attach_version_scope(e, account.key, client_issue=client_issue)
                    elif client_issue:
                        e = attach_client_issue(e)
                new_events.append(e)
            h.events = new_events

    async def _boards(
        self, handled: list[Handled], report: BatchReport, unroutable: dict[tuple[str, str], str]
    ) -> None:
        """The project of each sprint's board: one call per distinct board id in the batch."""
        pending = [h for h in handled if h.error is None]
        board_ids = {b for h in pending for e in h.events if (b := board_to_look_up(e))}
        projects, failed = await _fetch_each(
            board_ids, lambda board_id: self.jira.board_project(int(board_id)), "jira board"
        )
        report.jira_calls += len(board_ids)
        if not board_ids:
            return
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                board_id = board_to_look_up(e)
                if board_id in failed:
                    # Without its project the sprint reaches nobody: try the delivery later.
                    h.error = h.error or failed[board_id]
                elif board_id is not None and projects.get(board_id):
                    e = attach_project(e, projects[board_id])
                elif board_id is not None:
                    unroutable[("board", board_id)] = (
                        f"board {board_id} is in no project we can see (deleted, not visible to the bot, or a user's board)"
                    )
                new_events.append(e)
            h.events = new_events

    async def _contents(
        self, handled: list[Handled], report: BatchReport, unroutable: dict[tuple[str, str], str]
    ) -> None:
        """Space, title and URL of Confluence content named only by id: one call per distinct id."""
        pending = [h for h in handled if h.error is None]
        content_ids = {c for h in pending for e in h.events if (c := content_to_look_up(e))}
        contents, failed = await _fetch_each(content_ids, self.confluence.content, "confluence content")
        report.confluence_calls += len(content_ids)
        if not content_ids:
            return
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                content_id = content_to_look_up(e)
                if content_id in failed:
                    # Without its space the event reaches nobody: try the delivery later.
                    h.error = h.error or failed[content_id]
                elif content_id is not None and contents.get(content_id) is None:
                    unroutable[("content", content_id)] = (
                        f"Confluence content {content_id} not found or not visible to the bot"
                    )
                elif content_id is not None and isinstance(e, ConfluenceEvent):
                    try:
                        e = enrich(e, contents[content_id])
                    except Exception as exc:
                        # A content object we could not read: this delivery only, retried.
                        mark_failed([h], exc, "the content lookup")
                    if e.space_key is None:
                        unroutable[("content", content_id)] = f"Confluence content {content_id} names no space"
                new_events.append(e)
            h.events = new_events

    async def _actors(self, handled: list[Handled], report: BatchReport) -> None:
        """Who did it, for Confluence events that name their actor by id only: one call per
        distinct user. Only a name: when the lookup fails the message says "Someone" rather than
        keeping anyone waiting (the failure is logged)."""
        pending = [h for h in handled if h.error is None]
        user_ids = {u for h in pending for e in h.events if (u := actor_to_look_up(e))}
        if not user_ids:
            return
        users, _failed = await _fetch_each(user_ids, self.confluence.user, "confluence user")
        report.confluence_calls += len(user_ids)
        for h in pending:
            h.events = [
                name_actor(e, users[u]) if isinstance(e, ConfluenceEvent) and (u := actor_to_look_up(e)) in users
                and users[u] is not None else e
                for e in h.events
            ]

    async def _restrictions(
        self, handled: list[Handled], report: BatchReport, subscriptions: dict[str, list[Subscription]]
    ) -> None:
        """Whether each Confluence content a client would hear of is free of view restrictions
        (itself and its ancestors): one `read_restricted` per distinct content id. Without that
        evidence the policy withholds it from clients; internal channels never wait for it."""
        pending = [h for h in handled if h.error is None]
        content_ids = {c for h in pending for e in h.events if (c := content_for_client(e, self.accounts, subscriptions))}
        if not content_ids:
            return
        restricted, failed = await _fetch_each(content_ids, self.confluence.read_restricted, "confluence restrictions")
        # One lookup per id; each costs 1 + ancestors HTTP calls (see ConfluencePort.read_restricted).
        report.confluence_calls += len(content_ids)
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                content_id = content_for_client(e, self.accounts, subscriptions)
                if content_id in failed:
                    # Same as the other lookups: only this delivery waits for a retry.
                    h.error = h.error or failed[content_id]
                elif content_id is not None and restricted.get(content_id) is False and isinstance(e, ConfluenceEvent):
                    e = attach_client_visible(e)
                new_events.append(e)
            h.events = new_events


async def _fetch_each(
    ids: set[str], fetch: Callable[[str], Any], what: str
) -> tuple[dict[str, Any], dict[str, Exception]]:
    """One lookup per distinct id (in id order); a failure is kept for its id's deliveries only."""
    found: dict[str, Any] = {}
    failed: dict[str, Exception] = {}
    for item_id in sorted(ids, key=lambda i: (len(i), i)):  # numeric ids in numeric order
        try:
            found[item_id] = await asyncio.to_thread(fetch, item_id)
        except Exception as exc:
            if isinstance(exc, UpstreamError):
                log.warning(f"{what} lookup failed", id=item_id, error=str(exc), retryable=exc.retryable)
            else:
                log.exception(f"{what} lookup failed unexpectedly", id=item_id)
            failed[item_id] = exc
    return found, failed
