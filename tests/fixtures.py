"""Loaders for the real third-party payloads in tests/payloads/ (origins and licences: its SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Copied byte for byte into the repository so that a plain clone runs its tests (nothing is read
# from outside the repository).
PAYLOADS = Path(__file__).resolve().parent / "payloads"


def real_payload(relpath: str) -> Any:
    """Parsed JSON of one third-party payload, by its path under tests/payloads."""
    return json.loads((PAYLOADS / relpath).read_text(encoding="utf-8"))


def real_payload_bytes(relpath: str) -> bytes:
    """Raw bytes of one third-party payload (for signing exactly what is sent)."""
    return (PAYLOADS / relpath).read_bytes()
