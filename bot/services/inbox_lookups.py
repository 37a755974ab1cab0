"""Jira and Confluence lookups that complete inbox events: issues, versions, boards, content, client evidence.

`EventLookups.complete` runs the lookups one after another; each is a step that takes the batch's
works and returns new ones (`Found`): events with what was found attached, or the delivery failed
by the lookup it needed. A failure fails only the deliveries that needed what it would have found.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from structlog.contextvars import bound_contextvars

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
    IssueFacts,
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
from bot.domain.payload import read_organizations
from bot.domain.subscriptions import Subscription
from bot.domain.support import organization_fields
from bot.domain.work import Issue
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.services.inbox_batch import Work, delivery_context, log_failure
from integrations.confluence import ConfluencePort
from integrations.jira import JiraPort

log = get_logger("pulse.inbox")

Subscriptions = Mapping[str, list[Subscription]]
# What one event gives back from a lookup: the event (with what was found), and the error of a
# lookup it needed that failed (its delivery is retried).
EventResult = tuple[Event, Exception | None]


@dataclass(frozen=True)
class Found:
    """What a lookup step returns: the works after it, the calls it made, and why ids it looked up
    cannot be routed (by (kind, id))."""

    works: list[Work]
    calls: int = 0
    unroutable: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Completed:
    """All lookups of a batch done: the works, and the calls made to each system."""

    works: list[Work]
    unroutable: Mapping[tuple[str, str], str]
    jira_calls: int
    confluence_calls: int


def each_event(works: Iterable[Work], step: Callable[[Event], EventResult]) -> list[Work]:
    """Apply `step` to every event of the works still on their way; a delivery fails by the first
    error any of its events reports (its events keep whatever else was found)."""
    out = []
    for w in works:
        if not w.ok:
            out.append(w)
            continue
        with bound_contextvars(**delivery_context(w.item)):  # a line logged inside names its delivery
            results = [step(e) for e in w.events]
        error = next((exc for _, exc in results if exc is not None), None)
        w = w.with_events(e for e, _ in results)
        out.append(w.failed(error) if error is not None else w)
    return out


def events_of(works: Iterable[Work]) -> list[Event]:
    """The events of the works still on their way."""
    return [e for w in works if w.ok for e in w.events]


class EventLookups:
    """Fills in what events only name by id, with few calls; a failure fails only its deliveries."""

    def __init__(self, jira: JiraPort | None, confluence: ConfluencePort | None, accounts: AccountsConfig, keys_per_query: int):
        self.jira = jira
        # ConfluencePort (`content`, `read_restricted`); without it Data Center events stay
        # unsupported and no Confluence event reaches a client channel (no restriction evidence).
        self.confluence = confluence
        self.accounts = accounts
        self.keys_per_query = keys_per_query

    async def complete(self, works: list[Work], subscriptions: Subscriptions | None = None) -> Completed:
        """Fill in what events only name by id (issues, projects, boards, Confluence content): few
        calls, batched keys. Returns the works and why some looked-up ids cannot be routed."""
        subs: Subscriptions = subscriptions or {}
        jira_steps: list[Callable[[list[Work]], Awaitable[Found]]] = []
        confluence_steps: list[Callable[[list[Work]], Awaitable[Found]]] = []
        if self.jira is not None:
            jira = self.jira
            jira_steps = [
                lambda ws: self._issues(jira, ws),
                lambda ws: self._comments(jira, ws),
                lambda ws: self._histories(jira, ws),
                lambda ws: self._sprint_field(jira, ws),
                lambda ws: self._organizations(jira, ws),
                lambda ws: self._scopes(jira, ws),
                lambda ws: self._version_issues(jira, ws, subs),
                lambda ws: self._boards(jira, ws),
            ]
        if self.confluence is not None:
            confluence = self.confluence
            confluence_steps = [
                lambda ws: self._contents(confluence, ws),
                lambda ws: self._actors(confluence, ws),
                # After `_contents`: a Data Center event has a space (an account) only once enriched.
                lambda ws: self._restrictions(confluence, ws, subs),
            ]
        unroutable: dict[tuple[str, str], str] = {}
        calls = {"jira": 0, "confluence": 0}
        for system, steps in (("jira", jira_steps), ("confluence", confluence_steps)):
            for step in steps:
                found = await step(works)
                works = found.works
                calls[system] += found.calls
                unroutable.update(found.unroutable)
        return Completed(works, unroutable, calls["jira"], calls["confluence"])

    def drop_unroutable(self, works: list[Work], unroutable: Mapping[tuple[str, str], str] | None = None) -> list[Work]:
        """Deliveries no event of which can be routed become `unsupported`; such events leave the rest."""
        def gap_of(e: Event) -> str | None:
            return lookup_gap(e, unroutable, has_jira=self.jira is not None, has_confluence=self.confluence is not None)

        out = []
        for w in works:
            gaps = [(e, gap) for e in w.events if (gap := gap_of(e))] if w.ok else []
            if not gaps:
                out.append(w)
            elif len(gaps) == len(w.events):
                out.append(Work(w.item, (), unsupported=gaps[0][1]))
            else:
                with bound_contextvars(**delivery_context(w.item)):
                    for e, gap in gaps:
                        get_logger(Outcome.UNSUPPORTED.logger_name).info(
                            "webhook event unsupported", event_type=e.type.value, reason=gap)
                out.append(w.with_events(e for e in w.events if not gap_of(e)))
        return out

    async def _issues(self, jira: JiraPort, works: list[Work]) -> Found:
        """Issues (batched `key in (…)`, or by id) and the projects of versions."""
        keys, ids, version_ids = issue_lookups(events_of(works), self.accounts)
        by_key: dict[str, Issue] = {}
        by_id: dict[str, Issue] = {}
        failed_keys: dict[str, Exception] = {}
        failed_ids: dict[str, Exception] = {}
        calls = 0

        async def fetch(jql: str) -> list[Issue]:
            nonlocal calls
            calls += 1
            return await asyncio.to_thread(jira.fetch_issues, jql)

        async def fetch_keys(chunk: list[str]) -> None:
            try:
                for issue in await fetch("key in (" + ", ".join(chunk) + ")"):
                    by_key[issue.key] = issue
            except Exception as exc:
                if isinstance(exc, UpstreamError) and len(chunk) > 1 and exc.status == 400 and not exc.retryable:
                    # Jira rejects a whole `key in (…)` when one key does not exist or is not
                    # visible to us: ask key by key, so only that key's deliveries fail.
                    for key in chunk:
                        await fetch_keys([key])
                    return
                log_failure(exc, "jira issue lookup", keys=chunk)
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
                log_failure(exc, "jira issue lookup", issue_id=issue_id)
                failed_ids[issue_id] = exc
                continue
            if found:
                by_id[issue_id] = found[0]
        version_projects, version_error, version_calls = await self._version_projects(jira, version_ids)

        def attach(e: Event) -> EventResult:
            if not isinstance(e, JiraEvent):
                return e, None
            settle = to_settle(e, self.accounts)
            e = attach_found(e, by_key, by_id, version_projects, settle=settle)
            # Without the lookup the client could never see it: try the delivery later.
            return e, lookup_failure(e, failed_keys, failed_ids, version_error, settle=settle)

        return Found(each_event(works, attach), calls + version_calls)

    async def _version_projects(
        self, jira: JiraPort, version_ids: set[str]
    ) -> tuple[dict[str, str], Exception | None, int]:
        """Project key of each version id (versions name only a numeric project id), the first
        error of a project whose versions could not be read, and the calls made."""
        if not version_ids:
            return {}, None, 0
        projects = [p for a in self.accounts.accounts for p in a.jira.projects]
        calls = len(projects)
        try:
            versions = await asyncio.to_thread(jira.fetch_versions_for, projects)
            return {v.id: v.project for v in versions}, None, calls
        except Exception as exc:
            log.warning("jira version lookup failed; asking project by project", error=str(exc))
        # One project failing fails the combined call: ask each alone, so the others still count.
        found: dict[str, str] = {}
        first_error: Exception | None = None
        for project in projects:
            calls += 1
            try:
                for v in await asyncio.to_thread(jira.fetch_versions, project):
                    found[v.id] = v.project
            except Exception as exc:
                log_failure(exc, "jira version lookup", project=project)
                first_error = first_error or exc
        return found, first_error, calls

    async def _comments(self, jira: JiraPort, works: list[Work]) -> Found:
        """Service Desk comments no flag marks public, for a client: one `…/comment/{id}?expand=properties`
        per distinct comment. Marked public there: the client may get it; else withheld; Jira
        failing: the delivery is retried."""
        wanted = {c for e in events_of(works) if (c := comment_to_look_up(e, self.accounts))}
        if not wanted:
            return Found(works)
        ids = {f"{key}/{comment_id}": (key, comment_id) for key, comment_id in wanted}
        found, failed = await _fetch_each(set(ids), lambda ref: jira.comment(*ids[ref]), "jira comment")

        def attach(e: Event) -> EventResult:
            ref = comment_to_look_up(e, self.accounts)
            if ref is not None and f"{ref[0]}/{ref[1]}" in failed:
                return e, failed[f"{ref[0]}/{ref[1]}"]
            if ref is not None and isinstance(e, JiraEvent):
                return attach_comment(e, found.get(f"{ref[0]}/{ref[1]}")), None
            return e, None

        return Found(each_event(works, attach), len(ids))

    async def _histories(self, jira: JiraPort, works: list[Work]) -> Found:
        """For each new or edited comment a client would read: the issue's changelog (one call per
        issue and batch), so a comment written while the issue was internal stays internal
        whichever of its webhooks arrives first. Jira failing: the delivery is retried."""
        keys = {k for e in events_of(works) if (k := history_to_check(e, self.accounts))}
        if not keys:
            return Found(works)
        histories, failed = await _fetch_each(keys, jira.changelog, "jira issue changelog")

        def attach(e: Event) -> EventResult:
            key = history_to_check(e, self.accounts)
            if key is not None and key in failed:
                return e, failed[key]
            if key is not None and isinstance(e, JiraEvent) and e.comment is not None:
                return attach_history(e, past_since(histories.get(key), e.comment.created)), None
            return e, None

        return Found(each_event(works, attach), len(keys))

    async def _sprint_field(self, jira: JiraPort, works: list[Work]) -> Found:
        """Which custom field is the site's sprint field (the adapter asks Jira's field list once
        and keeps the answer): a change of it is a sprint change, of any other field named
        "Sprint" a custom field's (internal-only). Jira failing: those deliveries are retried."""
        if not any(sprint_field_candidate(e) for e in events_of(works)):
            return Found(works)
        try:
            sprint_field = await asyncio.to_thread(jira.sprint_field_id)
        except Exception as exc:
            log_failure(exc, "jira field lookup")
            error: Exception = exc
            return Found(each_event(works, lambda e: (e, error if sprint_field_candidate(e) else None)), 1)
        return Found(each_event(
            works, lambda e: (resolve_sprint_field(e, sprint_field) if isinstance(e, JiraEvent) and sprint_field_candidate(e)
                              else e, None)
        ), 1)

    async def _organizations(self, jira: JiraPort, works: list[Work]) -> Found:
        """The Service Desk organization ids of issues of a support project shared with an account
        recognised by organization: from the site's Organizations field (the accounts file's
        `organization_field`, else the one Jira's field list names) in the payload, or, when the
        payload lacks it or it cannot be read, from Jira (the issue with that field, one call per
        issue). Still unknown (no such field, several named, an unreadable answer): left unknown,
        and the issue reaches no client of the project (`support_split_verdict`). Jira failing:
        the deliveries that needed it are retried."""
        def sides(e: Event) -> list[tuple[str, IssueFacts]]:
            if not isinstance(e, JiraEvent) or e.project_key is None:
                return []
            pairs = [("issue", e.issue), ("linked_issue", e.linked_issue)]
            return [(name, i) for name, i in pairs if i is not None and i.key and i.organizations is None]

        configured: dict[str, set[str]] = {}
        for e in events_of(works):
            if isinstance(e, JiraEvent) and e.project_key and sides(e) and e.project_key not in configured:
                fields = organization_fields(self.accounts.accounts, e.project_key)
                if fields is not None:
                    configured[e.project_key] = fields
        if not configured:
            return Found(works)
        calls = 0
        site_field: str | None = None
        if any(not fields for fields in configured.values()):
            try:
                site_field = await asyncio.to_thread(jira.organizations_field_id)
                calls += 1
            except Exception as exc:
                log_failure(exc, "jira field lookup")
                error: Exception = exc
                return Found(each_event(works, lambda e: (e, error if isinstance(e, JiraEvent)
                                                          and e.project_key in configured and sides(e) else None)), 1)
        field_of: dict[str, str | None] = {}
        for project, fields in configured.items():
            field_of[project] = next(iter(fields)) if len(fields) == 1 else (site_field if not fields else None)
            if field_of[project] is None:
                log.warning("service desk organizations field not known: issues of the shared support project "
                            "reach no client channel", project=project, configured=sorted(fields))
        to_fetch: dict[str, str] = {}
        for e in events_of(works):
            if not isinstance(e, JiraEvent) or (field := field_of.get(e.project_key or "")) is None:
                continue
            for _, issue in sides(e):
                if dict(issue.custom_organizations).get(field) is None:
                    to_fetch[issue.key or ""] = field
        found: dict[str, tuple[str, ...] | None] = {}
        failed: dict[str, Exception] = {}
        for key, field in sorted(to_fetch.items()):
            try:
                answer = await asyncio.to_thread(jira.issue_field_values, key, [field])
                calls += 1
            except Exception as exc:
                log_failure(exc, "jira organizations lookup")
                failed[key] = exc
                continue
            found[key] = read_organizations(answer[field]) if answer is not None and field in answer else None
            if found[key] is None:
                log.warning("service desk organizations of an issue not readable, also in Jira's answer: "
                            "withheld from every client", issue=key, field=field)

        def attach(e: Event) -> EventResult:
            if not isinstance(e, JiraEvent) or (field := field_of.get(e.project_key or "")) is None:
                return e, None
            for name, issue in sides(e):
                key = issue.key or ""
                if key in failed:
                    return e, failed[key]
                ids = dict(issue.custom_organizations).get(field) if key not in to_fetch else found.get(key)
                known = dataclasses.replace(issue, organizations=ids)
                e = dataclasses.replace(e, linked_issue=known) if name == "linked_issue" else dataclasses.replace(e, issue=known)
            return e, None

        return Found(each_event(works, attach), calls)

    async def _scopes(self, jira: JiraPort, works: list[Work]) -> Found:
        """Which issues match the JQL of the accounts scoped by JQL that could hold them: one
        `<scope> AND key in (…)` per such account and chunk of keys. A match puts the issue in
        that account's scope; no match keeps it out (never another client's); a failure retries
        the deliveries that needed it (never a guess)."""
        wanted: dict[str, tuple[Account, set[str]]] = {}
        for e in events_of(works):
            for account, key in scope_lookups(e, self.accounts):
                wanted.setdefault(account.key, (account, set()))[1].add(key)
        if not wanted:
            return Found(works)
        confirmed: set[tuple[str, str]] = set()
        failed: dict[tuple[str, str], Exception] = {}
        calls = 0
        for account, keys in wanted.values():
            ordered = sorted(keys)
            for i in range(0, len(ordered), self.keys_per_query):
                chunk = ordered[i : i + self.keys_per_query]
                jql = f"{account.jira.scope_jql()} AND key in ({', '.join(chunk)})"
                calls += 1
                try:
                    found = await asyncio.to_thread(jira.fetch_issues, jql)
                except Exception as exc:
                    log_failure(exc, "jira scope lookup", account=account.key, keys=chunk)
                    failed.update({(account.key, k): exc for k in chunk})
                    continue
                confirmed.update((account.key, issue.key) for issue in found if issue.key in chunk)

        def attach(e: Event) -> EventResult:
            pairs = [(a.key, k) for a, k in scope_lookups(e, self.accounts)]
            errors = [failed[p] for p in pairs if p in failed]
            if errors:
                return e, errors[0]
            if isinstance(e, JiraEvent) and pairs:
                return attach_scope(e, frozenset(p for p in pairs if p in confirmed)), None
            return e, None

        return Found(each_event(works, attach), calls)

    async def _version_issues(self, jira: JiraPort, works: list[Work], subscriptions: Subscriptions) -> Found:
        """Whether each version a client would hear of has an issue the client may see (and, for
        an account scoped by JQL, one matching that JQL): one `fixVersion = N` per distinct
        version and scope. Without one, the policy withholds it."""
        checks = {(version_id, account.key): account for e in events_of(works)
                  for version_id, account in versions_to_check(e, self.accounts, subscriptions)}
        if not checks:
            return Found(works)

        def query(version_id: str, account: Account) -> str:
            return f"fixVersion = {version_id}" + (f" AND {account.jira.scope_jql()}" if account.jira.jql else "")

        queries = {pair: query(pair[0], account) for pair, account in checks.items()}
        issues, failed = await _fetch_each(set(queries.values()), jira.fetch_issues, "jira version issues")

        def attach(e: Event) -> EventResult:
            if not isinstance(e, JiraEvent):
                return e, None
            error: Exception | None = None
            for version_id, account in versions_to_check(e, self.accounts, subscriptions):
                jql = queries[(version_id, account.key)]
                if jql in failed:
                    # Same as the other lookups: only this delivery waits for a retry.
                    error = error or failed[jql]
                    continue
                found = issues.get(jql) or ()
                client_issue = any(issue_visible(i, Audience.CLIENT, account) for i in found)
                if account.jira.jql:
                    if found:
                        e = attach_version_scope(e, account.key, client_issue=client_issue)
                elif client_issue:
                    e = attach_client_issue(e)
            return e, error

        return Found(each_event(works, attach), len(set(queries.values())))

    async def _boards(self, jira: JiraPort, works: list[Work]) -> Found:
        """The project of each sprint's board: one call per distinct board id in the batch."""
        board_ids = {b for e in events_of(works) if (b := board_to_look_up(e))}
        if not board_ids:
            return Found(works)
        projects, failed = await _fetch_each(board_ids, lambda board_id: jira.board_project(int(board_id)), "jira board")
        unroutable = {
            ("board", b): f"board {b} is in no project we can see (deleted, not visible to the bot, or a user's board)"
            for b in board_ids if b not in failed and not projects.get(b)
        }

        def attach(e: Event) -> EventResult:
            board_id = board_to_look_up(e)
            if board_id is not None and board_id in failed:
                # Without its project the sprint reaches nobody: try the delivery later.
                return e, failed[board_id]
            if board_id is not None and projects.get(board_id) and isinstance(e, JiraEvent):
                return attach_project(e, projects[board_id]), None
            return e, None

        return Found(each_event(works, attach), len(board_ids), unroutable)

    async def _contents(self, confluence: ConfluencePort, works: list[Work]) -> Found:
        """Space, title and URL of Confluence content named only by id: one call per distinct id."""
        content_ids = {c for e in events_of(works) if (c := content_to_look_up(e))}
        if not content_ids:
            return Found(works)
        contents, failed = await _fetch_each(content_ids, confluence.content, "confluence content")
        unroutable = {
            ("content", c): f"Confluence content {c} not found or not visible to the bot"
            for c in content_ids if c not in failed and contents.get(c) is None
        }
        unroutable_ids = {c for _, c in unroutable}
        nameless: dict[tuple[str, str], str] = {}

        def attach(e: Event) -> EventResult:
            content_id = content_to_look_up(e)
            if content_id is None or not isinstance(e, ConfluenceEvent) or content_id in unroutable_ids:
                return e, None
            if content_id in failed:
                # Without its space the event reaches nobody: try the delivery later.
                return e, failed[content_id]
            error: Exception | None = None
            try:
                e = enrich(e, contents[content_id])
            except Exception as exc:
                # A content object we could not read: this delivery only, retried.
                log_failure(exc, "the content lookup", content_id=content_id)
                error = exc
            if e.space_key is None:
                nameless[("content", content_id)] = f"Confluence content {content_id} names no space"
            return e, error

        works = each_event(works, attach)
        return Found(works, len(content_ids), {**unroutable, **nameless})

    async def _actors(self, confluence: ConfluencePort, works: list[Work]) -> Found:
        """Who did it, for Confluence events that name their actor by id only: one call per
        distinct user. Only a name: when the lookup fails the message says "Someone" rather than
        keeping anyone waiting (the failure is logged)."""
        user_ids = {u for e in events_of(works) if (u := actor_to_look_up(e))}
        if not user_ids:
            return Found(works)
        users, _failed = await _fetch_each(user_ids, confluence.user, "confluence user")

        def name(e: Event) -> EventResult:
            u = actor_to_look_up(e)
            if isinstance(e, ConfluenceEvent) and u is not None and users.get(u) is not None:
                return name_actor(e, users[u]), None
            return e, None

        return Found(each_event(works, name), len(user_ids))

    async def _restrictions(self, confluence: ConfluencePort, works: list[Work], subscriptions: Subscriptions) -> Found:
        """Whether each Confluence content a client would hear of is free of view restrictions
        (itself and its ancestors): one `read_restricted` per distinct content id. Without that
        evidence the policy withholds it from clients; internal channels never wait for it."""
        content_ids = {c for e in events_of(works) if (c := content_for_client(e, self.accounts, subscriptions))}
        if not content_ids:
            return Found(works)
        restricted, failed = await _fetch_each(content_ids, confluence.read_restricted, "confluence restrictions")

        def attach(e: Event) -> EventResult:
            content_id = content_for_client(e, self.accounts, subscriptions)
            if content_id is not None and content_id in failed:
                # Same as the other lookups: only this delivery waits for a retry.
                return e, failed[content_id]
            if content_id is not None and restricted.get(content_id) is False and isinstance(e, ConfluenceEvent):
                return attach_client_visible(e), None
            return e, None

        # One lookup per id; each costs 1 + ancestors HTTP calls (see ConfluencePort.read_restricted).
        return Found(each_event(works, attach), len(content_ids))


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
            log_failure(exc, f"{what} lookup", id=item_id)
            failed[item_id] = exc
    return found, failed
