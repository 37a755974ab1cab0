"""`/pulse handover` alone: the form (a Slack modal). What it opens with, and what its submission
does: the same checks and the same saving as the one-line command, errors shown on their field.
Service tests on the store and the sandbox Slack (users.info); Bolt tests with signed requests."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from bot.domain.access import Role
from bot.services.commands import Asker
from tests import test_handover, test_slack_app
from tests.slack_requests import signed_headers
from tests.test_handover import ANA, BEN, CEM, CLIENT_USER, DAN, GUEST, HOME
from tests.test_portfolio_home_e2e import FORM, _click, _home_opened, _submission

# The handover tests' fixtures: `slack` (the sandbox Slack with Ana, Ben, Cem, Dan, a client user and a
# guest) and `world` (the handover commands on the store); the Slack app tests' ones: the app as
# `pulse serve` assembles it (example accounts) on the fake Slack.
slack, world = test_handover.slack, test_handover.world
fake, jira, http = test_slack_app.fake, test_slack_app.jira, test_slack_app.http


class Opened:
    """The asker's `open_view`: keeps the views Slack was asked to open."""

    def __init__(self, ok: bool = True):
        self.views: list[dict] = []
        self.ok = ok

    async def __call__(self, view: dict) -> bool:
        self.views.append(view)
        return self.ok


async def _open(world, channel="C0ACINTERN", user=ANA, assigned=None):
    if assigned is not None:
        world.service.assigned = assigned
    opened = Opened()
    asker = Asker(user, channel, Role.MEMBER, home_team=HOME, open_view=opened)
    reply = await world.commands.run("handover", asker)
    return reply.text, opened.views


