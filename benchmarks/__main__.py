"""`python -m benchmarks` (`make bench`): run every benchmark module in turn, each in its own process."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 1200  # per benchmark; they take about a minute each


def main() -> int:
    """Run `python -m benchmarks.<name>` for each module here; non-zero if any of them failed."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    failed = []
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        # A process each: peak memory and imports of one benchmark do not leak into the next.
        try:
            code = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], timeout=TIMEOUT_S, check=False).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if code != 0:
            failed.append(f"{name} ({code})")
    print(f"\nbenchmarks: {len(names) - len(failed)}/{len(names)} ok" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
