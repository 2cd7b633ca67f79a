"""report.html for one run: a single self-contained file (inline CSS and SVG, no script, no network).

`write_report(run, out)` renders these sections from `run`, a dict the engine fills with what the run
left (every key optional: a run that stopped early shows what it has and says what is missing):

    {
      "execution": {"name": str, "status": "SUCCEEDED" | "FAILED" | ...,
                    "startDate": datetime | ISO str, "stopDate": datetime | ISO str | None},
      "evaluation": evaluation.json (SageMaker model-quality format: binary_classification_metrics
                    with receiver_operating_characteristic_curve, precision_recall_curve,
                    confusion_matrix {"actual": {"predicted": count}}, auc/f1/... {"value"}),
      "bias": the bias analysis.json, Clarify's layout (pre_training_bias_metrics /
              post_training_bias_metrics .facets.<facet>[i]
              {"value_or_threshold", "metrics": [{"name", "description", "value"}]}),
      "explainability": the explainability analysis.json (Clarify's layout)
              (explanations.kernel_shap.label0.global_shap_values {feature: value}),
      "gate": {"metric", "value", "threshold", "passed" | "decision", ...} (the QualityGate result),
      "registration": {"ModelPackageGroupName", "ModelPackageVersion", "ModelApprovalStatus",
                       "ModelPackageArn"} (DescribeModelPackage's keys),
      "endpoint": {"EndpointName", "EndpointStatus", "EndpointConfigName"} (DescribeEndpoint's keys),
      "events": the execution's get_execution_history events (the timeline is drawn from them),
      "failure": {"state", "error", "cause"} for a run that failed,
    }

The charts are drawn here, in Python, as SVG: ROC and PR curves, confusion matrix, global SHAP bars,
and the timeline of states. Bias metrics are a table.

`run_from_state(state_dir, execution)` fills `run` from what a local run saved (the execution record
under `executions/` and the run's files in the mirrored bucket under `s3/`), and
`write_run_report(state_dir, execution)` writes `runs/<execution>/report.html` from it.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

from stepwise.console.progress import StateTiming, timeline
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
POINT_METRICS = ("auc", "accuracy", "precision", "recall", "f1")
TOP_SHAP_FEATURES = 20


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _e(value) if value is not None else "–"
    if isinstance(value, float) and not math.isfinite(value):
        return _e(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _when(value: Any) -> dt.datetime | None:
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


# --------------------------------------------------------------------------- charts


def _attributes(values: dict[str, Any]) -> str:
    shown = []
    for key, value in values.items():
        if value is None:
            continue
        text = f"{value:.1f}" if isinstance(value, float) else str(value)
        shown.append(f'{key.rstrip("_").replace("_", "-")}="{_e(text)}"')
    return " ".join(shown)


def _text(
    x: float, y: float, content: Any, cls: str = "tick", anchor: str | None = None, **extra: Any
) -> str:
    attributes = _attributes({"x": x, "y": y, "class": cls, "text_anchor": anchor, **extra})
    return f"<text {attributes}>{_e(content)}</text>"


def _line(x1: float, y1: float, x2: float, y2: float, cls: str, **extra: Any) -> str:
    return f"<line {_attributes({'x1': x1, 'y1': y1, 'x2': x2, 'y2': y2, 'class': cls, **extra})}/>"


def _rect(x: float, y: float, width: float, height: float, cls: str, tooltip: str = "", **extra: Any) -> str:
    attributes = _attributes({"x": x, "y": y, "width": width, "height": height, "class": cls, **extra})
    if tooltip:
        return f"<rect {attributes}><title>{_e(tooltip)}</title></rect>"
    return f"<rect {attributes}/>"


def _vertical_label(x: float, y: float, content: str) -> str:
    return _text(x, y, content, "label", "middle", transform=f"rotate(-90 {x} {y})")


def _svg(title: str, width: float, height: float, parts: list[str]) -> str:
    size = _attributes({"width": width, "height": height, "viewBox": f"0 0 {width} {height}"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>{''.join(parts)}</svg>"
    )


def curve_chart(
    xs: list[float], ys: list[float], *, title: str, x_label: str, y_label: str, chance: str | None = None
) -> str:
    """A unit-square line chart (both axes 0..1) with optional chance line: 'diagonal' or a y level."""
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
    parts.append(_text(left + width / 2, CHART_HEIGHT - 10, x_label, "label", "middle"))
    parts.append(_vertical_label(14, top + height / 2, y_label))
    return _svg(title, CHART_WIDTH, CHART_HEIGHT, parts)


def confusion_chart(matrix: dict[str, dict[str, Any]]) -> str:
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
    return _svg("Confusion matrix", left + side + 16, top + side + 16, parts)


def bar_chart(items: list[tuple[str, float]], *, title: str, value_label: str) -> str:
    """Horizontal bars, largest |value| first, labelled with the value."""
    items = sorted(items, key=lambda item: -abs(item[1]))
    row, left, right, top = 22, 230, 70, 8
    width = CHART_WIDTH + 180
    plot = width - left - right
    peak = max((abs(v) for _, v in items), default=0.0) or 1.0
    parts = []
    for i, (name, value) in enumerate(items):
        y = top + i * row
        length = abs(value) / peak * plot
        parts.append(_text(left - 8, y + 15, name, anchor="end"))
        bar = {"fill": COLORS["curve"], "data_value": f"{value:.6g}"}
        parts.append(_rect(left, y + 3, max(length, 0.5), row - 6, "bar", **bar))
        parts.append(_text(left + length + 6, y + 15, f"{value:.4f}"))
    height = top + len(items) * row + 34
    parts.append(_text(left + plot / 2, height - 8, value_label, "label", "middle"))
    return _svg(title, width, height, parts)


def timeline_chart(
    states: list[StateTiming],
    start: dt.datetime | None,
    end: dt.datetime | None,
    statuses: list[str] | None = None,
) -> str:
    """A Gantt chart of the states: one row each, from entered to exited (to the run's end if never),
    coloured by `statuses` (state_statuses)."""
    if not states:
        return ""
    statuses = statuses or state_statuses(states, [], None, None)
    entered = [_when(s.entered) for s in states]
    origin = start or min(entered)
    finish = end or max(_when(s.exited) or _when(s.entered) for s in states)
    span = max((finish - origin).total_seconds(), 1e-3)
    row, left, right, top = 22, 200, 90, 8
    width = CHART_WIDTH + 260
    plot = width - left - right
    parts = []
    for i, (state, begun, status) in enumerate(zip(states, entered, statuses, strict=True)):
        stopped = _when(state.exited) or finish
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


def _task_outcomes(events: list[dict]) -> list[str | None]:
    """For each state entered (timeline's order): how its last Task call ended ("succeeded",
    "failed") or None when it made none."""
    outcomes: list[str | None] = []
    open_states: list[int] = []
    for event in events:
        kind = event.get("type", "")
        if kind.endswith("StateEntered"):
            outcomes.append(None)
            open_states.append(len(outcomes) - 1)
        elif kind.endswith("StateExited"):
            if open_states:
                open_states.pop()
        elif kind in ("TaskSucceeded", "LambdaFunctionSucceeded") and open_states:
            outcomes[open_states[-1]] = "succeeded"
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut") and open_states:
            outcomes[open_states[-1]] = "failed"
    return outcomes


def state_statuses(
    states: list[StateTiming], events: list[dict], execution_status: str | None, failed_state: str | None
) -> list[str]:
    """Each state's status in the run, as the timeline shows it:

    - succeeded; retried (a failed call retried and then succeeded, or the state entered again);
      caught (its error handled by a Catch, and the run went on);
    - failed: a Fail state, the state whose error failed the run (`failed_state`, its last entry), or
      the state the run was in when it failed;
    - aborted / timed out: the state the run was in when it was stopped / timed out;
    - running: a state of a run still running.
    """
    outcomes = _task_outcomes(events) if events else []
    last_failed = max((i for i, s in enumerate(states) if s.name == failed_state), default=None)
    run_failed = execution_status in ("FAILED", "TIMED_OUT")
    statuses = []
    for i, state in enumerate(states):
        entered_again = any(later.name == state.name for later in states[i + 1 :])
        outcome = outcomes[i] if i < len(outcomes) else None
        if state.exited is None:
            if state.type == "Fail" or execution_status == "FAILED":
                status = "failed"
            else:
                status = {"ABORTED": "aborted", "TIMED_OUT": "timed out", "SUCCEEDED": "succeeded"}.get(
                    str(execution_status), "running"
                )
        elif not state.failed:
            status = "succeeded"
        elif run_failed and i == last_failed:
            status = "failed"
        elif outcome == "succeeded" or entered_again:
            status = "retried"
        else:
            status = "caught"
        statuses.append(status)
    return statuses


# --------------------------------------------------------------------------- sections


def _table(cls: str, header: list[str], rows: list[list[str]], numeric_last: bool = False) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if numeric_last and i == len(row) - 1 else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _missing(what: str) -> str:
    return f'<p class="missing">No {_e(what)}: the run did not produce it.</p>'


def _summary_section(run: dict) -> str:
    execution = run.get("execution") or {}
    status = str(execution.get("status", "UNKNOWN"))
    start, stop = _when(execution.get("startDate")), _when(execution.get("stopDate"))
    rows = [
        ("Execution", _e(execution.get("name", "?"))),
        ("Status", f'<span class="status {_e(status.lower())}">{_e(status)}</span>'),
    ]
    if start:
        rows.append(("Started", _e(start.isoformat(timespec="seconds"))))
    if start and stop:
        rows.append(("Duration", f"{(stop - start).total_seconds():.1f} s"))
    metrics = ((run.get("evaluation") or {}).get("binary_classification_metrics")) or {}
    for name in POINT_METRICS:
        value = (metrics.get(name) or {}).get("value") if isinstance(metrics.get(name), dict) else None
        if value is not None:
            rows.append((name.upper() if name == "auc" else name.capitalize(), _number(value)))
    gate = run.get("gate")
    if gate:
        decision = gate.get("decision") or ("passed" if gate.get("passed") else "rejected")
        detail = ", ".join(
            f"{_e(k)} {_number(v)}" for k, v in gate.items() if k not in ("decision", "passed")
        )
        rows.append(("Quality gate", f"{_e(decision)} ({detail})" if detail else _e(decision)))
    registration = run.get("registration")
    if registration:
        version = registration.get("ModelPackageVersion", "?")
        group = registration.get("ModelPackageGroupName", "")
        approval = registration.get("ModelApprovalStatus", "")
        rows.append(
            (
                "Model registry",
                f'<span class="version">{_e(group)} version {_e(version)}</span> {_e(approval)}',
            )
        )
    endpoint = run.get("endpoint")
    if endpoint:
        rows.append(
            (
                "Endpoint",
                f"{_e(endpoint.get('EndpointName', '?'))}: {_e(endpoint.get('EndpointStatus', '?'))}"
                f" ({_e(endpoint.get('EndpointConfigName', ''))})",
            )
        )
    failure = run.get("failure")
    if failure:
        state, error, cause = (_e(failure.get(key, "")) for key in ("state", "error", "cause"))
        rows.append(("Failed in", f"{state}: <b>{error}</b> {cause}"))
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return _section("Run", f'<table class="summary">{table}</table>', "run")


def _quality_section(run: dict) -> str:
    metrics = ((run.get("evaluation") or {}).get("binary_classification_metrics")) or {}
    if not metrics:
        return _section("Model quality", _missing("evaluation.json"), "quality")
    figures = []
    roc = metrics.get("receiver_operating_characteristic_curve") or {}
    if roc.get("false_positive_rates"):
        auc = (metrics.get("auc") or {}).get("value")
        title = "ROC curve" + (f" (AUC {auc:.4f})" if isinstance(auc, float) else "")
        chart = curve_chart(
            roc["false_positive_rates"],
            roc["true_positive_rates"],
            title=title,
            x_label="false positive rate",
            y_label="true positive rate",
            chance="diagonal",
        )
        figures.append(f'<figure id="roc">{chart}<figcaption>{_e(title)}</figcaption></figure>')
    pr = metrics.get("precision_recall_curve") or {}
    if pr.get("recalls"):
        matrix = metrics.get("confusion_matrix") or {}
        positives = sum(float(v) for v in (matrix.get("1") or {}).values())
        total = sum(float(v) for row in matrix.values() for v in row.values())
        base = f"{positives / total:.6f}" if total else None
        chart = curve_chart(
            pr["recalls"],
            pr["precisions"],
            title="Precision-recall curve",
            x_label="recall",
            y_label="precision",
            chance=base,
        )
        caption = "Precision-recall curve" + (f" (dashed: positive rate {float(base):.3f})" if base else "")
        figures.append(f'<figure id="pr">{chart}<figcaption>{_e(caption)}</figcaption></figure>')
    if metrics.get("confusion_matrix"):
        chart = confusion_chart(metrics["confusion_matrix"])
        caption = "Confusion matrix (threshold 0.5)"
        figures.append(f'<figure id="confusion">{chart}<figcaption>{caption}</figcaption></figure>')
    return _section("Model quality", f'<div class="figures">{"".join(figures)}</div>', "quality")


def _shap_section(run: dict) -> str:
    explanations = ((run.get("explainability") or {}).get("explanations") or {}).get("kernel_shap") or {}
    label = next(iter(explanations.values()), {}) if explanations else {}
    values = label.get("global_shap_values") or {}
    if not values:
        return _section("Global SHAP values", _missing("explainability analysis.json"), "shap")
    ranked = sorted(values.items(), key=lambda item: -abs(item[1]))
    shown = ranked[:TOP_SHAP_FEATURES]
    chart = bar_chart(shown, title="Global SHAP values", value_label="mean |SHAP value| (log-odds)")
    note = ""
    if len(ranked) > len(shown):
        rest = max(abs(value) for _, value in ranked[len(shown) :])
        note = f'<p class="note">{len(ranked) - len(shown)} more features, each at most {rest:.4f}.</p>'
    return _section("Global SHAP values", f'<figure id="shap-chart">{chart}</figure>{note}', "shap")


def _bias_section(run: dict) -> str:
    analysis = run.get("bias") or {}
    rows = []
    for stage, stage_label in (
        ("pre_training_bias_metrics", "pre-training"),
        ("post_training_bias_metrics", "post-training"),
    ):
        for facet, groups in ((analysis.get(stage) or {}).get("facets") or {}).items():
            for group in groups:
                for metric in group.get("metrics") or []:
                    value = metric.get("value")
                    shown = (
                        _number(value)
                        if value is not None
                        else f'<span class="missing">{_e(metric.get("error", "n/a"))}</span>'
                    )
                    facet_value = f"{_e(facet)} = {_e(group.get('value_or_threshold', ''))}"
                    name = f"<b>{_e(metric.get('name', ''))}</b>"
                    rows.append([stage_label, facet_value, name, _e(metric.get("description", "")), shown])
    if not rows:
        return _section("Bias metrics", _missing("bias analysis.json"), "bias")
    table = _table("bias", ["stage", "facet", "metric", "description", "value"], rows, numeric_last=True)
    return _section("Bias metrics", table, "bias")


def _timeline_section(run: dict) -> str:
    events = run.get("events") or []
    states = timeline(events)
    if not states:
        return _section("Timeline", _missing("execution history"), "timeline")
    execution = run.get("execution") or {}
    failed = (run.get("failure") or {}).get("state")
    statuses = state_statuses(states, events, execution.get("status"), failed)
    chart = timeline_chart(
        states, _when(execution.get("startDate")), _when(execution.get("stopDate")), statuses
    )
    rows = [
        [
            _e(s.name),
            _e(s.type),
            _e(_when(s.entered).isoformat(timespec="milliseconds")),
            _e(_when(s.exited).isoformat(timespec="milliseconds")) if s.exited else "–",
            f'<span class="state {_e(status.replace(" ", "_"))}">{_e(status)}</span>'
            + (f" ({_e(s.failed['error'])})" if s.failed else ""),
        ]
        for s, status in zip(states, statuses, strict=True)
    ]
    table = _table("timeline", ["state", "type", "start", "end", "status"], rows)
    return _section("Timeline", f'<figure id="timeline-chart">{chart}</figure>{table}', "timeline")


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;
  color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:17px;border-bottom:1px solid #e5e7eb;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #f0f0f0;padding:4px 10px;text-align:left;vertical-align:top}
table.summary th{color:#6b7280;font-weight:500;width:150px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0}
figcaption{font-size:12px;color:#4b5563;text-align:center}
.plot{fill:#fff;stroke:#d1d5db}.grid{stroke:#f0f0f0}.tick{font-size:11px;fill:#374151}.label{font-size:12px;fill:#111827}
.count{font-size:18px;font-weight:600;fill:#111827}.missing{color:#9ca3af}.note{font-size:12px;color:#4b5563}
.status{padding:1px 8px;border-radius:9px;color:#fff;background:#6b7280}.status.succeeded{background:#16a34a}
.status.failed,.status.timed_out{background:#dc2626}.status.aborted{background:#6b7280}
.state.failed,.state.timed_out{color:#dc2626;font-weight:600}.state.aborted{color:#6b7280;font-weight:600}
.state.retried,.state.caught{color:#b45309}.state.running{color:#7c3aed}
"""


def render_report(run: dict) -> str:
    """The report as one HTML string."""
    execution = run.get("execution") or {}
    title = f"Stepwise run {execution.get('name', '')}".strip()
    body = "".join(
        [
            _summary_section(run),
            _quality_section(run),
            _shap_section(run),
            _bias_section(run),
            _timeline_section(run),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{_e(title)}</h1>{body}</body></html>\n"
    )


def write_report(run: dict, out: Path) -> Path:
    """Write report.html for `run` (see the module doc) to `out` (a file, or a folder to put it in)."""
    out = Path(out)
    path = out / "report.html" if out.is_dir() or not out.suffix else out
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(render_report(run), encoding="utf-8")
    temporary.replace(path)
    return path


# --------------------------------------------------------------------------- from a local run's state


def run_from_state(state_dir: Path, execution: str) -> dict:
    """The `run` dict of a saved local execution (name, unique prefix or run id); KeyError if none."""
    from stepwise.console.progress import run_of
    from stepwise.console.records import bucket_of, find_execution
    from stepwise.console.summary import run_files
    from stepwise.emulator.store import Store

    store = Store(Path(state_dir), create=False)
    record = find_execution(store, execution)
    if record is None:
        raise KeyError(f"no execution {execution!r} is saved under {state_dir}")
    described = record["execution"]
    events = record.get("events") or []
    run: dict[str, Any] = {"execution": described, "events": events}
    run.update(run_files(store, bucket_of(store), (run_of(events) or {}).get("id")))
    summary = record.get("summary") or {}
    if summary.get("gate"):
        run["gate"] = {
            k: v for k, v in summary["gate"].items() if k in ("metric", "value", "threshold", "passed")
        }
    package = summary.get("modelPackage")
    if package:
        run["registration"] = {
            "ModelPackageGroupName": package.get("group"),
            "ModelPackageVersion": package.get("version"),
            "ModelApprovalStatus": package.get("approval"),
            "ModelPackageArn": package.get("arn"),
        }
    endpoint = summary.get("endpoint")
    if endpoint:
        run["endpoint"] = {
            "EndpointName": endpoint.get("name"),
            "EndpointStatus": endpoint.get("status"),
            "EndpointConfigName": endpoint.get("config"),
        }
    if summary.get("failure"):
        run["failure"] = summary["failure"]
    return run


def write_run_report(state_dir: Path, execution: str) -> Path:
    """Write `<state_dir>/runs/<execution>/report.html` for a saved local execution; return its path."""
    run = run_from_state(state_dir, execution)
    return write_report(run, Path(state_dir) / "runs" / run["execution"]["name"] / "report.html")