def _blocks(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def _values(from_user=ANA, to_user=BEN, start="2026-12-21", end="2027-01-06", accounts=(), note=None) -> dict:
    return {
        "from": {"from": {"type": "users_select", "selected_user": from_user}},
        "to": {"to": {"type": "users_select", "selected_user": to_user}},
        "start": {"start": {"type": "datepicker", "selected_date": start}},
        "end": {"end": {"type": "datepicker", "selected_date": end}},
        "accounts": {"accounts": {"type": "multi_static_select",
                                  "selected_options": [{"value": k, "text": {"type": "plain_text", "text": k}} for k in accounts]}},
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }


def _submitted(view: dict, values: dict) -> dict:
    return {**view, "id": "V0MODAL001", "state": {"values": values}}


async def test_handover_alone_opens_the_form_with_the_caller_away_and_their_accounts_preselected(world):
    text, (view,) = await _open(world, assigned=lambda user: {"globex"} if user == ANA else set())
    assert text == "Tragen Sie die Übergabe im geöffneten Formular ein."  # Acme's channel: German
    assert view["type"] == "modal" and view["callback_id"] == "handover.create"
    assert view["title"]["text"] == "Übergabe" and json.loads(view["private_metadata"]) == {"language": "de"}
    blocks = _blocks(view)
    assert list(blocks) == ["from", "to", "start", "end", "accounts", "note"]
    assert blocks["from"]["element"] == {"type": "users_select", "action_id": "from", "initial_user": ANA}
    assert "initial_user" not in blocks["to"]["element"]
    assert blocks["start"]["element"]["type"] == blocks["end"]["element"]["type"] == "datepicker"
    accounts = blocks["accounts"]
    assert accounts["optional"] is True and accounts["element"]["type"] == "multi_static_select"
    # Ana holds roles in Acme and Northwind (accounts file) and has open issues in Globex (snapshots).
    assert [o["value"] for o in accounts["element"]["initial_options"]] == ["acme", "north", "globex"]
    assert {o["value"] for o in accounts["element"]["options"]} == {"acme", "north", "globex"}
    assert blocks["note"]["optional"] is True
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24
    # Help says so.
    assert "ohne Angaben: ein Formular" in await world.ask("hilfe")
    # Never from a client channel (the one-line command's rule): refused, no form.
    text, views = await _open(world, channel="C0ACCLIENT")
    assert views == [] and text.startswith("Übergaben verwaltet der Bot in den eigenen Kanälen der Agentur")


async def test_the_form_preselects_by_roles_when_the_snapshots_cannot_be_read(world):
    def broken(_user):
        raise RuntimeError("database gone")

    _text, (view,) = await _open(world, user=DAN, channel="C0NWINTERN", assigned=broken)
    # Dan: Globex's budget, Acme's billing and Acme's support deputy.
    assert [o["value"] for o in _blocks(view)["accounts"]["element"]["initial_options"]] == ["acme", "globex"]
    assert view["title"]["text"] == "Handover"  # Northwind's channel: English


async def test_a_submission_saves_one_handover_through_the_same_path_as_the_command(world):
    created = []

    async def after_create(stored):
        created.append(stored.id)

    world.service.after_create = after_create
    _text, (view,) = await _open(world)
    outcome = await world.service.submit(
        BEN, Role.MEMBER, HOME, _submitted(view, _values(accounts=("acme", "north"), note="Release am 4.1.")))
    assert outcome.errors is None
    assert outcome.confirmation.startswith(
        f"Übergabe #1 gespeichert: <@{BEN}> vertritt <@{ANA}> vom 21.12.2026 bis 06.01.2027 bei Acme GmbH, Northwind.")
    (stored,) = world.store.handovers.listed()
    assert (stored.handover.from_user, stored.handover.to_user, stored.created_by) == (ANA, BEN, BEN)
    assert stored.handover.account_keys == {"acme", "north"} and stored.handover.note == "Release am 4.1."
    assert created == [stored.id]  # summaries and the rest follow as after the one-line command
    assert world.store.audit.recent()[0]["action"] == "handover.create"


async def test_a_submission_without_accounts_covers_the_default_ones(world):
    _text, (view,) = await _open(world)
    outcome = await world.service.submit(BEN, Role.MEMBER, HOME, _submitted(view, _values()))
    assert outcome.errors is None
    assert world.store.handovers.listed()[0].handover.account_keys == {"acme", "north"}


@pytest.mark.parametrize(
    "submitter, role, values, errors",
    [
        # A guest (or a Slack Connect user) replays a member's form: refused, on who is away.
        (GUEST, Role.EXTERNAL, _values(), {"from": "`/pulse übergabe @abwesend @vertretung <beginn>..<ende> [account <schlüssel> …]` ist nur für Mitglieder der Agentur."}),
        (BEN, Role.MEMBER, _values(to_user=CLIENT_USER),
         {"to": "@Client Person gehört nicht zur Agentur (andere Organisation oder Gast): die Vertretung muss aus der Agentur sein."}),
        (BEN, Role.MEMBER, _values(to_user="U0NOBODY01"), {"to": "Slack kennt @U0NOBODY01 nicht: wählen Sie die Person mit @."}),
        (BEN, Role.MEMBER, _values(from_user=GUEST, accounts=("acme",)),
         {"from": "@someone gehört nicht zur Agentur: nur Rollen von Agenturmitgliedern lassen sich übergeben."}),
        (BEN, Role.MEMBER, _values(start="2027-01-06", end="2026-12-21"),
         {"end": "Der Zeitraum endet (21.12.2026), bevor er beginnt (06.01.2027)."}),
        (BEN, Role.MEMBER, _values(start="2026-11-20", end="2026-11-30"),
         {"end": "Dieser Zeitraum endete am 30.11.2026 (in der Zeitzone von Acme GmbH): eine Übergabe gilt ab heute oder später."}),
        (BEN, Role.MEMBER, _values(start="2029-01-01", end="2029-01-02"),
         {"start": "Eine Übergabe beginnt höchstens 730 Tage im Voraus (spätestens am 30.11.2028): speichern Sie eine spätere näher am Termin."}),
        (BEN, Role.MEMBER, _values(to_user=ANA), {"to": "Niemand kann sich selbst vertreten: wählen Sie eine Kollegin oder einen Kollegen."}),
        (BEN, Role.MEMBER, _values(from_user=BEN, to_user=CEM, accounts=("globex",)), None),  # control: saved
        (BEN, Role.MEMBER, _values(start=None), {"start": "Bitte ausfüllen."}),
    ],
)
async def test_submission_refusals_go_back_to_their_field_in_the_accounts_language(world, submitter, role, values, errors):
    _text, (view,) = await _open(world)
    outcome = await world.service.submit(submitter, role, HOME, _submitted(view, values))
    assert outcome.errors == errors
    assert len(world.store.handovers.listed()) == (1 if errors is None else 0)


async def test_a_cycle_is_refused_on_the_cover(world):
    await world.ask(f"handover <@{ANA}|a> <@{BEN}|b> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    _text, (view,) = await _open(world, channel="C0NWINTERN")
    outcome = await world.service.submit(CEM, Role.MEMBER, HOME, _submitted(
        view, _values(from_user=BEN, to_user=ANA, start="2026-12-28", end="2027-01-03", accounts=("north",))))
    assert outcome.errors is not None and list(outcome.errors) == ["to"]
    assert "would go round in a circle (@Ben Brandt, @Ana Alves" in outcome.errors["to"]
    assert len(world.store.handovers.listed()) == 1


# -- through Bolt: signed requests into the app `pulse serve` assembles, on the fake Slack ---------------


def _form_submission(user: str, view: dict, values: dict) -> str:
    """A view_submission of `view` by `user` (the Home tests' one, with the form's values)."""
    body = json.loads(urllib.parse.parse_qs(_submission(user, view, "x"))["payload"][0])
    body["view"]["state"] = {"values": values}
    return urllib.parse.urlencode({"payload": json.dumps(body)})


async def _opened_form(http, fake) -> dict:
    answer = await test_slack_app._command(http, fake, "handover", channel="C0ACMEINTL")
    assert answer["text"] == "Tragen Sie die Übergabe im geöffneten Formular ein."
    (call,) = fake.calls_to("views.open")
    assert call.ok and call.args["trigger_id"]
    return call.args["view"] if isinstance(call.args["view"], dict) else json.loads(call.args["view"])


async def test_bolt_the_command_opens_the_form_and_a_submission_saves_one_handover(http, fake, sqlite_store):
    refused = await test_slack_app._command(http, fake, "handover", channel="C0ACMECLNT")
    assert refused["text"].startswith("Übergaben verwaltet der Bot in den eigenen Kanälen der Agentur")
    assert fake.calls_to("views.open") == []  # never from a client channel
    view = await _opened_form(http, fake)
    assert view["callback_id"] == "handover.create" and _blocks(view)["from"]["element"]["initial_user"] == "U0MEMBER01"
    # A guest sends the member's form: refused in the modal, nothing saved.
    values = _values(from_user="U0MEMBER01", to_user="U0ADMIN001", accounts=("acme-shop",))
    refused = await http.post("/slack/events", content=(b := _form_submission("U0GUEST001", view, values)),
                              headers=signed_headers(b, content_type=FORM))
    assert refused.json()["response_action"] == "errors" and list(refused.json()["errors"]) == ["from"]
    assert sqlite_store.handovers.listed() == []
    ok = await http.post("/slack/events", content=(b := _form_submission("U0MEMBER01", view, values)),
                         headers=signed_headers(b, content_type=FORM))
    assert ok.status_code == 200 and not ok.content  # the modal closes
    (stored,) = sqlite_store.handovers.listed()
    assert (stored.handover.from_user, stored.handover.to_user, stored.created_by) == ("U0MEMBER01", "U0ADMIN001", "U0MEMBER01")
    # The confirmation goes to the submitter alone, by DM.
    await test_slack_app._wait_for(lambda: fake.posted(fake.dm_channel("U0MEMBER01")))
    (dm,) = fake.posted(fake.dm_channel("U0MEMBER01"))
    assert dm["text"].startswith("Übergabe #1 gespeichert: <@U0ADMIN001> vertritt <@U0MEMBER01>")


# -- the App Home's "start a handover" ------------------------------------------------------------------


async def test_bolt_the_home_button_opens_the_form_for_members_only(http, fake, sqlite_store):
    await _post_signed(http, _home_opened("U0MEMBER01"))
    await test_slack_app._wait_for(lambda: "U0MEMBER01" in fake.views)
    home = fake.views["U0MEMBER01"]
    (button,) = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "portfolio.start_handover"]
    assert button["text"]["text"] == "Start a handover"
    # A guest replays the click: no form.
    await _post_signed(http, _click("U0GUEST001", "portfolio.start_handover", "acme-shop"))
    assert fake.calls_to("views.open") == []
    # A member's click on an account's row: the form with the click's trigger id, that account preselected.
    await _post_signed(http, _click("U0MEMBER01", "portfolio.start_handover", "acme-shop"))
    await test_slack_app._wait_for(lambda: fake.calls_to("views.open"))
    (call,) = fake.calls_to("views.open")
    view = call.args["view"] if isinstance(call.args["view"], dict) else json.loads(call.args["view"])
    assert call.ok and call.args["trigger_id"] == "1.2.3" and view["callback_id"] == "handover.create"
    blocks = _blocks(view)
    assert blocks["from"]["element"]["initial_user"] == "U0MEMBER01"
    assert [o["value"] for o in blocks["accounts"]["element"]["initial_options"]] == ["acme-shop"]
    # Its submission saves the handover like the command's form.
    values = _values(from_user="U0MEMBER01", to_user="U0ADMIN001", accounts=("acme-shop",))
    ok = await http.post("/slack/events", content=(b := _form_submission("U0MEMBER01", view, values)),
                         headers=signed_headers(b, content_type=FORM))
    assert ok.status_code == 200 and not ok.content
    assert len(sqlite_store.handovers.listed()) == 1
    await test_slack_app._wait_for(lambda: fake.posted(fake.dm_channel("U0MEMBER01")))  # the confirmation


async def test_an_accounts_row_on_the_home_has_the_handover_button():
    from bot.domain.portfolio import AccountHealth
    from bot.render.portfolio import HomeState, render_home

    accounts = test_handover._accounts()
    health = AccountHealth.from_json({"account_key": "acme", "account_name": "Acme GmbH", "verdict": 0,
                                      "computed_at": "2026-12-01T09:00:00+00:00", "today": "2026-12-01"})
    view = render_home([health], accounts, HomeState(), "de")
    (row,) = [b for b in view["blocks"] if b.get("block_id") == "account:acme"]
    handover = [e for e in row["elements"] if e["action_id"] == "portfolio.start_handover"]
    assert [(e["text"]["text"], e["value"]) for e in handover] == [("Übergabe starten", "acme")]


async def _post_signed(http, body: str, content_type: str = FORM) -> None:
    response = await http.post("/slack/events", content=body, headers=signed_headers(body, content_type=content_type))
    assert response.status_code == 200
