"""Payload text never becomes Slack control sequences (finding 6 of the client-promise review).

Slack reads `<!channel>`, `<@U…>`, `<#C…>` and `<https://…|label>` in mrkdwn as a broadcast, a
mention, a channel link and a link. Every text a payload (or Jira's REST answers) carries reaches a
message only through `escape_mrkdwn`; the only control sequences in a message are the ones we
build: links to the configured sites for keys of Jira's shape, mentions of people the accounts
file maps, and the links a Jira comment writes in its own markup (`[label|url]`).

Property-based over every renderer of notifications and digests: every text field of every
dataclass they take is filled with hostile text. Reproducible: `derandomize=True`.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.accounts import Audience
from bot.domain.digest import build_digest
from bot.domain.events import ConfluenceEvent, EventType, JiraEvent, Outcome, Source
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import Burst
from bot.domain.webhooks import normalize
from bot.render.digest import render_deadlines, render_digest, render_milestones, render_status
from bot.render.notifications import render_burst, render_event, render_thread_parent
from tests.fixtures import real_payload
from tests.test_digest_samples import NOW, PROJECT, make_account, make_issue, make_version

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
JIRA_SITE = "https://jira.example"
WIKI_SITE = "https://wiki.example/wiki"
LINKS = SiteLinks(jira=JIRA_SITE, confluence=WIKI_SITE)
MAPPED_PERSON, MAPPED_SLACK_ID = "557058:mapped", "U0MAPPED1"
ACCOUNT = make_account(people={MAPPED_PERSON: MAPPED_SLACK_ID})
CLIENT = ACCOUNT.channels[0]
assert CLIENT.audience is Audience.CLIENT

# Pieces of hostile text: Slack's control sequences, their escapes, Jira's link and mention markup.
FRAGMENTS = [
    "<!channel>", "<!here|here>", "<!subteam^S0EVIL>", "<@U0EVIL1>", "<#C0EVIL1>", "<https://evil.example|ok>",
    "<http://evil.example>", "<mailto:a@evil.example|mail>", "<", ">", "&", "&lt;", "&amp;lt;", "|", "!", "@", "#",
    "[x|https://evil.example]", "[https://evil.example]", f"[~accountid:{MAPPED_PERSON}]", "[~accountid:nobody]",
    "[~evil]", "ACME-1", "NW-0", "\n", "```", "*", "_", "~", "`",
]
HOSTILE = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=6).map("".join)

# A control sequence: `<` followed by what Slack reads as special.
CONTROL = re.compile(r"<(?:[!@#]|https?:|mailto:)", re.IGNORECASE)
OUR_LINKS = re.compile(
    rf"<{re.escape(JIRA_SITE)}/browse/[A-Z][A-Z0-9_]*-[0-9]+\|[^<>]*>"
    rf"|<{re.escape(WIKI_SITE)}/pages/viewpage\.action\?pageId=[0-9]+\|[^<>]*>"
    rf"|<@{MAPPED_SLACK_ID}>"
)
COMMENT_LINK = re.compile(r"<((?:https?|mailto):[^|<>\s]+)(?:\|[^<>]*)?>")


def _texts(message: Any) -> list[str]:
    """Every mrkdwn text of a message: the fallback and each block's."""
    texts = [message.text]
    for block in message.blocks:
        if block.get("type") == "header":
            continue  # plain_text: Slack shows it verbatim, it forms no control sequence
        if isinstance(block.get("text"), Mapping):
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", ()) if isinstance(e, Mapping)]
    return texts


def assert_no_foreign_controls(message: Any, comment_bodies: tuple[str, ...] = ()) -> None:
    """Every `<` in the message opens a sequence we built; nothing else reads as a control."""
    for text in _texts(message):
        rest = OUR_LINKS.sub("", text)
        # A comment's own link markup ([label|url]) becomes a Slack link: its URL is in the body.
        rest = COMMENT_LINK.sub(
            lambda m: "" if any(m.group(1).replace("&amp;", "&") in body for body in comment_bodies) else m.group(0),
            rest,
        )
        assert not CONTROL.search(rest), (text, rest)
        assert "<" not in rest, (text, rest)  # `>` is ours too: the quote of a comment


