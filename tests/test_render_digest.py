"""Digest rendering: golden en/de text, Block Kit within Slack limits, escaping, catalogs."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest

from bot.domain.accounts import Audience, Budget
from bot.domain.budget import budget_status
from bot.domain.digest import build_digest, deadlines_section
from bot.domain.milestones import milestones_section
from bot.render.blocks import MAX_BLOCKS, MAX_MESSAGE_CHARS, MAX_SECTION_CHARS, escape_mrkdwn
from bot.render.digest import (
    progress_bar,
    render_budget,
    render_deadlines,
    render_digest,
    render_milestones,
)
from bot.render.i18n import format_days_left, translate
from tests.test_digest_samples import (
    NOW,
    PROJECT,
    UTC,
    done,
    log,
    make_account,
    make_issue,
    make_version,
)

SINCE = dt.datetime(2026, 11, 15, 8, 0, tzinfo=UTC)


def small_inputs() -> tuple[list, list]:
    """Five issues (one withheld), one dated and one undated version, one recent release."""
    v = ("10000",)
    issues = [
        make_issue(
            1,
            summary="Checkout fails for <script> & co",
            due=dt.date(2026, 11, 20),
            assignee="Ann",
            fix_version_ids=v,
            original_estimate_seconds=6 * 3600,
            worklogs=(log(f"{PROJECT}-1", dt.datetime(2026, 11, 3, 9, tzinfo=UTC), 40),),
        ),
        make_issue(
            2,
            summary="Newsletter template",
            due=dt.date(2026, 11, 25),
            fix_version_ids=v,
            created=dt.datetime(2026, 11, 18, 9, tzinfo=UTC),
            worklogs=(log(f"{PROJECT}-2", dt.datetime(2026, 11, 17, 9, tzinfo=UTC), 26.5),),
        ),
        make_issue(
            3,
            summary="Logo upload",
            fix_version_ids=v,
            original_estimate_seconds=2 * 3600,
            **done(resolved=dt.datetime(2026, 11, 19, 15, tzinfo=UTC)),
        ),
        make_issue(4, summary="Approve copy for landing page", status="Waiting for customer"),
        make_issue(
            5,
            summary="Server hardening",
            security_level="Internal",
            due=dt.date(2026, 11, 23),
            worklogs=(log(f"{PROJECT}-5", dt.datetime(2026, 11, 4, 9, tzinfo=UTC), 3),),
        ),
        # Shipped in 0.9 before SINCE: it only makes the release visible to the client.
        make_issue(
            6,
            summary="Launch banner",
            fix_version_ids=("9999",),
            **done(resolved=dt.datetime(2026, 11, 10, 9, tzinfo=UTC)),
        ),
    ]
    versions = [
        make_version("10000", "1.0", dt.date(2026, 12, 1)),
        make_version("10001", "2.0", None),
        make_version("9999", "0.9", dt.date(2026, 11, 16), released=True),
    ]
    return issues, versions


def small_digest(audience: Audience):
    issues, versions = small_inputs()
    return build_digest(make_account(), audience, issues, versions, NOW, SINCE)


# Hand-checked: internal sees 40 + 26.5 + 3 = 69.5 h (86.875 % → 86 %, bar 8.7 → 8 cells: rounded down),
# 69.5 × 95 = 6,602.50 €, pace 69.5 / 15 = 4.63 h, 10.5 h left = 2.27 → 3rd working day = 25 Nov.
# Milestone 1.0: 1 of 3 done, estimates 2 of 8 h; 1 resolved in 14 days cannot close 2 in 9 days.
# At 4.633 h a day for the 6 working days left, 69.5 + 27.8 = 97.3 h: 17.3 h (× 95 = 1,643.50 €) missing.
# Version 2.0 has no issues: left out.
GOLDEN_INTERNAL_EN = """\
📊 ACME Shop — digest
Changes since Nov 15, 2026 · as of Nov 22, 2026 · 🔒 not in the client view

Budget · November 2026
▓▓▓▓▓▓▓▓░░ 86%
69.5 h of 80 h used · 10.5 h left
€6,602.50 of €7,600.00 · €997.50 left
Pace: 4.63 h per working day (15 of 21 working days)
At this pace the budget runs out on Nov 25, 2026.
By the period end about 17.3 h (€1,643.50) would be missing.
⚠️ 80% threshold crossed · cc @U0BUDGET

