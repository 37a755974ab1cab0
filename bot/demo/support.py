"""`pulse demo`'s support part: a Slack Connect client of ACME files an emergency and a task in the
sandbox agency; the bot files both in Jira (the sandbox's shared support project SUP, split by
component), answers in the threads, DMs the support person about the emergency, and pings the
internal channel when the task nears its first-response target."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.domain.access import Role
from bot.domain.accounts import Urgency
from bot.domain.support import target
from bot.domain.support_clock import ClockRules, due_at
from bot.services.support import Filer, SupportService

CLIENT_USER, CLIENT_TEAM = "U0CLARA001", "T0ACMECORP"


def run_support_demo(service: SupportService, jira_fake: Any, slack_fake: Any, now: dt.datetime,
                     echo: Callable[[str], None]) -> None:
    """Run the part and print what Slack and Jira got (`jira_fake`/`slack_fake`: the sandbox's stage)."""
    jira_fake.open_projects.add("SUP")
    slack_fake.add_user(CLIENT_USER, team_id=CLIENT_TEAM, name="Clara (ACME)")
    account = service.accounts.by_key("acme-shop")
    assert account is not None and account.support is not None
    for person in service.support_people(account):
        slack_fake.add_user(person)
    client, internal = (next(c for c in account.channels if c.audience.value == audience)
                        for audience in ("client", "internal"))
    stamp = f"{int(now.timestamp())}"

    async def run() -> tuple[int | None, int | None]:
        emergency = await service.open_request(
            account, client, user_id=CLIENT_USER, role=Role.EXTERNAL, urgency=Urgency.EMERGENCY,
            text="Der Checkout ist down – Kunden können nicht bezahlen!",
            source_ts=f"{stamp}.000100", thread_ts=f"{stamp}.000100")
        task = await service.open_request(
            account, client, user_id=CLIENT_USER, role=Role.EXTERNAL, text="Bitte das Impressum aktualisieren.",
            source_ts=f"{stamp}.000200", thread_ts=f"{stamp}.000200")
        question = slack_fake.posted(client.id)[-1]
        task_button = question["blocks"][1]["elements"][1] if isinstance(question.get("blocks"), list) else None
        if task is not None and task_button is not None:
            await service.choose(task_button["value"], "task", Filer(CLIENT_USER, Role.EXTERNAL), client.id, None)
        return emergency, task

    emergency_id, task_id = asyncio.run(run())
    echo("\n━━ Support requests (a Slack Connect client of ACME, in #acme-shop) ━━")
    for message in slack_fake.posted(client.id):
        if str(message.get("thread_ts") or "").startswith(stamp):
            echo(f"  in thread {message['thread_ts']}: {message.get('text', '').splitlines()[0]}")
    for issue in jira_fake.issues_in("SUP"):
        fields = issue["fields"]
        components = ", ".join(c["name"] for c in fields["components"])
        echo(f"  Jira {issue['key']}: {fields['summary']} (priority {fields['priority']['name']}, component {components})")
    for person in service.support_people(account):
        for message in slack_fake.posted(slack_fake.dm_channel(person)):
            echo(f"  DM to {person}: {message.get('text', '')}")
    # Later: the task has used 75 % of its first-response time in business hours.
    request = service.store.support.get(task_id) if task_id is not None else None
    if request is not None:
        rules = ClockRules.for_account(account, Urgency.TASK)
        later = due_at(rules, request.created_at, target(account, Urgency.TASK) * 0.75)
        clock = service.clock
        service.clock = lambda: later or now
        try:
            asyncio.run(service.watch())
        finally:
            service.clock = clock
        for message in slack_fake.posted(internal.id):
            if "⏰" in str(message.get("text")) and f"{request.issue_key}|" in str(message.get("text")):
                echo(f"  {internal.name or internal.id} at {later:%a %H:%M} UTC: {message.get('text')}")
    echo(f"  (requests #{emergency_id} and #{task_id} are in the store; a retry finds their issues by label)")
