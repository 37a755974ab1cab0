import io
import json
import logging

import pytest
import structlog

from bot.logs import configure_logging, get_logger


@pytest.fixture
def captured(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    structlog.reset_defaults()
    configure_logging("DEBUG", json=True)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_events_are_json_and_secrets_redacted(captured):
    get_logger("pulse.test").info(
        "connected", bot_token="xoxb-1234-5678-abcdef", channel="C0123456", note="used xoxb-99-88-77"
    )
    (line,) = _lines(captured)
    assert line["event"] == "connected"
    assert line["channel"] == "C0123456"
    assert line["bot_token"] == "[redacted]"
    assert "xoxb-99-88-77" not in line["note"]
    assert line["logger"] == "pulse.test"


def test_stdlib_loggers_are_routed_and_scrubbed(captured):
    logging.getLogger("slack_bolt.App").warning(
        "request to https://x/webhooks/jira?secret=hunter2&a=1 with Authorization: Bearer abc.def"
    )
    (line,) = _lines(captured)
    assert line["logger"] == "slack_bolt.App"
    assert line["level"] == "warning"
    assert "hunter2" not in line["event"]
    assert "abc.def" not in line["event"]
    assert "a=1" in line["event"]


def test_nested_secret_keys_and_tracebacks(captured):
    log = get_logger("pulse.test")
    try:
        raise RuntimeError("signature sha256=" + "ab" * 32 + " mismatch")
    except RuntimeError:
        log.exception("failed", headers={"X-Hub-Signature": "sha256=00", "Content-Type": "json"})
    (line,) = _lines(captured)
    assert line["headers"] == {"X-Hub-Signature": "[redacted]", "Content-Type": "json"}
    assert "ab" * 32 not in line["exception"]
    assert "RuntimeError" in line["exception"]


def test_loggers_created_at_import_time_follow_the_later_configuration(captured):
    import bot.web  # its module-level logger exists before configure_logging ran

    bot.web.log.info("webhook accepted", source="jira")
    (line,) = _lines(captured)
    assert (line["event"], line["logger"], line["source"]) == ("webhook accepted", "pulse.web", "jira")
