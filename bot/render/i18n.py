"""Message catalogs (en, de, ru) and locale-aware formatting of numbers, money and dates.

A message is a ``str.format`` template, or a dict of CLDR plural forms chosen by its ``count``
parameter. Unknown languages fall back to English; every catalog must have the same ids and
placeholders (a test checks).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from bot.render.catalog.handover import HANDOVER
from bot.render.catalog.notifications import NOTIFICATIONS
from bot.render.catalog.portfolio import PORTFOLIO
from bot.render.catalog.replies import REPLIES
from bot.render.catalog.support import SUPPORT

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "de", "ru")

Message = str | dict[str, str]

MESSAGES: dict[str, dict[str, Message]] = {
    "en": {
        "slack.paused": "Posting to Slack was paused from {since} to {until}: Slack refused the bot's token. "
        "Nothing was lost; the notifications held back meanwhile follow now.",
        "channel.shared_internal": "⚠️ {channel} ({account}) is configured `audience: internal`, but Slack says it is "
        "shared with another organization (Slack Connect). From now on it gets only the client view (nothing internal), until an admin fixes it: "
        "remove the other organization from the channel, or set it to `audience: client` in the accounts file "
        "and restart the bot.",
        "digest.status_page": "Status page in Confluence",
        "command.jira_not_found": "I cannot answer from Jira: it does not know this account's projects or query ({scope}). "
        "Jira said: {detail}\nAn agency admin should check the account's `jira:` settings in the accounts file; "
        "`pulse doctor` checks every account.",
        "command.jira_forbidden": "I cannot answer from Jira: the bot's Jira user may not read this account's projects "
        "or query ({scope}). Jira said: {detail}\nAn agency admin should give that user access to the projects "
        "(or check JIRA_USER and JIRA_API_TOKEN); `pulse doctor` checks every account.",
        "command.unanswerable": "I cannot answer this right now. The agency team has been told.",
        "status.title": "{account} — at a glance",
        "status.as_of": "As of {today}",
        "status.budget": "Budget: {percent} used · {remaining} h left",
        "status.budget_over": "Budget: {percent} used · {over} h over budget",
        "status.budget_spent": "Budget: {spent} h spent",
        "status.budget_none": "Budget: none set",
        "status.money_left": "{money} left",
        "status.money_over": "{money} over",
        "status.runs_out": "runs out on {date}",
        "status.milestone": "Next milestone: {name} — {when} · {done}/{total} done",
        "status.milestone_none": "Next milestone: none open",
        "status.overdue": {"one": "Overdue: {count} issue", "other": "Overdue: {count} issues"},
        "status.waiting_you": {"one": "Waiting for you: {count} issue", "other": "Waiting for you: {count} issues"},
        "status.waiting_client": {
            "one": "Waiting for the client: {count} issue",
            "other": "Waiting for the client: {count} issues",
        },
        "status.more_digest": "The full digest: {command}",
        "status.more_sections": "More: {commands}",
        "digest.jira_not_found": "The digest cannot be built: Jira does not know this account's projects or query "
        "({scope}). Jira said: {detail}\nAn agency admin should check the account's `jira:` settings in the accounts "
        "file; `pulse doctor` checks every account.",
        "digest.jira_forbidden": "The digest cannot be built: the bot's Jira user may not read this account's projects "
        "or query ({scope}). Jira said: {detail}\nAn agency admin should give that user access to the projects "
        "(or check JIRA_USER and JIRA_API_TOKEN); `pulse doctor` checks every account.",
        "command.jira_unavailable": "Jira is not answering right now, so I cannot give you correct numbers. Please try again in a few minutes.",
        "digest.delayed": "The digest is delayed: Jira has been unavailable since {since}. "
        "It will be posted once Jira answers again — no partial numbers in the meantime.",
        "digest.title": "{account} — digest",
        "digest.context": "Changes since {since} · as of {today}",
        "digest.client_hidden": "🔒 not in the client view",
        "section.continued": "{title} (continued)",
        "budget.title": "Budget",
        "budget.period": "{start} – {end}",
        "budget.used": "{spent} h of {budget} h used · {remaining} h left",
        "budget.overspent": "{spent} h of {budget} h used · {over} h over budget",
        "budget.spent_only": "{spent} h spent",
        "budget.money": "{spent} of {budget} · {remaining} left",
        "budget.money_over": "{spent} of {budget} · {over} over budget",
        "budget.money_spent_only": "{spent} spent",
        "budget.burn": "Pace: {burn} h per working day ({elapsed} of {total} working days)",
        "budget.forecast.date": "At this pace the budget runs out on {date}.",
        "budget.forecast.left_at_end": "At this pace about {hours} h will be left at the period end.",
        "budget.forecast.left_at_end_money": "At this pace about {hours} h ({money}) will be left at the period end.",
        "budget.forecast.missing_at_end": "By the period end about {hours} h would be missing.",
        "budget.forecast.missing_at_end_money": "By the period end about {hours} h ({money}) would be missing.",
        "changes.created_window": {"one": "New in the last {count} day", "other": "New in the last {count} days"},
        "changes.resolved_window": {"one": "Done in the last {count} day", "other": "Done in the last {count} days"},
        "milestones.released_window": {"one": "Released in the last {count} day", "other": "Released in the last {count} days"},
        "budget.forecast.exhausted": "The budget is used up.",
        "budget.forecast.too_early": "Too early for a forecast: no working day of the period has passed yet.",
        "budget.forecast.no_burn": "No hours spent yet: no forecast.",
        "budget.threshold": "{percent} threshold crossed",
        "budget.mention": "cc {mention}",
        "budget.none": "No budget is set for this account.",
        "milestones.title": "Milestones",
        "milestones.none": "No open milestones.",
        "milestones.released": "Released since the last digest",
        "milestone.due": "due {date}",
        "milestone.undated": "no release date",
        "milestone.issues": "{done}/{total} issues done",
        "milestone.estimate": "{percent} of the estimate",
        "milestone.risk.overdue": "overdue",
        "milestone.risk.pace": "at risk",
        "deadlines.title": {
            "one": "Deadlines (next {count} day)",
            "other": "Deadlines (next {count} days)",
        },
        "deadlines.none": "Nothing overdue or due soon.",
        "deadline.due": "due {date}",
        "deadline.unassigned": "unassigned",
        "waiting.title": "Waiting for you",
        "waiting.none": "Nothing is waiting for you.",
        "changes.created": "New since the last digest",
        "changes.resolved": "Done since the last digest",
        "changes.none": "None.",
        "days.today": "today",
        "days.left": {"one": "in {count} day", "other": "in {count} days"},
        "days.overdue": {"one": "{count} day overdue", "other": "{count} days overdue"},
    },
    "de": {
        "slack.paused": "Das Posten in Slack war von {since} bis {until} angehalten: Slack hat das Token des Bots abgelehnt. "
        "Nichts ging verloren; die zurückgehaltenen Benachrichtigungen folgen jetzt.",
        "channel.shared_internal": "⚠️ {channel} ({account}) ist als `audience: internal` eingerichtet, aber laut Slack "
        "ist er mit einer anderen Organisation geteilt (Slack Connect). Ab jetzt bekommt er nur noch die Kundenansicht (nichts Internes), bis ein Admin das behebt: "
        "die andere Organisation aus dem Channel entfernen oder ihn in der Kontendatei auf `audience: client` "
        "setzen und den Bot neu starten.",
        "digest.status_page": "Statusseite in Confluence",
        "command.jira_not_found": "Ich kann nicht aus Jira antworten: Jira kennt die Projekte oder die Abfrage dieses "
        "Kunden nicht ({scope}). Jira meldet: {detail}\nEin Agentur-Admin sollte die `jira:`-Einstellungen des "
        "Kunden in der Accounts-Datei prüfen; `pulse doctor` prüft alle Kunden.",
        "command.jira_forbidden": "Ich kann nicht aus Jira antworten: Der Jira-Benutzer des Bots darf die Projekte "
        "oder die Abfrage dieses Kunden nicht lesen ({scope}). Jira meldet: {detail}\nEin Agentur-Admin sollte "
        "diesem Benutzer Zugriff geben (oder JIRA_USER und JIRA_API_TOKEN prüfen); `pulse doctor` prüft alle Kunden.",
        "command.unanswerable": "Ich kann das gerade nicht beantworten. Das Agentur-Team ist informiert.",
        "status.title": "{account} — auf einen Blick",
        "status.as_of": "Stand {today}",
        "status.budget": "Budget: {percent} verbraucht · {remaining} h übrig",
        "status.budget_over": "Budget: {percent} verbraucht · {over} h über Budget",
        "status.budget_spent": "Budget: {spent} h verbraucht",
        "status.budget_none": "Budget: keines hinterlegt",
        "status.money_left": "{money} übrig",
        "status.money_over": "{money} über Budget",
        "status.runs_out": "aufgebraucht am {date}",
        "status.milestone": "Nächster Meilenstein: {name} — {when} · {done}/{total} erledigt",
        "status.milestone_none": "Nächster Meilenstein: keiner offen",
        "status.overdue": {"one": "Überfällig: {count} Vorgang", "other": "Überfällig: {count} Vorgänge"},
        "status.waiting_you": {"one": "Wartet auf Sie: {count} Vorgang", "other": "Wartet auf Sie: {count} Vorgänge"},
        "status.waiting_client": {
            "one": "Wartet auf den Kunden: {count} Vorgang",
            "other": "Wartet auf den Kunden: {count} Vorgänge",
        },
        "status.more_digest": "Der ganze Überblick: {command}",
        "status.more_sections": "Mehr: {commands}",
        "digest.jira_not_found": "Der Überblick kann nicht erstellt werden: Jira kennt die Projekte oder die Abfrage "
        "dieses Kunden nicht ({scope}). Jira meldet: {detail}\nEin Agentur-Admin sollte die `jira:`-Einstellungen des "
        "Kunden in der Accounts-Datei prüfen; `pulse doctor` prüft alle Kunden.",
        "digest.jira_forbidden": "Der Überblick kann nicht erstellt werden: Der Jira-Benutzer des Bots darf die "
        "Projekte oder die Abfrage dieses Kunden nicht lesen ({scope}). Jira meldet: {detail}\nEin Agentur-Admin "
        "sollte diesem Benutzer Zugriff geben (oder JIRA_USER und JIRA_API_TOKEN prüfen); `pulse doctor` prüft alle Kunden.",
        "command.jira_unavailable": "Jira antwortet gerade nicht, daher kann ich keine korrekten Zahlen liefern. Bitte versuchen Sie es in ein paar Minuten erneut.",
        "digest.delayed": "Der Digest verspätet sich: Jira ist seit {since} nicht erreichbar. "
        "Er folgt, sobald Jira wieder antwortet — bis dahin keine unvollständigen Zahlen.",
        "digest.title": "{account} — Überblick",
        "digest.context": "Änderungen seit {since} · Stand {today}",
        "digest.client_hidden": "🔒 nicht in der Kundenansicht",
        "section.continued": "{title} (Fortsetzung)",
        "budget.title": "Budget",
        "budget.period": "{start} – {end}",
        "budget.used": "{spent} h von {budget} h verbraucht · {remaining} h übrig",
        "budget.overspent": "{spent} h von {budget} h verbraucht · {over} h über Budget",
        "budget.spent_only": "{spent} h verbraucht",
        "budget.money": "{spent} von {budget} · {remaining} übrig",
        "budget.money_over": "{spent} von {budget} · {over} über Budget",
        "budget.money_spent_only": "{spent} verbraucht",
        "budget.burn": "Tempo: {burn} h pro Arbeitstag ({elapsed} von {total} Arbeitstagen)",
        "budget.forecast.date": "In diesem Tempo ist das Budget am {date} aufgebraucht.",
        "budget.forecast.left_at_end": "In diesem Tempo bleiben am Periodenende etwa {hours} h übrig.",
        "budget.forecast.left_at_end_money": "In diesem Tempo bleiben am Periodenende etwa {hours} h ({money}) übrig.",
        "budget.forecast.missing_at_end": "Bis zum Periodenende fehlen dann etwa {hours} h.",
        "budget.forecast.missing_at_end_money": "Bis zum Periodenende fehlen dann etwa {hours} h ({money}).",
        "changes.created_window": {"one": "Neu seit {count} Tag", "other": "Neu in den letzten {count} Tagen"},
        "changes.resolved_window": {"one": "Erledigt seit {count} Tag", "other": "Erledigt in den letzten {count} Tagen"},
        "milestones.released_window": {
            "one": "Veröffentlicht seit {count} Tag", "other": "Veröffentlicht in den letzten {count} Tagen",
        },
        "budget.forecast.exhausted": "Das Budget ist aufgebraucht.",
        "budget.forecast.too_early": "Für eine Prognose ist es zu früh: Es ist noch kein Arbeitstag der Periode vergangen.",
        "budget.forecast.no_burn": "Noch keine Stunden erfasst: keine Prognose.",
        "budget.threshold": "Schwelle {percent} überschritten",
        "budget.mention": "cc {mention}",
        "budget.none": "Für diesen Kunden ist kein Budget hinterlegt.",
        "milestones.title": "Meilensteine",
        "milestones.none": "Keine offenen Meilensteine.",
        "milestones.released": "Seit dem letzten Überblick veröffentlicht",
        "milestone.due": "fällig am {date}",
        "milestone.undated": "kein Veröffentlichungsdatum",
        "milestone.issues": "{done}/{total} Vorgänge erledigt",
        "milestone.estimate": "{percent} der Schätzung",
        "milestone.risk.overdue": "überfällig",
        "milestone.risk.pace": "gefährdet",
        "deadlines.title": {
            "one": "Fristen (nächster {count} Tag)",
            "other": "Fristen (nächste {count} Tage)",
        },
        "deadlines.none": "Nichts überfällig oder bald fällig.",
        "deadline.due": "fällig am {date}",
        "deadline.unassigned": "nicht zugewiesen",
        "waiting.title": "Wartet auf Sie",
        "waiting.none": "Nichts wartet auf Sie.",
        "changes.created": "Neu seit dem letzten Überblick",
        "changes.resolved": "Erledigt seit dem letzten Überblick",
        "changes.none": "Keine.",
        "days.today": "heute",
        "days.left": {"one": "in {count} Tag", "other": "in {count} Tagen"},
        "days.overdue": {"one": "{count} Tag überfällig", "other": "{count} Tage überfällig"},
    },
    "ru": {
        "slack.paused": "Публикация в Slack была приостановлена с {since} до {until}: Slack отклонил токен бота. "
        "Ничего не потеряно; задержанные уведомления публикуются сейчас.",
        "channel.shared_internal": "⚠️ Канал {channel} ({account}) настроен как `audience: internal`, но по данным Slack "
        "он открыт для другой организации (Slack Connect). Теперь он получает только клиентское представление (ничего внутреннего), пока администратор "
        "не исправит это: уберите другую организацию из канала или укажите `audience: client` в файле клиентов "
        "и перезапустите бота.",
        "digest.status_page": "Страница статуса в Confluence",
        "command.jira_not_found": "Не могу ответить по данным Jira: она не знает проекты или запрос этого клиента "
        "({scope}). Ответ Jira: {detail}\nАдминистратору агентства стоит проверить настройки `jira:` этого клиента "
        "в файле аккаунтов; `pulse doctor` проверяет все аккаунты.",
        "command.jira_forbidden": "Не могу ответить по данным Jira: пользователю Jira, под которым работает бот, "
        "нельзя читать проекты или запрос этого клиента ({scope}). Ответ Jira: {detail}\nАдминистратору агентства "
        "стоит выдать ему доступ (или проверить JIRA_USER и JIRA_API_TOKEN); `pulse doctor` проверяет все аккаунты.",
        "command.unanswerable": "Сейчас не могу ответить. Команда агентства уже в курсе.",
        "status.title": "{account} — коротко",
        "status.as_of": "На {today}",
        "status.budget": "Бюджет: израсходовано {percent} · осталось {remaining} ч",
        "status.budget_over": "Бюджет: израсходовано {percent} · перерасход {over} ч",
        "status.budget_spent": "Бюджет: израсходовано {spent} ч",
        "status.budget_none": "Бюджет: не задан",
        "status.money_left": "осталось {money}",
        "status.money_over": "перерасход {money}",
        "status.runs_out": "закончится {date}",
        "status.milestone": "Ближайшая веха: {name} — {when} · готово {done}/{total}",
        "status.milestone_none": "Ближайшая веха: открытых нет",
        "status.overdue": {"one": "Просрочено: {count} задача", "few": "Просрочено: {count} задачи",
                           "many": "Просрочено: {count} задач", "other": "Просрочено: {count} задачи"},
        "status.waiting_you": {"one": "Ждёт вашего ответа: {count} задача", "few": "Ждут вашего ответа: {count} задачи",
                               "many": "Ждут вашего ответа: {count} задач", "other": "Ждут вашего ответа: {count} задачи"},
        "status.waiting_client": {"one": "Ждёт ответа клиента: {count} задача", "few": "Ждут ответа клиента: {count} задачи",
                                  "many": "Ждут ответа клиента: {count} задач", "other": "Ждут ответа клиента: {count} задачи"},
        "status.more_digest": "Полная сводка: {command}",
        "status.more_sections": "Подробнее: {commands}",
        "digest.jira_not_found": "Сводку не собрать: Jira не знает проекты или запрос этого клиента ({scope}). "
        "Ответ Jira: {detail}\nАдминистратору агентства стоит проверить настройки `jira:` этого клиента в файле "
        "аккаунтов; `pulse doctor` проверяет все аккаунты.",
        "digest.jira_forbidden": "Сводку не собрать: пользователю Jira, под которым работает бот, нельзя читать "
        "проекты или запрос этого клиента ({scope}). Ответ Jira: {detail}\nАдминистратору агентства стоит выдать "
        "ему доступ (или проверить JIRA_USER и JIRA_API_TOKEN); `pulse doctor` проверяет все аккаунты.",
        "command.jira_unavailable": "Jira сейчас не отвечает, поэтому я не могу дать точные цифры. Попробуйте ещё раз через несколько минут.",
        "digest.delayed": "Дайджест задерживается: Jira недоступна с {since}. "
        "Он будет опубликован, как только Jira снова ответит, — без неполных цифр.",
        "digest.title": "{account} — сводка",
        "digest.context": "Изменения с {since} · на {today}",
        "digest.client_hidden": "🔒 клиенту не видно",
        "section.continued": "{title} (продолжение)",
        "budget.title": "Бюджет",
        "budget.period": "{start} – {end}",
        "budget.used": "израсходовано {spent} ч из {budget} ч · осталось {remaining} ч",
        "budget.overspent": "израсходовано {spent} ч из {budget} ч · перерасход {over} ч",
        "budget.spent_only": "израсходовано {spent} ч",
        "budget.money": "{spent} из {budget} · осталось {remaining}",
        "budget.money_over": "{spent} из {budget} · перерасход {over}",
        "budget.money_spent_only": "израсходовано {spent}",
        "budget.burn": "Темп: {burn} ч в рабочий день (рабочих дней: {elapsed} из {total})",
        "budget.forecast.date": "При таком темпе бюджет закончится: {date}",
        "budget.forecast.left_at_end": "При таком темпе к концу периода останется около {hours} ч.",
        "budget.forecast.left_at_end_money": "При таком темпе к концу периода останется около {hours} ч ({money}).",
        "budget.forecast.missing_at_end": "К концу периода не хватит около {hours} ч.",
        "budget.forecast.missing_at_end_money": "К концу периода не хватит около {hours} ч ({money}).",
        "changes.created_window": {"one": "Новое за последний {count} день", "few": "Новое за последние {count} дня",
                                   "many": "Новое за последние {count} дней", "other": "Новое за последние {count} дня"},
        "changes.resolved_window": {"one": "Сделано за последний {count} день", "few": "Сделано за последние {count} дня",
                                    "many": "Сделано за последние {count} дней", "other": "Сделано за последние {count} дня"},
        "milestones.released_window": {"one": "Выпущено за последний {count} день",
                                       "few": "Выпущено за последние {count} дня",
                                       "many": "Выпущено за последние {count} дней",
                                       "other": "Выпущено за последние {count} дня"},
        "budget.forecast.exhausted": "Бюджет исчерпан.",
        "budget.forecast.too_early": "Для прогноза ещё рано: ни один рабочий день периода ещё не прошёл.",
        "budget.forecast.no_burn": "Часов ещё не списано: прогноза нет.",
        "budget.threshold": "превышен порог {percent}",
        "budget.mention": "cc {mention}",
        "budget.none": "Для этого клиента бюджет не задан.",
        "milestones.title": "Вехи",
        "milestones.none": "Нет открытых вех.",
        "milestones.released": "Выпущено с прошлой сводки",
        "milestone.due": "срок {date}",
        "milestone.undated": "без даты выпуска",
        "milestone.issues": "готово задач: {done}/{total}",
        "milestone.estimate": "{percent} оценки",
        "milestone.risk.overdue": "просрочено",
        "milestone.risk.pace": "под угрозой",
        "deadlines.title": {
            "one": "Сроки (следующий {count} день)",
            "few": "Сроки (следующие {count} дня)",
            "many": "Сроки (следующие {count} дней)",
            "other": "Сроки (следующие {count} дня)",
        },
        "deadlines.none": "Ничего не просрочено и не горит.",
        "deadline.due": "срок {date}",
        "deadline.unassigned": "без исполнителя",
        "waiting.title": "Ждёт вашего ответа",
        "waiting.none": "Ничего не ждёт вашего ответа.",
        "changes.created": "Новое с прошлой сводки",
        "changes.resolved": "Сделано с прошлой сводки",
        "changes.none": "Нет.",
        "days.today": "сегодня",
        "days.left": {
            "one": "через {count} день",
            "few": "через {count} дня",
            "many": "через {count} дней",
            "other": "через {count} дня",
        },
        "days.overdue": {
            "one": "просрочено на {count} день",
            "few": "просрочено на {count} дня",
            "many": "просрочено на {count} дней",
            "other": "просрочено на {count} дня",
        },
    },
}


def _merge(*parts: dict[str, dict[str, Message]]) -> None:
    # The catalog is kept in parts by area; an id defined twice would silently win or lose.
    for part in parts:
        for language, messages in part.items():
            twice = MESSAGES[language].keys() & messages.keys()
            if twice:
                raise ValueError(f"message ids defined twice in the catalog: {sorted(twice)}")
            MESSAGES[language].update(messages)


_merge(REPLIES, NOTIFICATIONS, PORTFOLIO)
_merge(HANDOVER)
_merge(SUPPORT)


def language_of_locale(locale: str | None) -> str:
    """Our language for a Slack locale ("de-DE" → "de", "ru-RU" → "ru"); English for others and none."""
    return language_or_default((locale or "").replace("_", "-").split("-")[0].lower() or None)


def language_or_default(language: str | None) -> str:
    """The language if we have a catalog for it, else English."""
    return language if language in MESSAGES else DEFAULT_LANGUAGE


def translate(language: str, message_id: str, **params: object) -> str:
    """The message in ``language`` (English if missing), plural form chosen by ``count``."""
    language = language_or_default(language)
    message = MESSAGES[language].get(message_id) or MESSAGES[DEFAULT_LANGUAGE][message_id]
    if isinstance(message, dict):
        count = params.get("count", 0)
        form = Locale.parse(language).plural_form(abs(int(count)))  # type: ignore[call-overload]
        message = message.get(form) or message["other"]
    return message.format(**params)


def format_hours(hours: Decimal, language: str) -> str:
    """Hours with at most two decimals: 41.5, 80, 3.46 (locale separators)."""
    return format_decimal(hours, format="#,##0.##", locale=language_or_default(language))


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """An amount in its currency, the locale's way: €1,234.50 / 1.234,50 €."""
    return format_currency(amount, currency, locale=language_or_default(language))