# --- hostile values for every text field of the event dataclasses ------------------------------


def _strategy(hint: Any) -> st.SearchStrategy | None:
    """Hostile values for a field's type; None: leave the default (facts, enums of ours)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [_strategy(a) for a in typing.get_args(hint) if a is not type(None)]
        options = [o for o in options if o is not None]
        return st.one_of(st.none(), *options) if options else None
    if hint is str:
        return HOSTILE
    if origin is tuple:
        args = typing.get_args(hint)
        if args and args[0] is str:
            return st.lists(HOSTILE, max_size=3).map(tuple)
        if args and dataclasses.is_dataclass(args[0]):
            return st.lists(_dataclass(args[0]), max_size=2).map(tuple)
        return None
    if hint is int:
        return st.integers(0, 10**6)
    if dataclasses.is_dataclass(hint) and hint.__module__ == "bot.domain.events":
        return _dataclass(hint)
    return None


def _dataclass(cls: type) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        if f.name in ("type", "source", "read", "access", "before"):
            continue  # chosen below, or facts the policy reads (not rendered)
        strategy = _strategy(hints[f.name])
        if strategy is not None:
            fields[f.name] = strategy
    if cls is JiraEvent:
        fields["type"] = st.sampled_from([t for t in EventType if not t.is_confluence])
    if cls is ConfluenceEvent:
        fields["type"] = st.sampled_from([t for t in EventType if t.is_confluence])
        fields["source"] = st.just(Source.CONFLUENCE_CLOUD)
    if cls.__name__ == "CommentFacts":
        fields["body"] = HOSTILE
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))


def _coherent(e: JiraEvent) -> bool:
    # What the parsers guarantee: a version, sprint or link event carries its version, sprint, link.
    return not ((e.type.is_version and e.version is None)
                or (e.type in (EventType.SPRINT_STARTED, EventType.SPRINT_CLOSED) and e.sprint is None)
                or (e.type is EventType.ISSUELINK_CREATED and e.link is None))


EVENTS = st.one_of(_dataclass(JiraEvent).filter(_coherent), _dataclass(ConfluenceEvent))


def _comment_bodies(event: Any) -> tuple[str, ...]:
    comment = getattr(event, "comment", None)
    return (str(comment.body),) if comment is not None else ()


@PROPERTY
@given(event=EVENTS, audience=st.sampled_from(Audience), language=st.sampled_from(["en", "de"]))
def test_no_payload_text_becomes_a_control_sequence_in_an_event_message(event, audience, language):
    assert_no_foreign_controls(render_event(event, audience, ACCOUNT, language, links=LINKS), _comment_bodies(event))


@PROPERTY
@given(events=st.lists(EVENTS, min_size=1, max_size=12), status=HOSTILE, language=st.sampled_from(["en", "de"]))
def test_no_payload_text_becomes_a_control_sequence_in_a_burst_or_thread_parent(events, status, language):
    assert_no_foreign_controls(render_burst(Burst(ACCOUNT, CLIENT, tuple(events)), language))
    first = render_event(events[0], Audience.INTERNAL, ACCOUNT, language, links=LINKS)
    parent = render_thread_parent(first.text, first.blocks, status, language)
    assert_no_foreign_controls(parent, _comment_bodies(events[0]))


ISSUE_TEXT = st.fixed_dictionaries({
    "key": st.one_of(HOSTILE, st.just(f"{PROJECT}-7")), "summary": HOSTILE, "status": HOSTILE,
    "assignee": st.one_of(st.none(), HOSTILE),
})


@PROPERTY
@given(issues=st.lists(ISSUE_TEXT, min_size=1, max_size=5), version_name=HOSTILE,
       audience=st.sampled_from(Audience))
def test_no_jira_text_becomes_a_control_sequence_in_a_digest(issues, version_name, audience):
    made = [
        make_issue(i, due=dt.date(2026, 11, 20 + i), fix_version_ids=("10000",),
                   created=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC), **fields)
        for i, fields in enumerate(issues, start=1)
    ]
    versions = [make_version("10000", version_name, dt.date(2026, 12, 1))]
    account = make_account(budget=None)
    digest = build_digest(account, audience, made, versions, NOW, NOW - dt.timedelta(days=7))
    for rendered in (
        render_digest(digest, account, "en", jira_url=JIRA_SITE),
        render_deadlines(digest.deadlines, account, "de", jira_url=JIRA_SITE),
        render_milestones(digest.milestones, account, "en"),
        render_status(digest, account, "see /pulse digest", "en"),
    ):
        for message in rendered.messages:
            assert_no_foreign_controls(message)


# --- the reviewer's reproduction and its neighbours ------------------------------------------

HOSTILE_KEY = "<!channel>|<https://evil.example|NW-0>"


def test_a_burst_of_hostile_keys_is_printed_escaped():
    # Finding 6: render_burst printed issue keys raw; ten events, the first with a forged key.
    (created,) = normalize(real_payload("pinpoint-jira/internal/testdata/jira:issue_created.json")).events
    keyed = [dataclasses.replace(created, issue=dataclasses.replace(created.issue, key=HOSTILE_KEY if i == 0 else f"NW-{i}"))
             for i in range(10)]
    message = render_burst(Burst(ACCOUNT, CLIENT, tuple(keyed)))
    assert "Issues: &lt;!channel&gt;|&lt;https://evil.example|NW-0&gt;, NW-1" in message.text
    assert_no_foreign_controls(message)


def test_a_key_of_another_shape_makes_the_delivery_anomalous():
    base = real_payload("pinpoint-jira/internal/testdata/jira:issue_created.json")
    for key in (HOSTILE_KEY, "nw-1", "NW-", "NW-1 ", "NW-1\n", "NW-1x", "NW-١", "1W-1", "<NW-1>"):
        payload = copy.deepcopy(base)
        payload["issue"]["key"] = key
        delivery = normalize(payload)
        assert delivery.outcome is Outcome.ANOMALOUS, key
        assert "not a Jira issue key" in delivery.reason
    for key in ("NW_2-10", "N-1"):
        control = copy.deepcopy(base)
        control["issue"]["key"] = key
        assert normalize(control).outcome is Outcome.HANDLED, key


def test_digest_links_only_keys_of_jiras_shape_and_escapes_the_rest():
    account = make_account(budget=None)
    issues = [make_issue(1, key=HOSTILE_KEY, due=dt.date(2026, 11, 23)), make_issue(2, due=dt.date(2026, 11, 24))]
    digest = build_digest(account, Audience.INTERNAL, issues, [], NOW, NOW - dt.timedelta(days=7))
    text = render_deadlines(digest.deadlines, account, "en", jira_url=JIRA_SITE).messages[0].text
    assert "&lt;!channel&gt;|&lt;https://evil.example|NW-0&gt;" in text
    assert f"<{JIRA_SITE}/browse/{PROJECT}-2|{PROJECT}-2>" in text
    assert "<!channel>" not in text


def test_jiras_words_in_a_trouble_reply_are_escaped():
    from bot.errors import UpstreamError
    from bot.services.digest_commands import jira_trouble_reply

    error = UpstreamError("jira", "Field 'x' <!channel> does not exist", retryable=False, status=400)
    reply = jira_trouble_reply(error, make_account(budget=None), Audience.INTERNAL)
    assert "&lt;!channel&gt;" in reply.text and "<!channel>" not in reply.text

