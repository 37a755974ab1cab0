"""An urgency click and a support modal's submission, acknowledged to Slack and then lost with the
process before they were answered (#13, "never lost"): Slack does not send an interaction again, the
modal has closed, and the buttons say nothing of the click. Both are recorded before the ack
(`bot.services.slack_intents`) and answered by the next process, once.

"The process died between the ack and the answer" is played by a runtime whose acknowledged work
never runs; "the restart" is a second runtime assembled on the same store (and the same Slack and
Jira), whose support pass (`intents.recover`) runs once the grace time has passed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest

from bot.app import Ports, Runtime, assemble
from bot.domain.links import SiteLinks
from bot.render.support import request_modal
from bot.settings import Settings
from integrations.slack import make_web_client
from sandbox.agency import sandbox_accounts
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.slack_requests import SIGNING_SECRET, app_mention, block_action, slash_command, view_submission
from tests.test_support_slack import CLIENT_TEAM, FORM, HOME, JSON, NOW, _post, _until


class World:
    def __init__(self, fake: FakeSlack, store: Any) -> None:
        self.now = NOW
        self.fake = fake
        accounts = sandbox_accounts()
        fake.add_channels_of(accounts)
        self.ports = Ports(accounts=accounts, store=store, jira=InMemoryJira(), clock=lambda: self.now,
                           slack=InMemorySlack(), slack_client=make_web_client(fake.token, fake.api_url),
                           links=SiteLinks(jira="https://agency.atlassian.net"))
        self.settings = Settings(slack={"signing_secret": SIGNING_SECRET}, scheduler_enabled=False)

    def process(self, *, dies_after_ack: bool = False) -> Runtime:
        runtime = assemble(self.settings, self.ports)
        if dies_after_ack:
            assert runtime.answers is not None

            def never(work: Coroutine[Any, Any, None], what: str, **context: Any) -> None:
                work.close()  # acknowledged; the process is gone before the answer starts

            runtime.answers.start = never  # type: ignore[method-assign]
        return runtime


@pytest.fixture
def fake():
    with FakeSlack(team_id=HOME) as slack:
        slack.add_user("U0MEMBER01")
        slack.add_user("U0CLIENT01", team_id=CLIENT_TEAM, name="Clara Client")
        yield slack


@pytest.fixture
def world(fake, sqlite_store):
    return World(fake, sqlite_store)


def _http(runtime: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.asgi()), base_url="http://pulse")


async def test_an_urgency_click_lost_with_the_process_is_chosen_and_filed_once_after_restart(world, fake):
    ports = world.ports
    mention_ts = "1764255600.000100"
    async with _http(world.process()) as http:
        await _post(http, app_mention("anfrage Der Shop ist down", user_id="U0CLIENT01", channel_id="C0ACMECLNT",
                                      home_team=HOME, user_team=CLIENT_TEAM, ts=mention_ts), JSON)
        await _until(lambda: ports.slack.messages)
    [question] = ports.slack.messages
    emergency = question["blocks"][1]["elements"][0]
    click = block_action(emergency["action_id"], emergency["value"], user_id="U0CLIENT01", user_team=CLIENT_TEAM,
                         channel_id="C0ACMECLNT", home_team=HOME, message_ts=question["ts"],
                         response_url=fake.response_url("click"))

    async with _http(world.process(dies_after_ack=True)) as http:
        await _post(http, click, FORM)  # Slack has its ack: the buttons stay as they were
    [request] = [ports.store.support.get(1)]
    assert request is not None and request.urgency is None and ports.jira.created == {}

    world.now = NOW + dt.timedelta(minutes=1)
    restarted = world.process()
    assert restarted.intents is not None
    assert await restarted.intents.recover() == 1
    assert await restarted.intents.recover() == 0  # answered: nothing left
    async with _http(restarted) as http:
        await _post(http, click, FORM)  # the same click once more (a double click): nothing more
    request = ports.store.support.get(1)
    assert request is not None and (request.urgency, request.state) == ("emergency", "filed")
    assert list(ports.jira.created) == ["SUP-1"]
    assert [m for m in ports.slack.messages if m["thread_ts"] == mention_ts and "SUP-1" in m["text"]] != []
    assert len([m for m in ports.slack.messages if m["thread_ts"] == mention_ts and "SUP-1" in m["text"]]) == 1
    assert fake.responses("click") == []  # no "chosen already" for the click that counted


async def test_a_support_modal_submission_lost_with_the_process_is_filed_once_after_restart(world, fake):
    ports = world.ports
    view = request_modal("de", "", json.dumps({"channel": "C0ACMECLNT", "ts": None, "author": None}))
    values = {"text": {"text": {"type": "plain_text_input", "value": "Neue Öffnungszeiten eintragen"}},
              "urgency": {"urgency": {"type": "radio_buttons", "selected_option": {"value": "task"}}}}
    submission = view_submission(view, values, user_id="U0CLIENT01", user_team=CLIENT_TEAM, home_team=HOME)

    async with _http(world.process(dies_after_ack=True)) as http:
        await _post(http, submission, FORM)  # the modal has closed; what was typed is only in the store now
    assert ports.store.support.get(1) is None and ports.slack.messages == []

    world.now = NOW + dt.timedelta(minutes=1)
    restarted = world.process()
    assert restarted.intents is not None
    assert await restarted.intents.recover() == 1
    async with _http(restarted) as http:
        await _post(http, submission, FORM)  # the same submission again: recorded before, nothing more
    assert await restarted.intents.recover() == 0
    assert list(ports.jira.created) == ["SUP-1"]
    assert ports.jira.created["SUP-1"]["summary"] == "Neue Öffnungszeiten eintragen"
    [parent] = [m for m in ports.slack.messages if m["thread_ts"] is None]
    assert "Support-Anfrage #1 von <@U0CLIENT01>" in parent["text"]
    assert len([m for m in ports.slack.messages if m["thread_ts"] == parent["ts"] and "SUP-1" in m["text"]]) == 1
    assert ports.store.support.get(2) is None


async def test_a_slash_command_request_lost_with_the_process_is_filed_once_after_restart(world, fake):
    ports = world.ports
    command = slash_command("request Bitte den Newsletter-Footer korrigieren", user_id="U0MEMBER01",
                            channel_id="C0ACMECLNT", team_id=HOME, response_url=fake.response_url("cmd"))

    async with _http(world.process(dies_after_ack=True)) as http:
        await _post(http, command, FORM)
    assert ports.store.support.get(1) is None and ports.slack.messages == []

    world.now = NOW + dt.timedelta(minutes=1)
    restarted = world.process()
    assert restarted.intents is not None
    assert await restarted.intents.recover() == 1
    async with _http(restarted) as http:
        await _post(http, command, FORM)  # the same invocation again: recorded before, nothing more
    assert await restarted.intents.recover() == 0
    request = ports.store.support.get(1)
    assert request is not None and request.state == "asked" and ports.store.support.get(2) is None
    [parent] = [m for m in ports.slack.messages if m["thread_ts"] is None]
    assert [m["thread_ts"] for m in ports.slack.messages] == [None, parent["ts"]]  # the parent, one question
    assert len(fake.responses("cmd")) == 1
