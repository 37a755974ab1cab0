"""Digest benchmark: 40 accounts x 1,000 issues through the real digest path against a slow fake Jira.

Run: `.venv/bin/python -m benchmarks.digest` (or `make bench`). Options: `--concurrency 1,4,8`,
`--accounts 40`, `--issues 1000`, `--latency 0.05`.

Layout (so the numbers measure the bot alone):
- the fake Jira (`sandbox.atlassian_server.FakeAtlassian`, 50 ms added per call) runs in its
  own process (multiprocessing, spawn) on 127.0.0.1 and builds its seed there;
- each `jira_concurrency` value runs in a fresh bot subprocess (`--worker`), which posts all
  40 internal-channel digests concurrently via `DigestService.run_slot` (real
  atlassian-python-api client, tests.fakes.slack.InMemorySlack, SQLite store) and reports its wall time, CPU time
  and peak RSS (`ru_maxrss` of that process only);
- the parent reads the fake's call log, groups it by project key and compares it with the
  documented minimum (`expected_fetch_calls` + one versions call per project).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import inspect
import json
import multiprocessing
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# Targets from issue 3 ("Proof").
MAX_CALL_RATIO = 1.1
MAX_WALL_S = 10.0
MAX_RSS_MB = 200.0

NOW = dt.datetime(2026, 11, 18, 9, 0, tzinfo=dt.UTC)
VERSIONS_PER_PROJECT = 3
BIG_WORKLOG_ISSUES = 3  # issues per project with more than the 20 worklogs a search embeds
WORKER_TIMEOUT_S = 300  # bound on one configuration's subprocess

_WORKLOG_RE = re.compile(r"/issue/([A-Z][A-Z0-9_]*)-\d+/worklog")
_VERSIONS_RE = re.compile(r"/project/([A-Z][A-Z0-9_]*)/versions")
_JQL_PROJECT_RE = re.compile(r"project\s*(?:=|in)\s*\(?\s*\"?([A-Z][A-Z0-9_]*)")


# --------------------------------------------------------------------------- data


def project_key(index: int) -> str:
    """Each benchmark account has its own Jira project: P00, P01, …"""
    return f"P{index:02d}"


def build_accounts(count: int) -> list[Any]:
    """`count` accounts, one project each, an internal and a client channel, a monthly budget."""
    from bot.domain.accounts import AccountsConfig

    accounts = []
    for i in range(count):
        accounts.append(
            {
                "key": f"bench-{i:02d}",
                "name": f"Bench Client {i:02d}",
                "language": "de" if i % 2 else "en",
                "timezone": ("Europe/Berlin", "America/New_York", "Europe/London")[i % 3],
                "channels": [
                    {"id": f"C0BENCHI{i:02d}", "audience": "internal", "digest": {"cron": "0 9 * * mon-fri"}},
                    {"id": f"C0BENCHC{i:02d}", "audience": "client", "digest": {"cron": "0 9 * * mon"}},
                ],
                "jira": {"projects": [project_key(i)], "internal_labels": ["internal"]},
                "budget": {"period": "monthly", "hours": 400, "rate": 120, "currency": "EUR"},
                "roles": {"budget": f"U0BUDGET{i:02d}"},
            }
        )
    return AccountsConfig.model_validate({"accounts": accounts}).accounts


def build_seed(accounts: int, issues_per_project: int, now: dt.datetime = NOW) -> Any:
    """Deterministic Jira data: issues, ~3 versions per project, worklogs on about half the issues."""
    from sandbox.atlassian_server import AtlassianSeed, issue_json, user_json, version_json, worklog_json

    rng = random.Random(f"digest-bench-{accounts}-{issues_per_project}")
    people = [user_json(f"712020:bench-{n}", f"Person {n}", f"person{n}@agency.example") for n in range(8)]
    statuses = [("To Do", "new"), ("In Progress", "indeterminate"), ("Waiting for customer", "indeterminate"),
                ("Done", "done")]
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    seed = AtlassianSeed()
    worklog_id = 1_000_000
    for p in range(accounts):
        key, pid = project_key(p), 10000 + p
        versions = [
            version_json(f"{pid}1", "Released", pid, release_date=now.date() - dt.timedelta(days=10), released=True),
            version_json(f"{pid}2", "Next", pid, release_date=now.date() + dt.timedelta(days=6)),
            version_json(f"{pid}3", "Later", pid, release_date=now.date() + dt.timedelta(days=60)),
        ][:VERSIONS_PER_PROJECT]
        seed.versions[key] = versions
        big = set(rng.sample(range(1, issues_per_project + 1), min(BIG_WORKLOG_ISSUES, issues_per_project)))
        for n in range(1, issues_per_project + 1):
            issue_id = str(pid * 10000 + n)
            status, category = statuses[n % len(statuses)]
            created = now - dt.timedelta(days=rng.randint(3, 200), hours=rng.randint(0, 23))
            resolved = created + dt.timedelta(days=rng.randint(1, 3)) if category == "done" else None
            due = now.date() + dt.timedelta(days=rng.randint(-10, 30)) if n % 4 == 0 else None
            assignee = people[n % len(people)] if n % 7 else None
            issue = issue_json(
                issue_id, f"{key}-{n}", f"Bench issue {n} of {key}",
                project_id=str(pid), project_name=f"Project {key}", created=created,
                issue_type=("Task", "Bug", "Story")[n % 3], status=status, status_category=category,
                resolved=resolved, due=due, assignee=assignee, reporter=people[0],
                labels=["internal"] if n % 11 == 0 else [],
                security="Agency only" if n % 97 == 0 else None,
                fix_versions=[versions[n % len(versions)]] if n % 3 else [],
                original_estimate_seconds=rng.randint(1, 16) * 3600 if n % 2 else None,
            )
            count = rng.randint(25, 60) if n in big else (rng.randint(1, 8) if n % 2 == 0 else 0)
            logs = []
            for i in range(count):
                lo = max(created, month_start - dt.timedelta(days=31) if i % 2 else month_start)
                span = max(60, int((now - lo).total_seconds()))
                started = (lo + dt.timedelta(seconds=rng.randrange(span))).replace(second=0, microsecond=0)
                worklog_id += 1
                logs.append(worklog_json(str(worklog_id), issue_id, started, rng.choice((900, 1800, 3600, 7200)),
                                         assignee or people[i % len(people)]))
            logs.sort(key=lambda w: w["started"])
            if logs:
                seed.worklogs[issue["key"]] = logs
                issue["fields"]["timespent"] = sum(w["timeSpentSeconds"] for w in logs)
            seed.issues.append(issue)
    return seed


# --------------------------------------------------------------------------- fake Jira process


def _call_project(call: Any) -> str:
    for pattern, text in ((_WORKLOG_RE, call.path), (_VERSIONS_RE, call.path)):
        m = pattern.search(text)
        if m:
            return m.group(1)
    jql = (call.query.get("jql") or [""])[0] if isinstance(call.query, dict) else ""
    if not jql and isinstance(call.body, dict):
        jql = str(call.body.get("jql") or "")
    m = _JQL_PROJECT_RE.search(jql)
    return m.group(1) if m else "?"


def _call_kind(path: str) -> str:
    if "/search" in path:
        return "search"
    if path.endswith("/versions"):
        return "versions"
    if "/worklog" in path:
        return "worklog"
    return "other"


def _fake_jira_main(conn: Any, accounts: int, issues: int, latency: float) -> None:
    """Serve the seed in this process; answer control messages on `conn` until 'stop'."""
    from sandbox.atlassian_server import FakeAtlassian

    seed = build_seed(accounts, issues)
    shape = {
        key: {"issues": sum(1 for i in seed.issues if i["key"].startswith(key + "-")),
              "worklogs": [len(seed.worklogs.get(i["key"], [])) for i in seed.issues if i["key"].startswith(key + "-")]}
        for key in seed.versions
    }
    with FakeAtlassian(seed, latency=latency) as fake:
        del seed
        conn.send({"url": fake.url, "shape": shape})
        cpu_mark = 0.0
        while True:
            command = conn.recv()
            if command == "stop":
                break
            if command == "reset":
                fake.reset_calls()
                usage = resource.getrusage(resource.RUSAGE_SELF)
                cpu_mark = usage.ru_utime + usage.ru_stime
                conn.send("ok")
            elif command == "calls":
                per: dict[str, Counter] = {}
                for call in fake.calls:
                    per.setdefault(_call_project(call), Counter())[_call_kind(call.path)] += 1
                statuses = Counter(c.status for c in fake.calls)
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send({"per_project": {k: dict(v) for k, v in per.items()}, "statuses": dict(statuses),
                           "cpu_s": usage.ru_utime + usage.ru_stime - cpu_mark})
            elif command == "rss":
                conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# --------------------------------------------------------------------------- bot worker process


async def _run_digests(url: str, accounts: list[Any], concurrency: int, db_path: Path) -> dict[str, Any]:
    from bot.app import Ports, build_digests
    from bot.domain.accounts import AccountsConfig, Audience
    from integrations.jira import AtlassianJira
    from integrations.store.store import Store
    from tests.fakes.slack import InMemorySlack

    store = Store.open(f"sqlite:///{db_path}", migrate=True)
    with AtlassianJira(url, user="bench@agency.example", api_token="bench") as jira:
        # The digest service as the composition root builds it, on the fake Jira and a counting Slack.
        ports = Ports(accounts=AccountsConfig(accounts=accounts), store=store, jira=jira, clock=lambda: NOW,
                      slack=InMemorySlack())
        service = build_digests(ports, jira_concurrency=concurrency, retry_delays=(0.5,))

        async def one(account: Any) -> tuple[str, str, int]:
            channel = next(c for c in account.channels if c.audience is Audience.INTERNAL)
            result = await service.run_slot(account, channel, NOW)
            # Keep only the numbers: a scheduler does not hold 40 digests in memory either.
            return account.jira.projects[0], result.status, result.jira_calls

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu0, t0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(one(a) for a in accounts))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    store.close()
    return {
        "concurrency": concurrency,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "statuses": dict(Counter(s for _, s, _ in results)),
        "bot_calls": {key: calls for key, _, calls in results},
        "messages": len(ports.slack.messages),
    }


def _worker(url: str, accounts: int, concurrency: int) -> None:
    """One configuration in this (fresh) process; prints one JSON line."""
    account_list = build_accounts(accounts)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(_run_digests(url, account_list, concurrency, Path(tmp) / "bench.db"))
    print(json.dumps(result))


def _run_worker(url: str, accounts: int, concurrency: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.digest", "--worker", url, "--accounts", str(accounts),
         "--concurrency", str(concurrency)],
        capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker (concurrency {concurrency}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def _minimum(shape: dict[str, Any]) -> int:
    from integrations.jira import expected_fetch_calls

    return expected_fetch_calls(shape["issues"], shape["worklogs"]) + 1  # + 1 versions call


def _default_concurrency() -> int:
    from bot.services.digests import DigestService

    return int(inspect.signature(DigestService.__init__).parameters["jira_concurrency"].default)


def main(argv: list[str] | None = None) -> int:
    """Run every configuration and print the numbers; 0 when the default configuration meets all targets."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.digest", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", default="1,4,8", help="comma-separated jira_concurrency values")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.accounts, int(args.concurrency))
        return 0

    default = _default_concurrency()
    values = sorted({int(v) for v in args.concurrency.split(",") if v.strip()} | {default})
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_fake_jira_main, args=(child, args.accounts, args.issues, args.latency), daemon=True)
    t_seed = time.perf_counter()
    server.start()
    try:
        if not parent.poll(WORKER_TIMEOUT_S):
            raise RuntimeError("fake Jira did not start")
        hello = parent.recv()
        shape = hello["shape"]
        minimum = {key: _minimum(s) for key, s in shape.items()}
        n_issues = sum(s["issues"] for s in shape.values())
        n_logs = sum(sum(s["worklogs"]) for s in shape.values())
        n_big = sum(1 for s in shape.values() for w in s["worklogs"] if w > 20)
        print(f"digest benchmark: {args.accounts} accounts x {args.issues} issues = {n_issues} issues, "
              f"{n_logs} worklogs ({n_big} issues with > 20), {VERSIONS_PER_PROJECT} versions/project; "
              f"fake Jira in its own process (+{args.latency * 1000:.0f} ms/call, seeded in "
              f"{time.perf_counter() - t_seed:.1f} s); each configuration in a fresh bot process; "
              f"run_slot on each account's internal channel; as of {NOW:%Y-%m-%d %H:%M} UTC")
        rows = []
        for value in values:
            parent.send("reset")
            parent.recv()
            result = _run_worker(hello["url"], args.accounts, value)
            parent.send("calls")
            result["fake"] = parent.recv()
            rows.append(result)
        parent.send("rss")
        server_rss = parent.recv()
        parent.send("stop")
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
            server.join(timeout=5)

    total_min = sum(minimum.values())
    print(f"\n{'conc':>4} {'wall s':>7} {'bot CPU s':>9} {'peak RSS MB':>11} {'RSS pre MB':>10} "
          f"{'Jira CPU s':>10} {'calls':>6} {'min':>6} {'ratio':>6} {'worst acct':>10}  statuses")
    for row in rows:
        per = row["fake"]["per_project"]
        total = sum(sum(c.values()) for c in per.values())
        worst = max((sum(per.get(k, {}).values()) / m for k, m in minimum.items()), default=0.0)
        row["calls"], row["worst"] = total, worst
        mark = " (default)" if row["concurrency"] == default else ""
        print(f"{row['concurrency']:>4} {row['wall_s']:>7.2f} {row['cpu_s']:>9.2f} {row['peak_rss_mb']:>11.1f} "
              f"{row['rss_before_mb']:>10.1f} "
              f"{row['fake']['cpu_s']:>10.2f} {total:>6} {total_min:>6} {total / total_min:>6.3f} {worst:>10.3f}  "
              f"{row['statuses']}{mark}")
    print(f"(fake Jira process peak RSS {server_rss:.0f} MB, not counted; default executor "
          f"threads for asyncio.to_thread on this machine: {min(32, (multiprocessing.cpu_count() or 1) + 4)})")

    base = next(r for r in rows if r["concurrency"] == default)
    per = base["fake"]["per_project"]
    print(f"\nJira calls per account (concurrency {default}; fake's call log grouped by project):")
    print(f"{'project':>7} {'search':>6} {'worklog':>7} {'versions':>8} {'total':>5} {'min':>4} {'ratio':>6} {'bot counted':>11}")
    for key in sorted(minimum):
        c = per.get(key, {})
        total = sum(c.values())
        print(f"{key:>7} {c.get('search', 0):>6} {c.get('worklog', 0):>7} {c.get('versions', 0):>8} {total:>5} "
              f"{minimum[key]:>4} {total / minimum[key]:>6.3f} {base['bot_calls'].get(key, 0):>11}")
    stray = {k: v for k, v in per.items() if k not in minimum}
    if stray:
        print(f"calls not attributable to a project: {stray}")

    best = min(rows, key=lambda r: r["wall_s"])
    print(f"\nbest wall time: concurrency {best['concurrency']} ({best['wall_s']:.2f} s, "
          f"{best['peak_rss_mb']:.0f} MB); verdicts below are for the default (jira_concurrency={default})")
    ok_posted = base["statuses"] == {"posted": args.accounts}
    checks = [
        ("calls", base["worst"] <= MAX_CALL_RATIO and ok_posted,
         f"worst account {base['worst']:.3f} x minimum, total {base['calls']}/{total_min} (target <= {MAX_CALL_RATIO} x)"
         + ("" if ok_posted else f"; not all posted: {base['statuses']}")),
        ("wall", base["wall_s"] <= MAX_WALL_S,
         f"{args.accounts} digests in {base['wall_s']:.2f} s (target <= {MAX_WALL_S:.0f} s)"),
        ("memory", base["peak_rss_mb"] <= MAX_RSS_MB,
         f"bot process peak RSS {base['peak_rss_mb']:.1f} MB (target <= {MAX_RSS_MB:.0f} MB)"),
    ]
    for name, ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {text}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
