"""The vacation-status nudge: a Slack status that says "away" (with an expiration) of someone who holds
roles and has no handover for that time gets one DM with a button that opens the handover form,
prefilled; at most once per status, also across a restart. Service tests on the store, the sandbox
Slack (users.info) and the in-memory Slack port; one path through Bolt with a signed event."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from bot.accounts_file import load_accounts
from bot.app import Ports, assemble
from bot.services.digests import INTENT_LEASE
from bot.services.directory import Directory
from bot.services.exactly_once import OncePoster, owner_id
from bot.services.handover_nudge import VacationNudges
from bot.settings import Settings
from integrations.slack import make_web_client
from tests import test_handover, test_slack_app
from tests.fakes.slack import InMemorySlack
from tests.fixtures import real_payload
from tests.slack_requests import SIGNING_SECRET, signed_headers
from tests.test_handover import ANA, BEN, CEM, HOME, _accounts
from tests.test_handover_modal import _blocks
from tests.test_portfolio_home_e2e import FORM, JSON, _click

slack = test_handover.slack
fake, jira = test_slack_app.fake, test_slack_app.jira

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
# Back on the morning of Dec 19 in Berlin (Acme's and Northwind's timezone): away until Dec 18.
BACK = dt.datetime(2026, 12, 18, 23, 0, tzinfo=dt.timezone.utc)
EVE = "U0EVE00001"  # a member who holds no role


def _user(user_id=ANA, emoji=":palm_tree:", text="Urlaub", expiration: dt.datetime | int | None = BACK) -> dict:
    """The `user` of a `user_status_changed` event: the shape of java-slack-sdk's sample, our values."""
    user = real_payload("java-slack-sdk/json-logs/samples/events/UserStatusChangedPayload.json")["event"]["user"]
    user.update(id=user_id, team_id=HOME, is_restricted=False)
    expires = int(expiration.timestamp()) if isinstance(expiration, dt.datetime) else (expiration or 0)
    user["profile"].update(status_emoji=emoji, status_text=text, status_expiration=expires)
    return user


class Nudges:
    """The nudge service as `pulse serve` builds it; `restart()` makes a new process's one on the same store."""

    def __init__(self, store, slack_server):
        self.store, self.posted = store, InMemorySlack()
        self.directory = Directory(make_web_client(slack_server.token, slack_server.api_url, max_retries=0), [], None)
        self.restart()

    def restart(self) -> None:
        poster = OncePoster(self.store, self.posted, lambda: NOW, owner_id(), INTENT_LEASE)
        self.service = VacationNudges(_accounts(), self.store, lambda: NOW, self.directory, self.posted, poster)

    async def status(self, user: dict) -> bool:
        return await self.service.status_changed(user, HOME)

    def dms(self, user_id=ANA) -> list[dict]:
        return self.posted.dms_to(user_id)


@pytest.fixture
def nudges(sqlite_store, slack):
    slack.add_user(EVE, name="Eve")
    return Nudges(sqlite_store, slack)


async def test_a_vacation_status_gets_one_dm_also_when_the_event_comes_again_and_after_a_restart(nudges):
    assert await nudges.status(_user()) is True
    assert await nudges.status(_user()) is False  # Slack delivered it twice
    nudges.restart()
    assert await nudges.status(_user()) is False  # a new process, the same store
    (dm,) = nudges.dms()
    # Acme (German) is Ana's first account: its words and its days.
    assert dm["text"] == ("👋 Laut Ihrem Slack-Status sind Sie bis 18.12.2026 abwesend: Ihre Rollen für diese Zeit an "
                          "eine Kollegin oder einen Kollegen übergeben?")
    (button,) = dm["blocks"][1]["elements"]
    assert button["action_id"] == "handover.nudge_open" and button["text"]["text"] == "Meine Rollen übergeben"
    assert json.loads(button["value"]) == {"start": "2026-12-01", "end": "2026-12-18"}
    # A new status (another expiration) is a new question.
    assert await nudges.status(_user(expiration=BACK + dt.timedelta(days=3))) is True
    assert len(nudges.dms()) == 2


@pytest.mark.parametrize("emoji, text", [
    ("", "Out of office"), (":desert_island:", ""), (":airplane:", "Flying"), ("", "im URLAUB bis Montag"),
    ("", "On holiday"), ("", "в отпуске"),
])
async def test_what_counts_as_a_vacation_status(nudges, emoji, text):
    assert await nudges.status(_user(emoji=emoji, text=text)) is True


@pytest.mark.parametrize("user", [
    _user(emoji=":calendar:", text="In a meeting"),      # not a vacation
    _user(emoji="", text="Holidaying? no: scholarship"),  # words only as whole words
    _user(expiration=None),                              # no expiration: no end to offer
    _user(expiration=NOW - dt.timedelta(minutes=1)),     # already over
    _user(user_id=EVE),                                  # holds no role
    {"id": ANA},                                         # no profile: unreadable
])
async def test_no_nudge(nudges, user):
    assert await nudges.status(user) is False
    assert nudges.posted.messages == []


