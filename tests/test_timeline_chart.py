"""The milestone timeline is tested on what it draws: a bar from each milestone's start to its due
date, a marker at its due date (red when at risk), released ones marked as released, the line of
today; the client's timeline holds only milestones the client view shows (fail closed). It reaches
Slack through the same upload flow as the burn-up (files.getUploadURLExternal + completeUploadExternal)
with internal digests and `/pulse milestones`, and `pulse digest --chart-kind timeline` writes it."""

from __future__ import annotations

import datetime as dt

from matplotlib.dates import date2num

from bot.app import build_commands
from bot.domain.access import Role
from bot.domain.accounts import Audience
from bot.domain.charts import timeline
from bot.domain.milestones import milestones_section
from bot.render.charts import TODAY, draw_timeline, png
from bot.services.charts import Charts, timeline_png
from bot.services.commands import Asker
from bot.services.digests import DigestService
from integrations.slack import SlackWeb, make_web_client
from sandbox.agency import build_sandbox
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack
from tests.test_cli import ROOT, _pulse
from tests.test_digest_samples import NOW, make_account, make_issue, make_version

UTC = dt.UTC


def _at(day: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, 9, tzinfo=UTC)


VERSIONS = [
    make_version("1", "Launch", dt.date(2026, 11, 30), start_date=dt.date(2026, 11, 2)),
    make_version("2", "Phase 2", dt.date(2027, 2, 1)),  # no start date: a marker, no bar
    make_version("3", "Beta", dt.date(2026, 11, 16), released=True, start_date=dt.date(2026, 10, 19)),
    make_version("4", "Secret rebrand", dt.date(2026, 12, 15), start_date=dt.date(2026, 11, 23)),  # internal work only
    make_version("5", "Someday", None),
]
ISSUES = [
    make_issue(1, fix_version_ids=("1",)),
    make_issue(2, fix_version_ids=("2",), status_category="done", resolved=_at(18)),
    make_issue(3, fix_version_ids=("2",)),
    make_issue(4, fix_version_ids=("3",), status_category="done", resolved=_at(12)),
    make_issue(5, fix_version_ids=("4",), labels=("internal",)),
    make_issue(6, fix_version_ids=("5",)),
]


def _data(audience: Audience):
    account = make_account()
    section = milestones_section(account, audience, ISSUES, VERSIONS, NOW, NOW - dt.timedelta(days=30))
    return timeline(section)


def test_the_timeline_holds_each_dated_milestone_with_its_start_due_and_release():
    data = _data(Audience.INTERNAL)
    assert [(p.name, p.start, p.due, p.released, p.at_risk) for p in data.points] == [
        ("Beta", dt.date(2026, 10, 19), dt.date(2026, 11, 16), True, False),
        ("Launch", dt.date(2026, 11, 2), dt.date(2026, 11, 30), False, True),
        ("Secret rebrand", dt.date(2026, 11, 23), dt.date(2026, 12, 15), False, True),  # no pace yet
        ("Phase 2", None, dt.date(2027, 2, 1), False, False),
    ]
    assert data.today == dt.date(2026, 11, 22)
    # The client's: only what the client view shows (a version of internal work only is left out).
    assert [p.name for p in _data(Audience.CLIENT).points] == ["Beta", "Launch", "Phase 2"]


def test_the_drawn_bars_markers_and_today_are_the_data():
    data = _data(Audience.INTERNAL)
    fig = draw_timeline(data, "ACME — milestones", "en")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    bars = {patch.get_label(): patch for patch in ax.patches}
    # A bar from start to due for each milestone with a start date, on its own row.
    for point in data.points:
        if point.start is None:
            assert point.name not in bars
            continue
        bar = bars[point.name]
        assert bar.get_x() == date2num(point.start)
        assert bar.get_x() + bar.get_width() == date2num(point.due)
    # A marker at each due date: red at risk, grey released (and labelled so), green otherwise.
    assert list(lines["Launch"].get_xdata()) == [dt.date(2026, 11, 30)] and lines["Launch"].get_color() == "#d62828"
    assert lines["Phase 2"].get_color() == "#2a9d8f" and lines["Phase 2"].get_marker() == "D"
    assert lines["Beta"].get_color() == "#6c757d" and lines["Beta"].get_marker() == "o"
    assert list(lines["Beta"].get_xdata()) == [dt.date(2026, 11, 16)]
    assert list(lines[TODAY].get_xdata()) == [dt.date(2026, 11, 22)] * 2
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "Launch · 0/1" in texts and "Phase 2 · 1/2" in texts and "Beta · released" in texts
    assert [t.get_text().split(" · ")[0] for t in ax.texts] == [p.name for p in data.points]  # one row each
    assert png(fig).startswith(b"\x89PNG")


