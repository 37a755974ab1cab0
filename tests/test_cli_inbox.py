"""`pulse inbox list|show|retry` against a real SQLite store and `pulse replay-webhook` on real payloads."""

from __future__ import annotations

import datetime as dt
import json

import click
import pytest
from click.testing import CliRunner

from bot.cli.inbox import inbox
from bot.cli.replay import replay_webhook
from integrations.store.store import Store
from tests.fixtures import PAYLOADS

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
PIN = PAYLOADS / "pinpoint-jira/internal/testdata"


@click.group()
def pulse() -> None:
    """Stands in for bot.cli.main.main, where these commands are registered."""


pulse.add_command(inbox)
pulse.add_command(replay_webhook)


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env
    url = f"sqlite:///{tmp_path / 'pulse.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    store = Store.open(url, migrate=True)
    store.inbox.add("jira", "d-1", (PIN / "jira:issue_created.json").read_text(), "jira:issue_created", NOW)
    store.inbox.add("jira", "d-2", "{}", "jira:issue_updated", NOW)
    (dead,) = [i for i in store.inbox.list() if i.delivery_id == "d-2"]
    store.inbox.retry_later(dead.id, "slack: channel_not_found", NOW, dead=True)
    yield store
    store.close()


def run(*args):
    return CliRunner().invoke(pulse, list(args), catch_exceptions=False)


def test_inbox_list_show_retry(db):
    listed = run("inbox", "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0] == "inbox: dead 1, pending 1"
    assert lines[1].split()[:5] == ["2", "dead", "0x", "jira", "jira:issue_updated"]
    assert lines[1].endswith("d-2  error: slack: channel_not_found")
    assert lines[2].split()[:5] == ["1", "pending", "0x", "jira", "jira:issue_created"]
    only_dead = run("inbox", "list", "--status", "dead")
    assert len(only_dead.output.splitlines()) == 2

    shown = run("inbox", "show", "2")
    assert shown.output.splitlines()[:8] == [
        "id: 2", "source: jira", "delivery_id: d-2", "event_name: jira:issue_updated",
        "received_at: 2026-11-23 09:00:00+00:00", "status: dead", "attempts: 0",
        "last_error: slack: channel_not_found",
    ]
    assert run("inbox", "show", "99").exit_code == 1

    retried = run("inbox", "retry", "2")
    assert (retried.exit_code, retried.output) == (0, "2: queued again\n")
    assert db.inbox.get(2).status == "pending" and db.inbox.get(2).last_error == "slack: channel_not_found"
    assert run("inbox", "retry", "99").exit_code == 1


def test_inbox_show_prints_a_body_python_cannot_read_as_it_is(db):
    body = '{"webhookEvent": "jira:issue_created", "timestamp": ' + "9" * 5000 + "}"
    db.inbox.add("jira", "d-big", body, "jira:issue_created", NOW)
    (item,) = [i for i in db.inbox.list() if i.delivery_id == "d-big"]
    shown = run("inbox", "show", str(item.id))
    assert shown.exit_code == 0 and shown.output.endswith("body:\n" + body + "\n")


def test_replay_json_one_object_per_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JIRA_URL", "https://pinpt-hq.atlassian.net")  # links come from the configured site
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    files = [PIN / "jira:issue_created.json", PIN / "board_created.json", PIN / "comment_created.json",
             PAYLOADS / "zulip/zerver/webhooks/confluence/fixtures/example_anomalous_payload.json", broken]
    result = run("replay-webhook", "--format", "json", *map(str, files))
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["event"], r["outcome"]) for r in rows] == [
        ("issue_created", "posted"), (None, "ignored"), ("comment_created", "withheld"),
        (None, "anomalous"), (None, "anomalous")]
    assert rows[0]["text"] == (
        "Robin Diddams created <https://pinpt-hq.atlassian.net/browse/GOLD-189|GOLD-189> Test issue please ignore")
    assert rows[0]["blocks"][0]["type"] == "section"
    # The comment webhook's trimmed issue cannot be judged offline: a client channel gets nothing.
    assert rows[2]["text"] is None and "look" in rows[2]["reason"]
    internal = run("replay-webhook", "--format", "json", "--audience", "internal", str(PIN / "comment_created.json"))
    assert json.loads(internal.output)["outcome"] == "posted"


def test_replay_names_a_reason_shared_by_several_events_once():
    path = PAYLOADS / "jira-to-matrix/test/fixtures/webhooks/issue/updated/commented-changed.json"
    row = json.loads(run("replay-webhook", "--format", "json", str(path)).output)
    assert row["event"] == ["field_changed", "field_changed"]
    assert row["reason"] == "needs lookup first: issue"


def test_replay_as_a_named_account_uses_its_settings(tmp_path, monkeypatch):
    from pathlib import Path

    accounts = Path(__file__).resolve().parents[1] / "config" / "accounts.example.yaml"
    payload = json.loads((PIN / "jira:issue_updated.due_date.json").read_text())
    # Derived: pinpoint's real due date change, on an issue of the example's ACME project.
    payload["issue"]["key"] = "ACME-22"
    payload["issue"]["fields"]["project"]["key"] = "ACME"
    acme = tmp_path / "acme.json"
    acme.write_text(json.dumps(payload))
    monkeypatch.setenv("PULSE_ACCOUNTS_FILE", str(accounts))
    row = json.loads(run("replay-webhook", "--format", "json", "--account", "acme-shop", str(acme)).output)
    assert row["outcome"] == "posted" and "fällig am 04.08.2020" in row["text"]  # acme-shop is German
    # An event of another account's project is refused for this one, with the reason.
    other = json.loads(run("replay-webhook", "--format", "json", "--account", "acme-shop",
                           str(PIN / "jira:issue_updated.due_date.json")).output)
    assert (other["outcome"], other["reason"]) == ("withheld", "belongs to 'TES', not to account 'acme-shop'")
    empty = run("replay-webhook", "--account", "", str(acme))  # not silently the stand-in account
    assert empty.exit_code == 2 and "no account ''" in empty.output
    unknown = run("replay-webhook", "--account", "nope", str(acme))
    assert unknown.exit_code == 2 and "no account 'nope'" in unknown.output and "acme-shop" in unknown.output


def test_replay_confluence_cloud_needs_the_event_name(tmp_path):
    page = PAYLOADS / "taxonomies-for-confluence/src/test/resources/requests/PageTrashed.json"
    result = run("replay-webhook", "--audience", "internal", "--event", "page_trashed", str(page))
    assert result.output.splitlines()[0] == f"== {page}: posted (page_trashed)"


def test_unreadable_file_exits_1_after_the_others(tmp_path):
    result = CliRunner().invoke(
        pulse, ["replay-webhook", str(tmp_path / "missing.json"), str(PIN / "jira:issue_created.json")])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"== {PIN / 'jira:issue_created.json'}: posted (issue_created)"
    assert "missing.json: cannot read" in result.stderr
