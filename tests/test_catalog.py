"""The one catalog of words: every language has every message, with the same placeholders; every
command names catalog words; and what a German or Russian reader gets is not English."""

from __future__ import annotations

import ast
import datetime as dt
import re
import string
from pathlib import Path

import pytest

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
from bot.domain.budget import budget_status
from bot.domain.commands import COMMANDS
from bot.domain.events import (
    ConfluenceEvent,
    EventType,
    JiraEvent,
    LinkFacts,
    Source,
    SprintFacts,
    VersionFacts,
    WorklogFacts,
)
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import Burst
from bot.domain.webhooks import normalize_body
from bot.render.budget_alerts import render_budget_alert
from bot.render.i18n import LANGUAGES, MESSAGES, language_of_locale
from bot.render.notifications import render_burst, render_event, render_thread_parent
from bot.services.commands import Asker, CommandService
from bot.services.digest_commands import register_digest_commands
from bot.services.subscriptions import SUBSCRIBE_COMMANDS, register_subscribe_commands
from tests.fixtures import PAYLOADS

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
ROOT = Path(__file__).resolve().parents[1]


def _placeholders(message) -> set[str]:
    texts = message.values() if isinstance(message, dict) else [message]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_ids_and_placeholders() -> None:
    english = MESSAGES["en"]
    assert set(MESSAGES) == set(LANGUAGES)
    for language, catalog in MESSAGES.items():
        assert catalog.keys() == english.keys(), language
        for message_id, message in catalog.items():
            assert _placeholders(message) == _placeholders(english[message_id]), (
                language,
                message_id,
            )
            if isinstance(message, dict):
                assert "other" in message, (language, message_id)


def _product_table() -> tuple:
    commands = CommandService(AccountsConfig(accounts=[]))
    register_digest_commands(commands, service=None, clock=lambda: None)  # type: ignore[arg-type]
    register_subscribe_commands(commands, store=None, accounts=AccountsConfig(accounts=[]), clock=lambda: None)  # type: ignore[arg-type]
    return commands.table


def test_every_command_is_described_and_named_in_every_language() -> None:
    table = _product_table()
    assert {s.name for s in table} >= {s.name for s in COMMANDS + SUBSCRIBE_COMMANDS}
    for spec in table:
        assert spec.summary in MESSAGES["en"], spec.name
        assert not spec.args or spec.args in MESSAGES["en"], spec.name
        for word in spec.path:
            assert f"verb.{word}" in MESSAGES["en"], word
    for language in LANGUAGES:
        words = [MESSAGES[language][f"verb.{w}"] for w in {w for s in table for w in s.path}]
        assert len(words) == len(set(words)), language  # one word, one command


@pytest.mark.parametrize(
    ("locale", "language"),
    [("de-DE", "de"), ("de_AT", "de"), ("ru-RU", "ru"), ("en-GB", "en"), ("fr-FR", "en"), (None, "en"), ("", "en")],
)
def test_a_slack_locale_gives_our_language(locale, language) -> None:
    assert language_of_locale(locale) == language


RU = Account(
    key="ru", name="Север", timezone="Europe/Moscow", language="ru", jira=JiraScope(projects=["RU"]),
    channels=[Channel(id="C0RUCLIENT", audience=Audience.CLIENT)],
)


async def test_a_russian_account_is_answered_in_russian_and_understood_in_russian() -> None:
    commands = CommandService(AccountsConfig(accounts=[RU]))
    client = Asker("U0CLIENT01", "C0RUCLIENT", Role.EXTERNAL, via_mention=True)
    help_ = await commands.run("помощь", client)
    assert help_.text == (
        "Команды Account Pulse, доступные вам здесь:\n"
        "• `@Account Pulse помощь` — Команды, которые вам здесь доступны\n"
        "• `@Account Pulse статус` — К какому клиенту относится этот канал и для кого он"
    )
    status = await commands.run("СТАТУС", client)
    assert status.text == "Этот канал относится к *Север* и предназначен для клиента и агентства."
    typo = await commands.run("статс", client)
    assert typo.text == "Не знаю `статс`. Может быть, `@Account Pulse статус`? Попробуйте `@Account Pulse помощь`."


