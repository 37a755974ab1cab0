"""Upstream (Jira / Confluence) failures: the error types, and retries that end in them.

The error classes live in `bot.errors` (the one error tree); they are re-exported here so the
adapters and their callers share one class and `except UpstreamError` catches both.

    UpstreamError(service, retryable, status, retry_after)
    └── UpstreamUnavailable     retries exhausted (429 / 5xx / timeout / connection refused)

Policy (`RetryPolicy`): 429 waits for `Retry-After` (capped) or backs off; 5xx, timeouts and
connection errors back off exponentially; any other 4xx fails at once with `retryable=False`.
The library's own 429 sleeping is switched off by the adapters (`retry_with_header=False`),
so this is the only place that waits.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from atlassian.errors import ApiError, ApiNotFoundError, ApiPermissionError, ApiValueError

from bot.errors import UpstreamError, UpstreamUnavailable

__all__ = [
    "RetryPolicy",
    "UpstreamError",
    "UpstreamUnavailable",
    "call_with_retries",
    "error_from_exception",
    "error_from_response",
]

# 408 and 425 are "try again" per RFC 9110 / 8470; Atlassian also sends 502/503/504 during deploys.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one HTTP call."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A Retry-After longer than this is not waited for in-line: the job fails as retryable
    # and the scheduler tries later, instead of blocking a worker for up to 30 minutes.
    max_retry_after: float = 30.0
    jitter: float = 0.1

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based), with a little jitter."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return delay + random.uniform(0, self.jitter * delay)  # noqa: S311 - not crypto


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:200]
    if isinstance(body, dict):
        messages = list(body.get("errorMessages") or [])
        errors = body.get("errors")
        if isinstance(errors, dict):
            messages.extend(str(v) for v in errors.values())
        elif isinstance(errors, list):
            messages.extend(str(e.get("title") or e) if isinstance(e, dict) else str(e) for e in errors)
        if body.get("message"):
            messages.append(str(body["message"]))
        if messages:
            return "; ".join(messages)[:200]
    return str(body)[:200]


def error_from_response(service: str, response: requests.Response) -> UpstreamError:
    """An UpstreamError describing one HTTP error response."""
    status = response.status_code
    return UpstreamError(
        service,
        f"HTTP {status} on {response.request.method if response.request else '?'} "
        f"{_path(response.url)}: {_message(response)}",
        retryable=status in RETRYABLE_STATUSES,
        status=status,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def error_from_exception(service: str, exc: BaseException) -> UpstreamError:
    """Translate requests / atlassian exceptions into an UpstreamError."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        err = error_from_response(service, exc.response)
        err.__cause__ = exc
        return err
    if isinstance(exc, requests.exceptions.RetryError):
        # The library's own backoff gave up: the service is overloaded, try later.
        return UpstreamUnavailable(service, f"retries exhausted: {_described(exc)}", retryable=True)
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return UpstreamError(service, _described(exc), retryable=True)
    if isinstance(exc, ApiNotFoundError):
        return UpstreamError(service, f"not found: {exc}", retryable=False, status=404)
    if isinstance(exc, ApiPermissionError):
        return UpstreamError(service, f"permission denied: {exc}", retryable=False, status=403)
    if isinstance(exc, (ApiValueError, ApiError)):
        return UpstreamError(service, f"{type(exc).__name__}: {exc}", retryable=False)
    if isinstance(exc, requests.RequestException):
        return UpstreamError(service, _described(exc), retryable=False)
    return UpstreamError(service, f"{type(exc).__name__}: {exc}", retryable=False)


def _path(url: str | None) -> str:
    # Never log query strings verbatim in errors: JQL can contain client names.
    return (url or "").split("?", 1)[0]


# A query string inside an exception's text: urllib3 writes "…with url: /rest/api/3/search/jql?jql=…".
_QUERY = re.compile(r"\?[^\s'\")]*")


def _described(exc: requests.RequestException) -> str:
    """`Type on METHOD /path: reason`, the endpoint named and no query string (the JQL) anywhere."""
    request = exc.request
    where = f" on {request.method} {_path(request.url)}" if request is not None and request.url else ""
    return f"{type(exc).__name__}{where}: {_QUERY.sub('', str(exc))}"


def call_with_retries(
    service: str,
    send: Callable[[], requests.Response],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    *,
    idempotent: bool = True,
) -> requests.Response:
    """Run `send` (returns a raw Response, never raises on status) with our retry policy.

    With `idempotent=False` (a create), a timeout is not retried here: the server may have
    acted, so the caller re-runs its whole find-or-create step instead of posting twice.
    """
    last: UpstreamError | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            response = send()
        except (requests.Timeout, requests.ConnectionError) as exc:
            last = error_from_exception(service, exc)
            if not idempotent and not isinstance(exc, requests.exceptions.ConnectTimeout):
                raise last from exc
        except (requests.RequestException, ApiError) as exc:
            raise error_from_exception(service, exc) from exc
        else:
            if response.status_code < 400:
                return response
            last = error_from_response(service, response)
            if not last.retryable:
                raise last
        if attempt == policy.attempts:
            break
        if last.retry_after is not None:
            if last.retry_after > policy.max_retry_after:
                # Waiting that long in-line would block a worker; let the caller reschedule.
                raise UpstreamUnavailable(
                    service,
                    f"rate limited for {last.retry_after:.0f}s",
                    retryable=True,
                    status=last.status,
                    retry_after=last.retry_after,
                ) from last
            sleep(last.retry_after)
        else:
            sleep(policy.backoff(attempt))
    assert last is not None
    raise UpstreamUnavailable(
        service,
        f"gave up after {policy.attempts} attempts: {last}",
        retryable=True,
        status=last.status,
        retry_after=last.retry_after,
    ) from last
