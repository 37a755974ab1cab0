"""`pulse demo` runs the real digest path against the loopback fakes and prints every channel."""

import datetime as dt

from bot.demo import run_demo

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone.utc)


def test_demo_posts_and_prints_every_channels_digest():
    lines: list[str] = []
    run_demo(lines.append, now=NOW)
    out = "\n".join(lines)
    for header in ("#acme-shop · ACME Shop GmbH · audience: client", "#acme-shop-intern · ACME Shop GmbH · audience: internal",
                   "#northwind · Northwind Traders · audience: client", "#globex-team · Globex Corporation · audience: internal"):
        assert f"━━ {header} ━━" in out
    assert "📊 ACME Shop GmbH — Überblick" in out  # German account
    assert "📊 Northwind Traders — digest" in out
    posted = next(line for line in lines if "Slack message(s) posted" in line)
    messages = int(posted.split()[0])
    assert messages >= 6  # one digest per linked channel at least (long ones continue in threads)
    assert "@Account Pulse help for a Slack Connect client:" in out