Milestones
• 1.0 — due Dec 1, 2026 (in 9 days)  ⚠️ at risk
   ▓▓▓░░░░░░░ 33% · 1/3 issues done · 25% of the estimate

Released since the last digest
🚀 0.9 — Nov 16, 2026

Deadlines (next 14 days)
🔴 SAMPLEPROJECT-1 Checkout fails for <script> & co · due Nov 20, 2026 · 2 days overdue · Ann
• 🔒 SAMPLEPROJECT-5 Server hardening · due Nov 23, 2026 · in 1 day · unassigned
• SAMPLEPROJECT-2 Newsletter template · due Nov 25, 2026 · in 3 days · unassigned

New since the last digest
• SAMPLEPROJECT-2 Newsletter template · Open

Done since the last digest
• SAMPLEPROJECT-3 Logo upload · Closed
"""

# Hand-checked: the client does not see SAMPLEPROJECT-5 (security level) nor its 3 h: 66.5 h
# (83.125 % → 83 %, bar 8), pace 4.43 h, 13.5 h left = 3.05 → 4th working day = 26 Nov; no money,
# no mention; SAMPLEPROJECT-4 waits for the customer. German number and date formats via Babel.
# 66.5 + 6 × 4.433 = 93.1 h: 13.1 h missing by the period end (no money for the client).
NBSP = "\u00a0"
GOLDEN_CLIENT_DE = f"""\
📊 ACME Shop — Überblick
Änderungen seit 15.11.2026 · Stand 22.11.2026

Budget · November 2026
▓▓▓▓▓▓▓▓░░ 83{NBSP}%
66,5 h von 80 h verbraucht · 13,5 h übrig
Tempo: 4,43 h pro Arbeitstag (15 von 21 Arbeitstagen)
In diesem Tempo ist das Budget am 26.11.2026 aufgebraucht.
Bis zum Periodenende fehlen dann etwa 13,1 h.
⚠️ Schwelle 80{NBSP}% überschritten

Meilensteine
• 1.0 — fällig am 01.12.2026 (in 9 Tagen)  ⚠️ gefährdet
   ▓▓▓░░░░░░░ 33{NBSP}% · 1/3 Vorgänge erledigt · 25{NBSP}% der Schätzung

Seit dem letzten Überblick veröffentlicht
🚀 0.9 — 16.11.2026

Fristen (nächste 14 Tage)
🔴 SAMPLEPROJECT-1 Checkout fails for <script> & co · fällig am 20.11.2026 · 2 Tage überfällig · Ann
• SAMPLEPROJECT-2 Newsletter template · fällig am 25.11.2026 · in 3 Tagen · nicht zugewiesen

Wartet auf Sie
• SAMPLEPROJECT-4 Approve copy for landing page · Waiting for customer

Neu seit dem letzten Überblick
• SAMPLEPROJECT-2 Newsletter template · Open

