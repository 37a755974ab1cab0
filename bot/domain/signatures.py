"""Webhook authenticity checks (constant-time compares only)."""

from __future__ import annotations

import hashlib
import hmac
import re


def hub_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature` value Jira sends for `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()


def valid_hub_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Does the `X-Hub-Signature` header match the raw body?"""
    if not header:
        return False
    return hmac.compare_digest(hub_signature(secret, body).encode(), header.strip().encode())


def valid_url_secret(secret: str, provided: str | None) -> bool:
    """For Jira versions that cannot sign: a shared secret in the webhook URL (`?secret=`)."""
    if not provided:
        return False
    return hmac.compare_digest(secret.encode(), provided.encode())


def body_fingerprint(body: bytes) -> str:
    """Delivery id for senders without `X-Atlassian-Webhook-Identifier`: identical bodies dedupe."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


# Slack signs `v0:{timestamp}:{body}`; the timestamp is Unix seconds in ASCII digits. Anything else
# (`abc`, `1795856564.5`, ` 17…`, 5,000 digits, which int() refuses past 4,300) is not from Slack.
_SLACK_TIMESTAMP = re.compile(r"[0-9]{1,12}")
SLACK_MAX_SKEW_S = 5 * 60


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack sends: `v0=<hex HMAC-SHA256 of v0:timestamp:body>`."""
    return "v0=" + hmac.digest(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, "sha256").hex()


def slack_request_problem(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> str | None:
    """Why a request is not from Slack (None when it is): Slack's v0 signature, at most 5 minutes old."""
    if not timestamp or not signature:
        return "X-Slack-Request-Timestamp or X-Slack-Signature missing"
    if not _SLACK_TIMESTAMP.fullmatch(timestamp):
        return "X-Slack-Request-Timestamp is not a whole number of seconds"
    if abs(now - int(timestamp)) > SLACK_MAX_SKEW_S:
        return "X-Slack-Request-Timestamp is more than 5 minutes away from now"
    if not hmac.compare_digest(slack_signature(secret, timestamp, body).encode(), signature.encode()):
        return "X-Slack-Signature does not match the body"
    return None
