import logging

from bot.logs import get_logger


def test_structlog_events_are_json_and_secrets_redacted(json_logs):
    get_logger("pulse.test").info(
        "connected", bot_token="xoxb-1234-5678-abcdef", channel="C0123456", note="used xoxb-99-88-77"
    )
    (line,) = json_logs()
    assert line["event"] == "connected"
    assert line["channel"] == "C0123456"
    assert line["bot_token"] == "[redacted]"
    assert "xoxb-99-88-77" not in line["note"]
    assert line["logger"] == "pulse.test"


def test_stdlib_loggers_are_routed_and_scrubbed(json_logs):
    logging.getLogger("slack_bolt.App").warning(
        "request to https://x/webhooks/jira?secret=hunter2&a=1 with Authorization: Bearer abc.def"
    )
    (line,) = json_logs()
    assert line["logger"] == "slack_bolt.App"
    assert line["level"] == "warning"
    assert "hunter2" not in line["event"]
    assert "abc.def" not in line["event"]
    assert "a=1" in line["event"]


def test_nested_secret_keys_and_tracebacks(json_logs):
    log = get_logger("pulse.test")
    try:
        raise RuntimeError("signature sha256=" + "ab" * 32 + " mismatch")
    except RuntimeError:
        log.exception("failed", headers={"X-Hub-Signature": "sha256=00", "Content-Type": "json"})
    (line,) = json_logs()
    assert line["headers"] == {"X-Hub-Signature": "[redacted]", "Content-Type": "json"}
    assert "ab" * 32 not in line["exception"]
    assert "RuntimeError" in line["exception"]


def test_loggers_created_at_import_time_follow_the_later_configuration(json_logs):
    import bot.web  # its module-level logger exists before configure_logging ran

    bot.web.log.info("webhook accepted", source="jira")
    (line,) = json_logs()
    assert (line["event"], line["logger"], line["source"]) == ("webhook accepted", "pulse.web", "jira")


def test_uvicorn_colour_copies_of_messages_are_dropped(json_logs):
    # uvicorn logs each message twice over: plain, and with terminal colours as an `extra`.
    logging.getLogger("uvicorn.error").warning("Started server process [%d]", 42, extra={"color_message": "Started \x1b[36m%d\x1b[0m"})
    (line,) = json_logs()
    assert line["event"] == "Started server process [42]"
    assert "color_message" not in line


async def test_bolt_logs_a_refused_request_without_its_body(json_logs):
    """Even a request that reaches Bolt's own signature check unverified (bot.web checks first)."""
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.request.async_request import AsyncBoltRequest
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.slack_requests import slash_command

    bolt = AsyncApp(client=AsyncWebClient(token="xoxb-test"), signing_secret="s3cret", process_before_response=False)
    body = slash_command("status", user_id="U0MEMBER01", channel_id="C0ACME", team_id="T0AGENCY1",
                         response_url="https://hooks.slack.com/commands/T0AGENCY1/1234/abcdefSECRETPATH")
    request = AsyncBoltRequest(body=body, headers={
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": "1", "x-slack-signature": "v0=" + "0" * 64})
    response = await bolt.async_dispatch(request)
    assert response.status == 401
    text = "\n".join(map(str, json_logs()))
    assert "Invalid request signature detected (body not logged)" in text
    assert "SECRETPATH" not in text and "verification_token" not in text and "hooks.slack.com" not in text


def test_slack_response_urls_in_free_text_are_redacted(json_logs):
    get_logger("pulse.test").warning("answer went to https://hooks.slack.com/commands/T1/2/abc failed")
    (line,) = json_logs()
    assert "hooks.slack.com" not in line["event"] and "[redacted]" in line["event"]


def test_a_jira_failure_names_the_endpoint_not_the_jql(json_logs):
    import socket

    from bot.errors import UpstreamError
    from integrations.jira import AtlassianJira
    from integrations.upstream_errors import RetryPolicy

    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jql = 'project = ACME AND summary ~ "Confidential Client GmbH"'
    with AtlassianJira(f"http://127.0.0.1:{port}", user="u", api_token="t", retry=RetryPolicy(attempts=1)) as jira:
        try:
            jira.fetch_issues(jql)
        except UpstreamError as exc:
            error = exc
    assert "/rest/api/3/search/jql" in str(error)
    assert "Confidential" not in str(error) and "jql=" not in str(error)
    # The operator's traceback quotes requests' own message (with the URL): its query is cut too.
    get_logger("pulse.test").error("jira failed", error=str(error), exc_info=error)
    lines = json_logs()
    line = lines[-1]
    assert not [x for x in lines if "Confidential" in str(x).replace("+", " ").replace("%20", " ")]
    assert "/rest/api/3/search/jql" in line["exception"]
