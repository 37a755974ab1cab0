"""`pulse demo`'s handover part: ACME's account manager goes on holiday today for two weeks; a
colleague covers. Shows the cover's DM (the summary) and the one line the client channel gets."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.domain.access import Role
from bot.domain.roles import today_at
from bot.services.commands import Asker, CommandService
from bot.services.handover_steps import HandoverSteps

LEAVER, COVER, LEAD = "U0ACMEAM01", "U0ACMEAM02", "U0ACMELEAD"


def run_handover_demo(commands: CommandService, steps: HandoverSteps, slack_fake: Any, now: dt.datetime,
                      echo: Callable[[str], None]) -> None:
    account = steps.accounts.by_key("acme-shop")
    assert account is not None
    for user, name in ((LEAVER, "Anna Schmidt"), (COVER, "Ben Weber"), (LEAD, "Lena Lead")):
        slack_fake.add_user(user, name=name)
    internal = next(c for c in account.channels if c.audience.value == "internal")
    client = next(c for c in account.channels if c.audience.value == "client")
    today = today_at(account, now)
    period = f"{today.isoformat()}..{(today + dt.timedelta(days=13)).isoformat()}"

    async def run() -> str:
        asker = Asker(LEAD, internal.id, Role.MEMBER, home_team=slack_fake.team_id)
        reply = await commands.run(f"handover <@{LEAVER}|anna> <@{COVER}|ben> {period} account acme-shop", asker)
        await steps.settle()
        return reply.text

    echo("\n— Handover: /pulse handover in #acme-shop-intern —\n" + asyncio.run(run()))
    for args in slack_fake.posted(slack_fake.dm_channel(COVER)):
        echo(f"\nDM to the cover (<@{COVER}>):\n{args['text']}")
    for args in slack_fake.posted(client.id)[-1:]:
        if "Ben Weber" in args["text"]:
            echo(f"\nThe client channel {client.name or client.id}:\n{args['text']}")
