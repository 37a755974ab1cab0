"""A handover's Confluence page: one per handover and account, under the account's configured parent
in the agency's own space (v2 API), updated in place on cancel, once through a lost answer, escaped;
and none where nothing is configured. Through the fakes (service) and the sandbox's fake Confluence
over HTTP with the real client (adapter)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from bot.accounts_file import parse_accounts
from bot.cli.export_config import effective_yaml
from bot.domain.accounts import AccountsConfig
from bot.domain.links import SiteLinks
from bot.errors import ConfigError
from bot.services.digests import DigestService
from bot.services.handover_steps import HandoverSteps
from integrations.confluence import AtlassianConfluence
from integrations.upstream_errors import RetryPolicy, UpstreamError
from sandbox.agency import build_sandbox
from sandbox.atlassian_server import FakeAtlassian, space_json
from tests.fakes.confluence import InMemoryConfluence
from tests.test_handover_steps import ANA, BEN, NAMES, World, _accounts, _issue, slack_server  # noqa: F401

PARENT = "5001"  # "Handovers" in the agency's space AGY
HOSTILE = ('<ac:structured-macro ac:name="html"><ac:plain-text-body><![CDATA[<script>alert(1)</script>]]>'
           '</ac:plain-text-body></ac:structured-macro> & {html}<b>x</b>{html} ]]> "\x01\x0b')


def _with_pages(config: AccountsConfig, **scopes: dict) -> AccountsConfig:
    data = config.model_dump(mode="json")
    for account in data["accounts"]:
        account["confluence"].update(scopes.get(account["key"], {}))
    return AccountsConfig.model_validate(data)


class PageWorld(World):
    def __init__(self, store, slack, configured=True):
        self.confluence = InMemoryConfluence()
        self.confluence.page_spaces[PARENT] = "AGY"
        self.configured = configured
        super().__init__(store, slack)

    def process(self) -> HandoverSteps:
        if self.configured:
            place = {"handover_space": "AGY", "handover_parent": PARENT}
            self.accounts = _with_pages(_accounts(), acme=place, north=place)
        async def names(user):
            return NAMES.get(user)
        digests = DigestService(jira=self.jira, slack=self.slack, store=self.store, clock=lambda: self.now)
        return HandoverSteps(self.store, self.accounts, digests, self.slack, lambda: self.now, names,
                             links=SiteLinks(jira="https://jira.example", confluence="https://wiki.example"),
                             is_member=self.is_member, confluence=self.confluence)


@pytest.fixture
def world(sqlite_store, slack_server):  # noqa: F811
    return PageWorld(sqlite_store, slack_server)


def _page(world: PageWorld, title_start: str) -> dict:
    (page,) = [p for (space, title), p in world.confluence.pages.items() if title.startswith(title_start)]
    return page


async def test_each_account_gets_one_page_under_its_parent_in_the_agency_space_linked_from_the_summary(world):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    titles = sorted(world.confluence.pages)
    assert titles == [("AGY", "Handover #1 · Northwind (north) · 2026-12-21 – 2027-01-06"),
                      ("AGY", "Übergabe #1 · Acme GmbH (acme) · 2026-12-21 – 2027-01-06")]
    acme, north = _page(world, "Übergabe"), _page(world, "Handover")
    assert acme["parent_id"] == PARENT == north["parent_id"] and acme["version"] == 1
    assert acme["html"].startswith("<p><strong>Ben Brandt vertritt Ana Alves vom 21.12.2026 bis 06.01.2027.</strong></p>")
    assert '<a href="https://jira.example/browse/AC-1">AC-1</a> Checkout-Redesign' in acme["html"]
    assert "🔒 " in acme["html"] and "Budget: 0 h von 100 h verbraucht" in acme["html"]
    assert north["html"].startswith("<p><strong>Ben Brandt covers for Ana Alves from Dec 21, 2026 to Jan 6, 2027.")
    acme_dm, north_dm = world.texts(world.slack.dm_channel(BEN))
    assert acme_dm.endswith(f"Übergabeseite in Confluence: https://wiki.example/pages/viewpage.action?pageId={acme['id']}")
    assert north_dm.endswith(f"Handover page in Confluence: https://wiki.example/pages/viewpage.action?pageId={north['id']}")
    (note,) = world.texts("C0ACINTERN")
    assert note.endswith(f"pageId={acme['id']}")
    # A restart writes nothing again.
    await world.process().tick()
    assert len(world.confluence.pages) == 2 and [c for c in world.confluence.calls if c[0] == "create_page"] == [
        ("create_page", t) for _, t in [("AGY", "Übergabe #1 · Acme GmbH (acme) · 2026-12-21 – 2027-01-06"),
                                        ("AGY", "Handover #1 · Northwind (north) · 2026-12-21 – 2027-01-06")]]


async def test_a_cancel_rewrites_the_page_in_place_once(world):
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    before = dict(_page(world, "Handover"))
    world.now = dt.datetime(2026, 12, 28, 9, tzinfo=dt.UTC)
    await world.steps.tick()
    await world.ask("handover cancel 1", channel="C0NWINTERN")
    after = _page(world, "Handover")
    assert (after["id"], after["version"]) == (before["id"], 2)
    assert after["html"].startswith("<p><strong>Cancelled on Dec 28, 2026: the roles are back with Ana Alves.</strong></p>"
                                    "<p><s>Ben Brandt covers for Ana Alves")
    assert after["html"].endswith(before["html"].split("</strong></p>", 1)[1])  # the summary as written
    assert len(world.confluence.pages) == 1
    assert world.store.handovers.page("1", "north").state == "cancelled"
    await world.process().tick()
    assert _page(world, "Handover")["version"] == 2  # once


async def test_a_create_whose_answer_was_lost_is_found_by_title_and_not_made_twice(world):
    world.confluence.lose_create_answers = 1  # created in Confluence, then the answer (or the process) was lost
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    assert world.store.handovers.step_status("1", "north", "created") == "failed"
    assert world.texts(world.slack.dm_channel(BEN)) == []  # the summary waits for its page's link
    recorded = world.store.handovers.page("1", "north")
    assert recorded.page_id is None  # the intent, without an id: uncertain
    world.now += dt.timedelta(minutes=2)  # past the failed step's backoff
    assert await world.process().tick() == [("1", "north", "created")]  # a restart takes it over
    (page,) = world.confluence.pages.values()
    assert [c[0] for c in world.confluence.calls] == ["create_page", "find_page_under"]
    assert world.store.handovers.page("1", "north").page_id == page["id"]
    (dm,) = world.texts(world.slack.dm_channel(BEN))
    assert dm.endswith(f"pageId={page['id']}")


async def test_hostile_titles_and_notes_stay_text_on_the_page(world):
    world.jira.issues.append(_issue("NW-7", HOSTILE, assignee_id="ana-jira", status=HOSTILE))
    world.jira.versions[1] = dataclasses.replace(world.jira.versions[1], name=HOSTILE)
    world.jira.issues[-1] = dataclasses.replace(world.jira.issues[-1], fix_version_ids=("v2",))
    world.jira.add_issue_comment("NW-7", {"id": "1", "author": {"displayName": HOSTILE}, "body": HOSTILE,
                                          "created": "2026-12-01T10:00:00.000+0000", "jsdPublic": True})
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    html = _page(world, "Handover")["html"]
    assert "<ac:" not in html and "<script" not in html and "<b>" not in html and "]]>" not in html
    assert "\x01" not in html and "\x0b" not in html
    root = ET.fromstring(f"<page>{html}</page>")  # well-formed XML, as Confluence requires
    assert {e.tag for e in root.iter()} <= {"page", "p", "strong", "h2", "h3", "ul", "li", "a"}
    visible = "".join(root.itertext())
    assert HOSTILE.replace("\x01", "").replace("\x0b", "") in visible  # shown as written, as text
    assert visible.count("<ac:structured-macro") == 5  # title, status, milestone, comment author and body


async def test_without_a_configured_place_no_page_and_no_error(sqlite_store, slack_server):  # noqa: F811
    world = PageWorld(sqlite_store, slack_server, configured=False)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    assert world.confluence.pages == {} and world.confluence.calls == []
    acme_dm, north_dm = world.texts(world.slack.dm_channel(BEN))
    assert "Confluence:" not in acme_dm and "page in Confluence" not in north_dm
    await world.ask("handover cancel 1")
    assert world.confluence.calls == []
    assert world.store.handovers.step_status("1", "acme", "created") == "done"


async def test_a_parent_outside_the_agency_space_gets_no_page_and_the_summary_goes_without_link(world):
    world.confluence.page_spaces[PARENT] = "AC"  # someone moved the parent page into the client's space
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    assert world.confluence.pages == {}
    (dm,) = world.texts(world.slack.dm_channel(BEN))
    assert "Confluence space: https://wiki.example/display/NW" in dm and "pageId" not in dm


# --- the accounts file -------------------------------------------------------------------------

_FILE = """accounts:
  - {key: a, name: A, timezone: UTC, channels: [{id: C0AAAAAA1, audience: client}], jira: {projects: [A]},
     confluence: {space: DOC, %s}}
  - {key: b, name: B, timezone: UTC, channels: [{id: C0BBBBBB1, audience: client}], jira: {projects: [B]},
     confluence: {space: BDOC}}
