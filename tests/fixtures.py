"""Loaders for the real third-party payloads in ../shared/fixtures (see its SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def shared_fixture(relpath: str) -> Any:
    """Parsed JSON of one shared fixture file, by its path under shared/fixtures."""
    return json.loads((SHARED_FIXTURES / relpath).read_text(encoding="utf-8"))


def shared_fixture_bytes(relpath: str) -> bytes:
    """Raw bytes of one shared fixture file (for signing exactly what is sent)."""
    return (SHARED_FIXTURES / relpath).read_bytes()
