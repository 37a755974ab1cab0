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
