"""Confluence adapter: publish a status page in place, through the real client and the fake server."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain import confluence_events
from bot.domain.webhooks import normalize
from integrations.confluence import AtlassianConfluence
from integrations.upstream_errors import RetryPolicy, UpstreamError, UpstreamUnavailable
from sandbox.agency import build_sandbox
from sandbox.atlassian_server import AtlassianSeed, Failure, FakeAtlassian
from tests.fakes.confluence import InMemoryConfluence
from tests.fixtures import real_payload

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
TITLE = "ACME Status 2026-W47"


@pytest.fixture
def fake():
    with FakeAtlassian(build_sandbox(NOW).seed) as server:
        yield server


def _adapter(fake: FakeAtlassian, sleeps: list[float] | None = None, **kwargs) -> AtlassianConfluence:
    return AtlassianConfluence(
        kwargs.pop("url", fake.confluence_url), user=kwargs.pop("user", "bot@agency.example"), api_token="token",
        **kwargs,
        retry=RetryPolicy(attempts=3, base_delay=0.25, jitter=0.0),
        sleep=(sleeps.append if sleeps is not None else (lambda s: None)),
    )


def test_first_publish_creates_under_parent_and_returns_its_url(fake):
    url = _adapter(fake).publish_status_page("ACME", "98306", TITLE, "<p>Eins</p>")
    calls = fake.calls
    assert [(c.method, c.path) for c in calls] == [
        ("GET", "/wiki/api/v2/spaces"),
        ("GET", "/wiki/api/v2/pages"),
        ("POST", "/wiki/api/v2/pages"),
    ]
    assert calls[0].query["keys"] == ["ACME"]
    assert calls[1].query["space-id"] == ["98305"] and calls[1].query["title"] == [TITLE]
    assert calls[2].body == {
        "spaceId": "98305",
        "status": "current",
        "title": TITLE,
        "body": {"representation": "storage", "value": "<p>Eins</p>"},
        "parentId": "98306",
    }
    [page] = [p for p in fake.pages("98305") if p["title"] == TITLE]
    assert page["parentId"] == "98306" and page["version"]["number"] == 1
    assert url == f"{fake.url}/wiki/spaces/ACME/pages/{page['id']}/ACME+Status+2026-W47"


def test_second_publish_updates_in_place_with_version_2(fake):
    confluence = _adapter(fake)
    first = confluence.publish_status_page("ACME", "98306", TITLE, "<p>Eins</p>")
    fake.reset_calls()
    second = confluence.publish_status_page("ACME", "98306", TITLE, "<p>Zwei</p>")
    calls = fake.calls
    # Space id is cached: find + PUT only.
    assert [(c.method, c.path.rsplit("/", 1)[0]) for c in calls] == [
        ("GET", "/wiki/api/v2"),
        ("PUT", "/wiki/api/v2/pages"),
    ]
    assert calls[1].body["version"]["number"] == 2
    assert calls[1].body["status"] == "current"
    pages = [p for p in fake.pages("98305") if p["title"] == TITLE]
    assert len(pages) == 1
    assert pages[0]["version"]["number"] == 2
    assert pages[0]["body"]["storage"]["value"] == "<p>Zwei</p>"
    assert second == first


def test_unchanged_page_is_not_written_again(fake):
    confluence = _adapter(fake)
    confluence.publish_status_page("ACME", None, TITLE, "<p>Gleich</p>")
    confluence.publish_status_page("ACME", None, TITLE, "<p>Gleich</p>")
    assert fake.call_count("PUT") == 0
    assert fake.call_count("POST") == 1
    [page] = [p for p in fake.pages("98305") if p["title"] == TITLE]
    # Without a parent, Confluence files the page under the space homepage.
    assert page["version"]["number"] == 1 and page["parentId"] == "98306"


def test_conflicting_edit_rereads_version_and_retries_once(fake):
    confluence = _adapter(fake)
    confluence.publish_status_page("ACME", None, TITLE, "<p>Eins</p>")
    fake.reset_calls()
    fake.script(Failure(409, match="/wiki/api/v2/pages/"))
    confluence.publish_status_page("ACME", None, TITLE, "<p>Zwei</p>")
    assert [(c.method, c.status) for c in fake.calls] == [("GET", 200), ("PUT", 409), ("GET", 200), ("PUT", 200)]
    [page] = [p for p in fake.pages("98305") if p["title"] == TITLE]
    assert page["version"]["number"] == 2


def test_unknown_space_fails_without_creating_anything(fake):
    with pytest.raises(UpstreamError) as caught:
        _adapter(fake).publish_status_page("NOPE", None, TITLE, "<p>x</p>")
    assert caught.value.status == 404 and caught.value.retryable is False
    assert fake.call_count("POST") == 0


def test_find_is_retried_after_a_timeout_but_create_is_not(fake):
    confluence = AtlassianConfluence(
        fake.url, user="u", api_token="t", timeout=(1.0, 0.2), retry=RetryPolicy(jitter=0.0), sleep=lambda s: None
    )
    fake.script(Failure.timeout(0.5, match="/wiki/api/v2/pages", method="GET"))
    confluence.publish_status_page("ACME", None, TITLE, "<p>x</p>")
    assert fake.call_count("GET", path="/wiki/api/v2/pages") == 2
    assert fake.call_count("POST") == 1

    # A create that times out may have happened: fail retryable, let the job re-run find-or-create.
    fake.reset_calls()
    fake.script(Failure.timeout(0.5, match="/wiki/api/v2/pages", method="POST"))
    with pytest.raises(UpstreamError) as caught:
        confluence.publish_status_page("ACME", None, "Another page", "<p>y</p>")
    assert caught.value.retryable is True and caught.value.status is None
    assert fake.call_count("POST") == 1


def test_503_on_create_is_retried_and_exhaustion_is_reported(fake):
    sleeps: list[float] = []
    confluence = _adapter(fake, sleeps)
    fake.script(Failure(503, match="/wiki/api/v2/pages"), Failure(503, match="/wiki/api/v2/pages"), Failure(503, match="/wiki/api/v2/pages"))
    with pytest.raises(UpstreamUnavailable) as caught:
        confluence.publish_status_page("ACME", None, TITLE, "<p>x</p>")
    assert caught.value.retryable is True and caught.value.service == "confluence"
    assert sleeps == [0.25, 0.5]
    assert fake.call_count("POST") == 0


def test_in_memory_confluence_versions_pages():
    fake = InMemoryConfluence(["ACME"])
    url = fake.publish_status_page("ACME", None, TITLE, "<p>1</p>")
    assert fake.publish_status_page("ACME", None, TITLE, "<p>2</p>") == url
    assert fake.pages[("ACME", TITLE)]["version"] == 2
    with pytest.raises(UpstreamError):
        fake.publish_status_page("NW", None, TITLE, "<p>1</p>")


# --------------------------------------------------------------------------- content (webhook enrichment)

ZC = "zulip/zerver/webhooks/confluence/fixtures"


def _dc_seed() -> AtlassianSeed:
    # The real Data Center responses zulip's webhook tests enrich their payloads with.
    return AtlassianSeed(contents=[
        real_payload(f"{ZC}/page_api_response.json"),
        real_payload(f"{ZC}/blog_api_response.json"),
        real_payload(f"{ZC}/comment_api_response.json"),
    ])


def test_data_center_content_is_one_v1_call_with_a_bearer_token():
    with FakeAtlassian(_dc_seed()) as fake:
        # Data Center: the URL is the whole base (here the root context), a PAT as Bearer.
        confluence = _adapter(fake, url=fake.url, user=None, cloud=False)
        page = confluence.content("123456")
        calls = fake.calls
    assert page == real_payload(f"{ZC}/page_api_response.json")
    [call] = calls
    assert (call.method, call.path, call.status) == ("GET", "/rest/api/content/123456", 200)
    assert call.query == {"expand": ["space,version,container"], "status": ["current", "trashed"]}


def test_data_center_page_created_is_enriched_from_the_fetched_content():
    (event,) = normalize(real_payload(f"{ZC}/page_created.json")).events
    with FakeAtlassian(_dc_seed()) as fake:
        content = _adapter(fake, url=fake.url, user=None, cloud=False).content(event.content_id)
    enriched = confluence_events.enrich(event, content)
    assert (enriched.space_key, enriched.title, enriched.version) == ("ENG", "Architecture Overview", 1)


def test_cloud_content_of_a_v2_page_under_wiki(fake):
    confluence = _adapter(fake)
    content = confluence.content("98306")  # the sandbox's ACME home page
    [call] = fake.calls
    assert (call.method, call.path) == ("GET", "/wiki/rest/api/content/98306")
    assert (content["type"], content["space"]["key"], content["title"], content["version"]["number"]) == (
        "page", "ACME", "ACME Shop Startseite", 1)
    (event,) = normalize(
        {"timestamp": 1, "event": "page_updated", "userKey": "k", "page": {"id": 98306}}  # derived from zulip's page_updated.json
    ).events
    enriched = confluence_events.enrich(event, content)
    assert (enriched.space_key, enriched.title) == ("ACME", "ACME Shop Startseite")


def test_missing_content_is_none_and_trashed_content_is_still_found():
    trashed = dict(real_payload(f"{ZC}/blog_api_response.json"), status="trashed")
    with FakeAtlassian(AtlassianSeed(contents=[trashed])) as fake:
        confluence = _adapter(fake, url=fake.url, user=None, cloud=False)
        assert confluence.content("999999") is None
        assert confluence.content("234567")["status"] == "trashed"
        # Without asking for trashed content, Confluence (and the fake) would answer 404.
        assert confluence._client.get("rest/api/content/234567", advanced_mode=True).status_code == 404
        assert [c.status for c in fake.calls] == [404, 200, 404]


def test_content_retries_a_503_and_fails_on_a_403(fake):
    sleeps: list[float] = []
    confluence = _adapter(fake, sleeps)
    fake.script(Failure(503, match="/rest/api/content/"))
    assert confluence.content("98306")["id"] == "98306"
    assert sleeps == [0.25]
    fake.script(Failure(403, match="/rest/api/content/"))
    with pytest.raises(UpstreamError) as err:
        confluence.content("98306")
    assert (err.value.service, err.value.status, err.value.retryable) == ("confluence", 403, False)


def test_content_refuses_what_is_not_a_content_id():
    with pytest.raises(ValueError):
        InMemoryConfluence().content("123/../../space")


def test_status_pages_are_refused_on_data_center():
    confluence = AtlassianConfluence("https://wiki.example.com/confluence", api_token="pat", cloud=False)
    assert confluence.site == "https://wiki.example.com/confluence"
    with pytest.raises(UpstreamError, match="need Confluence Cloud"):
        confluence.publish_status_page("ENG", None, TITLE, "<p>x</p>")


def test_in_memory_confluence_content_and_failure():
    page = real_payload(f"{ZC}/page_api_response.json")
    confluence = InMemoryConfluence(contents={"123456": page})
    assert confluence.content("123456") == page and confluence.content("1") is None
    assert confluence.calls == [("content", "123456"), ("content", "1")]
    confluence.error = UpstreamUnavailable("confluence", "down", retryable=True)
    with pytest.raises(UpstreamUnavailable):
        confluence.content("123456")


def test_content_call_is_declared_in_the_confluence_v1_spec():
    from integrations.confluence import CONTENT_EXPAND, CONTENT_STATUSES

    get = real_payload("specs/confluence-cloud-v1.openapi.json")["paths"]["/wiki/rest/api/content/{id}"]["get"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[-1] for p in get["parameters"]}
    assert {"id", "status"} <= names and any("expand" in n.lower() for n in names)
    status = next(p for p in get["parameters"] if p.get("name") == "status")
    assert set(CONTENT_STATUSES) <= set(status["schema"]["enum"]) and status["explode"] is True
    assert CONTENT_EXPAND == "space,version,container"


# --------------------------------------------------------------------------- view restrictions


def _page_under(parent_id: str, page_id: str, title: str) -> dict:
    # Derived from the sandbox's v2 home page: a child page in the same space.
    home = next(p for p in build_sandbox(NOW).seed.pages if p["id"] == "98306")
    return dict(home, id=page_id, title=title, parentId=parent_id, parentType="page")


def _tree_seed(**restrictions: dict) -> AtlassianSeed:
    """ACME home 98306 → "Pricing" 500001 → "Pricing strategy" 500002 (v2 pages, parentId chain)."""
    seed = build_sandbox(NOW).seed
    seed.pages += [_page_under("98306", "500001", "Pricing"), _page_under("500001", "500002", "Pricing strategy")]
    seed.read_restrictions = {k.removeprefix("p"): v for k, v in restrictions.items()}
    return seed


def _restriction_calls(fake: FakeAtlassian) -> list[tuple[str, str]]:
    return [(c.path, ",".join(c.query.get("expand", []))) for c in fake.calls]


def test_unrestricted_page_costs_one_call_plus_one_per_ancestor():
    from integrations.confluence import OPERATION_EXPAND, RESTRICTIONS_EXPAND

    with FakeAtlassian(_tree_seed()) as fake:
        assert _adapter(fake).read_restricted("500002") is False
        calls = _restriction_calls(fake)
        statuses = [c.status for c in fake.calls]
        first_query = fake.calls[0].query
    # Ancestors nearest first: the parent, then the space home page.
    assert calls == [
        ("/wiki/rest/api/content/500002", RESTRICTIONS_EXPAND),
        ("/wiki/rest/api/content/500001/restriction/byOperation/read", OPERATION_EXPAND),
        ("/wiki/rest/api/content/98306/restriction/byOperation/read", OPERATION_EXPAND),
    ]
    assert statuses == [200, 200, 200] and first_query["status"] == ["current", "trashed"]


def test_restricted_page_is_found_in_the_first_call():
    with FakeAtlassian(_tree_seed(p500002={"user": ["712020:4f1c-anna"]})) as fake:
        assert _adapter(fake).read_restricted("500002") is True
        assert len(fake.calls) == 1


def test_restriction_of_a_parent_is_inherited_and_stops_the_walk():
    with FakeAtlassian(_tree_seed(p500001={"group": ["staff"]})) as fake:
        confluence = _adapter(fake)
        assert confluence.read_restricted("500002") is True
        assert [p for p, _ in _restriction_calls(fake)] == [
            "/wiki/rest/api/content/500002", "/wiki/rest/api/content/500001/restriction/byOperation/read"]
        fake.reset_calls()
        # The parent's sibling subtree root (the home page) is not restricted by its child.
        assert confluence.read_restricted("98306") is False
        assert len(fake.calls) == 1


def test_data_center_comment_is_judged_by_its_page():
    # zulip's real comment 789012 names its page 123456 only as `_expandable.container`.
    seed = _dc_seed()
    seed.read_restrictions = {"123456": {"group": ["confluence-staff"]}}
    with FakeAtlassian(seed) as fake:
        confluence = _adapter(fake, url=fake.url, user=None, cloud=False)
        assert confluence.read_restricted("789012") is True
        assert [p for p, _ in _restriction_calls(fake)] == ["/rest/api/content/789012", "/rest/api/content/123456"]
    with FakeAtlassian(_dc_seed()) as fake:
        confluence = _adapter(fake, url=fake.url, user=None, cloud=False)
        assert confluence.read_restricted("789012") is False
        assert confluence.read_restricted("234567") is False  # a blog post: no ancestors, one call
        assert len(fake.calls) == 3


def test_what_cannot_be_read_counts_as_restricted_and_outages_are_raised(fake):
    sleeps: list[float] = []
    confluence = _adapter(fake, sleeps)
    # Confluence answers 404 for content the bot may not view: the client may not either.
    assert confluence.read_restricted("424242") is True
    with FakeAtlassian(_tree_seed()) as tree:
        tree_confluence = _adapter(tree, sleeps)
        tree.script(Failure(403, match="/restriction/byOperation/read"))
        assert tree_confluence.read_restricted("500002") is True
        tree.script(Failure(503, match="/rest/api/content/500002"))
        assert tree_confluence.read_restricted("500002") is False  # retried once
        tree.script(*[Failure(500, match="/restriction/")] * 3)
        with pytest.raises(UpstreamError) as err:
            tree_confluence.read_restricted("500002")
    assert (err.value.service, err.value.retryable) == ("confluence", True)
    assert sleeps[0] == 0.25


def test_restriction_shape_without_users_or_groups_expanded_is_not_trusted():
    from integrations.confluence import has_read_restriction

    empty = {"operation": "read", "restrictions": {"user": {"results": [], "size": 0},
                                                   "group": {"results": [], "size": 0, "start": 0, "limit": 200}}}
    assert has_read_restriction(empty) is False
    assert has_read_restriction({**empty, "restrictions": {"group": empty["restrictions"]["group"],
                                                           "_expandable": {"user": "/x"}}}) is None
    assert has_read_restriction({"operation": "read", "restrictions": {
        "user": {"results": [], "size": 1}, "group": {"results": [], "size": 0}}}) is True
    assert has_read_restriction(None) is None


def test_in_memory_confluence_inherits_restrictions_and_treats_unknown_content_as_restricted():
    confluence = InMemoryConfluence(read_restrictions={"3": False, "2": False, "1": True, "9": False},
                                    parents={"3": "2", "2": "1"})
    assert [confluence.read_restricted(c) for c in ("3", "9", "77")] == [True, False, True]
    assert confluence.calls == [("read_restricted", "3"), ("read_restricted", "9"), ("read_restricted", "77")]
    confluence.restriction_errors["9"] = UpstreamUnavailable("confluence", "down", retryable=True)
    with pytest.raises(UpstreamUnavailable):
        confluence.read_restricted("9")


def test_restriction_calls_are_declared_in_the_confluence_v1_spec():
    from integrations.confluence import OPERATION_EXPAND, RESTRICTIONS_EXPAND

    spec = real_payload("specs/confluence-cloud-v1.openapi.json")
    paths = spec["paths"]
    get = paths["/wiki/rest/api/content/{id}"]["get"]
    ref = next(p["$ref"] for p in get["parameters"] if "$ref" in p)
    expand_doc = spec["components"]["parameters"][ref.rsplit("/", 1)[-1]]["description"]
    for name in RESTRICTIONS_EXPAND.split(","):
        assert f"`{name}`" in expand_doc, name
    by_operation = paths["/wiki/rest/api/content/{id}/restriction/byOperation/{operationKey}"]["get"]
    params = {p["name"]: p for p in by_operation["parameters"]}
    assert "read" in params["operationKey"]["schema"]["enum"]
    assert set(OPERATION_EXPAND.split(",")) <= set(params["expand"]["schema"]["items"]["enum"])


CLOUD_USER = {"type": "known", "accountId": "557058:d092c978-5ab7-4c8a-8d87-32ffac22c584",
              "accountType": "atlassian", "email": "", "publicName": "Ada", "displayName": "Ada Example"}


def test_data_center_user_is_found_by_key_and_an_unknown_one_is_none():
    user = real_payload(f"{ZC}/user_api_response.json")  # userKey "abc"
    with FakeAtlassian(AtlassianSeed(users=[user])) as fake:
        confluence = _adapter(fake, url=fake.url, user=None, cloud=False)
        assert confluence.user("abc") == user
        assert confluence.user("nobody") is None
        calls = [(c.path, c.query, c.status) for c in fake.calls]
    assert calls == [("/rest/api/user", {"key": ["abc"]}, 200), ("/rest/api/user", {"key": ["nobody"]}, 404)]


def test_cloud_user_is_found_by_account_id_and_outages_are_raised():
    with FakeAtlassian(AtlassianSeed(users=[CLOUD_USER])) as server:
        confluence = _adapter(server, url=server.confluence_url)
        assert confluence.user(CLOUD_USER["accountId"])["displayName"] == "Ada Example"
        [call] = server.calls
        assert (call.path, call.query) == ("/wiki/rest/api/user", {"accountId": [CLOUD_USER["accountId"]]})
        server.script(Failure(503, match="/wiki/rest/api/user"), Failure(503, match="/wiki/rest/api/user"),
                      Failure(503, match="/wiki/rest/api/user"))
        with pytest.raises(UpstreamError) as err:
            confluence.user(CLOUD_USER["accountId"])
    assert (err.value.status, err.value.retryable) == (503, True)


def test_user_lookup_is_declared_in_the_confluence_v1_spec():
    spec = real_payload("specs/confluence-cloud-v1.openapi.json")
    get = spec["paths"]["/wiki/rest/api/user"]["get"]
    names = {spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]]["name"] if "$ref" in p else p["name"]
             for p in get["parameters"]}
    assert "accountId" in names


def test_confluence_events_name_their_actor_from_the_user_lookup():
    (event,) = normalize(real_payload(f"{ZC}/page_created.json")).events
    named = confluence_events.name_actor(event, real_payload(f"{ZC}/user_api_response.json"))
    assert (named.actor.display_name, named.actor.key, named.actor.email) == ("John Smith", "abc", "johnsmith@example.com")
    # A user object without a name changes nothing (the message falls back to "someone").
    assert confluence_events.name_actor(event, {"type": "anonymous"}) == event
