"""The HTTP surface: Slack's endpoint, webhook intake into the durable inbox, and health.

Webhooks are verified and stored, then answered 202 before any processing: the inbox is the
source of truth, so a crash after the 202 loses nothing, and Jira's retries are deduplicated.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from structlog.contextvars import bind_contextvars, bound_contextvars

from bot.domain.health import HealthChecks
from bot.domain.payload import without_nul
from bot.domain.signatures import (
    body_fingerprint,
    slack_request_problem,
    valid_hub_signature,
    valid_url_secret,
)
from bot.errors import WebhookRejected
from bot.logs import get_logger
from integrations.store.group_commit import GroupCommit
from integrations.store.intake import open_appender
from integrations.store.store import Store

log = get_logger("pulse.web")
rejected_log = get_logger("pulse.webhooks.rejected")
slack_rejected_log = get_logger("pulse.slack.rejected")


@dataclass(frozen=True)
class WebhookSource:
    """One webhook endpoint: its name and secret."""

    name: str
    secret: str | None


class _Head(msgspec.Struct):
    """What the intake reads of a body: the event's name (the worker parses the rest)."""

    webhookEvent: object = None  # Jira, Confluence Cloud  # noqa: N815 - the payload's own name
    event: object = None  # Confluence Data Center

    def event_name(self) -> str | None:
        name = self.webhookEvent or self.event
        # NUL as the worker reads it (PostgreSQL refused the row: a 503 Jira retried for ever).
        return without_nul(str(name)[:80]) if name else None


