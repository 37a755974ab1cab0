"""`/pulse status` is a glance (one screen: budget, next milestone, overdue, waiting, where the
whole is); `/pulse digest` stays the whole. The client view holds for the glance too."""

import datetime as dt

import pytest

from bot.app import build_commands
from bot.domain.access import Role
from bot.domain.accounts import Audience
from bot.domain.digest import build_digest
from bot.render.digest import render_status
from bot.services.commands import Asker
from bot.services.digests import DigestService
from sandbox.agency import build_sandbox
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
SANDBOX = build_sandbox(NOW)
JIRA = InMemoryJira.from_seed(SANDBOX.seed)


@pytest.fixture
def commands():
    digests = DigestService(jira=JIRA, slack=InMemorySlack(), store=None, clock=lambda: NOW)
    yield build_commands(SANDBOX.accounts, digests, None, lambda: NOW)
    digests.close()


def _digest(key: str, audience: Audience):
    account = SANDBOX.accounts.by_key(key)
    return account, build_digest(account, audience, JIRA.issues, JIRA.versions, NOW)


def test_the_glance_is_one_line_each_and_says_where_the_whole_is():
    account, digest = _digest("northwind", Audience.INTERNAL)
    rendered = render_status(digest, account, "The full digest: `/pulse digest`")
    assert len(rendered.messages) == 1
    lines = rendered.text.strip().splitlines()
    assert lines[:2] == ["📊 Northwind Traders — at a glance", "As of Nov 20, 2026"]
    body = lines[-5:]
    assert body[0].startswith("Budget: ") and " h left" in body[0] and "$" in body[0]
    assert body[1].startswith("Next milestone: Phase 2 — due Dec 2, 2026 (in 12 days) · ")
    assert body[2] == f"Overdue: {digest.deadlines.overdue_count} issues"
    assert body[3] == f"Waiting for the client: {digest.deadlines.waiting_for_client} issues"
    assert body[4] == "The full digest: `/pulse digest`"


def test_a_client_glance_counts_only_client_visible_facts_and_shows_no_money_unless_allowed():
    account, internal = _digest("acme-shop", Audience.INTERNAL)
    _, client = _digest("acme-shop", Audience.CLIENT)
    text = render_status(client, account, "Mehr: …").text
    assert "€" not in text  # ACME does not show money to the client
    assert "€" in render_status(internal, account, "…").text
    assert f"Wartet auf Sie: {client.deadlines.waiting_for_client} Vorgänge" in text
    # Withheld issues are not counted for the client.
    assert client.deadlines.waiting_for_client < internal.deadlines.waiting_for_client
    assert client.deadlines.waiting_for_client == len(client.deadlines.waiting)


def test_russian_glance_uses_plural_forms():
    account, digest = _digest("northwind", Audience.INTERNAL)
    text = render_status(digest, account, "…", language="ru").text
    assert "Ближайшая веха: Phase 2" in text
    count = digest.deadlines.overdue_count
    form = {1: "задача", 2: "задачи", 3: "задачи", 4: "задачи"}.get(count % 10 if count % 100 not in (11, 12, 13, 14) else 0, "задач")
    assert f"Просрочено: {count} {form}\n" in text


async def test_status_is_a_glance_and_digest_the_whole(commands):
    status = await commands.run("status", Asker("U0MEMBER01", "C0NWINTERN", Role.MEMBER))
    digest = await commands.run("digest", Asker("U0MEMBER01", "C0NWINTERN", Role.MEMBER))
    assert "at a glance" in status.text and status.more == ()
    assert len(status.blocks) <= 5 < len(digest.blocks)
    assert status.text.rstrip().endswith("The full digest: `/pulse digest`")
    assert "Northwind Traders — digest" in digest.text and "Milestones" in digest.text


async def test_a_slack_connect_client_is_pointed_to_what_it_may_ask(commands):
    mention = await commands.run("status", Asker("U0CLIENT01", "C0ACMECLNT", Role.EXTERNAL, via_mention=True))
    assert mention.text.rstrip().endswith(
        "Mehr: `@Account Pulse budget`, `@Account Pulse meilensteine`, `@Account Pulse fristen`")
    assert "€" not in mention.text and "/pulse digest" not in mention.text
