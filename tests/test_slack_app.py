"""Signed Slack requests into the ASGI app; the real slack_sdk/Bolt talk to the fake Slack server."""

import asyncio
import datetime as dt
import itertools
import json
import time
from pathlib import Path

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.accounts_file import load_accounts
from bot.app import Ports, assemble
from bot.settings import Settings
from bot.web import build_web_app
from integrations.slack import make_web_client
from sandbox.agency import build_sandbox
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.slack_requests import SIGNING_SECRET, app_mention, signed_headers, slash_command

EXAMPLE = Path(__file__).parents[1] / "config" / "accounts.example.yaml"
HOME = "T0AGENCY1"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def fake():
    with FakeSlack(team_id=HOME) as slack:
        slack.add_user("U0MEMBER01")
        slack.add_user("U0ADMIN001")
        slack.add_user("U0GUEST001", is_restricted=True)
        yield slack


NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def jira():
    return InMemoryJira.from_seed(build_sandbox(NOW).seed)


@pytest.fixture
async def http(fake, sqlite_store, jira):
    settings = Settings(admin_users=["U0ADMIN001"], slack={"signing_secret": SIGNING_SECRET}, scheduler_enabled=False)
    client = make_web_client(fake.token, fake.api_url)
    fake.add_channels_of(load_accounts(EXAMPLE))
    # The app as `pulse serve` assembles it, on ports made of fakes (the lifespan does not run here).
    ports = Ports(accounts=load_accounts(EXAMPLE), store=sqlite_store, jira=jira, clock=lambda: NOW,
                  slack=InMemorySlack(), slack_client=client)
    app = assemble(settings, ports).asgi()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse") as c:
        yield c


async def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the bot's answer")


_request_numbers = itertools.count(1)


async def _command(http, fake, text, user="U0MEMBER01", channel="C0ACMEINTL"):
    # Each request gets its own response URL and waits for the answer at that one: an earlier
    # command's answer (or a late one) can never be taken for this command's.
    key = f"r{next(_request_numbers)}"
    body = slash_command(text, user_id=user, channel_id=channel, team_id=HOME, response_url=fake.response_url(key))
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=FORM))
    assert response.status_code == 200
    await _wait_for(lambda: fake.responses(key))
    return fake.responses(key)[0]


async def test_help_lists_commands_for_a_member(http, fake):
    answer = await _command(http, fake, "help")
    assert answer["response_type"] == "ephemeral"
    # ACME is a German account: its help is German, with its command words.
    assert "`/pulse hilfe`" in answer["text"] and "`/pulse status [öffentlich]`" in answer["text"]


async def test_budget_in_the_internal_channel_shows_money(http, fake):
    answer = await _command(http, fake, "budget", channel="C0ACMEINTL")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("*Budget")
    assert "€" in answer["text"]


async def test_a_guest_gets_the_client_view_even_in_an_internal_channel(http, fake):
    answer = await _command(http, fake, "budget", user="U0GUEST001", channel="C0ACMEINTL")
    assert answer["text"].startswith("*Budget")
    assert "€" not in answer["text"]


async def test_digest_public_is_posted_in_channel_for_members_only(http, fake):
    answer = await _command(http, fake, "digest public", channel="C0ACMECLNT")
    assert answer["response_type"] == "in_channel"
    assert "ACME Shop GmbH" in answer["text"]
    denied = await _command(http, fake, "digest public", user="U0GUEST001", channel="C0ACMECLNT")
    assert denied["response_type"] == "ephemeral"
    assert denied["text"] == "`/pulse überblick [öffentlich]` ist nur für Mitglieder der Agentur."


async def test_unknown_command_gets_an_ephemeral_usage_hint(http, fake):
    answer = await _command(http, fake, "stauts")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "`stauts` kenne ich nicht. Meinten Sie `/pulse status`? Versuchen Sie `/pulse hilfe`."


async def test_unlinked_channel_is_explained(http, fake):
    answer = await _command(http, fake, "status", channel="C0UNLINKED")
    assert answer["text"].startswith("This channel is not linked to an account yet.")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": FORM},
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
    ],
    ids=["unsigned", "bad-signature"],
)
async def test_unsigned_requests_are_401_and_do_nothing(http, fake, headers):
    body = slash_command("help", user_id="U0MEMBER01", channel_id="C0ACMEINTL", team_id=HOME, response_url=fake.response_url("r"))
    response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    await asyncio.sleep(0.2)
    assert fake.calls == []


ODD_TIMESTAMPS = {
    "letters": "abc",
    "empty": "",
    "fraction": "1795856564.5",
    "5000-digits": "9" * 5000,
    "negative": "-1795856564",
    "whitespace": " 1795856564 ",
    "unicode-digits": "\u0661\u0667\u0669\u0665",  # int() reads Arabic-Indic digits; Slack never sends them
}


