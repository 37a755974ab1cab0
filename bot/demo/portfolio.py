"""`pulse demo`'s portfolio part: the sandbox agency's overview, as the digests just left it in the
snapshots, and one budget burn-up chart written as PNG."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from bot.app import Runtime
from bot.domain.accounts import Audience
from bot.domain.digest import default_since
from bot.domain.portfolio import Scope, select
from bot.render.portfolio import render_overview
from bot.services.charts import burn_up_png

_MRKDWN = re.compile(r"[*_]")


def show_portfolio(runtime: Runtime, now: dt.datetime, echo: Callable[[str], None], chart: Path) -> None:
    """Print the portfolio overview (from the snapshots the digest runs refreshed: no Jira call)
    and write the first account's internal burn-up to `chart`."""
    assert runtime.portfolio is not None and runtime.digests is not None
    healths, pending = runtime.portfolio.healths()
    overview = render_overview(select(healths, Scope.ALL), Scope.ALL, "en", pending=len(pending))
    echo("\n━━ Portfolio (App Home and /pulse accounts all; from the snapshots the digests refreshed) ━━")
    echo(_MRKDWN.sub("", overview.text))
    account = runtime.accounts.accounts[0]
    data = asyncio.run(runtime.digests.fetch(account, now, default_since(now, None)))
    image = burn_up_png(account, Audience.INTERNAL, data.issues, now)
    if image is not None:
        chart.write_bytes(image)
        echo(f"\nBudget burn-up of {account.name} (internal view) written to {chart} ({len(image):,} bytes).")
