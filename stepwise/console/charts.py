"""The SVG charts of report.html, drawn in Python: no script, no library, nothing fetched.

Curves on the unit square (ROC, precision-recall) with marked points, confusion matrices, horizontal
bars (SHAP), and the timeline of an execution's states. Each returns one `<svg>` element whose shapes
carry classes (`curve`, `mark`, `cell`, `bar`, `span <status>`) and data attributes the tests read
back from Chromium's DOM.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, NamedTuple

from stepwise.console.progress import StateTiming
from stepwise.console.summary import thinned

CHART_WIDTH = 440
CHART_HEIGHT = 340
MARGIN = {"left": 56, "right": 16, "top": 16, "bottom": 48}
COLORS = {
    "curve": "#2563eb",
    "chance": "#9ca3af",
    "ok": "#16a34a",
    "failed": "#dc2626",
    "caught": "#d97706",
    "aborted": "#6b7280",
    "running": "#7c3aed",
    "mark": "#111827",
}
STATUS_COLORS = {
    "succeeded": COLORS["ok"],
    "failed": COLORS["failed"],
    "timed out": COLORS["failed"],
    "retried": COLORS["caught"],
    "caught": COLORS["caught"],
    "aborted": COLORS["aborted"],
    "running": COLORS["running"],
}


def escape(value: Any) -> str:
    """`value` as HTML text or attribute value."""
    return html.escape(str(value), quote=True)


def when(value: Any) -> dt.datetime | None:
    """A history timestamp (datetime or ISO text) as an aware datetime (UTC when it has no zone)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _thin(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """At most MAX_CURVE_POINTS points (stepwise/console/summary.py), the first and the last kept."""
    keep = thinned(len(xs))
    return [xs[i] for i in keep], [ys[i] for i in keep]


def _attributes(values: dict[str, Any]) -> str:
    shown = []
    for key, value in values.items():
        if value is None:
            continue
        text = f"{value:.1f}" if isinstance(value, float) else str(value)
        shown.append(f'{key.rstrip("_").replace("_", "-")}="{escape(text)}"')
    return " ".join(shown)


def _text(
    x: float, y: float, content: Any, cls: str = "tick", anchor: str | None = None, **extra: Any
) -> str:
    attributes = _attributes({"x": x, "y": y, "class": cls, "text_anchor": anchor, **extra})
    return f"<text {attributes}>{escape(content)}</text>"


def _line(x1: float, y1: float, x2: float, y2: float, cls: str, **extra: Any) -> str:
    return f"<line {_attributes({'x1': x1, 'y1': y1, 'x2': x2, 'y2': y2, 'class': cls, **extra})}/>"


def _rect(x: float, y: float, width: float, height: float, cls: str, tooltip: str = "", **extra: Any) -> str:
    attributes = _attributes({"x": x, "y": y, "width": width, "height": height, "class": cls, **extra})
    if tooltip:
        return f"<rect {attributes}><title>{escape(tooltip)}</title></rect>"
    return f"<rect {attributes}/>"


def _vertical_label(x: float, y: float, content: str) -> str:
    return _text(x, y, content, "label", "middle", transform=f"rotate(-90 {x} {y})")


def _svg(title: str, width: float, height: float, parts: list[str]) -> str:
    size = _attributes({"width": width, "height": height, "viewBox": f"0 0 {width} {height}"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


class Mark(NamedTuple):
    """A point drawn on a curve chart: filled (the decision threshold) or hollow (another threshold)."""

    x: float
    y: float
    label: str
    filled: bool = True


def curve_chart(
    xs: list[float],
    ys: list[float],
    *,
    title: str,
    x_label: str,
    y_label: str,
    chance: str | None = None,
    marks: list[Mark] | None = None,
) -> str:
    """A unit-square line chart (both axes 0..1) with optional chance line ('diagonal' or a y level)
    and marked points."""
    xs, ys = _thin([float(x) for x in xs], [float(y) for y in ys])
    left, top = MARGIN["left"], MARGIN["top"]
    width = CHART_WIDTH - MARGIN["left"] - MARGIN["right"]
    height = CHART_HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def px(x: float) -> float:
        return left + x * width

    def py(y: float) -> float:
        return top + (1 - y) * height

    parts = [_rect(left, top, width, height, "plot")]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(_line(px(tick), top, px(tick), top + height, "grid"))
        parts.append(_line(left, py(tick), left + width, py(tick), "grid"))
        parts.append(_text(px(tick), top + height + 16, f"{tick:.1f}", anchor="middle"))
        parts.append(_text(left - 6, py(tick) + 4, f"{tick:.1f}", anchor="end"))
    dashed = {"stroke": COLORS["chance"], "stroke_dasharray": "4 4"}
    if chance == "diagonal":
        parts.append(_line(px(0), py(0), px(1), py(1), "chance", **dashed))
    elif chance is not None:
        parts.append(_line(px(0), py(float(chance)), px(1), py(float(chance)), "chance", **dashed))
    if xs:
        steps = (
            f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
            for i, (x, y) in enumerate(zip(xs, ys, strict=True))
        )
        style = _attributes({"fill": "none", "stroke": COLORS["curve"], "stroke_width": 2, "class": "curve"})
        parts.append(f'<path d="{" ".join(steps)}" {style}/>')
    for mark in marks or []:
        fill = COLORS["mark"] if mark.filled else "#fff"
        circle = _attributes(
            {
                "cx": px(mark.x),
                "cy": py(mark.y),
                "r": 5,
                "class": "mark" if mark.filled else "mark other",
                "fill": fill,
                "stroke": COLORS["mark"],
                "stroke_width": 2,
            }
        )
        parts.append(f"<circle {circle}><title>{escape(mark.label)}</title></circle>")
    parts.append(_text(left + width / 2, CHART_HEIGHT - 10, x_label, "label", "middle"))
    parts.append(_vertical_label(14, top + height / 2, y_label))
    return _svg(title, CHART_WIDTH, CHART_HEIGHT, parts)


def confusion_chart(matrix: dict[str, dict[str, Any]], title: str = "Confusion matrix") -> str:
    """2x2 (or n x n) grid: rows are actual labels, columns predicted; shade by share of the row."""
    labels = sorted({*matrix, *(p for row in matrix.values() for p in row)})
    cell, left, top = 96, 110, 44
    side = len(labels) * cell
    parts = [
        _text(left + side / 2, 16, "predicted", "label", "middle"),
        _vertical_label(16, top + side / 2, "actual"),
    ]
    for j, label in enumerate(labels):
        parts.append(_text(left + j * cell + cell / 2, top - 8, label, anchor="middle"))
        parts.append(_text(left - 10, top + j * cell + cell / 2 + 4, label, anchor="end"))
    for i, actual in enumerate(labels):
        row = matrix.get(actual, {})
        total = sum(float(v) for v in row.values()) or 1.0
        for j, predicted in enumerate(labels):
            count = float(row.get(predicted, 0))
            share = count / total
            color = COLORS["ok"] if actual == predicted else COLORS["failed"]
            x, y = left + j * cell, top + i * cell
            shade = {"fill": color, "fill_opacity": f"{0.12 + 0.8 * share:.3f}", "data_count": f"{count:g}"}
            parts.append(_rect(x, y, cell - 2, cell - 2, "cell", **shade))
            parts.append(_text(x + cell / 2, y + cell / 2 + 2, f"{count:g}", "count", "middle"))
            parts.append(_text(x + cell / 2, y + cell / 2 + 20, f"{share:.1%}", anchor="middle"))
    return _svg(title, left + side + 16, top + side + 16, parts)


def bar_chart(items: list[tuple[str, float]], *, title: str, value_label: str) -> str:
    """Horizontal bars, largest |value| first, each labelled with its value and its share of the sum."""
    items = sorted(items, key=lambda item: -abs(item[1]))
    row, left, right, top = 20, 230, 130, 8
    width = CHART_WIDTH + 240
    plot = width - left - right
    peak = max((abs(v) for _, v in items), default=0.0) or 1.0
    total = sum(abs(v) for _, v in items) or 1.0
    parts = []
    for i, (name, value) in enumerate(items):
        y = top + i * row
        length = abs(value) / peak * plot
        if i % 2:
            parts.append(_rect(0, y, width, row, "stripe"))
        parts.append(_text(left - 8, y + 14, name, anchor="end"))
        bar = {"fill": COLORS["curve"], "data_value": f"{value:.6g}"}
        parts.append(_rect(left, y + 3, max(length, 0.5), row - 6, "bar", f"{name}: {value:.6g}", **bar))
        share = abs(value) / total
        parts.append(
            _text(
                left + length + 6, y + 14, f"{value:.4f}  ({'<0.1%' if share < 0.0005 else f'{share:.1%}'})"
            )
        )
    height = top + len(items) * row + 34
    parts.append(_text(left + plot / 2, height - 8, value_label, "label", "middle"))
    return _svg(title, width, height, parts)


def timeline_chart(
    states: list[StateTiming],
    start: dt.datetime | None,
    end: dt.datetime | None,
    statuses: list[str],
) -> str:
    """A Gantt chart of the states: one row each, from entered to exited (to the run's end if never),
    coloured by `statuses` (one per state, STATUS_COLORS' keys)."""
    if not states:
        return ""
    entered = [when(s.entered) for s in states]
    origin = start or min(entered)
    finish = end or max(when(s.exited) or when(s.entered) for s in states)
    span = max((finish - origin).total_seconds(), 1e-3)
    row, left, right, top = 22, 200, 90, 8
    width = CHART_WIDTH + 260
    plot = width - left - right
    parts = []
    for i, (state, begun, status) in enumerate(zip(states, entered, statuses, strict=True)):
        stopped = when(state.exited) or finish
        x0 = left + (begun - origin).total_seconds() / span * plot
        x1 = left + (stopped - origin).total_seconds() / span * plot
        y = top + i * row
        color = STATUS_COLORS.get(status, COLORS["caught"])
        parts.append(_text(left - 8, y + 15, state.name, anchor="end"))
        parts.append(
            _rect(
                x0, y + 3, max(x1 - x0, 2), row - 6, f"span {status}", f"{state.name}: {status}", fill=color
            )
        )
        parts.append(_text(max(x1, x0 + 2) + 6, y + 15, f"{(stopped - begun).total_seconds():.2f}s"))
    height = top + len(states) * row + 34
    label = f"seconds since the execution started (total {span:.1f} s)"
    parts.append(_text(left + plot / 2, height - 8, label, "label", "middle"))
    return _svg("Timeline of states", width, height, parts)