@pytest.mark.parametrize("timestamp", ODD_TIMESTAMPS.values(), ids=ODD_TIMESTAMPS.keys())
async def test_a_non_integer_timestamp_is_401_without_a_traceback(http, fake, json_logs, timestamp):
    body = slash_command("help", user_id="U0MEMBER01", channel_id="C0ACMEINTL", team_id=HOME, response_url=fake.response_url("r"))
    headers = {"Content-Type": FORM, "X-Slack-Signature": "v0=" + "0" * 64,
               "X-Slack-Request-Timestamp": timestamp.encode("utf-8")}
    response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    await asyncio.sleep(0.2)
    assert fake.calls == [] and fake.responses() == []
    lines = json_logs()
    assert not [line for line in lines if "exception" in line or line["level"] == "error"]
    (rejected,) = [line for line in lines if line["event"] == "slack request rejected"]
    assert rejected["logger"] == "pulse.slack.rejected" and "timestamp" in rejected["reason"].lower()


async def test_a_signed_request_with_a_timestamp_padded_by_spaces_is_still_refused(http, fake):
    # int(" 1795856564 ") succeeds, and the signature is over whatever text was sent: only the
    # strict format check refuses it.
    body = slash_command("help", user_id="U0MEMBER01", channel_id="C0ACMEINTL", team_id=HOME, response_url=fake.response_url("r"))
    ts = f" {int(time.time())} "
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    await asyncio.sleep(0.2)
    assert fake.calls == []


async def test_an_unsigned_body_that_is_not_utf8_is_401(http, fake, json_logs):
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}
    response = await http.post("/slack/events", content=b"text=\xff\xfe&command=/pulse", headers=headers)
    assert response.status_code == 401
    assert not [line for line in json_logs() if "exception" in line]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_slack_body_is_refused_before_it_is_read_whole(http, fake, json_logs, declared):
    from bot.web import SLACK_MAX_BODY_BYTES

    size = SLACK_MAX_BODY_BYTES + 1
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}

    async def chunks():
        for _ in range(size // 65536 + 1):
            yield b"x" * 65536

    content = b"x" * size if declared else chunks()
    response = await http.post("/slack/events", content=content, headers=headers)
    assert response.status_code == 413
    assert fake.calls == []
    (line,) = [x for x in json_logs() if x["event"] == "slack request rejected"]
    assert line["status"] == 413 and "exception" not in line


def test_the_web_app_refuses_a_slack_endpoint_without_its_signing_secret(sqlite_store):
    async def endpoint(request):
        raise AssertionError("never reached")

    with pytest.raises(ValueError, match="signing secret"):
        build_web_app(store=sqlite_store, jira_secret="x", confluence_secret="x", max_webhook_bytes=1024,
                      clock=lambda: None, slack_endpoint=endpoint)


async def test_stale_request_is_401_even_with_a_valid_signature(http, fake):
    body = slash_command("help", user_id="U0MEMBER01", channel_id="C0ACMEINTL", team_id=HOME, response_url=fake.response_url("r"))
    stale = int(time.time()) - 6 * 60
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, timestamp=stale, content_type=FORM))
    assert response.status_code == 401
    await asyncio.sleep(0.2)
    assert fake.calls == []


async def test_slack_connect_user_mention_is_answered_in_thread_with_mention_help(http, fake):
    body = app_mention("help", user_id="U0CLIENT01", channel_id="C0ACMECLNT", home_team=HOME, user_team="T0CLIENT1", ts="1700000000.000100")
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type="application/json"))
    assert response.status_code == 200
    await _wait_for(lambda: fake.posted("C0ACMECLNT"))
    (reply,) = fake.posted("C0ACMECLNT")
    assert reply["thread_ts"] == "1700000000.000100"
    assert "`@Account Pulse status`" in reply["text"]
    assert "digest" not in reply["text"]
    # External by team id alone: no users.info lookup was needed.
    assert fake.calls_to("users.info") == []


async def test_slack_connect_client_asks_for_status_and_gets_the_client_digest_in_thread(http, fake):
    body = app_mention("status", user_id="U0CLIENT01", channel_id="C0ACMECLNT", home_team=HOME, user_team="T0CLIENT1", ts="1700000001.000100")
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type="application/json"))
    assert response.status_code == 200
    await _wait_for(lambda: fake.posted("C0ACMECLNT"))
    first = fake.posted("C0ACMECLNT")[0]
    assert first["thread_ts"] == "1700000001.000100"
    assert "ACME Shop GmbH" in first["text"]
    assert "€" not in first["text"]



