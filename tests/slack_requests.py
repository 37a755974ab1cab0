"""Build Slack requests signed the way Slack signs them (v0 HMAC-SHA256 of `v0:ts:body`)."""

from __future__ import annotations

import json
import time
import urllib.parse

from slack_sdk.signature import SignatureVerifier

from tests.fixtures import real_payload

SIGNING_SECRET = "test-signing-secret"


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None, content_type: str) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }


def slash_command(text: str, *, user_id: str, channel_id: str, team_id: str, response_url: str) -> str:
    """A form-encoded `/pulse` body, derived from bolt-python's captured slash command."""
    fields = real_payload("bolt-python/tests/scenario_tests/test_slash_command.py.extracted/slash_command_body.json")["parsed"]
    fields = {k: v for k, v in fields.items() if not k.startswith("enterprise_")}
    fields.update(
        team_id=team_id,
        channel_id=channel_id,
        user_id=user_id,
        command="/pulse",
        text=text,
        response_url=response_url,
    )
    return urllib.parse.urlencode(fields)


def app_mention(text: str, *, user_id: str, channel_id: str, home_team: str, user_team: str | None = None, ts: str = "1595926230.009600") -> str:
    """An app_mention envelope derived from bolt-python's captured one; `user_team` marks Slack Connect users."""
    body = real_payload("bolt-python/tests/scenario_tests/test_app.py.extracted/app_mention_event_body.json")
    body.pop("enterprise_id", None)
    body["team_id"] = home_team
    body["event"].update(text=f"<@U0PULSEBOT> {text}", user=user_id, channel=channel_id, ts=ts, event_ts=ts, team=user_team or home_team)
    if user_team:
        # Slack Connect: the envelope says the channel is shared, the event names the user's team.
        body["event"]["user_team"] = user_team
        body["is_ext_shared_channel"] = True
    body["authorizations"] = [{"team_id": home_team, "user_id": "U0PULSEBOT", "is_bot": True, "is_enterprise_install": False}]
    return json.dumps(body)


def block_action(
    action_id: str, value: str, *, user_id: str, channel_id: str, home_team: str, message_ts: str, response_url: str,
    user_team: str | None = None,
) -> str:
    """A form-encoded block_actions body derived from bolt-python's captured one; a Slack Connect
    user's `user.team_id` is their own organization's."""
    body = real_payload("bolt-python/tests/scenario_tests/test_block_actions.py.extracted/body.json")
    body["user"].update(id=user_id, team_id=user_team or home_team)
    body["team"] = {"id": home_team, "domain": "agency"}
    body["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False}
    body["channel"] = {"id": channel_id, "name": "a-channel"}
    body["response_url"] = response_url
    body["actions"][0].update(action_id=action_id, value=value, block_id="support")
    if user_team and user_team != home_team:
        body["is_enterprise_install"] = False
    return urllib.parse.urlencode({"payload": json.dumps(body)})


def message_shortcut(callback_id: str, *, user_id: str, home_team: str, channel_id: str, message: dict,
                     user_team: str | None = None) -> str:
    """A form-encoded message_action body derived from bolt-python's captured one."""
    body = real_payload("bolt-python/tests/scenario_tests/test_shortcut.py.extracted/message_shortcut_body.json")
    body["team"] = {"id": home_team, "domain": "agency"}
    body["user"] = {"id": user_id, "name": "someone", "team_id": user_team or home_team}
    body["channel"] = {"id": channel_id, "name": "a-channel"}
    body.update(callback_id=callback_id, message_ts=message["ts"], message={**body["message"], **message})
    return urllib.parse.urlencode({"payload": json.dumps(body)})


def view_submission(view: dict, values: dict, *, user_id: str, home_team: str, user_team: str | None = None) -> str:
    """A form-encoded view_submission body derived from bolt-python's captured one, for `view` as the
    bot opened it, with the person's input in `values` ({block_id: {action_id: {...}}})."""
    body = real_payload("bolt-python/tests/scenario_tests/test_view_submission.py.extracted/body.json")
    body["team"] = {"id": home_team, "domain": "agency"}
    body["user"] = {"id": user_id, "name": "someone", "team_id": user_team or home_team}
    body["view"].update(
        callback_id=view["callback_id"], private_metadata=view.get("private_metadata", ""), blocks=view["blocks"],
        state={"values": values}, team_id=home_team, app_installed_team_id=home_team,
    )
    return urllib.parse.urlencode({"payload": json.dumps(body)})