def test_the_clients_timeline_never_names_internal_work():
    account = make_account()
    image = timeline_png(account, Audience.CLIENT, ISSUES, VERSIONS, NOW)
    fig = draw_timeline(_data(Audience.CLIENT), "x", "en")
    assert "Secret rebrand" not in " ".join(t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text")))
    assert image is not None and image != timeline_png(account, Audience.INTERNAL, ISSUES, VERSIONS, NOW)
    # Nothing dated to draw: no chart.
    assert timeline_png(account, Audience.CLIENT, [], [], NOW) is None


SANDBOX_NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SANDBOX = build_sandbox(SANDBOX_NOW)


async def test_milestones_answers_upload_the_audiences_timeline_through_slacks_current_flow():
    """`/pulse milestones` in ACME's internal channel and by a client's mention in its client
    channel: each answer ends with its audience's timeline, uploaded through the real Slack client
    against the fake Slack server: getUploadURLExternal, the upload, completeUploadExternal —
    never files.upload, shared nowhere. The client channel's file is the client variant."""
    with FakeSlack() as server:
        uploads = SlackWeb(make_web_client(server.token, server.api_url))
        service = DigestService(jira=InMemoryJira.from_seed(SANDBOX.seed), slack=InMemorySlack(), store=None,
                                clock=lambda: SANDBOX_NOW)
        service.charts = Charts(uploads)
        commands = build_commands(SANDBOX.accounts, service, None, lambda: SANDBOX_NOW)
        try:
            internal = await commands.run("milestones", Asker("U0MEMBER01", "C0ACMEINTL", Role.MEMBER))
            client = await commands.run("milestones", Asker("U0CLIENT01", "C0ACMECLNT", Role.EXTERNAL, via_mention=True))
            data = await service.fetch(SANDBOX.accounts.by_key("acme-shop"), SANDBOX_NOW,
                                       SANDBOX_NOW - dt.timedelta(days=7))
        finally:
            service.close()
        methods = [c.method for c in server.calls]
        assert methods.count("files.getUploadURLExternal") == 2 and methods.count("files.completeUploadExternal") == 2
        assert server.calls_to("files.upload") == []
        acme = SANDBOX.accounts.by_key("acme-shop")
        for reply, audience in ((internal, Audience.INTERNAL), (client, Audience.CLIENT)):
            block = reply.blocks[-1]
            assert block["type"] == "image" and block["alt_text"] == "ACME Shop GmbH — Meilensteine"
            record = server.files[block["slack_file"]["id"]]
            assert record["completed"] and record["channel"] is None
            assert record["content"] == timeline_png(acme, audience, data.issues, data.versions, SANDBOX_NOW)


async def test_the_internal_digest_gets_the_timeline_once_the_client_digest_no_chart(sqlite_store):
    slack = InMemorySlack()
    service = DigestService(jira=InMemoryJira.from_seed(SANDBOX.seed), slack=slack, store=sqlite_store,
                            clock=lambda: SANDBOX_NOW)
    service.charts = Charts(slack)
    account = SANDBOX.accounts.by_key("acme-shop")
    client, internal = account.channels
    try:
        await service.run_slot(account, internal, SANDBOX_NOW)
        await service.run_slot(account, client, SANDBOX_NOW)
    finally:
        service.close()
    charts = [m for m in slack.messages if any(b.get("type") == "image" for b in m["blocks"] or [])]
    assert {m["channel"] for m in charts} == {internal.id}  # a client channel gets no chart at all
    titles = sorted(m["blocks"][0]["alt_text"] for m in charts)
    assert titles == ["ACME Shop GmbH — Budgetverlauf", "ACME Shop GmbH — Meilensteine"]
    assert all(m["thread_ts"] is not None for m in charts) and len(slack.files) == 2


def test_pulse_digest_writes_the_timeline_locally(tmp_path):
    from sandbox.atlassian_server import FakeAtlassian

    with FakeAtlassian(SANDBOX.seed) as jira:
        env = {
            "JIRA_URL": jira.url, "JIRA_USER": "bot@agency.example", "JIRA_API_TOKEN": "t", "JIRA_CLOUD": "true",
            "PULSE_ACCOUNTS_FILE": str(ROOT / "config" / "accounts.example.yaml"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        }
        out = tmp_path / "timeline.png"
        result = _pulse("digest", "--account", "acme-shop", "--audience", "client", "--chart", str(out),
                        "--chart-kind", "timeline", env=env)
    assert result.returncode == 0, result.stderr
    assert f"chart written to {out}" in result.stdout and out.read_bytes().startswith(b"\x89PNG")


async def test_a_client_channel_only_ever_gets_the_client_variant_of_a_chart():
    """In ACME's client channel — asked by a client's mention or by an agency member's command,
    public or not — `/pulse budget` and `/pulse milestones` upload the client variant (client-visible
    hours, client-visible milestones), byte for byte, through Slack's upload flow; never the
    internal one (which counts internal work)."""
    from bot.services.charts import burn_up_png

    with FakeSlack() as server:
        uploads = SlackWeb(make_web_client(server.token, server.api_url))
        service = DigestService(jira=InMemoryJira.from_seed(SANDBOX.seed), slack=InMemorySlack(), store=None,
                                clock=lambda: SANDBOX_NOW)
        service.charts = Charts(uploads)
        commands = build_commands(SANDBOX.accounts, service, None, lambda: SANDBOX_NOW)
        acme = SANDBOX.accounts.by_key("acme-shop")
        try:
            replies = [await commands.run(text, asker) for text in ("budget", "milestones", "budget public")
                       for asker in (Asker("U0CLIENT01", "C0ACMECLNT", Role.EXTERNAL, via_mention=True),
                                     Asker("U0MEMBER01", "C0ACMECLNT", Role.MEMBER),
                                     Asker("U0ADMIN001", "C0ACMECLNT", Role.ADMIN))]
            data = await service.fetch(acme, SANDBOX_NOW, SANDBOX_NOW - dt.timedelta(days=7))
        finally:
            service.close()
        client = {burn_up_png(acme, Audience.CLIENT, data.issues, SANDBOX_NOW),
                  timeline_png(acme, Audience.CLIENT, data.issues, data.versions, SANDBOX_NOW)}
        internal = {burn_up_png(acme, Audience.INTERNAL, data.issues, SANDBOX_NOW),
                    timeline_png(acme, Audience.INTERNAL, data.issues, data.versions, SANDBOX_NOW)}
        assert not client & internal  # the sandbox's internal work makes the variants differ
        uploaded = [server.files[r.blocks[-1]["slack_file"]["id"]]["content"] for r in replies]
        assert len(uploaded) == 9 and set(uploaded) == client
