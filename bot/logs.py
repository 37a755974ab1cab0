"""structlog set-up: pretty on a TTY, JSON otherwise, stdlib loggers routed through it, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from structlog.typing import Processor

REDACTED = "[redacted]"

# Keys whose values are secrets wherever they appear in an event.
_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|authorization|signature|api_key|apikey|cookie)", re.I
)
# Secrets that slip into free text: Slack tokens, bearer/basic auth headers, HMAC signatures,
# and `secret=`/`token=` in URLs. One alternation, so a log line is scanned once (the intake logs
# a line per webhook).
_SECRET_TEXT = re.compile(
    r"xox[abposr]-[A-Za-z0-9-]+"
    r"|xapp-[A-Za-z0-9-]+"
    r"|(?i:\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]+)"
    r"|sha256=[0-9a-fA-F]{16,}"
    r"|(?P<param>(?i:[?&](?:secret|token)=))[^&\s]+"
    # A response_url (or incoming webhook) lets anyone who reads it post as the bot.
    r"|https://hooks\.slack\.com/[^\s\"'&]+"
    # Query strings after a URL or path (tracebacks quote them): JQL names clients, queries carry
    # tokens. The endpoint stays readable.
    r"|(?P<path>(?<=[\w/])\?)[\w.%-]+=[^\s\"')]*"
)


def _redact_match(match: re.Match) -> str:
    if match.group("path"):
        return "?" + REDACTED
    return (match.group("param") or "") + REDACTED


def scrub_text(text: str) -> str:
    """Free text with token-shaped secrets replaced (for text stored or shown, not only logged)."""
    return _SECRET_TEXT.sub(_redact_match, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_secrets(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blank secret-named keys and token-shaped text anywhere in the event."""
    for key in list(event_dict):
        if _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _render_exc_then_redact(logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Tracebacks can quote secrets (a URL with ?secret=…): render them first, then scrub.
    event_dict = structlog.processors.format_exc_info(logger, name, event_dict)
    return redact_secrets(logger, name, event_dict)


def _dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure_logging(level: str | int = "INFO", json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger once, at start-up."""
    if json is None:
        json = not sys.stderr.isatty()
    numeric_level = logging.getLevelName(level) if isinstance(level, str) else level
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: list[Processor]
    if json:
        final = [_render_exc_then_redact, structlog.processors.JSONRenderer(serializer=_dumps)]
    else:
        # Tracebacks rendered (and scrubbed) here too; the console renderer then prints the text.
        final = [_render_exc_then_redact, structlog.dev.ConsoleRenderer()]
    # Our own events take structlog's direct path (level filtered before any processing): the
    # webhook intake logs a line per request, and the stdlib route cost half of its time.
    structlog.configure(
        processors=[_logger_key, *shared, *final],
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )
    # Libraries' stdlib loggers (Bolt, slack_sdk, APScheduler, atlassian, uvicorn) are rendered
    # by the same processors, so every line looks alike and is scrubbed alike.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_bolt_refused_request_without_body)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that are chatty at INFO about every HTTP call.
    for noisy in ("urllib3", "slack_sdk.web", "apscheduler.executors", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _bolt_refused_request_without_body(record: logging.LogRecord) -> bool:
    # Bolt logs a request that fails its signature check at INFO with the whole body: the
    # response_url, the legacy verification token, the user's text. Keep the line, not the body.
    # (bot.web checks signatures before Bolt, so this is the second line of defence.)
    if record.name.startswith("slack_bolt.") and str(record.msg).startswith("Invalid request signature"):
        record.msg, record.args = "Invalid request signature detected (body not logged)", ()
    return True


def get_logger(name: str) -> Any:
    """A named structlog logger (names like `pulse.webhooks.anomalous` can be filtered on)."""
    # Bound lazily: modules create their logger at import time, before configure_logging runs.
    # (`logger=` itself is a parameter name of structlog's wrap_logger, hence the detour.)
    return structlog.get_logger(logger_name=name)


def _logger_key(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Same key as the stdlib route's add_logger_name, so every line names its logger alike.
    if "logger_name" in event_dict:
        event_dict["logger"] = event_dict.pop("logger_name")
    return event_dict


def _drop_color_message(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # uvicorn passes a copy of each message with terminal colour codes as an `extra`; the plain
    # `event` says the same, and raw escape codes only garble JSON lines.
    event_dict.pop("color_message", None)
    return event_dict
