"""Tables, as SQLAlchemy Core metadata. Changes here need an Alembic migration in `migrations/`."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)



class _UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store only timezone-aware datetimes")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


UTCDateTime = _UTCDateTime()

# What a channel wants to hear about; a channel without rows gets its audience's defaults.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.String(32), nullable=False, index=True),
    sa.Column("account_key", sa.String(40), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Every accepted webhook delivery, stored before we answer 202: the source of truth for processing.
webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("delivery_id", sa.String(128), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("event_name", sa.String(80)),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # pending → done | ignored | unsupported | anomalous | dead; a Slack request recorded before its
    # acknowledgement (source `slack`): held → done | dead (bot.services.slack_intents)
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("locked_until", UTCDateTime),
    # The worker holding the lease (it renews `locked_until` while it works: a heartbeat).
    sa.Column("locked_by", sa.String(64)),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("source", "delivery_id", name="uq_webhook_inbox_source_delivery"),
    sa.Index("ix_webhook_inbox_status_next", "status", "next_attempt_at"),
)

# One row per channel and digest slot, claimed before posting so that a slot posts exactly once.
digest_runs = sa.Table(
    "digest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_key", sa.String(40), nullable=False),
    sa.Column("channel_id", sa.String(32), nullable=False),
    sa.Column("slot", UTCDateTime, nullable=False),
    # claimed → posted | delayed | skipped | failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("jira_calls", sa.Integer),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("channel_id", "slot", name="uq_digest_runs_channel_slot"),
)

# Messages we posted, keyed by what caused them: posting twice for one key is refused.
# A row is written *before* Slack is called (state `posting`, the intent) and completed with the
# message's ts after (`done`); a `posting` row whose owner died is an uncertain post, settled by
# looking for `message_key` in the metadata of the channel's recent messages.
posts = sa.Table(
    "posts",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("channel_id", sa.String(32), nullable=False),
    sa.Column("ts", sa.String(32)),
    sa.Column("thread_ts", sa.String(32)),
    # When the post was first intended (a `posting` row) or recorded.
    sa.Column("created_at", UTCDateTime, nullable=False),
    # posting → done. `done` with ts NULL: handled without a message (withheld, a notice).
    sa.Column("state", sa.String(16), nullable=False, server_default="done"),
    # The opaque token sent as the Slack message's metadata (one per message: a burst's keys share it).
    sa.Column("message_key", sa.String(64)),
    # While `posting`: the worker that posts it and its lease (renewed while it works).
    sa.Column("owner", sa.String(64), index=True),
    sa.Column("locked_until", UTCDateTime),
    # The issue whose thread this message starts (a settled post becomes the thread's parent).
    sa.Column("thread_issue", sa.String(64)),
)

# Who changed which configuration, when, and how.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(32), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("account_key", sa.String(40)),
    sa.Column("channel_id", sa.String(32)),
    sa.Column("details", sa.JSON, nullable=False),
)

# The Slack thread that holds a channel's messages about one issue (first message is the parent).
issue_threads = sa.Table(
    "issue_threads",
    metadata,
    sa.Column("channel_id", sa.String(32), primary_key=True),
    sa.Column("issue_key", sa.String(64), primary_key=True),
    sa.Column("thread_ts", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The parent as first posted: a status change rewrites it as this plus a status line.
    # NULL for threads started before migration 0004 (their parent is left alone).
    sa.Column("parent_text", sa.Text),
    sa.Column("parent_blocks", sa.JSON),
)

# Budget threshold alerts already raised: once per account, budget period and threshold.
budget_alerts = sa.Table(
    "budget_alerts",
    metadata,
    sa.Column("account_key", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(32), primary_key=True),
    sa.Column("threshold", sa.Integer, primary_key=True),
    sa.Column("percent_used", sa.String(16)),
    sa.Column("sent_at", UTCDateTime, nullable=False),
)

# Each account's latest health (bot.domain.portfolio.AccountHealth as JSON): the App Home and
# `/pulse accounts` read these, never Jira. `stale_since`: a webhook changed the account since;
# `refreshing_by/until`: the process refreshing it now (a claim, so two processes do not both ask Jira).
portfolio_snapshots = sa.Table(
    "portfolio_snapshots",
    metadata,
    sa.Column("account_key", sa.String(40), primary_key=True),
    sa.Column("payload", sa.JSON),  # NULL until the first refresh finished
    sa.Column("computed_at", UTCDateTime),
    sa.Column("stale_since", UTCDateTime),
    sa.Column("refreshing_by", sa.String(64)),
    sa.Column("refreshing_until", UTCDateTime),
)

# Handovers: one person away for whole days (in each account's timezone), covered by another in
# some accounts. Cancelled rows stay (the returner's "while you were away" needs the period).
handovers = sa.Table(
    "handovers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("from_user", sa.String(32), nullable=False, index=True),
    sa.Column("to_user", sa.String(32), nullable=False),
    sa.Column("start_day", sa.Date, nullable=False),
    sa.Column("end_day", sa.Date, nullable=False),
    sa.Column("account_keys", sa.JSON, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("cancelled_by", sa.String(32)),
    sa.Column("cancelled_at", UTCDateTime),
)

# The steps of a handover per account (created: summary; start; end: "while you were away"),
# claimed before they run so each runs once across restarts and processes (like digest_runs).
handover_steps = sa.Table(
    "handover_steps",
    metadata,
    sa.Column("handover_id", sa.Integer, primary_key=True),
    sa.Column("account_key", sa.String(40), primary_key=True),
    sa.Column("step", sa.String(16), primary_key=True),
    # claimed → done | failed (a failed or stale claim is taken over)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("error", sa.Text),
    # Failures in a row, and when a failed step may be tried again (capped exponential backoff).
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_try_at", UTCDateTime),
)

# The Confluence page of a handover per account (`confluence.handover_space`/`handover_parent`).
# The row is the intent, written before the page is created: a row without a page id is an
# uncertain create, resolved by looking the page up by its (unique) title before creating again.
# `body` is the page below its status line, kept so a cancel rewrites the page without Jira.
handover_pages = sa.Table(
    "handover_pages",
    metadata,
    sa.Column("handover_id", sa.Integer, primary_key=True),
    sa.Column("account_key", sa.String(40), primary_key=True),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("page_id", sa.String(32)),
    sa.Column("version", sa.Integer),
    # What the page says now: "active" | "cancelled" (None: not written yet).
    sa.Column("state", sa.String(16)),
    sa.Column("intent_at", UTCDateTime, nullable=False),
    sa.Column("written_at", UTCDateTime),
)

# Support requests filed from Slack (and client messages nobody answered yet, `kind` "message":
# their author and time only, never their text). Stored before Jira is called: a request id
# is never lost, and its Jira issue carries the labels `pulse-req-<id>` and `pulse-rq-<digest>`
# (bot.domain.support.request_marker) that a retry searches for before creating again.
support_requests = sa.Table(
    "support_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False, server_default="request"),  # request | message
    sa.Column("account_key", sa.String(40), nullable=False),
    sa.Column("channel_id", sa.String(32), nullable=False),
    # The Slack message it came from (a mention, a shortcut's message): a redelivered event files nothing twice.
    sa.Column("source_ts", sa.String(32)),
    # The thread that is the request's conversation.
    sa.Column("thread_ts", sa.String(32), index=True),
    sa.Column("requester_id", sa.String(32), nullable=False),
    sa.Column("requester_name", sa.String(200)),
    sa.Column("requester_external", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("text", sa.Text),
    sa.Column("permalink", sa.Text),
    sa.Column("urgency", sa.String(16)),
    # asked (waiting for the urgency) → filing (Jira next) → filed; a message: watching
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("issue_key", sa.String(64), index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("filed_at", UTCDateTime),
    # Filing retries: the worker holding the request and its lease; when to try again.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("locked_by", sa.String(64)),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("first_response_at", UTCDateTime),
    sa.Column("first_response_by", sa.String(64)),
    sa.Column("escalated_at", UTCDateTime),
    sa.Column("breached_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("jira_status", sa.String(80)),
    # [[start, end or null], …] ISO instants: while the issue waited for the client.
    sa.Column("pauses", sa.JSON),
    sa.Column("project_work", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("channel_id", "source_ts", name="uq_support_requests_channel_source"),
    sa.Index("ix_support_requests_state_next", "state", "next_attempt_at"),
)

# Channels linked from Slack (`/pulse link`); the accounts file is the seed and wins on conflict.
# Who linked and when is also in `audit_log` (channel.link / channel.unlink).
channel_links = sa.Table(
    "channel_links",
    metadata,
    sa.Column("channel_id", sa.String(32), primary_key=True),
    sa.Column("account_key", sa.String(40), nullable=False),
    sa.Column("audience", sa.String(16), nullable=False),
    sa.Column("name", sa.String(100)),
    sa.Column("digest_cron", sa.String(100)),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
