"""What listeners need from the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.commands import CommandService
from bot.services.directory import Directory


@dataclass
class ListenerDeps:
    commands: CommandService
    directory: Directory
