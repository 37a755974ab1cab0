"""Webhook authenticity checks (constant-time compares only)."""

from __future__ import annotations

import hashlib
import hmac


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
