"""Every error Account Pulse raises on purpose, in one small tree.

    PulseError
    ├── UserError            the person in Slack did something we can explain (usage, permission)
    │   └── PermissionDenied
    ├── ConfigError          a settings or accounts-file problem; names the file and the field
    ├── UpstreamError        Jira / Confluence / Slack failed; `retryable` says whether to try again
    │   ├── UpstreamUnavailable   retries exhausted: say "delayed", never post partial numbers
    │   └── CredentialsRefused    the service refuses our token: pause and wait for an operator
    └── WebhookRejected      an HTTP delivery we refuse (4xx): bad signature, not JSON, too large

Webhook *processing* outcomes (ignored / unsupported / anomalous) are results, not exceptions:
see `bot.domain.events`.

A user never sees a traceback: listeners turn `UserError` into an ephemeral hint and everything
else into a short apology, while the log keeps the traceback for the operator.
"""

from __future__ import annotations

from bot.domain.words import Text


class PulseError(Exception):
    """Base of all errors raised on purpose."""


class UserError(PulseError):
    """Something the user can fix; `text` says what, and is put into the user's language to show them."""

    def __init__(self, text: Text):
        self.text = text
        super().__init__(text.message_id)


class PermissionDenied(UserError):
    """The user may not run this command here."""


class ConfigError(PulseError):
    """Settings or accounts file are wrong; each problem names its file and field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class UpstreamError(PulseError):
    """Jira, Confluence or Slack failed."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        uncertain: bool = False,
    ):
        self.service = service
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        # No answer (timeout, dropped connection) or a server error: the request may have taken effect.
        self.uncertain = uncertain
        super().__init__(f"{service}: {message}")


class UpstreamUnavailable(UpstreamError):
    """Retries are exhausted; the caller reports a delay instead of wrong numbers."""


class CredentialsRefused(UpstreamError):
    """The service refuses our token (revoked, expired, account deactivated).

    Not the fault of what we were sending: the work waits (never dead-lettered) until an operator
    fixes the token.
    """

    def __init__(self, service: str, message: str):
        super().__init__(service, message, retryable=True)


class WebhookRejected(PulseError):
    """A webhook delivery we refuse with a 4xx status."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")
