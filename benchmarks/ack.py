"""Slack acknowledgement latency: `/pulse …` under load against a bare endpoint, in the same run.

    python -m benchmarks.ack [--requests 200] [--concurrency 20] [--rounds 5]

Signed `/pulse help` and `/pulse subscribe list` slash commands (the body derived from bolt-python's
captured one) are POSTed over loopback HTTP, `--concurrency` at a time, to `/slack/events` of the
app `pulse serve` runs (built by the same composition root, start-up included, in its own process;
the answers go to `response_url` on a fake Slack in a third process), and to a bare Starlette
endpoint that only reads the body and answers 200 (the floor). Rounds alternate bare, pulse,
bare, pulse…; every round prints both sides' p50 and p99 and the ratio of the p99s.
Target: the median round's p99 <= 100 ms, and <= 3x the bare p99.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.parse

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.loopback import post_one_after_another, serve_and_report_port
from bot.domain.signatures import slack_signature

SIGNING_SECRET = "bench-signing-secret"
HOME = "T0AGENCY1"
USER = "U0MEMBER01"
CHANNEL = "C0ACMEINTL"  # the sandbox agency's ACME internal channel
TARGET_P99_MS = 100.0
TARGET_RATIO = 3.0


def _quiet() -> None:
    # As in production: INFO, JSON (to /dev/null here).
    from bot.logs import configure_logging

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging("INFO", json=True)


def _fake_slack(pipe) -> None:
    """Child process: the fake Slack Web API and response_url endpoint (remote in production)."""
    from sandbox.slack_server import FakeSlack

    _quiet()
    from sandbox.agency import sandbox_accounts

    with FakeSlack(team_id=HOME) as fake:
        fake.add_user(USER)
        fake.add_channels_of(sandbox_accounts())  # the internal channel is not shared: internal answers
        pipe.send((fake.api_url, fake.token, fake.response_url("bench")))
        pipe.recv()  # until the parent says stop


def _pulse(slack_api_url: str, token: str, pipe) -> None:
    """Child process: the app as `pulse serve` builds and runs it (lifespan on, no scheduler)."""

    from bot.app import build_runtime, serving_app
    from bot.settings import Settings
    from sandbox.agency import sandbox_accounts

    _quiet()
    tmp = tempfile.mkdtemp()
    settings = Settings(
        slack={"bot_token": token, "signing_secret": SIGNING_SECRET, "api_url": slack_api_url},
        # Never called by these commands; the scheduler (the only start-up caller) is off.
        jira={"url": "http://127.0.0.1:9", "user": "bench", "api_token": "bench"},
        database_url=f"sqlite:///{tmp}/pulse.db",
        scheduler_enabled=False,
    )
    from integrations.store.store import Store

    Store.open(settings.database_url, migrate=True).close()
    runtime = build_runtime(settings, accounts=sandbox_accounts())
    serve_and_report_port(serving_app(runtime), pipe, lifespan="on")


def _bare(pipe) -> None:
    """Child process: the floor, a Starlette endpoint that reads the body and answers 200."""

    async def slack_events(request):
        await request.body()
        return Response(status_code=200)

    _quiet()
    serve_and_report_port(Starlette(routes=[Route("/slack/events", slack_events, methods=["POST"])]), pipe, lifespan="off")


class Child:
    """A target function in a spawned process; `__enter__` returns what it sends first."""

    def __init__(self, target, *args) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.parent, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(*args, child), daemon=True)

    def __enter__(self):
        self.process.start()
        if not self.parent.poll(60):
            raise SystemExit(f"{self.process.name} did not start")
        return self.parent.recv()

    def __exit__(self, *exc) -> None:
        try:
            self.parent.send("stop")
        except OSError:
            pass
        self.process.terminate()
        self.process.join(timeout=10)


def signed_commands(n: int, response_url: str) -> list[tuple[bytes, dict]]:
    """`n` signed `/pulse help` / `/pulse subscribe list` bodies, fresh timestamps."""
    from tests.slack_requests import slash_command

    out = []
    ts = str(int(time.time()))
    for i in range(n):
        body = slash_command("help" if i % 2 else "subscribe list", user_id=USER, channel_id=CHANNEL, team_id=HOME,
                             response_url=response_url).encode()
        out.append((body, {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": slack_signature(SIGNING_SECRET, ts, body),
            "Content-Type": "application/x-www-form-urlencoded",
        }))
    return out


async def blast(base_url: str, requests: list, concurrency: int) -> list[float]:
    """Latency of each request (seconds), `concurrency` connections at a time; all must be 200."""
    host, port = urllib.parse.urlsplit(base_url).hostname, urllib.parse.urlsplit(base_url).port
    work = list(reversed(requests))
    latencies: list[float] = []
    bad = sum(await asyncio.gather(*(post_one_after_another(host, port, "/slack/events", work, 200, latencies)
                                   for _ in range(concurrency))))
    if bad:
        raise SystemExit(f"{bad} requests were not answered 200")
    return latencies


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def main() -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"Ack latency: {args.requests} signed /pulse commands per round, {args.concurrency} in flight, "
          f"loopback HTTP, {args.rounds} interleaved rounds")
    with Child(_fake_slack) as (api_url, token, response_url):
        with Child(_bare) as bare_port, Child(_pulse, api_url, token) as pulse_port:
            bare_url, pulse_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{pulse_port}"
            for url in (bare_url, pulse_url):  # warm-up: first requests pay for lazy imports and auth.test
                await blast(url, signed_commands(40, response_url), args.concurrency)
            await asyncio.sleep(1.0)  # the warm-up's answers to response_url finish first
            rounds = []
            for n in range(1, args.rounds + 1):
                bare = await blast(bare_url, signed_commands(args.requests, response_url), args.concurrency)
                pulse = await blast(pulse_url, signed_commands(args.requests, response_url), args.concurrency)
                row = (percentile(bare, 50), percentile(bare, 99), percentile(pulse, 50), percentile(pulse, 99))
                rounds.append(row)
                print(f"  round {n}: bare p50 {row[0]:6.1f} ms  p99 {row[1]:6.1f} ms   "
                      f"pulse p50 {row[2]:6.1f} ms  p99 {row[3]:6.1f} ms   p99 ratio {row[3] / row[1]:5.1f}x")
                await asyncio.sleep(0.5)  # let this round's answers to response_url drain
    bare_p99 = statistics.median(r[1] for r in rounds)
    pulse_p99 = statistics.median(r[3] for r in rounds)
    ratio = pulse_p99 / bare_p99
    ok = pulse_p99 <= TARGET_P99_MS and ratio <= TARGET_RATIO
    print(f"  median round: bare p99 {bare_p99:.1f} ms, pulse p99 {pulse_p99:.1f} ms "
          f"(target <= {TARGET_P99_MS:.0f} ms), ratio {ratio:.1f}x (target <= {TARGET_RATIO:.0f}x)")
    print("targets met" if ok else "TARGETS MISSED")
    return ok


if __name__ == "__main__":
    # Non-zero when a target is missed, like the other benchmarks, so `make bench` says so too.
    sys.exit(0 if asyncio.run(main()) else 1)
