"""Charts are tested on what they draw: the burn-up's points (working days only, the audience's
hours), its budget and forecast lines, the timeline's markers; and that they are PNGs without money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.domain.accounts import Audience
from bot.domain.budget import budget_status
from bot.domain.charts import burn_up, timeline
from bot.domain.milestones import milestones_section
from bot.render.charts import BUDGET, FORECAST, SPENT, TODAY, draw_burn_up, draw_timeline, png
from tests.test_digest_samples import NOW, PROJECT, log, make_account, make_issue, make_version

UTC = dt.UTC


def _at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=UTC)


ISSUES = [
    make_issue(1, worklogs=(log(f"{PROJECT}-1", _at(2), 8, "1"), log(f"{PROJECT}-1", _at(7), 2, "2"),
                            log(f"{PROJECT}-1", _at(10), 4, "3"))),
    # Internal work: in the internal burn-up, never in the client's.
    make_issue(2, labels=("internal",), worklogs=(log(f"{PROJECT}-2", _at(3), 5, "4"),)),
]


def _lines(fig):
    return {line.get_label(): line for line in fig.axes[0].get_lines()}


def _data(audience):
    account = make_account()
    status = budget_status(account, audience, ISSUES, NOW)
    return account, status, burn_up(account, status, ISSUES, audience)


def test_the_burn_up_counts_working_days_only_and_the_audiences_hours():
    _, status, data = _data(Audience.INTERNAL)
    assert len(data.days) == 21 and all(d.weekday() < 5 for d in data.days)  # November 2026, Mon–Fri
    assert len(data.spent) == 15 and data.days[14] == dt.date(2026, 11, 20)  # Sunday 22nd: 15 have passed
    by_day = dict(zip(data.days, data.spent, strict=False))
    assert by_day[dt.date(2026, 11, 2)] == 8 and by_day[dt.date(2026, 11, 3)] == 13
    # Saturday's 2 h count on Monday the 9th; the line ends at what the budget says was spent.
    assert by_day[dt.date(2026, 11, 6)] == 13 and by_day[dt.date(2026, 11, 9)] == 15
    assert data.spent[-1] == status.spent_hours == 19
    # The forecast runs on from today's hours at the digest's pace to the period's end.
    assert data.forecast[0] == data.spent[-1] and len(data.forecast) == 7
    assert data.forecast[-1] == 19 + 6 * status.burn_hours_per_working_day
    assert data.forecast_days[0] == dt.date(2026, 11, 20) and data.forecast_days[-1] == dt.date(2026, 11, 30)
    _, client_status, client = _data(Audience.CLIENT)
    assert client.spent[-1] == client_status.spent_hours == 14  # the internal issue's 5 h are not the client's


def test_the_drawn_lines_are_the_data():
    account, _, data = _data(Audience.INTERNAL)
    fig = draw_burn_up(data, "ACME — budget burn-up", "en")
    lines = _lines(fig)
    assert list(lines[SPENT].get_xdata()) == list(range(15))
    assert [Decimal(str(y)) for y in lines[SPENT].get_ydata()] == list(data.spent)
    assert list(lines[FORECAST].get_xdata()) == list(range(14, 21))
    assert lines[FORECAST].get_ydata()[0] == 19.0
    assert list(lines[BUDGET].get_ydata()) == [80.0, 80.0] and list(lines[BUDGET].get_xdata()) == [0, 20]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["spent", "forecast at the current pace", "budget"]
    image = png(fig)
    assert image.startswith(b"\x89PNG") and len(image) > 5_000


def test_the_client_chart_holds_no_money_and_speaks_the_accounts_language():
    account, _, data = _data(Audience.CLIENT)
    fig = draw_burn_up(data, "ACME — Budgetverlauf", "de")
    texts = [t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text"))]
    assert not any(c in "".join(texts) for c in "€$£")
    assert "Stunden" in texts and "verbraucht" in texts


def test_the_timeline_marks_each_dated_milestone_and_today():
    account = make_account()
    versions = [make_version("1", "Launch", dt.date(2026, 11, 30)), make_version("2", "Phase 2", dt.date(2027, 2, 1)),
                make_version("3", "Someday", None)]
    issues = [make_issue(1, fix_version_ids=("1",)), make_issue(2, fix_version_ids=("2",), status_category="done", resolved=_at(18)),
              make_issue(3, fix_version_ids=("2",)), make_issue(4, fix_version_ids=("3",))]
    data = timeline(milestones_section(account, Audience.INTERNAL, issues, versions, NOW))
    assert [(p.name, p.done, p.total, p.at_risk) for p in data.points] == [("Launch", 0, 1, True), ("Phase 2", 1, 2, False)]
    fig = draw_timeline(data, "ACME — milestones", "en")
    lines = _lines(fig)
    assert list(lines["Launch"].get_xdata()) == [dt.date(2026, 11, 30)]
    assert lines["Launch"].get_color() == "#d62828" and lines["Phase 2"].get_color() == "#2a9d8f"
    assert list(lines[TODAY].get_xdata()) == [NOW.date()] * 2
    assert png(fig).startswith(b"\x89PNG")
