"""Comments in a handover: the summary shows the last client-visible comments on the leaver's issues
(a few lines each; never a restricted or Service Desk internal one, nor one whose visibility cannot
be read), and "while you were away" lists the client's answers meanwhile (public Jira comments by
people positively known to be the client's, and the client's support requests from Slack) — never
the agency's own comments. German and English accounts, through the fakes; the adapter's comment
call over HTTP with the real client."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.handover_notes import client_visible_comment
from integrations.jira import AtlassianJira
from integrations.upstream_errors import RetryPolicy
from sandbox.agency import build_sandbox
from sandbox.atlassian_server import FakeAtlassian
from tests.test_handover_steps import AFTER, ANA, BEN, START, World, _issue, slack_server  # noqa: F401

UTC = dt.UTC
AGENCY = {"accountId": "557058:ana", "displayName": "Ana Alves", "accountType": "atlassian"}
COLLEAGUE = {"accountId": "557058:carl", "displayName": "Carl Coder", "accountType": "atlassian"}
CLIENT = {"accountId": "qm:7b1d:client", "displayName": "Klara Kunde", "accountType": "customer"}
APP = {"accountId": "557058:automation", "displayName": "Automation for Jira", "accountType": "app"}


def comment(cid: str, body: str, when: dt.datetime, author: dict | None = None, **extra) -> dict:
    """A comment as `GET /rest/api/2/issue/{key}/comment?expand=properties` returns it on Cloud
    (shape of atlassian-python-api's captured FOO-123 response: author, body, created, jsdPublic)."""
    found = {"id": cid, "author": author or COLLEAGUE, "body": body,
             "created": when.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "jsdPublic": True}
    found.update(extra)
    return found


@pytest.fixture
def world(sqlite_store, slack_server):  # noqa: F811
    w = World(sqlite_store, slack_server)
    w.jira.put(_issue("AC-1", "Checkout-Redesign", priority="High", due=dt.date(2026, 12, 23),
                      fix_version_ids=("v1",), assignee_id="ana-jira"))
    return w


def _when(day: int, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, 0, tzinfo=UTC)


# --- the summary -------------------------------------------------------------------------------

async def test_the_summary_shows_the_last_client_visible_comments_a_few_lines_each(world):
    jira = world.jira
    for n in range(1, 5):
        jira.add_issue_comment("AC-1", comment(f"1{n}", f"Kommentar {n}\nZweite Zeile {n}\nDritte\nVierte", _when(n)))
    jira.add_issue_comment("AC-1", comment("19", "Nur intern", _when(9), visibility={"type": "role", "value": "Developers"}))
    jira.add_issue_comment("NW-1", comment("21", "We sent the data " + "x" * 400, _when(3), CLIENT))
    jira.add_issue_comment("AC-3", comment("31", "On an internal issue", _when(3)))  # the issue is internal
    jira.add_issue_comment("AC-2", comment("41", "<!channel> *bitte* <https://evil.example|klick>", _when(5)))
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    acme, north = world.texts(world.slack.dm_channel(BEN))
    # The last three client-visible ones, oldest first, under their issue; two lines each.
    assert "Kommentar 1" not in acme and "Nur intern" not in acme and "On an internal issue" not in acme
    lines = acme.splitlines()
    at = next(i for i, line in enumerate(lines) if "AC-1|AC-1>" in line)
    assert lines[at + 1:at + 4] == [
        "      💬 Carl Coder · 02.12.2026: Kommentar 2 / Zweite Zeile 2 …",
        "      💬 Carl Coder · 03.12.2026: Kommentar 3 / Zweite Zeile 3 …",
        "      💬 Carl Coder · 04.12.2026: Kommentar 4 / Zweite Zeile 4 …",
    ]
    assert "Offene Vorgänge: 3 (⏰ fällig während der Abwesenheit, zuerst genannt; 🔒 nicht in der Kundenansicht; " \
           "💬 letzte für den Kunden sichtbare Kommentare)" in acme
    # Comment words are text in Slack: no @channel ping, no disguised link.
    assert "<!channel>" not in acme and "<https://evil.example" not in acme and "&lt;!channel&gt;" in acme
    (line,) = [x for x in north.splitlines() if "💬 Klara Kunde" in x]
    assert line.startswith("      💬 Klara Kunde · Dec 3, 2026: We sent the data xxx") and line.endswith("…")
    assert len(line) < 220
    # Cost: one comment call per listed client-visible issue, at most 5 per account.
    assert sorted(world.jira.made("issue_comments")) == ["AC-1", "AC-2", "NW-1"]


HIDDEN = {
    "role": {"visibility": {"type": "role", "value": "Administrators"}},
    "group": {"visibility": {"type": "group", "identifier": "276f955c-63d7-42c8-9520-92d01dca0625", "value": "agency"}},
    "visibility unreadable": {"visibility": "Developers"},
    "jsdPublic false": {"jsdPublic": False},
    "jsdPublic unreadable": {"jsdPublic": "true"},
    "sd.public.comment internal": {"properties": [{"key": "sd.public.comment", "value": {"internal": True}}]},
    "sd.public.comment unreadable": {"properties": [{"key": "sd.public.comment", "value": "internal"}]},
    "properties unreadable": {"properties": {"sd.public.comment": {"internal": False}}},
    "service desk, no marks": {"jsdPublic": None, "_project_type": "service_desk"},
    "project type unknown, no marks": {"jsdPublic": None, "_project_type": None},
}
SHOWN = {
    "no visibility": {},
    "visibility null": {"visibility": None},
    "service desk, jsdPublic true": {"_project_type": "service_desk"},
    "service desk, sd.public.comment public": {"jsdPublic": None, "_project_type": "service_desk",
                                               "properties": [{"key": "sd.public.comment", "value": {"internal": False}}]},
}


def _shaped(shape: dict) -> tuple[dict, str | None]:
    shape = dict(shape)
    project_type = shape.pop("_project_type", "software")
    found = comment("50", "Geheim oder nicht", _when(5), **shape)
    if shape.get("jsdPublic", True) is None:
        del found["jsdPublic"]  # "missing fields": Data Center and older payloads carry none
    return found, project_type


@pytest.mark.parametrize("shape", HIDDEN.values(), ids=HIDDEN.keys())
def test_restricted_internal_or_unreadable_comments_are_never_client_visible(shape):
    found, project_type = _shaped(shape)
    assert client_visible_comment(found, project_type) is False


@pytest.mark.parametrize("shape", SHOWN.values(), ids=SHOWN.keys())
def test_public_comments_are_client_visible(shape):
    found, project_type = _shaped(shape)
    assert client_visible_comment(found, project_type) is True


@pytest.mark.parametrize("shape", list(HIDDEN.values())[:8], ids=list(HIDDEN.keys())[:8])
async def test_the_summary_leaves_out_each_restricted_shape(world, shape):
    found, _ = _shaped(shape)
    world.jira.add_issue_comment("NW-1", found)
    world.jira.add_issue_comment("NW-1", comment("51", "Public control", _when(6)))
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    (north,) = world.texts(world.slack.dm_channel(BEN))
    assert "Public control" in north and "Geheim" not in north


# --- while you were away -----------------------------------------------------------------------

async def test_while_away_lists_the_clients_answers_and_not_the_agencys(world, sqlite_store):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    world.now = START
    await world.steps.tick()
    jira = world.jira
    jira.add_issue_comment("AC-1", comment("60", "Before the absence", _when(18), CLIENT))
    jira.add_issue_comment("AC-1", comment("61", "Ja, wir nehmen Variante B.\nDetails folgen.", _when(22), CLIENT))
    jira.add_issue_comment("AC-1", comment("62", "Agency says hi", _when(23), AGENCY))
    jira.add_issue_comment("AC-1", comment("63", "Automation ran", _when(23), APP))
    jira.add_issue_comment("AC-1", comment("64", "Nobody knows who", _when(23), {"accountId": "x", "displayName": "?"}))
    jira.add_issue_comment("AC-1", comment("65", "Restricted client words", _when(24), CLIENT,
                                           visibility={"type": "group", "value": "jira-users"}))
    jira.add_issue_comment("NW-1", comment("70", "Data is uploaded", _when(29), CLIENT))
    # A client-side licensed user named in the accounts file is the client too (Northwind has none).
    sqlite_store.support.open(account_key="acme", channel_id="C0ACCLIENT", requester_id="U0KLARA001",
                              requester_name="Klara Kunde", requester_external=True,
                              now=_when(28), text="Bitte den Gutschein verlängern\nDanke", urgency="task")
    sqlite_store.support.open(account_key="acme", channel_id="C0ACCLIENT", requester_id=BEN,
                              requester_name="Ben Brandt", requester_external=False,
                              now=_when(28), text="Agency-filed request", urgency="task", source_ts="1.2")
    before = len(world.texts(world.slack.dm_channel(ANA)))
    world.now = AFTER
    await world.steps.tick()
    acme, north = world.texts(world.slack.dm_channel(ANA))[before:]
    assert "Antworten und Entscheidungen des Kunden (2):" in acme
    assert "• Klara Kunde · 22.12.2026 · <https://jira.example/browse/AC-1|AC-1>: Ja, wir nehmen Variante B." in acme
    assert "• Klara Kunde · 28.12.2026 · Slack: Bitte den Gutschein verlängern" in acme
    for absent in ("Before the absence", "Agency says hi", "Automation ran", "Nobody knows who", "Restricted client",
                   "Agency-filed", "Details folgen"):
        assert absent not in acme
    assert "Answers and decisions from the client (1):\n• Klara Kunde · Dec 29, 2026 · " \
           "<https://jira.example/browse/NW-1|NW-1>: Data is uploaded" in north
    assert len(world.jira.made("issue_comments")) <= 2 * 10


async def test_a_licensed_client_user_named_in_the_accounts_file_counts_as_the_client(sqlite_store, slack_server):  # noqa: F811
    world = World(sqlite_store, slack_server)
    data = world.accounts.model_dump(mode="json")
    data["accounts"][1]["jira"]["client_users"] = ["557058:nora"]
    from bot.domain.accounts import AccountsConfig
    world.accounts = AccountsConfig.model_validate(data)
    world.steps = world.process()
    world.steps.accounts = world.accounts
    world.service.accounts = world.accounts
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    world.now = START
    await world.steps.tick()
    nora = {"accountId": "557058:nora", "displayName": "Nora North", "accountType": "atlassian"}
    world.jira.add_issue_comment("NW-1", comment("80", "Approved", _when(23), nora))
    world.jira.add_issue_comment("NW-1", comment("81", "Colleague note", _when(23), COLLEAGUE))
    world.now = AFTER
    await world.steps.tick()
    (away,) = [t for t in world.texts(world.slack.dm_channel(ANA)) if t.startswith("👋")]
    assert "• Nora North · Dec 23, 2026 · <https://jira.example/browse/NW-1|NW-1>: Approved" in away
    assert "Colleague note" not in away


# --- the adapter -------------------------------------------------------------------------------

def test_the_adapter_asks_for_the_newest_comments_with_their_properties_and_returns_them_oldest_first():
    sandbox = build_sandbox(dt.datetime(2026, 11, 20, 10, tzinfo=UTC))
    key = sandbox.seed.issues[0]["key"]
    with FakeAtlassian(sandbox.seed) as fake:
        for n in range(1, 6):
            fake.add_comment(key, comment(str(100 + n), f"c{n}", _when(n), CLIENT,
                                          properties=[{"key": "sd.public.comment", "value": {"internal": False}}]))
        with AtlassianJira(fake.url, user="u", api_token="t", retry=RetryPolicy(attempts=1)) as jira:
            found = jira.issue_comments(key, 3)
        (call,) = fake.calls
    assert (call.method, call.path) == ("GET", f"/rest/api/2/issue/{key}/comment")
    assert call.query == {"orderBy": ["-created"], "maxResults": ["3"], "expand": ["properties"]}
    assert [c["body"] for c in found] == ["c3", "c4", "c5"]
    assert found[0]["properties"] == [{"key": "sd.public.comment", "value": {"internal": False}}]


def test_answers_are_read_on_at_most_10_issues_the_returners_first_then_the_latest_changed():
    from bot.domain.handover_notes import answer_issues
    from bot.domain.roles import Handover
    from tests.test_handover_steps import _accounts

    account = _accounts().accounts[1]  # Northwind, en
    h = Handover("1", ANA, BEN, dt.date(2026, 12, 21), dt.date(2027, 1, 6), frozenset({"north"}))
    issues = [_issue(f"NW-{n}", f"Issue {n}", updated=_when(22) + dt.timedelta(hours=n)) for n in range(10, 22)]
    issues += [_issue("NW-1", "Mine, quiet", assignee_id="ana-jira"),
               _issue("NW-2", "Quiet, not mine", updated=_when(1)),
               _issue("NW-3", "Internal", labels=("internal",), updated=_when(23), assignee_id="ana-jira")]
    picked = answer_issues(account, h, dt.date(2027, 1, 6), issues)
    assert picked == ["NW-1", *[f"NW-{n}" for n in range(21, 12, -1)]]


def test_the_issue_reader_keeps_when_jira_last_changed_an_issue():
    from integrations.jira_payloads import ISSUE_FIELDS, parse_issue

    assert "updated" in ISSUE_FIELDS
    raw = {"key": "NW-1", "fields": {"summary": "x", "created": "2026-12-01T10:00:00.000+0000",
                                     "updated": "2026-12-22T09:30:00.000+0100", "status": {"name": "Open"}}}
    assert parse_issue(raw).updated == dt.datetime(2026, 12, 22, 8, 30, tzinfo=UTC)