Erledigt seit dem letzten Überblick
• SAMPLEPROJECT-3 Logo upload · Closed
"""


def test_golden_text_internal_en() -> None:
    rendered = render_digest(small_digest(Audience.INTERNAL), make_account(), "en")
    assert rendered.text == GOLDEN_INTERNAL_EN


def test_golden_text_client_de() -> None:
    rendered = render_digest(small_digest(Audience.CLIENT), make_account(), "de")
    assert rendered.text == GOLDEN_CLIENT_DE


def test_language_defaults_to_the_account_language() -> None:
    account = make_account(language="de")
    rendered = render_digest(small_digest(Audience.CLIENT), account)
    assert rendered.text == GOLDEN_CLIENT_DE


def test_golden_blocks_of_the_small_internal_digest() -> None:
    rendered = render_digest(
        small_digest(Audience.INTERNAL),
        make_account(),
        "en",
        jira_url="https://acme.atlassian.net/",
    )
    assert len(rendered.messages) == 1
    blocks = rendered.blocks
    assert [b["type"] for b in blocks] == [
        "header",
        "context",
        *["divider", "section"] * 6,
    ]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "📊 ACME Shop — digest", "emoji": True},
    }
    assert blocks[3]["text"]["text"] == (
        "*Budget* · November 2026\n"
        "▓▓▓▓▓▓▓▓░░ 86%\n"
        "69.5 h of 80 h used · 10.5 h left\n"
        "€6,602.50 of €7,600.00 · €997.50 left\n"
        "Pace: 4.63 h per working day (15 of 21 working days)\n"
        "At this pace the budget runs out on Nov 25, 2026.\n"
        "By the period end about 17.3 h (€1,643.50) would be missing.\n"
        "⚠️ 80% threshold crossed · cc <@U0BUDGET>"
    )
    assert blocks[9]["text"] == {
        "type": "mrkdwn",
        "text": "*Deadlines (next 14 days)*\n"
        "🔴 <https://acme.atlassian.net/browse/SAMPLEPROJECT-1|SAMPLEPROJECT-1> "
        "Checkout fails for &lt;script&gt; &amp; co · due Nov 20, 2026 · 2 days overdue · Ann\n"
        "• 🔒 <https://acme.atlassian.net/browse/SAMPLEPROJECT-5|SAMPLEPROJECT-5> "
        "Server hardening · due Nov 23, 2026 · in 1 day · unassigned\n"
        "• <https://acme.atlassian.net/browse/SAMPLEPROJECT-2|SAMPLEPROJECT-2> "
        "Newsletter template · due Nov 25, 2026 · in 3 days · unassigned",
    }
    # The Slack fallback text carries the same escaped mrkdwn, never raw "<script>".
    assert "&lt;script&gt; &amp; co" in rendered.messages[0].text
    assert "<script>" not in rendered.messages[0].text


def test_client_rendering_has_no_money_no_mention_no_withheld_issue() -> None:
    rendered = render_digest(small_digest(Audience.CLIENT), make_account(), "en")
    everything = rendered.text + str(rendered.messages)
    assert "€" not in everything
    assert "U0BUDGET" not in everything
    assert "SAMPLEPROJECT-5" not in everything and "Server hardening" not in everything


def test_money_shown_to_client_when_the_account_allows() -> None:
    account = make_account(
        budget=Budget(hours=Decimal("80"), rate=Decimal("95"), show_money_to_client=True)
    )
    issues, versions = small_inputs()
    digest = build_digest(account, Audience.CLIENT, issues, versions, NOW, SINCE)
    text = render_digest(digest, account, "de").text
    # 66.5 h × 95 = 6,317.50; 13.5 h × 95 = 1,282.50.
    assert f"6.317,50{NBSP}€ von 7.600,00{NBSP}€ · 1.282,50{NBSP}€ übrig" in text


def test_escape_mrkdwn() -> None:
    assert escape_mrkdwn("a < b && c > <@U1>") == "a &lt; b &amp;&amp; c &gt; &lt;@U1&gt;"


def test_names_are_escaped_in_blocks() -> None:
    account = make_account(name="Müller & <Söhne>")
    issues, versions = small_inputs()
    versions = [make_version("10000", "1.0 <beta>", dt.date(2026, 12, 1))]
    digest = build_digest(account, Audience.INTERNAL, issues, versions, NOW, SINCE)
    rendered = render_digest(digest, account, "en")
    sections = [b["text"]["text"] for b in rendered.blocks if b["type"] == "section"]
    assert "*1.0 &lt;beta&gt;*" in sections[1]
    # Header blocks are plain_text: Slack shows them verbatim, so no escaping there.
    assert rendered.blocks[0]["text"]["text"] == "📊 Müller & <Söhne> — digest"
    assert rendered.messages[0].text.startswith("*📊 Müller &amp; &lt;Söhne&gt; — digest*\n\n")


@pytest.mark.parametrize(
    ("ratio", "bar"),
    [
        (0, "░░░░░░░░░░"),
        (Fraction(1, 20), "░░░░░░░░░░"),  # half a cell is not a cell (rounded down)
        (Fraction(199, 200), "▓▓▓▓▓▓▓▓▓░"),  # 99.5 %: full only when complete
        (Decimal("0.52"), "▓▓▓▓▓░░░░░"),
        (1, "▓▓▓▓▓▓▓▓▓▓"),
        (Decimal("1.125"), "▓▓▓▓▓▓▓▓▓▓"),  # overspent: full, never longer
    ],
)
def test_progress_bar(ratio, bar) -> None:
    assert progress_bar(ratio) == bar


def test_overspent_and_no_burn_lines() -> None:
    account = make_account()
    over = budget_status(
        account,
        Audience.INTERNAL,
        [
            make_issue(
                1, worklogs=(log(f"{PROJECT}-1", dt.datetime(2026, 11, 2, 9, tzinfo=UTC), 90),)
            )
        ],
        NOW,
    )
    assert render_budget(over, account, "en").text == (
        "Budget · November 2026\n"
        "▓▓▓▓▓▓▓▓▓▓ 112%\n"  # 112.5 % rounded down
        "90 h of 80 h used · 10 h over budget\n"
        "€8,550.00 of €7,600.00 · €950.00 over budget\n"
        "Pace: 6 h per working day (15 of 21 working days)\n"
        "The budget is used up.\n"
        "By the period end about 46 h (€4,370.00) would be missing.\n"  # 90 + 6 × 6 h − 80 h, × €95
        "⚠️ 100% threshold crossed · cc @U0BUDGET\n"
    )
    idle = budget_status(account, Audience.CLIENT, [], NOW)
    assert render_budget(idle, account, "de").text == (
        "Budget · November 2026\n"
        f"░░░░░░░░░░ 0{NBSP}%\n"
        "0 h von 80 h verbraucht · 80 h übrig\n"
        "Tempo: 0 h pro Arbeitstag (15 von 21 Arbeitstagen)\n"
        "Noch keine Stunden erfasst: keine Prognose.\n"
    )
    assert render_budget(None, account, "en").text == "Budget\nNo budget is set for this account.\n"


def test_section_renderers_render_only_their_section() -> None:
    issues, versions = small_inputs()
    account = make_account()
    milestones = render_milestones(
        milestones_section(account, Audience.CLIENT, issues, versions, NOW, SINCE), account, "en"
    )
    assert milestones.text.startswith("Milestones\n• 1.0 — due Dec 1, 2026")
    assert "Budget" not in milestones.text and "Deadlines" not in milestones.text
    assert milestones.blocks[0]["type"] == "section"
    deadlines = render_deadlines(
        deadlines_section(account, Audience.CLIENT, issues, NOW), account, "en"
    )
    assert deadlines.text == (
        "Deadlines (next 14 days)\n"
        "🔴 SAMPLEPROJECT-1 Checkout fails for <script> & co · due Nov 20, 2026 · "
        "2 days overdue · Ann\n"
        "• SAMPLEPROJECT-2 Newsletter template · due Nov 25, 2026 · in 3 days · unassigned\n"
        "\n"
        "Waiting for you\n"
        "• SAMPLEPROJECT-4 Approve copy for landing page · Waiting for customer\n"
    )
    assert [b["type"] for b in deadlines.blocks] == ["section", "divider", "section"]


def test_empty_sections_say_so() -> None:
    account = make_account(budget=None)
    digest = build_digest(account, Audience.CLIENT, [], [], NOW, SINCE)
    assert render_digest(digest, account, "en").text == (
        "📊 ACME Shop — digest\n"
        "Changes since Nov 15, 2026 · as of Nov 22, 2026\n"
        "\n"
        "Milestones\nNo open milestones.\n"
        "\n"
        "Deadlines (next 14 days)\nNothing overdue or due soon.\n"
        "\n"
        "Waiting for you\nNothing is waiting for you.\n"
        "\n"
        "New since the last digest\nNone.\n"
        "\n"
        "Done since the last digest\nNone.\n"
    )


def test_russian_digest_renders() -> None:
    text = render_digest(small_digest(Audience.CLIENT), make_account(), "ru").text
    assert text.startswith("📊 ACME Shop — сводка\n")
    assert "Сроки (следующие 14 дней)" in text
    assert "просрочено на 2 дня" in text
    assert "ноябрь 2026" in text


# --- a huge digest must fit Slack's limits and lose nothing ----------------------------------

KEY = re.compile(r"SAMPLEPROJECT-\d+\b")


def huge_digest_rendered(language: str):
    summary = "Migrate product import & <legacy> feed for the autumn campaign landing pages " * 2
    issues = [
        make_issue(
            n,
            summary=f"{summary}#{n}",
            due=dt.date(2026, 11, 1) + dt.timedelta(days=n % 30),
            assignee="Ann",
        )
        for n in range(1, 401)
    ]
    account = make_account(language=language)
    digest = build_digest(account, Audience.CLIENT, issues, [], NOW, SINCE)
    assert len(digest.deadlines.items) == 400
    return render_digest(digest, account, jira_url="https://acme.atlassian.net")


@pytest.mark.parametrize("language", ["en", "de"])
def test_huge_digest_is_split_within_slack_limits(language: str) -> None:
    rendered = huge_digest_rendered(language)
    assert len(rendered.messages) > 1
    assert rendered.messages[0].blocks[0]["type"] == "header"
    for message in rendered.messages:
        assert 0 < len(message.blocks) <= MAX_BLOCKS
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
            assert block["type"] in {"header", "context", "section", "divider"}
        assert message.blocks[-1]["type"] != "divider"
        # Slack asks for messages well below ~12 k characters: blocks and fallback share that.
        block_chars = sum(len(b["text"]["text"]) for b in message.blocks if b["type"] == "section")
        assert block_chars <= MAX_MESSAGE_CHARS <= 6000
        assert len(message.text) <= 6000
        assert message.text  # a fallback for notifications in every message
    # Continuation messages repeat the section title.
    continued = translate(
        language,
        "section.continued",
        title="*" + translate(language, "deadlines.title", count=14) + "*",
    )
    assert rendered.messages[1].blocks[0]["text"]["text"].startswith(continued)


def test_huge_digest_loses_no_issue_and_repeats_none() -> None:
    rendered = huge_digest_rendered("en")
    in_blocks = Counter(
        key
        for message in rendered.messages
        for block in message.blocks
        if block["type"] == "section"
        for key in KEY.findall(block["text"]["text"])
    )
    # Each key appears twice per line in blocks: the link target and the link label.
    assert in_blocks == Counter({f"SAMPLEPROJECT-{n}": 2 for n in range(1, 401)})
    in_text = Counter(KEY.findall(rendered.text))
    assert in_text == Counter({f"SAMPLEPROJECT-{n}": 1 for n in range(1, 401)})
    # Order is kept across messages: overdue (1 Nov + n%30 < 22 Nov) first, then by date.
    order = [k for m in rendered.messages for k in dict.fromkeys(KEY.findall(m.text))]
    assert order[:2] == ["SAMPLEPROJECT-30", "SAMPLEPROJECT-60"]  # due 1 Nov
    assert len(order) == 400


@pytest.mark.parametrize(
    ("language", "days", "text"),
    [
        ("en", 0, "today"),
        ("en", 1, "in 1 day"),
        ("en", -1, "1 day overdue"),
        ("de", 3, "in 3 Tagen"),
        ("de", -2, "2 Tage überfällig"),
        ("ru", 1, "через 1 день"),
        ("ru", 3, "через 3 дня"),
        ("ru", 5, "через 5 дней"),
        ("ru", -21, "просрочено на 21 день"),
        ("fr", 2, "in 2 days"),  # unknown language: English
    ],
)
def test_days_left_plurals(language: str, days: int, text: str) -> None:
    assert format_days_left(days, language) == text


def test_hours_spent_before_the_first_working_day_read_too_early_not_no_hours() -> None:
    # Sunday 1 Nov 2026, 3 h logged over the weekend: no pace yet, but hours were spent.
    account = make_account()
    now = dt.datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    issues = [make_issue(1, worklogs=(log(f"{PROJECT}-1", dt.datetime(2026, 11, 1, 8, tzinfo=UTC), 3),))]
    text = render_budget(budget_status(account, Audience.INTERNAL, issues, now), account, "en").text
    assert "3 h of 80 h used" in text
    assert "Too early for a forecast: no working day of the period has passed yet." in text
    assert "No hours spent yet" not in text


def test_a_digest_without_a_previous_one_names_its_window_and_leaves_out_empty_versions() -> None:
    issues, versions = small_inputs()
    first = build_digest(make_account(), Audience.INTERNAL, issues, versions, NOW, None)
    text = render_digest(first, make_account(), "en").text
    assert "New in the last 7 days\n" in text and "Done in the last 7 days\n" in text
    assert "Released in the last 7 days\n" in text
    assert "since the last digest" not in text
    assert "2.0" not in text and "0/0" not in text  # version 2.0 has no issues
    german = render_digest(first, make_account(), "de").text
    assert "Neu in den letzten 7 Tagen\n" in german and "seit dem letzten Überblick" not in german
    russian = render_digest(first, make_account(), "ru").text
    assert "Новое за последние 7 дней\n" in russian
    # With a previous digest the titles say so.
    later = render_digest(small_digest(Audience.INTERNAL), make_account(), "en").text
    assert "New since the last digest\n" in later and "in the last 7 days" not in later
