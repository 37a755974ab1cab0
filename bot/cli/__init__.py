"""The `pulse` command line (the console script points at `bot.cli:main`)."""

from bot.cli.main import main

__all__ = ["main"]