async def test_jira_down_on_demand_is_a_polite_answer_in_the_accounts_language(http, fake, jira):
    from bot.errors import UpstreamError

    jira.error = UpstreamError("jira", "503 Service Unavailable", retryable=False, status=503)
    answer = await _command(http, fake, "budget", channel="C0ACMEINTL")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Jira antwortet gerade nicht")



async def test_an_unexpected_failure_is_an_apology_for_the_user_and_a_traceback_for_the_log(http, fake, jira):
    from structlog.testing import capture_logs

    def boom(jql):
        raise RuntimeError("bug in a service")

    jira.fetch_issues = boom
    with capture_logs() as logs:
        answer = await _command(http, fake, "budget", channel="C0ACMEINTL")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Entschuldigung, bei uns ist etwas schiefgegangen")
    assert "bug in a service" not in answer["text"]
    (failure,) = [e for e in logs if e["event"] == "command failed"]
    assert failure["exc_info"] is True and failure["log_level"] == "error"


async def test_where_no_account_decides_the_answer_is_in_the_users_slack_locale(http, fake):
    fake.add_user("U0RUSSIAN1", locale="ru-RU")
    help_ = await _command(http, fake, "помощь", user="U0RUSSIAN1", channel="D0DIRECT01")
    assert help_["text"].startswith("Команды Account Pulse, доступные вам здесь:")
    assert "`/pulse статус [всем]`" in help_["text"]
    status = await _command(http, fake, "status", user="U0RUSSIAN1", channel="D0DIRECT01")
    assert status["text"].startswith("Этот канал ещё не привязан к клиенту.")
    # One users.info with the locale, cached: the second answer asked Slack nothing new.
    asked = [c for c in fake.calls_to("users.info") if str(c.args.get("include_locale")).lower() in ("1", "true")]
    assert len(asked) == 1
    english = await _command(http, fake, "status", channel="C0UNLINKED")  # U0MEMBER01: en-US
    assert english["text"].startswith("This channel is not linked to an account yet.")


async def _mention(http, fake, text, ts):
    body = app_mention(text, user_id="U0CLIENT01", channel_id="C0ACMECLNT", home_team=HOME, user_team="T0CLIENT1", ts=ts)
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type="application/json"))
    assert response.status_code == 200
    await _wait_for(lambda: [m for m in fake.posted("C0ACMECLNT") if m.get("thread_ts") == ts])
    return [m for m in fake.posted("C0ACMECLNT") if m.get("thread_ts") == ts][0]["text"]


async def test_a_slack_connect_client_speaks_the_accounts_language_and_is_never_sent_to_a_slash_command(http, fake):
    help_ = await _mention(http, fake, "hilfe", "1700000002.000100")
    assert "`@Account Pulse hilfe`" in help_ and "`@Account Pulse meilensteine`" in help_
    assert "`@Account Pulse fristen`" in help_ and "/pulse" not in help_ and "öffentlich" not in help_
    deadlines = await _mention(http, fake, "fristen", "1700000003.000100")
    assert deadlines.startswith("*Fristen")
    typo = await _mention(http, fake, "hilf", "1700000004.000100")
    assert typo == "`hilf` kenne ich nicht. Meinten Sie `@Account Pulse hilfe`? Versuchen Sie `@Account Pulse hilfe`."
    denied = await _mention(http, fake, "überblick", "1700000005.000100")
    assert denied == "`@Account Pulse überblick` ist nur für Mitglieder der Agentur."
    english = await _mention(http, fake, "milestones", "1700000006.000100")  # English words always work
    assert english.startswith("*Meilensteine")


def _channel_shared(channel_id: str) -> str:
    """A `channel_shared` envelope as Slack's Events API documents it, around the app_mention one."""
    body = json.loads(app_mention("x", user_id="U0MEMBER01", channel_id=channel_id, home_team=HOME))
    body["event"] = {"type": "channel_shared", "connected_team_id": "T0CLIENT1", "channel": channel_id,
                     "event_ts": "1700000100.000100"}
    body["event_id"] = "Ev0SHARED01"
    return json.dumps(body)


async def test_a_channel_shared_event_turns_an_internal_channel_to_the_client_view_at_once(http, fake):
    assert "€" in (await _command(http, fake, "budget", channel="C0ACMEINTL"))["text"]  # the control (now cached)
    fake.channels["C0ACMEINTL"].is_ext_shared = True
    body = _channel_shared("C0ACMEINTL")
    response = await http.post("/slack/events", content=body,
                               headers=signed_headers(body, content_type="application/json"))
    assert response.status_code == 200
    await _wait_for(lambda: len(fake.calls_to("conversations.info")) >= 2)  # asked again at once
    answer = await _command(http, fake, "budget", channel="C0ACMEINTL")
    assert answer["text"].startswith("*Budget") and "€" not in answer["text"]