"""


def test_the_accounts_file_takes_the_handover_place_and_export_writes_it_back():
    config = parse_accounts(_FILE % 'handover_space: AGY, handover_parent: "98310"', "x.yaml")
    scope = config.accounts[0].confluence
    assert (scope.handover_space, scope.handover_parent, scope.handover_pages) == ("AGY", "98310", True)
    assert not config.accounts[1].confluence.handover_pages
    exported = effective_yaml(config)
    assert "handover_space: AGY" in exported and "handover_parent: '98310'" in exported
    assert parse_accounts(exported, "export.yaml") == config


@pytest.mark.parametrize("place, problem", [
    ("handover_space: DOC, handover_parent: 1", "the account's own space"),
    ("handover_space: BDOC, handover_parent: 1", "is the space of account 'b'"),
    ("handover_parent: 1", "need both handover_space"),
    ("handover_space: AGY", "need both handover_space"),
    ("handover_space: AGY, handover_parent: 'pages/1'", "is not a Confluence page id"),
])
def test_a_handover_place_that_could_reach_a_client_or_is_half_given_is_refused(place, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_accounts(_FILE % place, "x.yaml")


# --- the adapter, over HTTP with the real client -------------------------------------------------

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake():
    seed = build_sandbox(NOW).seed
    seed.spaces.append(space_json("7001", "AGY", "Agency", "7002"))
    home = dict(seed.pages[0])
    seed.pages.append({**home, "id": "7002", "spaceId": "7001", "title": "Agency Home"})
    seed.pages.append({**home, "id": PARENT, "spaceId": "7001", "title": "Handovers", "parentId": "7002"})
    with FakeAtlassian(seed) as server:
        yield server


def _adapter(fake: FakeAtlassian) -> AtlassianConfluence:
    return AtlassianConfluence(fake.confluence_url, user="bot@agency.example", api_token="token",
                               retry=RetryPolicy(attempts=2, base_delay=0.0, jitter=0.0), sleep=lambda s: None)


def test_the_adapter_creates_under_the_parent_with_the_v2_call_and_updates_in_place(fake):
    confluence = _adapter(fake)
    created = confluence.create_page("AGY", PARENT, "Handover #1 · A (a)", "<p>one</p>")
    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", "/wiki/api/v2/spaces"), ("GET", f"/wiki/api/v2/pages/{PARENT}"), ("POST", "/wiki/api/v2/pages")]
    assert fake.calls[-1].body == {"spaceId": "7001", "status": "current", "title": "Handover #1 · A (a)",
                                   "parentId": PARENT, "body": {"representation": "storage", "value": "<p>one</p>"}}
    assert (created.version, created.parent_id) == (1, PARENT)
    assert confluence.find_page_under("AGY", PARENT, "Handover #1 · A (a)") == created
    assert confluence.find_page_under("AGY", PARENT, "Handover #2 · A (a)") is None
    fake.reset_calls()
    updated = confluence.update_page(created.id, "Handover #1 · A (a)", "<p>cancelled</p>")
    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", f"/wiki/api/v2/pages/{created.id}"), ("PUT", f"/wiki/api/v2/pages/{created.id}")]
    assert fake.calls[-1].body["version"]["number"] == 2 and fake.calls[-1].body["status"] == "current"
    assert (updated.id, updated.version) == (created.id, 2)
    (page,) = [p for p in fake.pages("7001") if p["title"] == "Handover #1 · A (a)"]
    assert page["body"]["storage"]["value"] == "<p>cancelled</p>" and page["parentId"] == PARENT


def test_the_adapter_never_writes_under_a_parent_of_another_space(fake):
    with pytest.raises(UpstreamError, match="not in space AGY") as caught:
        _adapter(fake).create_page("AGY", "98306", "Handover #1 · A (a)", "<p>x</p>")  # ACME's home page
    assert not caught.value.retryable
    assert not [c for c in fake.calls if c.method == "POST"]


def test_the_page_intent_is_recorded_once_and_then_its_id(store):
    stored = store.handovers.add(ANA, BEN, dt.date(2026, 12, 21), dt.date(2027, 1, 6), ["north"], "", ANA, NOW)
    assert store.handovers.page(stored.id, "north") is None
    assert store.handovers.page_intent(stored.id, "north", "T", "<p>b</p>", NOW) is True
    assert store.handovers.page_intent(stored.id, "north", "T", "<p>c</p>", NOW) is False  # uncertain from now on
    assert store.handovers.page(stored.id, "north").page_id is None
    store.handovers.page_written(stored.id, "north", "900001", 1, "active", NOW)
    page = store.handovers.page(stored.id, "north")
    assert (page.page_id, page.version, page.state, page.body) == ("900001", 1, "active", "<p>b</p>")
