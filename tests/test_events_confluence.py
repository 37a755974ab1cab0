"""Confluence normalization: Cloud (event name from the URL) and Data Center (ids + lookup)."""

from __future__ import annotations

from bot.domain import confluence_events
from bot.domain.events import EventType, Outcome, Person, Source
from bot.domain.links import SiteLinks
from bot.domain.webhooks import normalize
from tests.fixtures import real_payload

ZC = "zulip/zerver/webhooks/confluence/fixtures"
TAX = "taxonomies-for-confluence/src/test/resources/requests"


def test_cloud_page_created_carries_space_title_and_link():
    (event,) = normalize(real_payload(f"{TAX}/PageCreated.json"), "page_created").events
    assert (event.source, event.type, event.space_key, event.title, event.version) == (
        Source.CONFLUENCE_CLOUD, EventType.PAGE_CREATED, "FI", "Retail Banking Support Updated", 1,
    )
    # Kept only to check its host against CONFLUENCE_URL: links are built from the site and the id.
    assert event.self_urls == (
        ("page.self", "https://dalstonsemantics.atlassian.net/wiki/spaces/VM/pages/294914/Retail+Banking+Support+Updated"),)
    assert event.actor == Person(account_id="557058:d092c978-5ab7-4c8a-8d87-32ffac22c584")
    assert event.needs_lookup() == ("user",)


def test_cloud_without_event_name_is_unsupported_not_guessed():
    # Trashed, restored and removed bodies are identical: only the webhook URL can tell them apart.
    assert real_payload(f"{TAX}/PageTrashed.json") == real_payload(f"{TAX}/PageRestored.json")
    result = normalize(real_payload(f"{TAX}/PageTrashed.json"))
    assert (result.source, result.outcome, result.events) == (Source.CONFLUENCE_CLOUD, Outcome.UNSUPPORTED, ())
    assert "event_hint" in result.reason


def test_cloud_hint_for_an_unknown_event_is_unsupported():
    result = normalize(real_payload(f"{TAX}/PageTrashed.json"), "page_archived")
    assert result.outcome is Outcome.UNSUPPORTED


def test_data_center_event_needs_lookup_then_enrich_fills_it():
    (event,) = normalize(real_payload(f"{ZC}/page_created.json")).events
    assert (event.source, event.content_id, event.space_key, event.actor) == (
        Source.CONFLUENCE_DC, "123456", None, Person(key="abc123"),
    )
    assert event.needs_lookup() == ("content", "user")
    enriched = confluence_events.enrich(event, real_payload(f"{ZC}/page_api_response.json"), real_payload(f"{ZC}/user_api_response.json"))
    assert (enriched.space_key, enriched.title, enriched.version) == ("ENG", "Architecture Overview", 1)
    assert SiteLinks(confluence="https://wiki.example.com").content(enriched.content_id) == (
        "https://wiki.example.com/pages/viewpage.action?pageId=123456")
    assert (enriched.actor.display_name, enriched.actor.email) == ("John Smith", "johnsmith@example.com")
    assert enriched.needs_lookup() == ()


def test_data_center_moved_page_keeps_old_parent_and_new_space():
    (event,) = normalize(real_payload(f"{ZC}/page_moved.json")).events
    assert event.old_parent_id == "131148"
    enriched = confluence_events.enrich(event, real_payload(f"{ZC}/moved_page_api_response.json"))
    assert enriched.space_key == "ARCH"


def test_data_center_comment_enriched_from_the_comment_response():
    (event,) = normalize(real_payload(f"{ZC}/comment_created.json")).events
    enriched = confluence_events.enrich(event, real_payload(f"{ZC}/comment_api_response.json"))
    assert (enriched.type, enriched.space_key, enriched.title) == (EventType.PAGE_COMMENT_CREATED, "ENG", "Re: Architecture Overview")


def test_content_property_objects_are_ignored():
    result = normalize(real_payload(f"{TAX}/PageContentCreatedSubject.json"), "content_created")
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "content property change")


def test_links_name_the_configured_context_path_once():
    # A Data Center under /confluence, configured with or without the trailing slash.
    for site in ("https://example.com/confluence", "https://example.com/confluence/"):
        assert SiteLinks(confluence=site).content("123456") == (
            "https://example.com/confluence/pages/viewpage.action?pageId=123456")
    assert SiteLinks(confluence="https://example.com/confluence").content("../admin") is None  # ids only