async def test_no_nudge_for_a_guest(nudges, slack):
    slack.users[ANA].is_restricted = True  # Ana holds roles, but is a guest now
    assert await nudges.status(_user()) is False
    assert nudges.posted.messages == []


async def test_no_nudge_when_a_handover_covers_that_time_but_one_when_it_does_not(nudges):
    nudges.store.handovers.add(ANA, BEN, dt.date(2027, 2, 1), dt.date(2027, 2, 5), ["acme", "north"], "", BEN, NOW)
    assert await nudges.status(_user()) is True  # February's handover is not for December
    nudges.store.handovers.add(CEM, BEN, dt.date(2026, 12, 10), dt.date(2026, 12, 20), ["acme"], "", BEN, NOW)
    stored = nudges.store.handovers.add(ANA, BEN, dt.date(2026, 12, 10), dt.date(2026, 12, 20), ["acme"], "", BEN, NOW)
    assert await nudges.status(_user(expiration=BACK + dt.timedelta(days=1))) is False  # Ana's own covers it
    nudges.store.handovers.cancel(stored.id, BEN, NOW)
    assert await nudges.status(_user(expiration=BACK + dt.timedelta(days=1))) is True  # cancelled: not any more
    assert len(nudges.dms()) == 2


# -- through Bolt: the event, the DM, the button ---------------------------------------------------------


def _status_event(user: dict) -> str:
    body = real_payload("java-slack-sdk/json-logs/samples/events/UserStatusChangedPayload.json")
    body.pop("enterprise_id", None)
    body.update(team_id=test_slack_app.HOME, api_app_id="A0PULSEAPP", type="event_callback", token="x",
                event_id="Ev0STATUS01", event_time=1764579600, authed_users=[], authed_teams=[])
    body["authorizations"] = [{"team_id": test_slack_app.HOME, "user_id": "U0PULSEBOT", "is_bot": True,
                               "is_enterprise_install": False}]
    body["event"].update(user=user, event_ts="1764579600.000100", cache_ts=1764579600)
    return json.dumps(body)


@pytest.fixture
async def app(fake, sqlite_store, jira):
    """test_slack_app's app (example accounts, Nov 20, 2026), with its in-memory Slack port at hand."""
    settings = Settings(admin_users=["U0ADMIN001"], slack={"signing_secret": SIGNING_SECRET}, scheduler_enabled=False)
    accounts = load_accounts(test_slack_app.EXAMPLE)
    fake.add_channels_of(accounts)
    ports = Ports(accounts=accounts, store=sqlite_store, jira=jira, clock=lambda: test_slack_app.NOW,
                  slack=InMemorySlack(), slack_client=make_web_client(fake.token, fake.api_url))
    transport = httpx.ASGITransport(app=assemble(settings, ports).asgi())
    async with httpx.AsyncClient(transport=transport, base_url="http://pulse") as client:
        yield client, ports


async def test_bolt_a_status_event_dms_once_and_the_button_opens_the_prefilled_form(app, fake):
    http, ports = app
    # The example accounts: U0ACMEAM01 holds ACME's budget role (Europe/Berlin); it is Nov 20, 2026.
    fake.add_user("U0ACMEAM01", name="Anna Account")
    user = _user(user_id="U0ACMEAM01", emoji=":desert_island:", text="",
                 expiration=dt.datetime(2026, 11, 28, 23, 0, tzinfo=dt.timezone.utc))
    user["team_id"] = test_slack_app.HOME
    for _ in range(2):
        body = _status_event(user)
        response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=JSON))
        assert response.status_code == 200
    await test_slack_app._wait_for(lambda: ports.slack.dms_to("U0ACMEAM01"))
    (dm,) = ports.slack.dms_to("U0ACMEAM01")
    assert "bis 28.11.2026 abwesend" in dm["text"]
    button = dm["blocks"][1]["elements"][0]
    body = _click("U0ACMEAM01", button["action_id"], button["value"])
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=FORM))
    assert response.status_code == 200
    await test_slack_app._wait_for(lambda: fake.calls_to("views.open"))
    (call,) = fake.calls_to("views.open")
    view = call.args["view"] if isinstance(call.args["view"], dict) else json.loads(call.args["view"])
    blocks = _blocks(view)
    assert blocks["from"]["element"]["initial_user"] == "U0ACMEAM01"
    assert (blocks["start"]["element"]["initial_date"], blocks["end"]["element"]["initial_date"]) == ("2026-11-20", "2026-11-28")
    assert [o["value"] for o in blocks["accounts"]["element"]["initial_options"]] == ["acme-shop"]
    # A guest clicking the same button gets no form.
    body = _click("U0GUEST001", button["action_id"], button["value"])
    await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=FORM))
    assert len(fake.calls_to("views.open")) == 1
