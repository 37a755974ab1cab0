"""`pulse serve` (with its test faults, tests/serve_with_faults.py) as a subprocess that the crash
tests start again and again on the same store, SIGKILL and read the logs of."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path


class ServeProcess:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.proc: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def start(self, **extra: str) -> float:
        """Start it (`extra`: more environment, e.g. a fault); when, by the monotonic clock."""
        log = self.cwd / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.serve_with_faults"], env={**self.env, **extra}, cwd=self.cwd,
                stdout=subprocess.DEVNULL, stderr=stderr,
            )
        return time.monotonic()

    def kill(self) -> None:
        """SIGKILL it, unless something else did already; either way it must have died of SIGKILL."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL, self.tail()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def tail(self) -> str:
        return self.logs[-1].read_text()[-3000:] if self.logs else ""

    def events(self) -> list[dict]:
        lines = []
        for log in self.logs:
            lines += [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return lines
