"""Confluence status page: published (client view) through the real client against the fake v2 API, linked from the digest."""

import datetime as dt

import pytest

from bot.domain.accounts import ConfluenceScope
from bot.render.blocks import Message
from bot.render.digest import RenderedDigest
from bot.render.status_page import status_page_storage, with_status_page_link
from bot.services.digests import DigestService
from integrations.confluence import AtlassianConfluence
from integrations.jira import AtlassianJira
from integrations.upstream_errors import RetryPolicy
from sandbox.agency import build_sandbox
from sandbox.atlassian_server import Failure, FakeAtlassian
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.timezone.utc)


def test_storage_format_is_escaped_xhtml_with_sections_and_lists():
    text = "📊 A & B — digest\nas of today\n\nDeadlines\n• X-1 <script> · due\n• X-2 ok\n\nMilestones\n• R1 — due\n   ▓░ 50 %\nNone."
    assert status_page_storage(RenderedDigest([Message("x")], text)) == (
        "<h1>📊 A &amp; B — digest</h1><p><em>as of today</em></p>"
        "<h2>Deadlines</h2><ul><li>X-1 &lt;script&gt; · due</li><li>X-2 ok</li></ul>"
        "<h2>Milestones</h2><ul><li>R1 — due<br/>▓░ 50 %</li></ul><p>None.</p>"
    )


def test_link_goes_into_the_first_message_or_a_follow_up_when_full():
    small = with_status_page_link(RenderedDigest([Message("t", [{"type": "divider"}])], "t"), "https://c/p/1", "en")
    assert small.messages[0].blocks[-1]["elements"][0]["text"] == "<https://c/p/1|Status page in Confluence>"
    assert small.text.endswith("Status page in Confluence: https://c/p/1\n")
    full = with_status_page_link(RenderedDigest([Message("t", [{"type": "divider"}] * 50)], "t"), "https://c/p/1", "de")
    assert len(full.messages[0].blocks) == 50
    assert full.messages[1].text == "Statusseite in Confluence: https://c/p/1"


@pytest.fixture
def world(sqlite_store):
    sandbox = build_sandbox(NOW)
    with FakeAtlassian(sandbox.seed) as fake:
        jira = AtlassianJira(fake.url, user="u", api_token="t")
        confluence = AtlassianConfluence(fake.url, user="u", api_token="t", retry=RetryPolicy(attempts=1))
        slack = InMemorySlack()
        service = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=lambda: NOW, confluence=confluence)
        account = sandbox.accounts.by_key("acme-shop")
        account = account.model_copy(update={"confluence": ConfluenceScope(space="ACME", status_page_parent_id="98306")})
        yield fake, service, slack, account
        jira.close()
        confluence.close()


async def test_status_page_is_created_then_updated_in_place_and_linked(world):
    fake, service, slack, account = world
    await service.run_slot(account, account.channel("C0ACMEINTL"), NOW)
    await service.run_slot(account, account.channel("C0ACMECLNT"), NOW)
    pages = [p for p in fake.pages("98305") if p["title"].startswith("ACME Shop GmbH — Status")]
    assert [p["title"] for p in pages] == ["ACME Shop GmbH — Status 2026-11"]
    assert pages[0]["parentId"] == "98306"
    body = pages[0]["body"]["storage"]["value"]
    # Client view even when the internal channel's digest triggered it: no money, no internal work.
    assert "€" not in body and "<h1>📊 ACME Shop GmbH — Überblick</h1>" in body
    # Same content the second time: no new version, one page.
    assert fake.call_count(method="POST", prefix="/wiki/api/v2/pages") == 1
    links = [m["blocks"][-1] for m in slack.messages if m["thread_ts"] is None]
    assert all("Statusseite in Confluence" in b["elements"][0]["text"] for b in links)


async def test_confluence_down_does_not_hold_back_the_digest(world):
    fake, service, slack, account = world
    fake.script(*[Failure(503, match="/wiki/")] * 5)
    result = await service.run_slot(account, account.channel("C0ACMECLNT"), NOW)
    assert result.status == "posted"
    assert "Statusseite" not in slack.messages[0]["text"] + str(slack.messages[0]["blocks"])
