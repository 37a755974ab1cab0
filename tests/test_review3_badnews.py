"""Review 3: bad news once per change with two processes refreshing at once (the reviewer's control,
passing before and after), and #11: a digest's narrow fetch must not make false "quiet" news."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

from bot.services.digests import DigestService
from bot.services.exactly_once import OncePoster
from bot.services.portfolio import PortfolioService
from sandbox.agency import build_sandbox
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
SANDBOX = build_sandbox(NOW)
ACCOUNTS = SANDBOX.accounts


async def test_two_processes_refreshing_at_once_tell_a_change_once(sqlite_store):
    """Review 3, control (no finding): one change told once with two processes and a digest at once."""
    jira = InMemoryJira.from_seed(SANDBOX.seed)
    slack = InMemorySlack()
    now = [NOW]
    digests = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=lambda: now[0], retry_delays=())

    def process(name):
        return PortfolioService(accounts=ACCOUNTS, digests=digests, store=sqlite_store, clock=lambda: now[0],
                                notices=OncePoster(sqlite_store, slack, lambda: now[0], name, dt.timedelta(minutes=1)))

    a, b = process("a"), process("b")
    globex = ACCOUNTS.by_key("globex")
    await a.refresh(globex)
    template = next(i for i in jira.issues if i.project == "GLX" and not i.done)
    for n in range(5):
        jira.issues.append(dataclasses.replace(template, key=f"GLX-9{n}", due=dt.date(2026, 11, 2), labels=()))
    now[0] = NOW + dt.timedelta(hours=2)
    results = await asyncio.gather(a.refresh(globex), b.refresh(globex), b.from_digest(globex, await digests.fetch(
        globex, now[0], NOW - dt.timedelta(days=7)), now[0]), return_exceptions=True)
    told = [m for m in slack.messages]
    assert told
    assert len(told) == len(set((m["channel"], m["text"]) for m in told)), (results, told)


async def test_a_daily_digests_narrow_fetch_makes_false_quiet_news_every_day(sqlite_store):
    """Review 3 #11 (DUPLICATE), reviewer's reproduction: refresh() judges health on whatever JiraData it is given. A digest run hands it the digest's own
    fetch, whose JQL (digest_query.digest_jql) only has done issues updated since the last digest (or
    the budget period's start); the background pass fetches a week back. An account whose only recent
    client-visible activity is an issue resolved 3 days ago looks 'quiet for a month' to every daily
    digest and fine to the background pass: each digest tells 'quiet' as news, again each day."""
    from bot.services.digests import JiraData
    from tests.test_digest_samples import done, make_account, make_issue

    account = make_account(budget=None)
    slack = InMemorySlack()
    now = [dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)]  # a Tuesday
    digests = DigestService(jira=InMemoryJira(), slack=slack, store=sqlite_store, clock=lambda: now[0], retry_delays=())
    portfolio = PortfolioService(accounts=ACCOUNTS, digests=digests, store=sqlite_store, clock=lambda: now[0],
                                 notices=OncePoster(sqlite_store, slack, lambda: now[0], "a", dt.timedelta(minutes=1)))
    old_open = make_issue(1)  # created 2026-10-20, open
    resolved = make_issue(2, **done(resolved=dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)))
    wide = JiraData([old_open, resolved], [], 1)  # background: a week back
    narrow = JiraData([old_open], [], 1)  # the daily digest's JQL: `resolved` was last updated 3 days ago
    for day in range(3):
        now[0] = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC) + dt.timedelta(days=day)
        await portfolio.refresh(account, wide, now[0])  # background pass
        now[0] += dt.timedelta(hours=1)
        await portfolio.from_digest(account, narrow, now[0])  # the 09:00 digest's own fetch
    quiet = [m for m in slack.messages if "quiet" in m["text"].lower() or "nothing" in m["text"].lower()]
    assert quiet == [], [m["text"] for m in slack.messages]
    # The verdict does not flip with whichever refresh ran last: the digest's snapshot knows the activity.
    (row,) = [r for r in sqlite_store.portfolio.all() if r.account_key == account.key]
    assert row.payload["quiet_days"] == 3 + 2 and not any(r["concern"] == "quiet" for r in row.payload["reasons"])


async def test_a_really_quiet_account_is_still_told_once(sqlite_store):
    """Review 3 #11, control: activity once seen is kept, not invented — an account whose last
    client-visible activity really is 40 days old is told quiet (once, on the change)."""
    from bot.services.digests import JiraData
    from tests.test_digest_samples import done, make_account, make_issue

    account = make_account(budget=None)
    slack = InMemorySlack()
    now = [dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)]
    digests = DigestService(jira=InMemoryJira(), slack=slack, store=sqlite_store, clock=lambda: now[0], retry_delays=())
    portfolio = PortfolioService(accounts=ACCOUNTS, digests=digests, store=sqlite_store, clock=lambda: now[0],
                                 notices=OncePoster(sqlite_store, slack, lambda: now[0], "a", dt.timedelta(minutes=1)))
    old = make_issue(2, **done(resolved=dt.datetime(2026, 10, 20, 12, 0, tzinfo=dt.UTC)))
    first = await portfolio.refresh(account, JiraData([old], [], 1), now[0])
    assert first.quiet_days is not None and first.quiet_days >= 35
    for day in range(1, 3):
        now[0] += dt.timedelta(days=1)
        later = await portfolio.refresh(account, JiraData([], [], 1), now[0])  # nothing in a narrow fetch
        assert later.quiet_days == first.quiet_days + day
