"""App Home benchmark: 40 accounts' health snapshots, then the Home rendered and published.

Run: `.venv/bin/python -m benchmarks.home` (or `make bench`). Options: `--accounts 40`,
`--issues 200`, `--rounds 30`.

What it measures (one process; the fakes are loopback HTTP servers in threads of it):
1. **Snapshot build**: `PortfolioService.refresh_due()` for every account through the real
   atlassian-python-api client against `sandbox.atlassian_server.FakeAtlassian` (the digest
   benchmark's data): wall time, the bot's CPU, and Jira HTTP calls per account refresh
   (the fake's call log), against the digest's own minimum (a search page per 100 issues, the
   worklog pages of issues with more than a search embeds, one versions call per project).
2. **Home open**: for `--rounds` rounds, what `app_home_opened` does after the role lookup:
   read the snapshots from the store, render the view (mine and all, 40 accounts), and
   `views.publish` through slack_sdk's AsyncWebClient to `sandbox.slack_server.FakeSlack`.
   Median and 95th percentile per phase; Jira calls during the rounds (must be 0).
Target (issue 14): views.publish within 1 s for 40 accounts, i.e. the whole open under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.digest import NOW, build_accounts, build_seed, project_key

TARGET_OPEN_S = 1.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(args: argparse.Namespace, jira_fake: Any, slack: Any, db: Path) -> dict[str, Any]:
    from bot.domain.access import Role
    from bot.domain.accounts import AccountsConfig
    from bot.domain.links import SiteLinks
    from bot.domain.portfolio import Scope
    from bot.render.portfolio import HomeState
    from bot.services.digests import DigestService
    from bot.services.portfolio import PortfolioHome, PortfolioService
    from integrations.jira import AtlassianJira
    from integrations.slack import make_web_client
    from integrations.store.store import Store
    from tests.fakes.slack import InMemorySlack

    accounts = AccountsConfig(accounts=build_accounts(args.accounts))
    store = Store.open(f"sqlite:///{db}", migrate=True)
    jira = AtlassianJira(jira_fake.url, user="bench@agency.example", api_token="bench")
    digests = DigestService(jira=jira, slack=InMemorySlack(), store=store, clock=lambda: NOW)
    portfolio = PortfolioService(accounts=accounts, digests=digests, store=store, clock=lambda: NOW)
    home = PortfolioHome(portfolio, digests, SiteLinks(jira="https://jira.example"))
    client = make_web_client(slack.token, slack.api_url)
    try:
        cpu, wall = _cpu(), time.perf_counter()
        refreshed = await portfolio.refresh_due()
        build = {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu, "refreshed": refreshed,
                 "jira_calls": len(jira_fake.calls)}

        # The budget owner of account 0 ("mine": one account) and a manager looking at all.
        user = "U0BUDGET00"
        phases: dict[str, list[float]] = {"read+render mine": [], "read+render all": [], "views.publish": [], "open": []}
        blocks = 0
        for _ in range(args.rounds):
            for scope in (Scope.MINE, Scope.ALL):
                start = time.perf_counter()
                view = await home.view(user, Role.MEMBER, "en", HomeState(scope))
                rendered = time.perf_counter()
                await client.views_publish(user_id=user, view=view)
                done = time.perf_counter()
                phases[f"read+render {scope.value}"].append(rendered - start)
                phases["views.publish"].append(done - rendered)
                phases["open"].append(done - start)
                blocks = max(blocks, len(view["blocks"]))
        return {"build": build, "phases": phases, "blocks": blocks,
                "open_jira_calls": len(jira_fake.calls) - build["jira_calls"]}
    finally:
        digests.close()
        jira.close()
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--issues", type=int, default=200, help="issues per account's project")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    from integrations.jira import expected_fetch_calls
    from sandbox.atlassian_server import FakeAtlassian
    from sandbox.slack_server import FakeSlack

    seed = build_seed(args.accounts, args.issues)
    minimum = {}
    for p in range(args.accounts):
        key = project_key(p)
        mine = [i for i in seed.issues if i["key"].startswith(key + "-")]
        minimum[key] = expected_fetch_calls(len(mine), [len(seed.worklogs.get(i["key"], [])) for i in mine]) + 1
    print(f"home benchmark: {args.accounts} accounts x {args.issues} issues, {args.rounds} rounds of Home opens "
          "(mine and all)")
    with tempfile.TemporaryDirectory() as tmp, FakeAtlassian(seed) as jira_fake, FakeSlack() as slack:
        result = asyncio.run(_run(args, jira_fake, slack, Path(tmp) / "pulse.db"))
        published = len(slack.calls_to("views.publish"))
        failed_publish = [c for c in slack.calls_to("views.publish") if not c.ok]

    build = result["build"]
    build_calls = build["jira_calls"]
    total_min = sum(minimum.values())
    print(f"\nsnapshot build: {build['refreshed']} accounts refreshed in {build['wall_s']:.2f} s wall, "
          f"{build['cpu_s']:.2f} s bot+fake CPU ({build['wall_s'] / max(1, build['refreshed']) * 1000:.0f} ms per account)")
    print(f"Jira calls for the refresh: {build_calls} = {build_calls / args.accounts:.2f} per account refresh; "
          f"the digest's minimum {total_min} ({total_min / args.accounts:.2f} per account); "
          f"ratio {build_calls / total_min:.2f} x")
    print(f"\n{'phase':<18} {'rounds':>6} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'p95/target':>10}")
    for name, values in result["phases"].items():
        print(f"{name:<18} {len(values):>6} {statistics.median(values) * 1000:>9.1f} {_pct(values, 0.95) * 1000:>7.1f} "
              f"{max(values) * 1000:>7.1f} {_pct(values, 0.95) / TARGET_OPEN_S:>10.3f}")
    print(f"largest view: {result['blocks']} blocks (Home limit 100); views.publish calls {published}, "
          f"refused {len(failed_publish)}; Jira calls during the opens: {result['open_jira_calls']}")
    p95 = _pct(result["phases"]["open"], 0.95)
    checks = [
        (p95 <= TARGET_OPEN_S, f"Home open (read snapshots + render + views.publish) p95 {p95 * 1000:.0f} ms "
                               f"(target <= {TARGET_OPEN_S * 1000:.0f} ms, ratio {p95 / TARGET_OPEN_S:.3f})"),
        (result["open_jira_calls"] == 0, "no Jira call while the Home opens"),
        (not failed_publish and result["blocks"] <= 100, "every view accepted, within 100 blocks"),
    ]
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'} {text}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
