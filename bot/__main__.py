"""`python -m bot` runs the CLI (the `pulse` console script points at bot.cli:main)."""

from bot.cli import main

main(prog_name="pulse")
