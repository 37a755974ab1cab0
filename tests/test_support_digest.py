"""The digests' support section: figures for the period, internal and client views."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.domain.accounts import Audience
from bot.domain.digest import build_digest
from bot.domain.support_figures import support_figures
from bot.render.digest import render_digest
from sandbox.agency import sandbox_accounts

ACME = sandbox_accounts().by_key("acme-shop")
MON = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)  # 09:00 Berlin
H = dt.timedelta(hours=1)


@dataclasses.dataclass
class Row:
    kind: str
    urgency: str | None
    created_at: dt.datetime
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    breached_at: dt.datetime | None = None
    pauses: list = dataclasses.field(default_factory=list)
    channel_id: str = "C0ACMECLNT"  # filed in ACME's client channel


ROWS = [
    # An emergency on Saturday night, answered after 30 min around the clock.
    Row("request", "emergency", MON - 2 * 24 * H + 14 * H, MON - 2 * 24 * H + 14.5 * H, resolved_at=MON),
    # A task on Friday 16:00, answered Monday 10:00: 1 h Friday + 1 h Monday = 2 business hours.
    Row("request", "task", MON - 3 * 24 * H + 7 * H, MON + 1 * H),
    # A task answered after 5 business hours: breached (target 4 h), still open.
    Row("request", "task", MON, MON + 5 * H, breached_at=MON + 4 * H),
    # A client message answered after 1 h; and one from before the period, still open.
    Row("message", "task", MON + 2 * H, MON + 3 * H),
    Row("request", "task", MON - 30 * 24 * H),
    Row("request", None, MON),  # urgency never chosen: not a request yet
]


def test_internal_figures_count_by_urgency_and_measure_on_each_requests_clock():
    figures = support_figures(ACME, Audience.INTERNAL, ROWS, MON - 7 * 24 * H, MON + 24 * H)
    assert (figures.emergencies, figures.tasks, figures.messages, figures.opened) == (1, 2, 1, 4)
    assert sorted([figures.median_minutes, figures.worst_minutes]) == [90.0, 300.0]  # median of 30, 60, 120, 300
    assert (figures.breaches, figures.resolved, figures.open) == (1, 1, 3)


def test_the_client_sees_its_requests_opened_resolved_and_the_median_only():
    figures = support_figures(ACME, Audience.CLIENT, ROWS, MON - 7 * 24 * H, MON + 24 * H)
    assert (figures.opened, figures.resolved, figures.messages) == (3, 1, 0)
    assert figures.median_minutes == 120.0  # 30, 120, 300: messages are not the client's requests
    digest = dataclasses.replace(build_digest(ACME, Audience.CLIENT, [], [], MON + 24 * H), support=figures)
    text = "\n".join(m.text for m in render_digest(digest, ACME).messages)
    assert "Anfragen: 3 gestellt, 1 erledigt · erste Antwort im Median 2 Stunden" in text
    assert "überschritten" not in text and "Nachrichten" not in text


def test_the_internal_digest_renders_the_section_in_the_accounts_language():
    figures = support_figures(ACME, Audience.INTERNAL, ROWS, MON - 7 * 24 * H, MON + 24 * H)
    digest = dataclasses.replace(build_digest(ACME, Audience.INTERNAL, [], [], MON + 24 * H), support=figures)
    text = "\n".join(m.text for m in render_digest(digest, ACME).messages)
    assert "1 Notfälle · 2 Aufgaben · 1 unbeantwortete Nachrichten" in text
    assert "Erste Antwort: Median 1 Std. 30 Min., längste 5 Stunden" in text
    assert "1-mal Antwortzeit überschritten" in text and "3 Anfragen offen" in text
