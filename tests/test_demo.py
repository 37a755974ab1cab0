"""`pulse demo` runs the real digest and webhook paths against the loopback fakes and prints every channel."""

import datetime as dt

import pytest

from bot.demo import run_demo

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    return tmp_path_factory.mktemp("demo") / "burn-up.png"


@pytest.fixture(scope="module")
def lines(chart) -> list[str]:
    printed: list[str] = []
    run_demo(printed.append, now=NOW, chart=chart)  # once for this module: it starts servers and posts everything
    return printed


def test_demo_prints_the_portfolio_from_the_snapshots_and_writes_a_chart(lines, chart):
    out = "\n".join(lines)
    section = out[out.index("━━ Portfolio"):out.index("━━ Jira webhooks")]
    assert section.count("🔴") + section.count("🟡") + section.count("🟢") == 3  # every sandbox account, judged
    assert "ACME Shop GmbH ⭐" in section and "not assessed" not in section
    assert chart.read_bytes().startswith(b"\x89PNG") and f"written to {chart}" in section


def test_demo_posts_and_prints_every_channels_digest(lines):
    out = "\n".join(lines)
    for header in ("#acme-shop · ACME Shop GmbH · audience: client", "#acme-shop-intern · ACME Shop GmbH · audience: internal",
                   "#northwind · Northwind Traders · audience: client", "#globex-team · Globex Corporation · audience: internal"):
        assert f"━━ {header} ━━" in out
    assert "📊 ACME Shop GmbH — Überblick" in out  # German account
    assert "📊 Northwind Traders — digest" in out
    posted = next(line for line in lines if "digest message(s) posted" in line)
    messages = int(posted.split()[0])
    assert messages >= 6  # one digest per linked channel at least (long ones continue in threads)
    assert "@Account Pulse help for a Slack Connect client:" in out
    assert "• `@Account Pulse fristen` — Fällige und überfällige Vorgänge" in out


def test_demo_turns_signed_webhooks_into_notifications_by_audience(lines):
    out = "\n".join(lines)
    section = out[out.index("━━ Jira webhooks → notifications ━━"):out.index("/pulse help for an agency")]
    assert "POSTed to /webhooks/jira: HTTP 202, 202, 202, 202" in section
    client = section[section.index("#acme-shop (client):"):section.index("#acme-shop-intern (internal):")]
    internal = section[section.index("#acme-shop-intern (internal):"):]
    for channel in (client, internal):
        assert "Status In Progress → In Review" in channel
        assert "Der Fix ist auf Staging" in channel  # the public comment, in the thread
    # The comment restricted to the Developers role, and the budget, only for the agency.
    assert "Ursache: abgelaufene PayPal-Sandbox-Keys" in internal and "Ursache" not in client
    assert "Budget" not in client
    assert "(worker: 4 done" in section


def test_demo_shows_a_handover_the_covers_dm_and_the_client_line(lines):
    out = "\n".join(lines)
    section = out[out.index("— Handover"):out.index("━━ Jira webhooks")]
    assert "Übergabe #1 gespeichert: <@U0ACMEAM02> vertritt <@U0ACMEAM01> vom 23.11.2026 bis 06.12.2026" in section
    dm = section[section.index("DM to the cover"):section.index("The client channel")]
    assert "🧳 *Übergabe #1 · ACME Shop GmbH*" in dm and "Rollen, die übergehen: Budget." in dm
    assert "The client channel #acme-shop:\nBis 06.12.2026 ist Ben Weber Ihre Ansprechperson für Budget." in section
    assert "U0ACMEAM0" not in section.split("The client channel #acme-shop:")[1]  # a name only, no id


def test_demo_shows_a_client_filing_an_emergency_and_a_task_the_keys_and_the_internal_ping(lines):
    """Issue #13's proof: a Slack Connect client of ACME files an emergency and a task in the
    sandbox agency; the keys are answered in the threads, the support person gets the emergency
    by DM, and the internal channel is pinged when the task nears its first-response target."""
    out = "\n".join(lines)
    section = out[out.index("━━ Support requests"):out.index("/pulse help for an agency")]
    answers = [line for line in section.splitlines() if "in thread" in line and "ist angelegt als" in line]
    assert len(answers) == 2 and "SUP-1|SUP-1> ist angelegt als *Notfall*" in answers[0]
    assert "SUP-2|SUP-2> ist angelegt als *Aufgabe*" in answers[1]
    assert "Jira SUP-1: Der Checkout ist down" in section and "(priority Highest, component ACME)" in section
    assert "Jira SUP-2: Bitte das Impressum aktualisieren. (priority Medium, component ACME)" in section
    assert "DM to U0ACMESUP1: 🚨 Notfall von ACME Shop GmbH" in section
    [ping] = [line for line in section.splitlines() if "⏰" in line]
    assert "#acme-shop-intern" in ping and "SUP-2" in ping and "75\xa0%" in ping and "<@U0ACMESUP1>" in ping