# --- no English for a German or Russian reader ----------------------------------------------------

_LITERAL = re.compile(r"\{[^}]*\}")


def _english_phrases(language: str) -> set[str]:
    """Phrases of two words or more from the English catalog that the other language does not use."""
    theirs = " ".join(v for m in MESSAGES[language].values() for v in (m.values() if isinstance(m, dict) else [m]))
    phrases = set()
    for message in MESSAGES["en"].values():
        for template in message.values() if isinstance(message, dict) else [message]:
            for piece in _LITERAL.split(template):
                piece = piece.strip(" .,:;()—–·•\n`*“”")
                if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2 and piece not in theirs:
                    phrases.add(piece)
    return phrases


def _events():
    for path in sorted(PAYLOADS.rglob("*.json")):
        if "specs" in path.parts or path.stat().st_size > 200_000:
            continue
        yield from normalize_body(path.read_text(encoding="utf-8", errors="replace")).events


def _bare(type_: EventType):
    """An event of this type with only what its headline needs (some types are in no payload we keep)."""
    if type_.is_confluence:
        return ConfluenceEvent(type=type_, source=Source.CONFLUENCE_CLOUD, webhook_event=type_.value, content_id="1")
    return JiraEvent(
        type=type_, webhook_event=type_.value, project_key="RU", from_value="2026-01-01", to_value="2026-02-01",
        version=VersionFacts(id="1", name="v1", release_date="2026-03-01"),
        sprint=SprintFacts(id="1", name="S1", end="2026-03-01T10:00:00Z"),
        link=LinkFacts(id="1", source_issue_id="1", destination_issue_id="2"),
    )


def _leaks(text: str, phrases: set[str]) -> list[str]:
    return sorted(p for p in phrases if p in text)


@pytest.mark.parametrize("language", ["de", "ru"])
def test_notifications_and_alerts_carry_no_english(language) -> None:
    phrases = _english_phrases(language)
    account = RU.model_copy(update={"language": language})
    links = SiteLinks(jira="https://jira.example", confluence="https://wiki.example")
    events = list(_events())
    assert len(events) > 50  # from every real payload we keep; and one of every type, bare:
    events += [_bare(t) for t in EventType]
    for event in events:
        for audience in Audience:
            message = render_event(event, audience, account, links=links)
            assert _leaks(message.text, phrases) == [], (event.type, message.text)
    burst = Burst(account=account, channel=account.channels[0], events=tuple(events[:30]))
    assert _leaks(render_burst(burst).text, phrases) == []
    thread = render_thread_parent("x", [], "Done", language)
    assert _leaks(thread.text + str(thread.blocks), phrases) == []


@pytest.mark.parametrize("language", ["de", "ru"])
def test_budget_alerts_carry_no_english(language) -> None:
    from tests.test_digest_samples import NOW, make_account, make_issue

    account = make_account(language=language)
    status = budget_status(account, Audience.INTERNAL, [make_issue(1)], NOW)
    assert status is not None
    alert = render_budget_alert(account.name, status, 80, language)
    assert _leaks(alert.text, _english_phrases(language)) == []
    title = {"de": "80 % des Budgets verbraucht", "ru": "израсходовано 80 % бюджета"}[language]
    assert title.replace(" %", "\u00a0%") in alert.text.replace(" %", "\u00a0%")


