"""report.html for one run: a single self-contained file (inline CSS and SVG, no script, no network).

`write_report(run, out)` renders these sections from `run`, a dict the engine fills with what the run
left (every key optional: a run that stopped early shows what it has and says what is missing):

    {
      "execution": {"name": str, "status": "SUCCEEDED" | "FAILED" | "ABORTED" | ...,
                    "startDate": datetime | ISO str, "stopDate": datetime | ISO str | None},
      "evaluation": evaluation.json (processing/evaluate.py: binary_classification_metrics in SageMaker's
                    model-quality format, precision_recall_metrics.pr_auc, operating_point, dataset),
      "bias": the bias analysis.json, Clarify's layout (pre_training_bias_metrics /
              post_training_bias_metrics .facets.<facet>[i]
              {"value_or_threshold", "metrics": [{"name", "description", "value"}]}),
      "explainability": the explainability analysis.json (Clarify's layout)
              (explanations.kernel_shap.label0.global_shap_values {feature: value}),
      "gate": the QualityGate function's result {"passed", "metric", "value", "threshold", "tolerance",
              "champion": {"modelPackageArn", "value"} | None, "reason"} (or {"decision": ...}),
      "champion": {"arn", "version", "status", "evaluation": the champion's evaluation.json | None}:
              the package the gate compared with, as the registry holds it,
      "registration": {"ModelPackageGroupName", "ModelPackageVersion", "ModelApprovalStatus",
                       "ModelPackageArn"} (DescribeModelPackage's keys),
      "package": the registered (or approved) package from the registry snapshot: {"metadata", ...},
      "source": for a run started by an approval: {"execution", "runId", "report"} of the run that
              trained the package it deployed (the reports above are that run's),
      "lineage": stepwise/console/lineage.py's lineage() of the run that trained the model, each job
              and function with "log": {"href", "exists"} (a link relative to the report),
      "endpoint": {"EndpointName", "EndpointStatus", "EndpointConfigName"} (DescribeEndpoint's keys),
      "events": the execution's get_execution_history events (the timeline is drawn from them),
      "failure": {"state", "error", "cause"} for a run that failed,
    }

The charts are SVG drawn in Python (stepwise/console/charts.py): ROC and PR curves (with the decision
threshold's point), confusion matrices, global SHAP bars, and the timeline of states. Bias metrics are
a table, each flagged against the documented band of BIAS_BANDS (docs/report.md says where each comes
from).

`run_from_state(state_dir, execution)` fills `run` from what a local run saved (the execution record,
the run's files in the stored bucket, the registry snapshot, the job and function logs), and
`write_run_report(state_dir, execution)` writes `runs/<execution>/report.html` from it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

from stepwise.console.charts import (
    Mark,
    bar_chart,
    confusion_chart,
    curve_chart,
    timeline_chart,
)
from stepwise.console.charts import escape as _e
from stepwise.console.charts import when as _when
from stepwise.console.progress import StateTiming, timeline

POINT_METRICS = ("auc", "accuracy", "precision", "recall", "f1")


class Band(NamedTuple):
    """The range a bias metric is expected in; a value outside is flagged (a prompt to look)."""

    low: float
    high: float
    source: str


FOUR_FIFTHS = "four-fifths rule (29 CFR 1607.4(D)), both ways: 0.8 and 1/0.8"
PARITY = "AI Fairness 360: statistical parity difference, fair within ±0.1"
OPPORTUNITY = "AI Fairness 360: equal opportunity difference, fair within ±0.1"
ANALOGY = "no published band: AI Fairness 360's ±0.1 for rate differences, by analogy"
BIAS_BANDS: dict[str, Band] = {
    "DI": Band(0.8, 1.25, FOUR_FIFTHS),
    "DPL": Band(-0.1, 0.1, PARITY),
    "DPPL": Band(-0.1, 0.1, PARITY),
    "RD": Band(-0.1, 0.1, OPPORTUNITY),
    "AD": Band(-0.1, 0.1, ANALOGY),
    "SD": Band(-0.1, 0.1, ANALOGY),
    "DAR": Band(-0.1, 0.1, ANALOGY),
    "DRR": Band(-0.1, 0.1, ANALOGY),
}


def _float(value: Any) -> float | None:
    """A metric as a float: numbers, and the strings evaluation.json / analysis.json use for NaN and
    infinities ("NaN", "Infinity", "-Infinity"); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _e(value) if value is not None else "–"
    if isinstance(value, float) and not math.isfinite(value):
        return _e(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _code(value: Any) -> str:
    return f"<code>{_e(value)}</code>"


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


def _table(cls: str, header: list[str], rows: list[list[str]], numeric: tuple[int, ...] = ()) -> str:
    """A table of already escaped cells; columns in `numeric` are right-aligned (negative: from the end)."""
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = []
    for row in rows:
        aligned = {i % len(row) for i in numeric}
        cells = "".join(
            f'<td class="num">{cell}</td>' if i in aligned else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="{cls}"><tr>{head}</tr>{"".join(body)}</table>'


def _rows(cls: str, rows: list[tuple[str, str]]) -> str:
    """A two-column table: a heading cell (escaped here) and a value (already escaped)."""
    return (
        f'<table class="{cls}">'
        + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _missing(what: str) -> str:
    return f'<p class="missing">No {_e(what)}: the run did not produce it.</p>'


def _metrics(run: dict) -> dict:
    return ((run.get("evaluation") or {}).get("binary_classification_metrics")) or {}


def _value(metrics: dict, name: str) -> Any:
    entry = metrics.get(name)
    return entry.get("value") if isinstance(entry, dict) else None


def _pr_auc(evaluation: dict | None) -> Any:
    return (((evaluation or {}).get("precision_recall_metrics") or {}).get("pr_auc") or {}).get("value")


def _gate_decision(gate: dict) -> str:
    if gate.get("decision"):
        return str(gate["decision"])
    return "passed" if gate.get("passed") else "rejected"


def _badge(text: str) -> str:
    return f'<span class="status {_e(text.lower().replace(" ", "_"))}">{_e(text)}</span>'


def _summary_section(run: dict) -> str:
    execution = run.get("execution") or {}
    status = str(execution.get("status", "UNKNOWN"))
    start, stop = _when(execution.get("startDate")), _when(execution.get("stopDate"))
    rows = [("Execution", _e(execution.get("name", "?"))), ("Status", _badge(status))]
    if start:
        rows.append(("Started", _e(start.isoformat(timespec="seconds"))))
    if start and stop:
        rows.append(("Duration", f"{(stop - start).total_seconds():.1f} s"))
    source = run.get("source")
    if source:
        rows.append(("Started by", "the approval of a model package: this run deployed it"))
        rows.append(("Model trained by", _source_text(source)))
    metrics = _metrics(run)
    for name in POINT_METRICS:
        value = _value(metrics, name)
        if value is not None:
            label = name.upper() if name == "auc" else name.capitalize()
            rows.append((label if name == "auc" else f"{label} at 0.5", _number(value)))
    if _pr_auc(run.get("evaluation")) is not None:
        rows.append(("PR AUC", _number(_pr_auc(run.get("evaluation")))))
    point = (run.get("evaluation") or {}).get("operating_point") or {}
    if point.get("threshold") is not None:
        test = point.get("test") or {}
        rows.append(
            (
                "Decision threshold",
                f"{_number(point['threshold'])} ({_e(point.get('rule', ''))}): test precision "
                f"{_number(test.get('precision'))}, recall {_number(test.get('recall'))} "
                '(<a href="#threshold">details</a>)',
            )
        )
    gate = run.get("gate")
    if gate:
        reason = f" ({_e(gate['reason'])})" if gate.get("reason") else ""
        rows.append(("Quality gate", f"{_badge(_gate_decision(gate))}{reason}"))
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
        said = [
            f"<b>{_e(failure['error'])}</b>" if failure.get("error") else "",
            _e(failure.get("cause") or ""),
        ]
        detail = " ".join(part for part in said if part)
        stopped = status == "ABORTED"  # Ctrl-C, StopExecution: not a failure of the state
        label, css = ("Stopped in", "stopped-state") if stopped else ("Failed in", "failed-state")
        where = f'<span class="{css}">{_e(failure.get("state") or "?")}</span>'
        rows.append((label, where + (f": {detail}" if detail else "")))
    return _section("Run", _rows("summary", rows), "run")


def _source_text(source: dict) -> str:
    text = f"execution {_code(source.get('execution') or '?')}"
    if source.get("runId"):
        text += f" (run id {_code(source['runId'])})"
    if source.get("report"):
        text += f': <a href="{_e(source["report"])}">its report</a>'
    elif not source.get("found", True):
        text += ": no record of it in this state folder (the reports below come from the package)"
    return text


def _source_note(run: dict) -> str:
    """Above the model's sections in a run started by an approval: whose reports they are."""
    source = run.get("source")
    if not source:
        return ""
    package = run.get("package") or {}
    version = package.get("version", "?")
    return (
        f'<p class="source">This run deployed model package version {_e(version)}. The quality, '
        f"bias, SHAP and lineage sections below are those of the package's reports (its ModelMetrics) "
        f"and of the run that trained it: {_source_text(source)}.</p>"
    )


def _confusion_figure(matrix: dict, anchor: str, caption: str) -> str:
    chart = confusion_chart(matrix, caption)
    return f'<figure id="{anchor}">{chart}<figcaption>{_e(caption)}</figcaption></figure>'


def _operating_marks(metrics: dict, point: dict) -> tuple[list[Mark], list[Mark]]:
    """(ROC marks, PR marks): the decision threshold's test point, and Model Monitor's 0.5 point."""
    roc: list[Mark] = []
    pr: list[Mark] = []
    test = point.get("test") or {}
    matrix = test.get("confusion_matrix") or {}
    negatives = sum(float(v) for v in (matrix.get("0") or {}).values())
    threshold = _float(point.get("threshold"))
    recall, precision = _float(test.get("recall")), _float(test.get("precision"))
    if threshold is not None and recall is not None and precision is not None:
        label = f"decision threshold {threshold:.4g}: precision {precision:.3f}, recall {recall:.3f}"
        pr.append(Mark(recall, precision, label))
        if negatives:
            fpr = float((matrix.get("0") or {}).get("1", 0)) / negatives
            roc.append(
                Mark(fpr, recall, f"decision threshold {threshold:.4g}: FPR {fpr:.3f}, TPR {recall:.3f}")
            )
    at_half = {name: _float(_value(metrics, name)) for name in ("recall", "precision", "false_positive_rate")}
    if None not in at_half.values():
        label = f"threshold 0.5: precision {at_half['precision']:.3f}, recall {at_half['recall']:.3f}"
        pr.append(Mark(at_half["recall"], at_half["precision"], label, filled=False))
        roc.append(Mark(at_half["false_positive_rate"], at_half["recall"], label, filled=False))
    return roc, pr


def _quality_section(run: dict) -> str:
    metrics = _metrics(run)
    if not metrics:
        return _section("Model quality", _missing("evaluation.json"), "quality")
    point = (run.get("evaluation") or {}).get("operating_point") or {}
    roc_marks, pr_marks = _operating_marks(metrics, point)
    legend = " (filled dot: the decision threshold; hollow: 0.5)" if pr_marks and pr_marks[0].filled else ""
    figures = []
    roc = metrics.get("receiver_operating_characteristic_curve") or {}
    if roc.get("false_positive_rates"):
        auc = _float(_value(metrics, "auc"))
        title = "ROC curve" + (f" (AUC {auc:.4f})" if auc is not None else "")
        chart = curve_chart(
            roc["false_positive_rates"],
            roc["true_positive_rates"],
            title=title,
            x_label="false positive rate",
            y_label="true positive rate",
            chance="diagonal",
            marks=roc_marks,
        )
        figures.append(f'<figure id="roc">{chart}<figcaption>{_e(title + legend)}</figcaption></figure>')
    pr = metrics.get("precision_recall_curve") or {}
    if pr.get("recalls"):
        matrix = metrics.get("confusion_matrix") or {}
        positives = sum(float(v) for v in (matrix.get("1") or {}).values())
        total = sum(float(v) for row in matrix.values() for v in row.values())
        base = f"{positives / total:.6f}" if total else None
        pr_auc = _float(_pr_auc(run.get("evaluation")))
        title = "Precision-recall curve" + (f" (PR AUC {pr_auc:.4f})" if pr_auc is not None else "")
        chart = curve_chart(
            pr["recalls"],
            pr["precisions"],
            title=title,
            x_label="recall",
            y_label="precision",
            chance=base,
            marks=pr_marks,
        )
        caption = title + (f"; dashed: positive rate {float(base):.3f}" if base else "") + legend
        figures.append(f'<figure id="pr">{chart}<figcaption>{_e(caption)}</figcaption></figure>')
    if metrics.get("confusion_matrix"):
        figures.append(_confusion_figure(metrics["confusion_matrix"], "confusion", "Confusion matrix at 0.5"))
    matrix = (point.get("test") or {}).get("confusion_matrix")
    if matrix and _float(point.get("threshold")) is not None:
        caption = f"Confusion matrix at the decision threshold {float(point['threshold']):.4g}"
        figures.append(_confusion_figure(matrix, "confusion-operating", caption))
    rows = _evaluation_note(run)
    return _section(
        "Model quality", f'{_source_note(run)}<div class="figures">{"".join(figures)}</div>{rows}', "quality"
    )


def _evaluation_note(run: dict) -> str:
    dataset = (run.get("evaluation") or {}).get("dataset") or {}
    if not dataset.get("rows"):
        return ""
    return (
        f'<p class="note">All on the test split: {_e(dataset["rows"])} rows, '
        f"{_e(dataset.get('positives', '?'))} of them fraud. Model Monitor's metrics "
        f"(binary_classification_metrics) flag a row at a score of {_e(dataset.get('threshold', 0.5))} "
        "or more.</p>"
    )


def _threshold_section(run: dict) -> str:
    evaluation = run.get("evaluation") or {}
    point = evaluation.get("operating_point") or {}
    metrics = _metrics(run)
    if not point and _pr_auc(evaluation) is None:
        what = "evaluation.json" if not evaluation else "operating point in evaluation.json"
        return _section("Decision threshold", _missing(what), "threshold")
    parts = []
    pr_auc = ((evaluation.get("precision_recall_metrics") or {}).get("pr_auc")) or {}
    if pr_auc:
        deviation = _float(pr_auc.get("standard_deviation"))
        spread = f" ± {deviation:.4f}" if deviation is not None and math.isfinite(deviation) else ""
        dataset = evaluation.get("dataset") or {}
        rate = ""
        if dataset.get("rows"):
            rate = (
                f"; a model that ranks at random scores about the positive rate, "
                f"{float(dataset.get('positives', 0)) / float(dataset['rows']):.3f}"
            )
        parts.append(
            f"<p><b>PR AUC</b> {_number(_float(pr_auc.get('value')))}{_e(spread)} (average precision on "
            f"the test split; the spread is over five 80 % samples{_e(rate)}).</p>"
        )
    if point:
        threshold = point.get("threshold")
        parts.append(
            f"<p>The <b>decision threshold</b> {_number(threshold)} was chosen by the rule "
            f"<b>{_e(point.get('rule', '?'))}</b> (processing/evaluate.py, evaluation.json's "
            "operating_point): a row is fraud at a score at or above it.</p>"
        )
        validation, test = point.get("validation") or {}, point.get("test") or {}
        matrix = test.get("confusion_matrix") or {}
        flagged = sum(float((matrix.get(a) or {}).get("1", 0)) for a in matrix) if matrix else None
        half_flagged = None
        half_matrix = metrics.get("confusion_matrix") or {}
        if half_matrix:
            half_flagged = sum(float((half_matrix.get(a) or {}).get("1", 0)) for a in half_matrix)
        rows = [
            [
                "validation: where the threshold was chosen",
                _number(threshold),
                _number(validation.get("precision")),
                _number(validation.get("recall")),
                _number(validation.get("f1")),
                "–",
            ],
            [
                "<b>test, at the decision threshold</b>",
                _number(threshold),
                f"<b>{_number(test.get('precision'))}</b>",
                f"<b>{_number(test.get('recall'))}</b>",
                _number(test.get("f1")),
                _number(flagged, 0) if flagged is not None else "–",
            ],
        ]
        if metrics:
            fixed = _float((evaluation.get("dataset") or {}).get("threshold"))
            fixed = 0.5 if fixed is None else fixed
            rows.append(
                [
                    f"test, at {fixed:g} (Model Monitor's metrics)",
                    _number(fixed),
                    _number(_value(metrics, "precision")),
                    _number(_value(metrics, "recall")),
                    _number(_value(metrics, "f1")),
                    _number(half_flagged, 0) if half_flagged is not None else "–",
                ]
            )
        header = ["split", "threshold", "precision", "recall", "F1", "rows flagged"]
        parts.append(_table("threshold", header, rows, numeric=(1, 2, 3, 4, 5)))
        parts.append(_recorded_threshold(run, threshold))
    return _section("Decision threshold", "".join(parts), "threshold")


def _recorded_threshold(run: dict, threshold: Any) -> str:
    """Where the threshold is recorded: the model package's metadata (decisionThreshold)."""
    package = run.get("package") or {}
    metadata = package.get("metadata") or {}
    if "decisionThreshold" not in metadata:
        if package:
            version = _e(package.get("version", "?"))
            return f'<p class="note">Model package version {version} records no decisionThreshold.</p>'
        return (
            '<p class="note">No model package was registered: the threshold is recorded in evaluation.json '
            "only.</p>"
        )
    recorded = _float(metadata["decisionThreshold"])
    same = recorded is not None and _float(threshold) is not None and abs(recorded - float(threshold)) < 1e-12
    check = "" if same else ' <b class="flag">differs from evaluation.json\'s</b>'
    return (
        f"<p>Recorded in model package version {_e(package.get('version', '?'))}'s metadata: "
        f"{_code('decisionThreshold')} = {_code(metadata['decisionThreshold'])}, "
        f"{_code('operatingPoint')} = {_code(metadata.get('operatingPoint', '?'))}{check}. "
        "Whoever calls the endpoint gets scores; this is the threshold to flag them at.</p>"
    )


CHAMPION_ROWS = (
    ("AUC", ("binary_classification_metrics", "auc", "value")),
    ("PR AUC", ("precision_recall_metrics", "pr_auc", "value")),
    ("F1 at 0.5", ("binary_classification_metrics", "f1", "value")),
    ("precision at 0.5", ("binary_classification_metrics", "precision", "value")),
    ("recall at 0.5", ("binary_classification_metrics", "recall", "value")),
    ("accuracy at 0.5", ("binary_classification_metrics", "accuracy", "value")),
    ("decision threshold", ("operating_point", "threshold")),
    ("precision at the decision threshold", ("operating_point", "test", "precision")),
    ("recall at the decision threshold", ("operating_point", "test", "recall")),
    ("F1 at the decision threshold", ("operating_point", "test", "f1")),
)


def _path(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _champion_section(run: dict) -> str:
    gate = run.get("gate")
    if not gate:
        return _section("Challenger and champion", _missing("quality gate decision"), "champion")
    decision = f"<p><b>Gate:</b> {_badge(_gate_decision(gate))} {_e(gate.get('reason', ''))}</p>"
    settings = ", ".join(
        f"{name} {_number(gate[key], 4) if isinstance(gate[key], float) else _e(gate[key])}"
        for name, key in (("metric", "metric"), ("threshold", "threshold"), ("tolerance", "tolerance"))
        if gate.get(key) is not None
    )
    if settings:
        metric = _e(gate.get("metric", "metric"))
        decision += (
            f'<p class="note">The gate passes a model whose {metric} is at least the threshold and no more '
            f"than the tolerance below the champion's ({_e(settings)}).</p>"
        )
    compared = gate.get("champion") or {}
    champion = run.get("champion") or (
        {"arn": compared["modelPackageArn"]} if compared.get("modelPackageArn") else None
    )
    if not champion:
        body = (
            "<p>No champion: the gate found no Approved model package in the group, so only the threshold "
            "applied.</p>"
        )
        return _section("Challenger and champion", body + decision, "champion")
    evaluation = champion.get("evaluation") or {}
    gate_metric = gate.get("metric")
    rows = []
    for label, path in CHAMPION_ROWS:
        mine, theirs = _float(_path(run.get("evaluation"), path)), _float(_path(evaluation, path))
        if path[1] == gate_metric and theirs is None:
            theirs = _float((gate.get("champion") or {}).get("value"))
        if mine is None and theirs is None:
            continue
        delta = mine - theirs if mine is not None and theirs is not None else None
        name = f"<b>{_e(label)}</b> (gate metric)" if path[1] == gate_metric else _e(label)
        shown_delta = f"{delta:+.4f}" if delta is not None and math.isfinite(delta) else "–"
        rows.append([name, _number(mine), _number(theirs), shown_delta])
    version = champion.get("version")
    header = ["metric", "challenger (this model)", f"champion (version {version})", "delta"]
    table = _table("champion", header, rows, numeric=(1, 2, 3))
    status = champion.get("status")
    about = (
        f"<p>The champion is the model package the gate compared with: "
        f"{_code(champion.get('arn', '?'))}"
        + (f", version {_e(version)}" if version is not None else "")
        + (f" ({_e(status)} now)" if status else "")
        + ". Delta is challenger minus champion.</p>"
    )
    if not evaluation:
        about += (
            '<p class="note">The champion\'s evaluation.json is not in this state folder: only the value the '
            "gate read is shown.</p>"
        )
    else:
        about += (
            '<p class="note">Each column is measured on its own run\'s test split: unless both runs '
            "trained on the same data, the two columns are not the same rows.</p>"
        )
    return _section("Challenger and champion", about + table + decision, "champion")


def _shap_section(run: dict) -> str:
    explanations = ((run.get("explainability") or {}).get("explanations") or {}).get("kernel_shap") or {}
    label = next(iter(explanations.values()), {}) if explanations else {}
    values = label.get("global_shap_values") or {}
    if not values:
        return _section("Global SHAP values", _missing("explainability analysis.json"), "shap")
    ranked = sorted(values.items(), key=lambda item: -abs(item[1]))
    used = [(name, value) for name, value in ranked if value]
    unused = [name for name, value in ranked if not value]
    intro = (
        f"<p>Every feature the model was given ({len(ranked)}), by mean |SHAP value| over the test rows, "
        "in log-odds: how far, on average, the feature moves a row's score. The share is of the sum over "
        "all features.</p>"
    )
    chart = bar_chart(used, title="Global SHAP values", value_label="mean |SHAP value| (log-odds)")
    note = ""
    if unused:
        names = ", ".join(_code(name) for name in unused)
        note = (
            f'<p class="note" id="shap-unused">{len(unused)} features have a mean |SHAP value| of 0 '
            f"(the model never splits on them): {names}.</p>"
        )
    expected = label.get("expected_value")
    if isinstance(expected, int | float):
        note += f'<p class="note">Expected value (the model\'s average log-odds): {expected:.4f}.</p>'
    return _section("Global SHAP values", f'{intro}<figure id="shap-chart">{chart}</figure>{note}', "shap")


def bias_flag(name: str, value: Any) -> tuple[str, str]:
    """(status, band text) of a bias metric's value: "outside" or "inside" its band (BIAS_BANDS),
    "no band", or "n/a" for a value that could not be computed."""
    band = BIAS_BANDS.get(name)
    number = _float(value)
    if band is None:
        return "no band", "–"
    text = f"{band.low:g} to {band.high:g}"
    if number is None or math.isnan(number):
        return "n/a", text
    return ("inside" if band.low <= number <= band.high else "outside"), text


def _direction(name: str, value: float, facet: str) -> str:
    """Which group a flagged DI / DPL / DPPL favours (the metric's sign, in words)."""
    if name == "DI":
        return f"favours {facet}" if value > 1 else f"disadvantages {facet}"
    if name in ("DPL", "DPPL"):
        subject = "labels" if name == "DPL" else "predictions"
        return f"{subject} favour the others" if value > 0 else f"{subject} favour {facet}"
    return ""


def _bias_section(run: dict) -> str:
    analysis = run.get("bias") or {}
    rows, outside, banded = [], [], 0
    facet_text = favourable = ""
    for stage, stage_label in (
        ("pre_training_bias_metrics", "pre-training"),
        ("post_training_bias_metrics", "post-training"),
    ):
        section = analysis.get(stage) or {}
        for facet, groups in (section.get("facets") or {}).items():
            for group in groups:
                facet_text = f"{facet} = {group.get('value_or_threshold', '')}"
                favourable = (
                    f"{section.get('label', 'label')} = {section.get('label_value_or_threshold', '?')}"
                )
                for metric in group.get("metrics") or []:
                    name, value = str(metric.get("name", "")), metric.get("value")
                    status, band = bias_flag(name, value)
                    shown = (
                        _number(value)
                        if value is not None
                        else f'<span class="missing">{_e(metric.get("error", "n/a"))}</span>'
                    )
                    if status != "no band":
                        banded += 1
                    flag = _e(status)
                    if status == "outside":
                        direction = _direction(name, float(_float(value)), facet_text)
                        outside.append(f"{name} {_number(value)}" + (f" ({direction})" if direction else ""))
                        flag = '<span class="flag">⚑ outside: look</span>' + (
                            f" {_e(direction)}" if direction else ""
                        )
                    cells = [stage_label, f"<b>{_e(name)}</b>", _e(metric.get("description", ""))]
                    rows.append([*cells, shown, _e(band), flag])
    if not rows:
        return _section("Bias metrics", _missing("bias analysis.json"), "bias")
    parts = [
        f"<p>Sensitive group: <b>{_e(facet_text)}</b> (the others are every other row). Favourable outcome: "
        f"<b>{_e(favourable)}</b>. Computed by processing/bias_explainability.py on the test split with "
        "Clarify's definitions.</p>"
    ]
    probability = _bias_threshold_note(run)
    if probability:
        parts.append(probability)
    summary = (
        f"{len(outside)} of the {banded} metrics with a band are outside it: {', '.join(outside)}."
        if outside
        else f"None of the {banded} metrics with a band is outside it."
    )
    parts.append(f'<p class="flags">{_e(summary)} A flag is a prompt to look, not a verdict (see below).</p>')
    header = ["stage", "metric", "description", "value", "band", "flag"]
    parts.append(_table("bias", header, rows, numeric=(3,)))
    parts.append(_bands_note(run))
    return _section("Bias metrics", "".join(parts), "bias")


def _bias_threshold_note(run: dict) -> str:
    from stepwise.console.lineage import argument

    jobs = [
        job
        for job in ((run.get("lineage") or {}).get("jobs") or [])
        if job.get("state") == "CheckBiasAndExplain"
    ]
    cut = argument(jobs[-1], "--probability-threshold") if jobs else None
    if cut is None:
        return ""
    point = (run.get("evaluation") or {}).get("operating_point") or {}
    decision = (
        f", not at the decision threshold {_number(point['threshold'])}"
        if _float(point.get("threshold")) is not None
        else ""
    )
    return (
        f'<p class="note">Post-training metrics count a prediction as fraud at a probability above {_e(cut)} '
        f"(the bias job's {_code('--probability-threshold')}){decision}.</p>"
    )


def _bands_note(run: dict) -> str:
    rows = []
    for name, band in BIAS_BANDS.items():
        rows.append([f"<b>{_e(name)}</b>", f"{band.low:g} to {band.high:g}", _e(band.source)])
    table = _table("bands", ["metric", "band", "where it comes from"], rows)
    rows_tested = ((run.get("evaluation") or {}).get("dataset") or {}).get("rows")
    size = f" (here {_e(rows_tested)} rows)" if rows_tested else ""
    return (
        "<h3>The bands</h3>"
        f"{table}"
        '<p class="note">The other metrics (CI, KL, JS, LP, TVD, KS, DCA, DCR, TE, FT, GE, CDDL, CDDPL) '
        "have no generally accepted band and are shown unflagged. A value outside a band is a prompt to "
        "look at the data and the model, not a finding of unfairness: the bands are rules of thumb from "
        f"employment law and from a fairness toolkit, the test split is small{size} and these metrics move "
        "with sampling, "
        "and fraud may truly differ between the groups. A value inside a band is not proof of fairness "
        "either. docs/report.md says more.</p>"
    )


def _link(log: dict | None, label: str) -> str:
    if not log:
        return "–"
    if log.get("exists"):
        return f'<a href="{_e(log["href"])}">{_e(label)}</a>'
    return f'<span class="missing" title="{_e(log["href"])}">no {_e(label)}</span>'


def _job_rows(job: dict) -> str:
    """One job of the lineage: a heading row (state, job, status, log), then its request's facts."""
    seconds = f", {job['seconds']:.1f} s" if isinstance(job.get("seconds"), int | float) else ""
    status = job.get("status") or "no result"
    css = "flag" if status == "Failed" else ""
    heading = (
        f'<tr class="job"><th colspan="3">{_e(job.get("state"))}: {_code(job.get("name"))} '
        f'({_e(job.get("type"))} job, <span class="{css}">{_e(status)}</span>{_e(seconds)}) '
        f"{_link(job.get('log'), 'job.log')}</th></tr>"
    )
    rows = [("image", "", _code(job.get("image")))]
    if job.get("failureReason"):
        rows.insert(0, ("failure", "", f'<span class="flag">{_e(job["failureReason"])}</span>'))
    if job.get("entrypoint") or job.get("arguments"):
        rows.append(("command", "", _code(" ".join([*job.get("entrypoint", []), *job.get("arguments", [])]))))
    if job.get("hyperparameters"):
        values = ", ".join(f"{_e(k)}={_code(v)}" for k, v in sorted(job["hyperparameters"].items()))
        rows.append(("hyperparameters", "", values))
    for kind in ("inputs", "outputs"):
        for i, (name, uri) in enumerate(job.get(kind) or []):
            rows.append((kind if i == 0 else "", _e(name), _code(uri)))
    if job.get("modelArtifact"):
        rows.append(("model artifact", "", _code(job["modelArtifact"])))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{name}</td><td>{v}</td></tr>" for k, name, v in rows)
    return heading + body


def _lineage_section(run: dict) -> str:
    lineage = run.get("lineage") or {}
    if not (lineage.get("jobs") or lineage.get("dataset") or lineage.get("functions")):
        return _section("Lineage", _missing("execution history with jobs"), "lineage")
    parts = [_source_note(run)] if run.get("source") else []
    parts.append(_data_rows(lineage))
    parts.append(_code_rows(lineage))
    jobs = lineage.get("jobs") or []
    if jobs:
        parts.append("<h3>SageMaker jobs</h3>")
        parts.append('<table class="lineage jobs">' + "".join(_job_rows(job) for job in jobs) + "</table>")
    parts.append(_model_rows(run, lineage))
    functions = lineage.get("functions") or []
    if functions:
        labelled = any(f.get("run") for f in functions)  # an approval run: two executions' functions
        rows = []
        for f in functions:
            name = _code(f.get("function"))
            if f.get("error"):
                name += f' <span class="flag">{_e(f["error"])}</span>'
            run_label = [_e(f.get("run", ""))] if labelled else []
            rows.append([_e(f.get("state")), name, *run_label, _link(f.get("log"), "function log")])
        header = ["state", "function", *(["run"] if labelled else []), "log"]
        parts.append("<h3>Lambda functions</h3>")
        parts.append(_table("lineage functions", header, rows))
    return _section("Lineage", "".join(parts), "lineage")


def _data_rows(lineage: dict) -> str:
    dataset, claim = lineage.get("dataset") or {}, lineage.get("run") or {}
    rows = []
    if dataset.get("s3Uri"):
        rows.append(("Dataset", f"{_code(dataset['s3Uri'])} (id {_e(dataset.get('datasetId', '?'))})"))
    bucket = dataset.get("bucket")
    for file, prefix in (("claims", "claims"), ("customers", "customers")):
        key = dataset.get(f"{prefix}Key")
        if not key:
            continue
        where = f"s3://{bucket}/{key}" if bucket else key
        facts = [_code(where)]
        if dataset.get(f"{prefix}VersionId"):
            facts.append(f"version {_code(dataset[f'{prefix}VersionId'])}")
        if dataset.get(f"{prefix}ETag"):
            facts.append(f"ETag {_code(dataset[f'{prefix}ETag'])}")
        rows.append((f"{file}.csv", ", ".join(facts)))
    if dataset.get("trigger"):
        rows.append(
            ("Started by", _e(dataset["trigger"]) + (" (forced retraining)" if dataset.get("force") else ""))
        )
    if claim.get("fingerprint"):
        text = _code(claim["fingerprint"])
        if claim.get("claimUri"):
            text += f"<br>claimed in {_code(claim['claimUri'])}"
        rows.append(("Fingerprint", text))
    if claim.get("id"):
        rows.append(("Run id", _code(claim["id"])))
    if not rows:
        return ""
    intro = (
        '<p class="note">The fingerprint (ClaimRun) covers both files\' checksums, the processing code, the '
        "images, the hyperparameters and the operating point rule: a run on the same fingerprint trains "
        "nothing.</p>"
    )
    return "<h3>Data</h3>" + _rows("lineage data", rows) + intro


def _code_rows(lineage: dict) -> str:
    rows = []
    if lineage.get("code"):
        rows.append(("Processing code", "<br>".join(_code(uri) for uri in lineage["code"])))
    images: dict[str, list[str]] = {}
    for job in lineage.get("jobs") or []:
        if job.get("image"):
            images.setdefault(job["image"], [])
            if job.get("state") not in images[job["image"]]:
                images[job["image"]].append(job.get("state"))
    for image, states in images.items():
        rows.append((f"Image ({', '.join(str(s) for s in states)})", _code(image)))
    recipe = lineage.get("recipe") or {}
    split = recipe.get("split") or {}
    if split:
        rows.append(("Split", ", ".join(f"{_e(k)} {_code(v)}" for k, v in split.items())))
    if recipe.get("operatingPoint"):
        rows.append(("Operating point rule", _code(recipe["operatingPoint"])))
    return ("<h3>Code and recipe</h3>" + _rows("lineage code", rows)) if rows else ""


def _model_rows(run: dict, lineage: dict) -> str:
    rows = []
    if lineage.get("model"):
        rows.append(("Model artifact", _code(lineage["model"])))
    for job in lineage.get("jobs") or []:
        if job.get("finalMetrics"):
            metrics = ", ".join(f"{_e(k)} {_number(v)}" for k, v in job["finalMetrics"].items())
            rows.append(("Training metrics", metrics))
    package = run.get("package") or {}
    if package.get("arn"):
        rows.append(("Model package", f"{_code(package['arn'])} ({_e(package.get('status', '?'))} now)"))
        metadata = package.get("metadata") or {}
        if metadata:
            rows.append(
                ("Package metadata", "<br>".join(f"{_e(k)}: {_code(v)}" for k, v in sorted(metadata.items())))
            )
    return ("<h3>Model</h3>" + _rows("lineage model", rows)) if rows else ""


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
h1{font-size:22px;margin:0 0 8px;overflow-wrap:anywhere}
h2{font-size:17px;border-bottom:1px solid #e5e7eb;padding-bottom:4px;margin-top:28px}
h3{font-size:14px;margin:18px 0 6px}
nav{font-size:13px}nav a{margin-right:10px}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #f0f0f0;padding:4px 10px;text-align:left;vertical-align:top}
p{font-size:14px}
table.summary th,table.lineage th{color:#6b7280;font-weight:500;width:170px}
table.jobs tr.job th{color:#111827;background:#f3f4f6;font-weight:600;width:auto}
table.functions code{overflow-wrap:normal;white-space:nowrap}
table.bias td:nth-child(5),table.bands td:nth-child(2){white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px;overflow-wrap:anywhere}
.figures{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0}
figcaption{font-size:12px;color:#4b5563;text-align:center;max-width:440px}
.plot{fill:#fff;stroke:#d1d5db}.grid{stroke:#f0f0f0}.tick{font-size:11px;fill:#374151}.label{font-size:12px;fill:#111827}
.stripe{fill:#f9fafb}
.count{font-size:18px;font-weight:600;fill:#111827}.missing{color:#9ca3af}.note{font-size:12px;color:#4b5563}
.flag{color:#b91c1c;font-weight:600}.flags{font-weight:500}
.source{background:#eff6ff;border-left:4px solid #2563eb;padding:6px 10px}
.status{padding:1px 8px;border-radius:9px;color:#fff;background:#6b7280}
.status.succeeded,.status.passed{background:#16a34a}
.status.failed,.status.timed_out,.status.rejected{background:#dc2626}.status.aborted{background:#6b7280}
.state.failed,.state.timed_out,.failed-state{color:#dc2626;font-weight:600}
.state.aborted,.stopped-state{color:#6b7280;font-weight:600}
.state.retried,.state.caught{color:#b45309}.state.running{color:#7c3aed}
"""

NAVIGATION = (
    ("run", "Run"),
    ("quality", "Quality"),
    ("threshold", "Decision threshold"),
    ("champion", "Champion"),
    ("shap", "SHAP"),
    ("bias", "Bias"),
    ("lineage", "Lineage"),
    ("timeline", "Timeline"),
)


def render_report(run: dict) -> str:
    """The report as one HTML string."""
    execution = run.get("execution") or {}
    title = f"Stepwise run {execution.get('name', '')}".strip()
    navigation = "".join(f'<a href="#{anchor}">{_e(label)}</a>' for anchor, label in NAVIGATION)
    body = "".join(
        [
            f"<nav>{navigation}</nav>",
            _summary_section(run),
            _quality_section(run),
            _threshold_section(run),
            _champion_section(run),
            _shap_section(run),
            _bias_section(run),
            _lineage_section(run),
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


def _s3_json(store: Any, uri: str | None) -> Any | None:
    """The JSON document at an s3:// URI of the stored bucket(s), or None."""
    if not uri or not str(uri).startswith("s3://"):
        return None
    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    data = store.read_object(bucket, key)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def package_files(store: Any, package: dict) -> dict[str, Any]:
    """A registered package's reports (its ModelMetrics: quality, bias, explainability), as stored."""
    metrics = package.get("metrics") or {}
    found = {}
    for name, section, kind in (
        ("evaluation", "ModelQuality", "Statistics"),
        ("bias", "Bias", "Report"),
        ("explainability", "Explainability", "Report"),
    ):
        document = _s3_json(store, ((metrics.get(section) or {}).get(kind) or {}).get("S3Uri"))
        if document is not None:
            found[name] = document
    return found


def _log_files(store: Any, record: dict) -> list[tuple[str, Path]]:
    """(state, log file) of every job and function the run's states ran, in the order they ran: the
    files local mode writes beside the CloudWatch Logs events (a job's `logs/job.log` in its folder,
    a function's `runs/<execution>/lambda/<function>.log`)."""
    from stepwise.emulator.sagemaker.jobs import job_dir, run_of_job

    runs_dir = Path(store.root) / "runs"
    execution = record["execution"]["name"]
    found: list[tuple[str, Path]] = []
    current = None
    for event in record.get("events") or []:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            current = entered.get("name")
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if not scheduled:
            continue
        parameters = json.loads(scheduled.get("parameters") or scheduled.get("input") or "{}")
        job = parameters.get("ProcessingJobName") or parameters.get("TrainingJobName")
        if job:
            found.append((current or "?", job_dir(runs_dir, run_of_job(job), job) / "logs" / "job.log"))
        resource = str(scheduled.get("resource") or parameters.get("FunctionName") or "")
        if ":function:" in resource:
            name = resource.split(":function:", 1)[1].split(":")[0]
            path = runs_dir / execution / "lambda" / f"{name}.log"
            if (current or "?", path) not in found:
                found.append((current or "?", path))
    return found


def _with_logs(store: Any, record: dict, lineage: dict, report_dir: Path, label: str = "") -> dict:
    """`lineage` with each job's and function's log: {"href" relative to report_dir, "exists"}."""
    logs = _log_files(store, record)

    def link(path: Path) -> dict:
        return {"href": Path(os.path.relpath(path, report_dir)).as_posix(), "exists": path.is_file()}

    for job in lineage.get("jobs") or []:
        path = next((p for _, p in logs if p.parent.parent.name == job.get("name")), None)
        if path is not None:
            job["log"] = link(path)
    for function in lineage.get("functions") or []:
        path = next(
            (p for _, p in logs if p.parent.name == "lambda" and p.stem == function["function"]), None
        )
        if path is not None:
            function["log"] = link(path)
        if label:
            function["run"] = label
    return lineage


def _champion(store: Any, all_packages: list[dict], gate: dict | None) -> dict | None:
    """The package the gate compared with (its result's champion), with its evaluation.json."""
    compared = (gate or {}).get("champion") or {}
    arn = compared.get("modelPackageArn")
    if not arn:
        return None
    package = next((p for p in all_packages if p.get("arn") == arn), {})
    quality = ((package.get("metrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    return {
        "arn": arn,
        "version": package.get("version"),
        "status": package.get("status"),
        "evaluation": _s3_json(store, quality.get("S3Uri")),
    }


def run_from_state(state_dir: Path, execution: str) -> dict:
    """The `run` dict of a saved local execution (name, unique prefix or run id); KeyError if none.

    A run started by an approval (it has no ClaimRun) shows the approved package: its reports are read
    from the package's ModelMetrics, its lineage and gate from the execution that registered it."""
    from stepwise.console.lineage import lineage
    from stepwise.console.progress import run_of
    from stepwise.console.records import bucket_of, find_execution, package_of_execution, packages
    from stepwise.console.summary import build_summary, run_files, state_output
    from stepwise.emulator.store import Store

    store = Store(Path(state_dir), create=False)
    record = find_execution(store, execution)
    if record is None:
        raise KeyError(f"no execution {execution!r} is saved under {state_dir}")
    described = record["execution"]
    events = record.get("events") or []
    report_dir = store.root / "runs" / described["name"]
    summary = record.get("summary") or build_summary(store, described, events)
    all_packages = packages(store)
    package = package_of_execution(all_packages, described)
    run: dict[str, Any] = {"execution": described, "events": events}
    trained, claimed = record, run_of(events)
    if claimed is None and package is not None:  # an approval run: the package's run trained the model
        metadata = package.get("metadata") or {}
        trained = find_execution(store, metadata["executionName"]) if metadata.get("executionName") else None
        source = {
            "execution": metadata.get("executionName"),
            "runId": metadata.get("runId"),
            "found": bool(trained),
        }
        if trained is not None:
            report = store.root / "runs" / trained["execution"]["name"] / "report.html"
            if report.is_file():
                source["report"] = Path(os.path.relpath(report, report_dir)).as_posix()
        run["source"] = source
        run.update(run_files(store, bucket_of(store), metadata.get("runId")))
        run.update(package_files(store, package))
    else:
        run.update(run_files(store, bucket_of(store), (claimed or {}).get("id")))
    if package is not None:
        run["package"] = package
    if trained is not None:
        trained_events = trained.get("events") or []
        found = _with_logs(
            store, trained, lineage(trained_events), report_dir, "training run" if run.get("source") else ""
        )
        if run.get("source"):
            own = _with_logs(store, record, lineage(events), report_dir, "this run")
            found["functions"] = [*found.get("functions", []), *own.get("functions", [])]
        run["lineage"] = found
        gate = (trained.get("summary") or {}).get("gate") or state_output(trained_events, "QualityGate").get(
            "gate"
        )
        if trained is record:
            gate = summary.get("gate") or gate
        if gate:
            run["gate"] = gate
            champion = _champion(store, all_packages, gate)
            if champion:
                run["champion"] = champion
    registered = summary.get("modelPackage")
    if registered:
        run["registration"] = {
            "ModelPackageGroupName": registered.get("group"),
            "ModelPackageVersion": registered.get("version"),
            "ModelApprovalStatus": registered.get("approval"),
            "ModelPackageArn": registered.get("arn"),
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
