"""The App Home through the real Bolt app and slack_sdk against the fake Slack: opening the Home
publishes the portfolio (members) or an explanation (guests, Slack Connect users); a click on
"post the digest now" is authorized again on the click."""

from __future__ import annotations

import json
import urllib.parse

from tests import test_slack_app
from tests.slack_requests import app_mention, signed_headers
from tests.test_slack_app import HOME, _wait_for

# The Slack app tests' fixtures: the app as `pulse serve` assembles it, on the fake Slack.
fake, jira, http = test_slack_app.fake, test_slack_app.jira, test_slack_app.http

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _home_opened(user: str, user_team: str = HOME) -> str:
    body = json.loads(app_mention("x", user_id=user, channel_id="D0HOME0001", home_team=HOME))
    body["event"] = {"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": "home",
                     "event_ts": "1700000200.000100"}
    if user_team != HOME:
        body["event"]["user_team"] = user_team
    body["event_id"] = f"Ev0HOME{user}"
    return json.dumps(body)


def _click(user: str, action_id: str, value: str, action_ts: str = "1700000300.000100") -> str:
    payload = {
        "type": "block_actions", "api_app_id": "A0PULSEAPP", "token": "x", "trigger_id": "1.2.3",
        "team": {"id": HOME, "domain": "agency"}, "user": {"id": user, "team_id": HOME},
        "container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "account:acme-shop", "value": value,
                     "action_ts": action_ts, "text": {"type": "plain_text", "text": "x"}}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def _post(http, body: str, content_type: str):
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=content_type))
    assert response.status_code == 200


async def test_members_get_the_portfolio_and_guests_an_explanation(http, fake):
    await _post(http, _home_opened("U0MEMBER01"), JSON)
    await _wait_for(lambda: "U0MEMBER01" in fake.views)
    member = json.dumps(fake.views["U0MEMBER01"])
    # Nothing computed yet in a fresh store: the Home says so instead of asking Jira.
    assert "3 accounts not assessed yet" in member and fake.views["U0MEMBER01"]["type"] == "home"
    await _post(http, _home_opened("U0GUEST001"), JSON)
    await _wait_for(lambda: "U0GUEST001" in fake.views)
    guest = json.dumps(fake.views["U0GUEST001"])
    assert "for the agency's own members" in guest and "accounts" not in guest.replace("Account Pulse", "")


async def test_the_toggle_shows_all_and_a_guests_digest_click_is_refused(http, fake, jira):
    await _post(http, _click("U0MEMBER01", "portfolio.scope", "all:0"), FORM)
    await _wait_for(lambda: "U0MEMBER01" in fake.views)
    assert "All accounts" in json.dumps(fake.views["U0MEMBER01"])
    # A guest replays a member's view and clicks "post the digest now": refused, nothing posted.
    await _post(http, _click("U0GUEST001", "portfolio.post_digest", "acme-shop"), FORM)
    await _wait_for(lambda: "U0GUEST001" in fake.views)
    assert "Northwind" not in json.dumps(fake.views["U0GUEST001"])
    assert jira.calls == []  # no digest was even composed
    # The control: a member's click composes and posts it, and says so on the Home.
    del fake.views["U0MEMBER01"]
    await _post(http, _click("U0MEMBER01", "portfolio.post_digest", "acme-shop"), FORM)
    await _wait_for(lambda: "U0MEMBER01" in fake.views)
    assert jira.calls and "was posted to <#C0ACMEINTL>" in json.dumps(fake.views["U0MEMBER01"])


def _submission(user: str, view: dict, audience: str) -> str:
    state = {"values": {"audience": {"audience": {"type": "radio_buttons", "selected_option": {"value": audience}}},
                        "schedule": {"schedule": {"type": "plain_text_input", "value": None}},
                        "subscriptions": {"subscriptions": {"type": "plain_text_input", "value": None}}}}
    payload = {"type": "view_submission", "api_app_id": "A0PULSEAPP", "token": "x", "trigger_id": "1.2.3",
               "team": {"id": HOME, "domain": "agency"}, "user": {"id": user, "team_id": HOME},
               "view": {**view, "id": "V0MODAL001", "team_id": HOME, "state": state}}
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def test_link_opens_the_modal_and_its_submission_is_authorized_again(http, fake, sqlite_store):
    from tests.slack_requests import slash_command

    fake.add_channel("C0NEWINTL1", "new-internal", members=["U0ADMIN001"])  # Slack says: not shared, ours only
    body = slash_command("link northwind", user_id="U0ADMIN001", channel_id="C0NEWINTL1", team_id=HOME,
                         response_url=fake.response_url("link"))
    await _post(http, body, FORM)
    await _wait_for(lambda: [c for c in fake.calls_to("views.open") if c.ok])
    (call,) = fake.calls_to("views.open")
    modal = call.args["view"] if isinstance(call.args["view"], dict) else json.loads(call.args["view"])
    assert modal["callback_id"] == "portfolio.link"
    # A member sends the admin's form: refused in the modal, nothing linked.
    refused = await http.post("/slack/events", content=(b := _submission("U0MEMBER01", modal, "internal")),
                              headers=signed_headers(b, content_type=FORM))
    assert refused.json() == {"response_action": "errors", "errors": {"audience": "Only agency admins may link channels."}}
    assert sqlite_store.channel_links.all() == []
    ok = await http.post("/slack/events", content=(b := _submission("U0ADMIN001", modal, "internal")),
                         headers=signed_headers(b, content_type=FORM))
    assert ok.status_code == 200 and not ok.content
    (link,) = sqlite_store.channel_links.all()
    assert (link.channel_id, link.account_key, link.audience.value, link.created_by) == (
        "C0NEWINTL1", "northwind", "internal", "U0ADMIN001")
