"""Cover applied where the budget role is named: the digest's budget line and budget alerts."""

from __future__ import annotations

import datetime as dt

from bot.domain.accounts import Audience
from bot.domain.digest import build_digest
from bot.domain.roles import Handover
from bot.render.digest import render_digest
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.test_digest_samples import NOW, log, make_account, make_issue
from tests.test_inbox_worker import ALPHA_INTERNAL, ZJ, _worklog, add, issue, worker


def _cover(start, end, keys) -> Handover:
    return Handover("7", "U0BUDGET", "U0COVER01", start, end, frozenset(keys))


def _budget_block(account, issues, audience, handovers) -> str:
    rendered = render_digest(build_digest(account, audience, issues, [], NOW, handovers=handovers), account)
    return next(b["text"]["text"] for b in rendered.blocks if b["type"] == "section" and "Budget" in b["text"]["text"])


def test_the_digests_budget_line_names_the_cover_during_the_period_only():
    account = make_account()
    # 70 h of 80: the 80 % threshold line names the budget role.
    issues = [make_issue(1, worklogs=(log("SAMPLEPROJECT-1", dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC), 70),))]
    during = _cover(dt.date(2026, 11, 20), dt.date(2026, 11, 30), {"acme"})
    text = _budget_block(account, issues, Audience.INTERNAL, [during])
    assert "cc <@U0COVER01> (covering for <@U0BUDGET> until Nov 30, 2026)" in text
    before = _cover(dt.date(2026, 11, 23), dt.date(2026, 11, 30), {"acme"})  # NOW is the 22nd
    text = _budget_block(account, issues, Audience.INTERNAL, [before])
    assert "cc <@U0BUDGET>" in text and "U0COVER01" not in text
    elsewhere = _cover(dt.date(2026, 11, 20), dt.date(2026, 11, 30), {"other"})
    text = _budget_block(account, issues, Audience.INTERNAL, [elsewhere])
    assert "cc <@U0BUDGET>" in text and "U0COVER01" not in text
    client = str(render_digest(build_digest(account, Audience.CLIENT, issues, [], NOW, handovers=[during]), account).blocks)
    assert "U0COVER01" not in client and "U0BUDGET" not in client


async def test_a_budget_alert_during_a_handover_names_the_cover(store):
    store.handovers.add("U0BUDGET", "U0COVER01", dt.date(2026, 11, 20), dt.date(2026, 12, 6), ["alpha"], "", "U0LEAD0001",
                        dt.datetime(2026, 11, 19, 9, tzinfo=dt.UTC))
    slack = InMemorySlack()
    gold = issue("GOLD-7", worklogs=(_worklog("GOLD-7", 5, 3), _worklog("GOLD-7", 3.5, 20)))
    add(store, f"{ZJ}/worklog_created.json", "d-1")
    report = await worker(store, slack, InMemoryJira({"GOLD-7": gold}, by_id={"10014": gold})).run_once()
    assert report.alerts == 1
    (alert,) = slack.in_channel(ALPHA_INTERNAL)
    assert alert["text"].splitlines()[-1] == "cc <@U0COVER01> (covering for <@U0BUDGET> until Dec 6, 2026)"
