"""Charts as PNG: the budget burn-up and the milestone timeline, drawn with matplotlib (Agg, headless).

matplotlib is imported only when a chart is drawn (start-up time, ack latency). `draw_*` return
the Figure, so tests read back what was drawn (the lines' points); `png` turns it into bytes.
Words come from the catalog; a chart holds no money.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

from bot.domain.charts import BurnUp, Timeline
from bot.render.i18n import format_day, translate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Line labels (the legend reads them; tests find the lines by them).
SPENT, BUDGET, FORECAST, TODAY = "spent", "budget", "forecast", "today"


def _figure(width: float, height: float) -> Figure:
    # The object-oriented API with the Agg canvas: no pyplot state, no display, thread-safe enough
    # for one figure per call.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def draw_burn_up(data: BurnUp, title: str, language: str) -> Figure:
    """Spent hours per working day, the budget line and the forecast, x = working day number
    (working days only: weekends and holidays take no room), labelled with dates."""
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    xs = list(range(len(data.days)))
    ax.plot(xs[: len(data.spent)], [float(v) for v in data.spent], label=SPENT, color="#1d3557", linewidth=2)
    if data.forecast:
        start = len(data.spent) - 1
        ax.plot(xs[start:start + len(data.forecast)], [float(v) for v in data.forecast], label=FORECAST,
                color="#e76f51", linestyle="--")
    if data.budget_hours is not None:
        ax.plot([xs[0], xs[-1]] if xs else [0, 0], [float(data.budget_hours)] * 2, label=BUDGET, color="#2a9d8f")
    step = max(1, len(xs) // 8)
    ax.set_xticks(xs[::step], [format_day(d, language) for d in data.days[::step]], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(translate(language, "chart.hours"))
    ax.set_title(title)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles, [translate(language, f"chart.{h.get_label()}") for h in handles], loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _x(day: dt.date) -> Any:
    # matplotlib places dates on the axis itself (its date converter); its stubs only name floats.
    return day


def _num(day: dt.date) -> float:
    # matplotlib's own day number of a date (what its date axis places a bar at).
    from matplotlib.dates import date2num

    return float(date2num(day))  # type: ignore[no-untyped-call]  # untyped in matplotlib's stubs


# Marker colours of the timeline (tests read them back).
AT_RISK_COLOR, OPEN_COLOR, RELEASED_COLOR = "#d62828", "#2a9d8f", "#6c757d"


def draw_timeline(data: Timeline, title: str, language: str) -> Figure:
    """One row per dated milestone: a bar from its start to its due date (when Jira has a start),
    a marker at the due date (red diamond at risk, green diamond open, grey dot released), its
    progress or "released" as text, and a vertical line today."""
    from matplotlib.patches import Rectangle

    fig = _figure(8, max(2.0, 0.5 * len(data.points) + 1.2))
    ax = fig.add_subplot()
    for row, point in enumerate(data.points):
        color = RELEASED_COLOR if point.released else AT_RISK_COLOR if point.at_risk else OPEN_COLOR
        if point.start is not None and point.start < point.due:
            left = _num(point.start)
            ax.add_patch(Rectangle((left, row - 0.2), _num(point.due) - left, 0.4, color=color, alpha=0.35,
                                   label=point.name))
        ax.plot([_x(point.due)], [row], marker="o" if point.released else "D", linestyle="none", color=color,
                label=point.name)
        note = translate(language, "chart.released") if point.released else f"{point.done}/{point.total}"
        ax.annotate(f"{point.name} · {note}", (_x(point.due), row), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.axvline(_x(data.today), color="#888888", linestyle=":", label=TODAY)
    ax.set_yticks([])
    ax.margins(x=0.12)  # room for the last milestone's text
    ax.set_ylim(-0.8, max(len(data.points), 1) - 0.2)
    ax.invert_yaxis()  # the soonest on top
    ax.set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
