"""Loaders for the real third-party payloads in ../shared/fixtures (see its SOURCES.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _find_shared() -> Path:
    # CI clones the repo with shared/ beside it; PULSE_SHARED_FIXTURES overrides for other layouts.
    override = os.environ.get("PULSE_SHARED_FIXTURES")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures"
        if candidate.is_dir():
            return candidate
    raise RuntimeError(
        "shared/fixtures not found beside the repository; set PULSE_SHARED_FIXTURES to its path"
    )


SHARED_FIXTURES = _find_shared()


def shared_fixture(relpath: str) -> Any:
    """Parsed JSON of one shared fixture file, by its path under shared/fixtures."""
    return json.loads((SHARED_FIXTURES / relpath).read_text(encoding="utf-8"))


def shared_fixture_bytes(relpath: str) -> bytes:
    """Raw bytes of one shared fixture file (for signing exactly what is sent)."""
    return (SHARED_FIXTURES / relpath).read_bytes()