@pytest.mark.parametrize("language", ["de", "ru"])
async def test_command_replies_carry_no_english(language, sqlite_store) -> None:
    phrases = _english_phrases(language)
    account = RU.model_copy(update={"language": language, "channels": [
        Channel(id="C0RUCLIENT", audience=Audience.CLIENT), Channel(id="C0RUINTERN", audience=Audience.INTERNAL)]})
    accounts = AccountsConfig(accounts=[account])
    commands = CommandService(accounts)
    register_subscribe_commands(commands, sqlite_store, accounts, lambda: NOW)
    verb = {w: MESSAGES[language][f"verb.{w}"] for w in ("help", "subscribe", "list", "add", "remove", "status")}

    async def ask(text, role=Role.ADMIN, channel="C0RUCLIENT", mention=False, locale=None):
        async def user_locale():
            return locale
        return (await commands.run(text, Asker("U0ASKER001", channel, role, via_mention=mention, locale=user_locale))).text

    replies = [
        await ask(verb["help"]), await ask("", Role.EXTERNAL, mention=True), await ask(verb["status"]),
        await ask(verb["status"], channel="C0RUINTERN"), await ask("statsu"), await ask('help "x'),
        await ask(f"{verb['subscribe']} {verb['list']}", Role.EXTERNAL, mention=True),
        await ask(f"{verb['subscribe']} {verb['add']} all", Role.MEMBER),
        await ask(verb["subscribe"]), await ask(f"{verb['subscribe']} {verb['list']}"),
        await ask(f"{verb['subscribe']} {verb['add']} status_chnged"),
        await ask(f"{verb['subscribe']} {verb['add']} status,comment_created issuetype=Bug"),
        await ask(f"{verb['subscribe']} {verb['list']}"),
        await ask(f"{verb['subscribe']} {verb['remove']} x"), await ask(f"{verb['subscribe']} {verb['remove']} 99"),
        await ask(f"{verb['subscribe']} {verb['remove']} 1"), await ask(f"{verb['subscribe']} {verb['remove']} 2"),
        await ask(f"{verb['subscribe']} {verb['add']} all", channel="C0RUINTERN"),
        await ask(verb["status"], channel="D0DIRECT01", locale={"de": "de-DE", "ru": "ru-RU"}[language]),
    ]
    assert sqlite_store.audit.recent()  # the subscription commands did run
    for reply in replies:
        assert _leaks(reply, phrases) == [], reply
    for mention in (replies[1], replies[6]):  # a Slack Connect client is never sent to a slash command
        assert "/pulse" not in mention and f"`@Account Pulse {verb['help']}`" in replies[1], mention


# Modules that build what a person reads in Slack; their words belong in the catalog.
_SPEAKING = [
    *sorted(p for p in (ROOT / "bot" / "render").glob("*.py") if p.name != "i18n.py"),
    ROOT / "bot" / "domain" / "commands.py", ROOT / "bot" / "domain" / "subscriptions.py",
    ROOT / "bot" / "services" / "commands.py", ROOT / "bot" / "services" / "digest_commands.py",
    ROOT / "bot" / "services" / "subscriptions.py", *sorted((ROOT / "bot" / "listeners").glob("*.py")),
]
_PROSE = re.compile(r"[A-Za-z]{2,}[ ,:]+[a-z]{2,} [a-z]{2,}")
_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def _is_log(func: ast.expr) -> bool:
    if isinstance(func, ast.IfExp):  # (log.warning if … else log.error)(…)
        return _is_log(func.body) and _is_log(func.orelse)
    return isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS


def _prose_literals(path) -> list[str]:
    """String literals that read like English sentences: not docstrings, not log lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.Call) and _is_log(node.func):
            skip.update(id(n) for arg in node.args for n in ast.walk(arg))  # the operator's log line
    return [
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        and _PROSE.search(node.value)
    ]


@pytest.mark.parametrize("path", _SPEAKING, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sentence_is_written_outside_the_catalog(path) -> None:
    assert _prose_literals(path) == []


@pytest.mark.parametrize(("language", "hours"), [("en", "1.5 h"), ("de", "1,5 h"), ("ru", "1,5 ч")])
def test_logged_time_is_written_with_the_languages_unit(language, hours) -> None:
    event = JiraEvent(type=EventType.WORKLOG_CREATED, webhook_event="worklog_created", project_key="RU",
                      worklog=WorklogFacts(id="1", seconds=5400))
    account = RU.model_copy(update={"language": language})
    assert f" {hours}" in render_event(event, Audience.INTERNAL, account).text