# Decoding into _Head checks the whole body's JSON syntax but builds only these two fields: a full
# parse built thousands of objects per request, and with the garbage collector that was a third of
# the intake's time (benchmarks/webhooks.py).
_HEAD = msgspec.json.Decoder(_Head)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(413, f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _authenticate(source: WebhookSource, request: Request, body: bytes) -> None:
    if not source.secret:
        # Refuse rather than accept unauthenticated deliveries into client channels.
        raise WebhookRejected(401, f"no webhook secret configured for {source.name}")
    signature = request.headers.get("x-hub-signature")
    if signature is not None:
        if not valid_hub_signature(source.secret, body, signature):
            raise WebhookRejected(401, "X-Hub-Signature does not match the body")
        return
    if not valid_url_secret(source.secret, request.query_params.get("secret")):
        raise WebhookRejected(401, "missing or wrong webhook secret")


def _parse(body: bytes) -> tuple[str, _Head]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not UTF-8 text") from None
    try:
        return text, _HEAD.decode(body)
    except msgspec.ValidationError:
        raise WebhookRejected(400, "body is not a JSON object") from None
    except msgspec.DecodeError:
        raise WebhookRejected(400, "body is not JSON") from None
    except RecursionError:
        raise WebhookRejected(400, "body is nested too deeply") from None


def _event_hint(request: Request) -> str | None:
    hint = request.query_params.get("event")
    if hint and re.fullmatch(r"[A-Za-z0-9_:.-]{1,80}", hint):
        return hint
    return None


def webhook_endpoint(
    source: WebhookSource, inbox: GroupCommit, max_bytes: int, clock: Callable[[], dt.datetime]
) -> Callable:
    """An endpoint that verifies, stores and acknowledges deliveries from one source."""

    async def endpoint(request: Request) -> Response:
        delivery_id = request.headers.get("x-atlassian-webhook-identifier")
        # Every line logged for this request names its source and delivery (restored on return:
        # a test client may run requests in one task).
        with bound_contextvars(source=source.name, delivery_id=delivery_id):
            return await intake(request, delivery_id)

    async def intake(request: Request, delivery_id: str | None) -> Response:
        try:
            body = await _read_limited(request, max_bytes)
            _authenticate(source, request, body)
            text, head = _parse(body)
        except WebhookRejected as exc:
            rejected_log.warning(
                "webhook rejected",
                status=exc.status,
                reason=exc.reason,
                client=request.client.host if request.client else None,
            )
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        delivery_id = (delivery_id or body_fingerprint(body))[:128]
        bind_contextvars(delivery_id=delivery_id)
        # Confluence Cloud bodies name no event: it is only in the registration, so the webhook
        # URL carries it (`?event=page_trashed`); the worker passes it on as normalize's hint.
        event = head.event_name() or _event_hint(request)
        row = dict(
            source=source.name,
            delivery_id=delivery_id,
            body=text,
            event_name=event,
            received_at=clock(),
        )
        # Answered only once the row is committed (batched with concurrent deliveries, which
        # are logged together when their batch is stored: see _log_accepted).
        try:
            stored = await inbox.submit(row, (source.name, delivery_id))
        except Exception as exc:  # the database is down or refused the row: Jira retries a 5xx
            log.error(
                "webhook not stored",
                webhook_event=event,
                error=f"{exc.__class__.__name__}: {exc}",
            )
            return JSONResponse(
                {"error": "the delivery could not be stored; it was not accepted, retry later"},
                status_code=503,
                headers={"Retry-After": "30"},
            )
        return Response(
            orjson.dumps({"status": "accepted" if stored else "duplicate", "delivery_id": delivery_id}),
            status_code=202,
            media_type="application/json",
        )

    return endpoint


def _log_accepted(rows: list[dict[str, Any]], new: set[Hashable]) -> None:
    # One line per committed batch, naming every delivery in it: under load a line per request
    # was a fifth of the intake's time, and a delivery id is as easy to find either way.
    log.info(
        "webhooks accepted",
        count=len(rows),
        bytes=sum(len(row["body"]) for row in rows),
        events=dict(Counter(row["event_name"] or "unnamed" for row in rows)),
        deliveries=[f"{row['source']}/{row['delivery_id']}" for row in rows],
        duplicates=[f"{row['source']}/{row['delivery_id']}" for row in rows if (row["source"], row["delivery_id"]) not in new],
    )


# Slack's requests are a few kilobytes (a modal submission with all its state stays far below);
# the body is read before its signature can be checked, so a stranger's upload stops here.
SLACK_MAX_BODY_BYTES = 1024 * 1024


def verified_slack_endpoint(
    endpoint: Callable, signing_secret: str, now: Callable[[], float] = time.time
) -> Callable:
    """Slack's endpoint behind our own signature check: a request not signed by Slack is a 401
    before Bolt sees it. (Bolt's check raised on a timestamp int() refuses, a 500 with a traceback,
    and logs the whole refused body, `response_url` and legacy token included.)"""

    async def slack_events(request: Request) -> Response:
        try:
            body = await _read_limited(request, SLACK_MAX_BODY_BYTES)
        except WebhookRejected as exc:  # read no further than the limit: nobody signed it yet
            slack_rejected_log.warning("slack request rejected", status=exc.status, reason=exc.reason,
                                       client=request.client.host if request.client else None)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        # Bolt's adapter reads the body again through `request.body()`, which returns this cache.
        request._body = body
        problem = slack_request_problem(
            signing_secret,
            body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            now(),
        )
        if problem is not None:
            # Never the body: it carries a response_url anyone could answer through.
            slack_rejected_log.warning(
                "slack request rejected",
                status=401,
                reason=problem,
                bytes=len(body),
                client=request.client.host if request.client else None,
            )
            return JSONResponse({"error": "invalid request"}, status_code=401)
        return await endpoint(request)

    return slack_events


def health_endpoint(store: Store, checks: HealthChecks | None = None) -> Callable:
    """GET /healthz: 200 when the database answers and no registered component has a problem;
    503 with a JSON body naming what is wrong otherwise."""

    async def healthz(_request: Request) -> Response:
        try:
            await run_in_threadpool(store.ping)
            counts = await run_in_threadpool(store.inbox.counts)
        except Exception as exc:  # any database failure means "not healthy", with the reason
            log.warning("health check failed", error=str(exc))
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        # Checks may read the store: off the event loop.
        problems = await run_in_threadpool(checks.problems) if checks is not None else {}
        if problems:
            log.warning("health check failed", problems=problems)
            return JSONResponse(
                {"status": "error", "database": "ok", "inbox": counts, "problems": problems}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok", "inbox": counts})

    return healthz


def build_web_app(
    *,
    store: Store,
    jira_secret: str | None,
    confluence_secret: str | None,
    max_webhook_bytes: int,
    clock: Callable[[], dt.datetime],
    slack_endpoint: Callable | None = None,
    slack_signing_secret: str | None = None,
    lifespan: Callable | None = None,
    health: HealthChecks | None = None,
) -> Starlette:
    """The ASGI app `pulse serve` runs (Slack's endpoint only in HTTP mode, behind its signature check)."""
    if slack_endpoint is not None and not slack_signing_secret:
        raise ValueError("Slack's endpoint needs the signing secret: requests are verified before Bolt")
    appender = open_appender(store.engine)
    inbox = GroupCommit(appender.append, on_written=_log_accepted)
    routes = [
        Route(
            "/webhooks/jira",
            webhook_endpoint(WebhookSource("jira", jira_secret), inbox, max_webhook_bytes, clock),
            methods=["POST"],
        ),
        Route(
            "/webhooks/confluence",
            webhook_endpoint(
                WebhookSource("confluence", confluence_secret), inbox, max_webhook_bytes, clock
            ),
            methods=["POST"],
        ),
        Route("/healthz", health_endpoint(store, health), methods=["GET"]),
    ]
    if slack_endpoint is not None and slack_signing_secret:  # both or neither (checked above)
        routes.append(
            Route("/slack/events", verified_slack_endpoint(slack_endpoint, slack_signing_secret), methods=["POST"])
        )
    app = Starlette(routes=routes, lifespan=lifespan)

    async def close_intake() -> None:
        await inbox.aclose()  # the batch being written finishes first
        await appender.aclose()

    # The runtime calls it at shutdown (after the server stopped taking requests), on this loop:
    # the intake's PostgreSQL connection belongs to it.
    app.state.close_intake = close_intake
    return app
