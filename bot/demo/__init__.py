"""`pulse demo`: a tour of the bot on the sandbox agency (tour.py), one part per feature.

Everything here runs against loopback fakes only; nothing in the product imports it."""

from bot.demo.tour import run_demo

__all__ = ["run_demo"]
