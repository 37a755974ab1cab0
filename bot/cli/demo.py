"""`pulse demo`: the bot's main job on the built-in sandbox agency, without credentials."""

from __future__ import annotations

import click


@click.command("demo")
def demo() -> None:
    """Run the bot's main job on the built-in sandbox agency, without any credentials."""
    from pathlib import Path

    from bot.demo import run_demo

    run_demo(click.echo, chart=Path("pulse-demo-burn-up.png"))
