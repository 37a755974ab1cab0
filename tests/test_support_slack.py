"""Support requests through Bolt with payloads shaped like Slack's: a Slack Connect client (another
organization's `team_id`/`user_team`) mentions the bot and clicks an urgency button."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import httpx
import pytest

from bot.app import Ports, assemble
from bot.domain.links import SiteLinks
from bot.settings import Settings
from integrations.slack import make_web_client
from sandbox.agency import sandbox_accounts
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.slack_requests import (
    SIGNING_SECRET,
    app_mention,
    block_action,
    message_shortcut,
    signed_headers,
    view_submission,
)

HOME, CLIENT_TEAM = "T0AGENCY1", "T0ACMECORP"
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.timezone.utc)
JSON, FORM = "application/json", "application/x-www-form-urlencoded"


@pytest.fixture
def fake():
    with FakeSlack(team_id=HOME) as slack:
        slack.add_user("U0MEMBER01")
        slack.add_user("U0CLIENT01", team_id=CLIENT_TEAM, name="Clara Client")
        yield slack


@pytest.fixture
async def bot(fake, sqlite_store):
    settings = Settings(slack={"signing_secret": SIGNING_SECRET}, scheduler_enabled=False)
    accounts = sandbox_accounts()
    fake.add_channels_of(accounts)
    ports = Ports(accounts=accounts, store=sqlite_store, jira=InMemoryJira(), clock=lambda: NOW, slack=InMemorySlack(),
                  slack_client=make_web_client(fake.token, fake.api_url), links=SiteLinks(jira="https://agency.atlassian.net"))
    runtime = assemble(settings, ports)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.asgi()), base_url="http://pulse") as http:
        yield http, ports


async def _until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the bot")
        await asyncio.sleep(0.02)


async def _post(http, body: str, content_type: str):
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=content_type))
    assert response.status_code == 200


async def test_a_slack_connect_client_files_a_request_by_mention_and_button(bot, fake):
    http, ports = bot
    mention_ts = "1764255600.000100"
    await _post(http, app_mention("anfrage Bitte das Impressum aktualisieren", user_id="U0CLIENT01",
                                  channel_id="C0ACMECLNT", home_team=HOME, user_team=CLIENT_TEAM, ts=mention_ts), JSON)
    await _until(lambda: ports.slack.messages)
    [question] = ports.slack.messages
    assert question["channel"] == "C0ACMECLNT" and question["thread_ts"] == mention_ts
    task = question["blocks"][1]["elements"][1]
    assert task["text"]["text"] == "Aufgabe"

    # The client clicks "Aufgabe" (their own organization's team id in `user.team_id`).
    await _post(http, block_action(task["action_id"], task["value"], user_id="U0CLIENT01", user_team=CLIENT_TEAM,
                                   channel_id="C0ACMECLNT", home_team=HOME, message_ts=question["ts"],
                                   response_url=fake.response_url("click1")), FORM)
    await _until(lambda: len(ports.slack.messages) == 2)
    assert list(ports.jira.created) == ["SUP-1"]
    assert "Clara Client" in ports.jira.created["SUP-1"]["description"]
    filed = ports.slack.messages[-1]
    assert filed["thread_ts"] == mention_ts and "SUP-1" in filed["text"]
    assert fake.responses("click1") == []  # no refusal


async def test_a_click_is_authorized_again_and_never_trusts_the_button(bot, fake):
    http, ports = bot
    mention_ts = "1764255700.000100"
    await _post(http, app_mention("anfrage Logo tauschen", user_id="U0CLIENT01", channel_id="C0ACMECLNT",
                                  home_team=HOME, user_team=CLIENT_TEAM, ts=mention_ts), JSON)
    await _until(lambda: ports.slack.messages)
    task = ports.slack.messages[0]["blocks"][1]["elements"][1]
    # The same button value replayed from Northwind's client channel by the ACME client.
    await _post(http, block_action(task["action_id"], task["value"], user_id="U0CLIENT01", user_team=CLIENT_TEAM,
                                   channel_id="C0NWCLIENT", home_team=HOME, message_ts="1.2",
                                   response_url=fake.response_url("replay")), FORM)
    await _until(lambda: fake.responses("replay"))
    [refusal] = fake.responses("replay")
    assert refusal["response_type"] == "ephemeral" and "cannot find this request" in refusal["text"]
    assert ports.jira.created == {}


async def test_a_slack_connect_client_cannot_file_in_an_internal_channel(bot, fake):
    http, ports = bot
    await _post(http, app_mention("anfrage Hallo", user_id="U0CLIENT01", channel_id="C0ACMEINTL",
                                  home_team=HOME, user_team=CLIENT_TEAM, ts="1764255800.000100"), JSON)
    await _until(lambda: any(c.method == "chat.postMessage" for c in fake.calls))
    [said] = [c.args for c in fake.calls if c.method == "chat.postMessage"]
    assert said["text"] == "Support-Anfragen können nur in Ihrem Kundenkanal gestellt werden."
    assert ports.slack.messages == [] and ports.store.support.get(1) is None


async def test_a_member_turns_a_client_message_into_a_request_with_the_shortcut_and_modal(bot, fake):
    http, ports = bot
    message = {"ts": "1764255900.000100", "user": "U0CLIENT01", "text": "Der Warenkorb zeigt 0 €", "team": CLIENT_TEAM}
    await _post(http, message_shortcut("support_from_message", user_id="U0MEMBER01", home_team=HOME,
                                       channel_id="C0ACMECLNT", message=message), FORM)
    await _until(lambda: any(c.method == "views.open" for c in fake.calls))
    opened = next(c for c in fake.calls if c.method == "views.open")
    view = json.loads(opened.args["view"]) if isinstance(opened.args["view"], str) else opened.args["view"]
    assert view["blocks"][0]["element"]["initial_value"] == "Der Warenkorb zeigt 0 €"
    values = {"text": {"text": {"type": "plain_text_input", "value": "Der Warenkorb zeigt 0 € (alle Produkte)"}},
              "urgency": {"urgency": {"type": "radio_buttons", "selected_option": {"value": "emergency"}}}}
    await _post(http, view_submission(view, values, user_id="U0MEMBER01", home_team=HOME), FORM)
    await _until(lambda: ports.jira.created)
    fields = ports.jira.created["SUP-1"]
    assert fields["priority"] == {"name": "Highest"} and "alle Produkte" in fields["summary"]
    assert "Clara Client" in fields["description"]  # the message's author is the requester
    assert "https://agency.slack.com/archives/C0ACMECLNT/p1764255900000100" in fields["description"]
    await _until(lambda: any(m["thread_ts"] == message["ts"] for m in ports.slack.messages))


async def test_the_shortcut_and_a_replayed_submission_are_refused_to_a_client(bot, fake):
    http, ports = bot
    message = {"ts": "1764256000.000100", "user": "U0CLIENT01", "text": "Hallo"}
    await _post(http, message_shortcut("support_from_message", user_id="U0CLIENT01", user_team=CLIENT_TEAM,
                                       home_team=HOME, channel_id="C0ACMECLNT", message=message), FORM)
    await _until(lambda: any(c.method == "chat.postEphemeral" for c in fake.calls))
    assert not any(c.method == "views.open" for c in fake.calls)
    # A submission replayed by a client (the view's metadata names the channel): refused again.
    view = {"callback_id": "support_modal", "blocks": [],
            "private_metadata": json.dumps({"channel": "C0ACMECLNT", "ts": message["ts"], "author": "U0CLIENT01"})}
    values = {"text": {"text": {"value": "x"}}, "urgency": {"urgency": {"selected_option": {"value": "task"}}}}
    await _post(http, view_submission(view, values, user_id="U0CLIENT01", user_team=CLIENT_TEAM, home_team=HOME), FORM)
    await _until(lambda: sum(c.method == "chat.postEphemeral" for c in fake.calls) == 2)
    assert ports.jira.created == {} and ports.store.support.get(1) is None


async def test_a_client_requests_support_with_the_button_under_a_status_answer(bot, fake):
    http, ports = bot
    await _post(http, app_mention("status", user_id="U0CLIENT01", channel_id="C0ACMECLNT", home_team=HOME,
                                  user_team=CLIENT_TEAM, ts="1764256100.000100"), JSON)
    await _until(lambda: any(c.method == "chat.postMessage" for c in fake.calls))
    said = next(c.args for c in fake.calls if c.method == "chat.postMessage")
    blocks = json.loads(said["blocks"]) if isinstance(said["blocks"], str) else said["blocks"]
    button = blocks[-1]["elements"][0]
    assert button["text"]["text"] == "Support anfragen"
    await _post(http, block_action(button["action_id"], button["value"], user_id="U0CLIENT01", user_team=CLIENT_TEAM,
                                   channel_id="C0ACMECLNT", home_team=HOME, message_ts="1764256100.000200",
                                   response_url=fake.response_url("button")), FORM)
    await _until(lambda: any(c.method == "views.open" for c in fake.calls))
    opened = next(c for c in fake.calls if c.method == "views.open")
    view = json.loads(opened.args["view"]) if isinstance(opened.args["view"], str) else opened.args["view"]
    values = {"text": {"text": {"type": "plain_text_input", "value": "Neue Öffnungszeiten eintragen"}},
              "urgency": {"urgency": {"type": "radio_buttons", "selected_option": {"value": "task"}}}}
    await _post(http, view_submission(view, values, user_id="U0CLIENT01", user_team=CLIENT_TEAM, home_team=HOME), FORM)
    await _until(lambda: ports.jira.created)
    assert ports.jira.created["SUP-1"]["summary"] == "Neue Öffnungszeiten eintragen"
    parent = ports.slack.messages[0]
    assert parent["thread_ts"] is None and "Support-Anfrage #1 von <@U0CLIENT01>" in parent["text"]
    await _until(lambda: any(m["thread_ts"] == parent["ts"] and "SUP-1" in m["text"] for m in ports.slack.messages))
