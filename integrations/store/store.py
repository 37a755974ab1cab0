"""One object that opens the database and hands out its repositories."""

from __future__ import annotations

import sqlalchemy as sa

from integrations.store import db
from integrations.store.audit import AuditLog
from integrations.store.budget_alerts import BudgetAlerts
from integrations.store.channel_links import ChannelLinks
from integrations.store.digest_runs import DigestRuns
from integrations.store.handovers import Handovers
from integrations.store.inbox import Inbox
from integrations.store.portfolio import PortfolioSnapshots
from integrations.store.posts import Posts
from integrations.store.subscriptions import Subscriptions
from integrations.store.support import SupportRequests
from integrations.store.threads import IssueThreads


class Store:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.inbox = Inbox(engine)
        self.digest_runs = DigestRuns(engine)
        self.posts = Posts(engine)
        self.audit = AuditLog(engine)
        self.subscriptions = Subscriptions(engine)
        self.threads = IssueThreads(engine)
        self.budget_alerts = BudgetAlerts(engine)
        self.portfolio = PortfolioSnapshots(engine)
        self.channel_links = ChannelLinks(engine)
        self.handovers = Handovers(engine)
        self.support = SupportRequests(engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = False) -> Store:
        """Open the store at `url`; with `migrate`, first bring its schema to the newest revision."""
        if migrate:
            db.upgrade(url)
        return cls(db.create_engine(url))

    def is_current(self) -> bool:
        """Is the schema at the newest migration? (`pulse db upgrade` fixes it when not.)"""
        return db.current_revision(self.engine) == db.head_revision()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