def format_percent_value(percent: Decimal | Fraction | int, language: str) -> str:
    """A percentage given as 0–100+ (52.9 → '52 %' in de), rounded down to a whole number.

    Down, so that a shown value never claims a threshold or completion the exact one has not
    reached: 99.5 % used is "99 %", with 0.5 h left; 80 % appears exactly when the 80 % alert does.
    """
    value = (
        Decimal(percent)
        if not isinstance(percent, Fraction)
        else (Decimal(percent.numerator) / Decimal(percent.denominator))
    )
    whole = value.quantize(Decimal(1), rounding=ROUND_FLOOR)
    return format_percent(whole / 100, locale=language_or_default(language))


def format_day(day: dt.date, language: str) -> str:
    """A date in the locale's medium style: Nov 22, 2026 / 22.11.2026."""
    return format_date(day, format="medium", locale=language_or_default(language))


def format_month(day: dt.date, language: str) -> str:
    """The month and year of a date, standalone form: November 2026 / ноябрь 2026."""
    return format_date(day, format="LLLL yyyy", locale=language_or_default(language))


def format_days_left(days_left: int, language: str) -> str:
    """'today', 'in 3 days' or '2 days overdue'."""
    if days_left == 0:
        return translate(language, "days.today")
    if days_left > 0:
        return translate(language, "days.left", count=days_left)
    return translate(language, "days.overdue", count=-days_left)
