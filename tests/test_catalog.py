"""The one catalog of words: every language has every message, with the same placeholders; every
command names catalog words; and what a German or Russian reader gets is not English."""

from __future__ import annotations

import string

import pytest

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
from bot.domain.commands import COMMANDS
from bot.render.i18n import LANGUAGES, MESSAGES, language_of_locale
from bot.services.commands import Asker, CommandService
from bot.services.digest_commands import register_digest_commands
from bot.services.subscriptions import SUBSCRIBE_COMMANDS, register_subscribe_commands


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
