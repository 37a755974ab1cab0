"""Support benchmark: how long from a client's request to the key in the thread ("within seconds").

Run: `.venv/bin/python -m benchmarks.support` (or `make bench`). Options: `--requests 30`,
`--latency 0.25` (seconds the fake Jira adds to every call; Jira Cloud's create often takes that).

Each round files one emergency the way a mention does (`SupportService.open_request` with the
urgency given): store the request, search Jira for its label, create the issue, record the key,
post the answer in the thread. Against the sandbox's fake Jira on loopback through the real
atlassian-python-api client (with `--latency` per call), a SQLite store and a counting in-memory
Slack. Printed: every round's time, p50/p95/max, Jira calls per request (target: 2, the label
search and the create) and the ratio of p95 to the 3 s target.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.domain.access import Role
from bot.domain.accounts import Urgency
from bot.domain.links import SiteLinks
from bot.services.exactly_once import OncePoster
from bot.services.support import SupportService
from integrations.jira import AtlassianJira
from integrations.store.store import Store
from sandbox.agency import sandbox_accounts
from sandbox.atlassian_server import FakeAtlassian
from tests.fakes.slack import InMemorySlack

TARGET_S = 3.0  # "answers in the thread … within seconds"
CALLS_PER_REQUEST = 2


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.25)
    args = parser.parse_args()
    accounts = sandbox_accounts()
    account = accounts.by_key("acme-shop")
    assert account is not None
    channel = account.channels[0]
    with tempfile.TemporaryDirectory() as tmp, FakeAtlassian(latency=args.latency) as fake:
        fake.open_projects.add("SUP")
        store = Store.open(f"sqlite:///{Path(tmp) / 'pulse.db'}", migrate=True)
        jira = AtlassianJira(fake.url, user="bench@agency.example", api_token="bench")
        slack = InMemorySlack()
        now = dt.datetime.now(dt.timezone.utc)
        service = SupportService(
            accounts=accounts, store=store, jira=jira, slack=slack, clock=lambda: now, links=SiteLinks(jira=fake.url),
            poster=OncePoster(store, slack, lambda: now, "bench", dt.timedelta(minutes=2)),
        )

        async def rounds() -> list[float]:
            times = []
            for i in range(args.requests):
                ts = f"{int(now.timestamp())}.{i:06d}"
                start = time.perf_counter()
                await service.open_request(account, channel, user_id="U0CLIENT01", role=Role.EXTERNAL, text=f"Ausfall {i}",
                                           source_ts=ts, thread_ts=ts, urgency=Urgency.EMERGENCY)
                times.append(time.perf_counter() - start)
                assert any(m["thread_ts"] == ts and "SUP-" in m["text"] for m in slack.messages), "no key in the thread"
            return times

        fake.reset_calls()
        times = asyncio.run(rounds())
        calls = fake.call_count(prefix="/rest/api/")
        jira.close()
        store.close()
    for i, t in enumerate(times, 1):
        print(f"round {i:3d}: {t * 1000:7.1f} ms")
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
    per_request = calls / len(times)
    print(f"\n{len(times)} requests, Jira latency {args.latency * 1000:.0f} ms per call: p50 {statistics.median(times) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms (target {TARGET_S:.0f} s: p95 ratio {p95 / TARGET_S:.3f})")
    print(f"Jira calls per request: {per_request:.2f} (target {CALLS_PER_REQUEST}: ratio {per_request / CALLS_PER_REQUEST:.2f})")
    ok = p95 <= TARGET_S and per_request <= CALLS_PER_REQUEST
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
