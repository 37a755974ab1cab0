"""Confluence normalization: Cloud (event name from the URL) and Data Center (ids + lookup)."""

from __future__ import annotations

from bot.domain import confluence_events
from bot.domain.events import EventType, Outcome, Person, Source, normalize
from tests.fixtures import real_payload

ZC = "zulip/zerver/webhooks/confluence/fixtures"
TAX = "taxonomies-for-confluence/src/test/resources/requests"


def test_cloud_page_created_carries_space_title_and_link():
    (event,) = normalize(real_payload(f"{TAX}/PageCreated.json"), "page_created").events
    assert (event.source, event.type, event.space_key, event.title, event.version) == (
        Source.CONFLUENCE_CLOUD, EventType.PAGE_CREATED, "FI", "Retail Banking Support Updated", 1,
    )
    assert event.url == "https://dalstonsemantics.atlassian.net/wiki/spaces/VM/pages/294914/Retail+Banking+Support+Updated"
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
    assert enriched.url == "https://wiki.example.com/spaces/ENG/pages/123456/Architecture+Overview"
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


def test_enriched_url_names_the_context_path_once():
    # Confluence's `_links.base` already ends with the context path (Cloud: base ".../wiki",
    # context "/wiki", as in taxonomies-for-confluence's captured content objects).
    (event,) = normalize(real_payload(f"{ZC}/page_created.json")).events
    content = dict(real_payload(f"{ZC}/page_api_response.json"))
    # Derived from the real response: the same page on a Data Center under /confluence.
    content["_links"] = dict(content["_links"], base="https://example.com/confluence", context="/confluence")
    assert confluence_events.enrich(event, content).url == (
        "https://example.com/confluence/spaces/ENG/pages/123456/Architecture+Overview")
    cloud_links = real_payload(f"{TAX}/PageContentCreatedSubject.json")["_links"]
    assert (cloud_links["base"], cloud_links["context"]) == ("https://dalstonsemantics.atlassian.net/wiki", "/wiki")
