"""report.html: self-contained, and its charts are really drawn when headless Chromium renders it.

Two kinds of runs: `run`, a run dict as the engine fills it (a real evaluation.json from
processing/evaluate.py on generated scores, Clarify outputs and a history from fixtures), and
`saved`, a state folder holding the trimmed records of real local runs (fixtures/report/saved, made
by make_saved.py): a run with a champion, a run that awaited approval, the approval run that deployed
it, and a run whose Evaluate job crashed. Their reports are written as `stepwise run` writes them.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import urllib.parse
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from processing.evaluate import (
    binary_classification_metrics,
    operating_point,
    parse_operating_point,
    precision_recall_metrics,
)
from stepwise.console.progress import timeline
from stepwise.console.report import bias_flag, state_statuses, write_report, write_run_report

FIXTURES = Path(__file__).parent / "fixtures" / "report"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
CURVE_BLUE = (0x25, 0x63, 0xEB)
TIMELINE_GREEN = (0x16, 0xA3, 0x4A)
FAILED_RED = (0xDC, 0x26, 0x26)
RUNNING_PURPLE = (0x7C, 0x3A, 0xED)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/stepwise-fraud/"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def _section(text: str, anchor: str) -> str:
    start = text.index(f'<section id="{anchor}">')
    return text[start : text.index("</section>", start)]


def evaluation_document(seed: int, rows: int = 600) -> dict:
    """evaluation.json as processing/evaluate.py writes it, for generated scores of a test and a
    validation split (evaluate.evaluate() without the model)."""
    rng = np.random.default_rng(seed)

    def split(size: int) -> tuple[np.ndarray, np.ndarray]:
        labels = (rng.random(size) < 0.1).astype(float)
        return labels, np.clip(0.35 * labels + rng.random(size) * 0.7, 0, 1)

    labels, scores = split(rows)
    validation_labels, validation_scores = split(rows // 2)
    rule = parse_operating_point("best-f1")
    return {
        "binary_classification_metrics": binary_classification_metrics(labels, scores),
        "precision_recall_metrics": precision_recall_metrics(labels, scores),
        "operating_point": operating_point(rule, validation_labels, validation_scores, labels, scores),
        "dataset": {"rows": rows, "positives": int(labels.sum()), "threshold": 0.5},
    }


@pytest.fixture(scope="module")
def run() -> dict:
    """A run as the engine fills it: a real evaluation.json from processing/evaluate.py, Clarify outputs
    and the execution history from fixtures, a champion the gate compared with."""
    events = load("history.json")
    evaluation, champion = evaluation_document(0), evaluation_document(1)
    auc = evaluation["binary_classification_metrics"]["auc"]["value"]
    champion_auc = champion["binary_classification_metrics"]["auc"]["value"]
    return {
        "execution": {
            "name": "run-2026-11-28-0900",
            "status": "SUCCEEDED",
            "startDate": events[0]["timestamp"],
            "stopDate": events[-1]["timestamp"],
        },
        "evaluation": evaluation,
        "bias": load("bias_analysis.json"),
        "explainability": load("explainability_analysis.json"),
        "gate": {
            "passed": True,
            "metric": "auc",
            "value": auc,
            "threshold": 0.7,
            "tolerance": 0.01,
            "champion": {"modelPackageArn": f"{PACKAGE}1", "value": champion_auc},
            "reason": f"auc {auc:g} meets the threshold 0.7 and is within the tolerance 0.01",
        },
        "champion": {"arn": f"{PACKAGE}1", "version": 1, "status": "Approved", "evaluation": champion},
        "registration": {
            "ModelPackageGroupName": "stepwise-fraud",
            "ModelPackageVersion": 2,
            "ModelApprovalStatus": "Approved",
        },
        "package": {
            "arn": f"{PACKAGE}2",
            "version": 2,
            "status": "Approved",
            "metadata": {
                "decisionThreshold": repr(evaluation["operating_point"]["threshold"]),
                "operatingPoint": evaluation["operating_point"]["rule"],
            },
        },
        "endpoint": {
            "EndpointName": "stepwise-fraud",
            "EndpointStatus": "InService",
            "EndpointConfigName": "c2",
        },
        "events": events,
    }


@pytest.fixture(scope="module")
def report(run: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(run, tmp_path_factory.mktemp("report"))


def test_report_is_self_contained_and_names_what_the_run_did(report: Path, run: dict) -> None:
    text = report.read_text()
    assert report.name == "report.html"
    # opens offline: nothing is fetched
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script" not in text and "@import" not in text
    assert "stepwise-fraud version 2" in text
    assert "Disparate Impact (DI)" in text and "1.3125" in text
    assert "Float division by zero" in text  # a metric Clarify could not compute says why
    assert "AUC" in text and "passed" in text


def test_decision_threshold_and_pr_auc_are_shown_with_precision_and_recall(report: Path, run: dict) -> None:
    text = report.read_text()
    evaluation = run["evaluation"]
    point = evaluation["operating_point"]
    assert f"{evaluation['precision_recall_metrics']['pr_auc']['value']:.4f}" in text
    assert f"{point['threshold']:.4f}" in text and "best-f1 on validation" in text
    for split in ("validation", "test"):
        assert f"{point[split]['precision']:.4f}" in text and f"{point[split]['recall']:.4f}" in text
    # the 0.5 row beside it, and the threshold the model package records
    assert f"{evaluation['binary_classification_metrics']['precision']['value']:.4f}" in text
    assert f"<code>decisionThreshold</code> = <code>{point['threshold']!r}</code>" in text
    assert "differs from" not in text


def test_challenger_and_champion_side_by_side_with_deltas(report: Path, run: dict) -> None:
    text = report.read_text()
    section = _section(text, "champion")
    mine = run["evaluation"]["binary_classification_metrics"]["auc"]["value"]
    theirs = run["champion"]["evaluation"]["binary_classification_metrics"]["auc"]["value"]
    row = re.search(r"<b>AUC</b> \(gate metric\)</td>(.*?)</tr>", section).group(1)
    assert re.findall(r'class="num">([^<]+)<', row) == [
        f"{mine:.4f}",
        f"{theirs:.4f}",
        f"{mine - theirs:+.4f}",
    ]
    for metric in ("PR AUC", "F1 at 0.5", "precision at the decision threshold", "decision threshold"):
        assert f"<td>{metric}</td>" in section
    assert "version 1" in section and "passed" in section and "within the tolerance 0.01" in section


def test_bias_metrics_are_flagged_against_documented_bands(report: Path) -> None:
    assert bias_flag("DI", 1.3125) == ("outside", "0.8 to 1.25")
    assert bias_flag("DI", 0.8) == ("inside", "0.8 to 1.25")
    assert bias_flag("DPPL", "-Infinity")[0] == "outside"
    assert bias_flag("RD", None)[0] == "n/a"
    assert bias_flag("CI", 0.9) == ("no band", "–")
    text = report.read_text()
    section = _section(text, "bias")
    rows = re.findall(r"<tr>(.*?)</tr>", section)
    flagged = [re.search(r"<b>(\w+)</b>", row).group(1) for row in rows if '<span class="flag">' in row]
    assert flagged == ["DI"], "DI 1.3125 is outside 0.8..1.25; DPL, DPPL, RD are within ±0.1"
    assert "four-fifths rule" in section and "prompt to look, not a verdict" in section


def test_a_run_that_stopped_early_says_what_is_missing(tmp_path: Path, run: dict) -> None:
    failed = {
        "execution": {**run["execution"], "status": "FAILED"},
        "events": run["events"][:8],
        "failure": {"state": "Train", "error": "TrainingJobFailed", "cause": "ClientError: no train channel"},
    }
    text = write_report(failed, tmp_path / "failed.html").read_text()
    assert "No evaluation.json" in text and "No bias analysis.json" in text
    assert "ClientError: no train channel" in text
    # the state the run failed in is failed (red), not running
    assert 'class="span failed"' in text and "running" not in text.split("</style>")[1]


def _statuses(events: list[dict], status: str, failed_state: str | None = None) -> dict[str, str]:
    states = timeline(events)
    return {
        s.name: v for s, v in zip(states, state_statuses(states, events, status, failed_state), strict=True)
    }


def test_each_state_is_shown_as_it_ended(run: dict) -> None:
    events = run["events"]
    done = _statuses(events, "SUCCEEDED")
    assert done["Deploy"] == "retried", "its call failed with a throttling error, was retried and succeeded"
    assert {status for name, status in done.items() if name != "Deploy"} == {"succeeded"}
    stopped = events[:8]  # ... Train entered, never exited
    assert _statuses(stopped, "RUNNING")["Train"] == "running"
    assert _statuses(stopped, "ABORTED")["Train"] == "aborted"
    assert _statuses(stopped, "TIMED_OUT")["Train"] == "timed out"
    assert _statuses(stopped, "FAILED", "Train")["Train"] == "failed"
    # a caught error: the state exits; it failed the run only if the run failed because of it
    failed = {
        "timestamp": events[8]["timestamp"],
        "type": "TaskFailed",
        "taskFailedEventDetails": {"error": "E"},
    }
    fail_state = {"name": "PipelineFailed", "input": "{}"}
    ended = {
        "timestamp": events[9]["timestamp"],
        "type": "FailStateEntered",
        "stateEnteredEventDetails": fail_state,
    }
    caught = [*stopped, failed, events[8], ended]  # Train: TaskFailed, caught, exited; then a Fail state
    assert _statuses(caught, "FAILED", "Train") == {**_statuses(caught, "FAILED"), "Train": "failed"}
    assert _statuses(caught, "FAILED")["Train"] == "caught"
    assert _statuses(caught, "FAILED")["PipelineFailed"] == "failed"


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


class Elements(HTMLParser):
    """Every element of a document as (tag, attributes), and its text."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {key: value or "" for key, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def with_class(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.found if name == tag and cls in attrs.get("class", "").split()]

    def links(self) -> list[str]:
        return [attrs["href"] for name, attrs in self.found if name == "a" and "href" in attrs]


def rendered(page: Path, profile: Path) -> Elements:
    """The page's DOM as headless Chromium built it."""
    return Elements(chromium("--dump-dom", page.as_uri(), profile=profile).stdout)


def test_chromium_renders_every_chart(report: Path, run: dict, tmp_path: Path) -> None:
    dom = rendered(report, tmp_path / "profile")
    # ROC and PR: one curve each, through many points across the plot
    curves = dom.with_class("path", "curve")
    assert len(curves) == 2
    for curve in curves:
        points = [tuple(map(float, p.split(","))) for p in re.findall(r"[ML]([\d.]+,[\d.]+)", curve["d"])]
        xs, ys = zip(*points, strict=True)
        assert len(points) > 20 and max(xs) - min(xs) > 300 and max(ys) - min(ys) > 200
    # each curve marks the decision threshold (filled) and 0.5 (hollow)
    assert len(dom.with_class("circle", "mark")) == 4 and len(dom.with_class("circle", "other")) == 2
    # confusion matrices at 0.5 and at the decision threshold: four cells each, the evaluation's counts
    counts = sorted(float(cell["data-count"]) for cell in dom.with_class("rect", "cell"))
    evaluation = run["evaluation"]
    matrices = [evaluation["binary_classification_metrics"]["confusion_matrix"]]
    matrices.append(evaluation["operating_point"]["test"]["confusion_matrix"])
    assert counts == sorted(float(v) for matrix in matrices for row in matrix.values() for v in row.values())
    # SHAP: a bar per feature the model uses, longest for the largest value
    values = run["explainability"]["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    widths = [float(bar["width"]) for bar in dom.with_class("rect", "bar")]
    assert len(widths) == len([v for v in values.values() if v]) and widths[0] == max(widths) > 300
    # timeline: a span per state; the retried Deploy is marked
    spans = dom.with_class("rect", "span")
    assert len(spans) == 14
    assert [s["class"] for s in spans].count("span retried") == 1


def test_screenshot_shows_the_charts(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium("--window-size=1280,3600", f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "profile")
    image = read_png(shot.read_bytes()).astype(int)
    assert image.shape == (3600, 1280, 3)
    blue = np.abs(image - np.array(CURVE_BLUE)).max(axis=2) < 30
    # the ROC and PR curves come first (2 px wide, several hundred px long), the SHAP bars below them
    curves, bars = int(blue[:1200].sum()), int(blue[1900:].sum())
    assert curves > 1200, f"only {curves} pixels of the curve colour: the ROC/PR curves were not drawn"
    assert bars > 8000, f"only {bars} pixels of the bar colour: the SHAP chart was not drawn"
    green = int((np.abs(image - np.array(TIMELINE_GREEN)).max(axis=2) < 30).sum())
    assert green > 1000, f"only {green} pixels of the timeline colour: the timeline was not drawn"


def read_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes): height x width x 3 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8).reshape(height, stride + 1)
    image = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 1:  # Sub: running sum along each channel
            line = np.cumsum(line.reshape(width, channels), axis=0).reshape(stride)
        elif kind == 2:  # Up
            line = line + previous
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            out = [0] * stride
            up = previous.tolist()
            values = line.tolist()
            for i in range(stride):
                left = out[i - channels] if i >= channels else 0
                if kind == 3:
                    out[i] = (values[i] + (left + up[i]) // 2) & 0xFF
                    continue
                corner = up[i - channels] if i >= channels else 0
                estimate = left + up[i] - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up[i]), abs(estimate - corner)
                predictor = left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner
                out[i] = (values[i] + predictor) & 0xFF
            line = np.array(out, dtype=np.int64)
        line &= 0xFF
        image[y] = line
        previous = line
    return image.reshape(height, width, channels)[:, :, :3]


def test_shap_chart_shows_every_feature(tmp_path: Path, run: dict) -> None:
    many = {f"feature_{i:02d}": 1.0 / (i + 1) for i in range(29)} | {"never_used": 0.0}
    explainability = {"explanations": {"kernel_shap": {"label0": {"global_shap_values": many}}}}
    text = write_report({**run, "explainability": explainability}, tmp_path / "r.html").read_text()
    assert text.count('class="bar"') == 29
    names = re.findall(r'<text x="222" y="\d+" class="tick" text-anchor="end">(\w+)</text>', text)
    assert names == sorted(many, key=lambda name: -many[name])[:29], "all features, largest first"
    assert f"{1 / 29:.4f}" in text, "the smallest one is labelled too"
    assert "1 features have a mean |SHAP value| of 0" in text and "<code>never_used</code>" in text


# ------------------------------------------------------------------------------ saved local runs
@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A state folder holding the real runs of fixtures/report/saved (records, registry snapshot, the
    packages' reports) and a log file for every job and function they called; each record saved with
    its summary and its report written, in the order the runs ran, as `stepwise run` does.
    Returns {"state": folder, "v2" | "v3" | "approval" | "failed": that run's report.html}."""
    from stepwise.console.report import _log_files as log_files
    from stepwise.console.summary import build_summary
    from stepwise.emulator.store import Store

    state = tmp_path_factory.mktemp("saved") / ".stepwise"
    store = Store(state)
    store.put("stack", load("saved/stack.json"))
    registry = load("saved/registry.json")
    store.put("registry", registry)
    for uri, document in load("saved/objects.json").items():
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        data = json.dumps(document).encode()
        store.record_object(bucket, key, data, etag="e", content_type="application/json", metadata={})
    kinds = {f"executionName:{p['metadata']['executionName']}": f"v{p['version']}" for p in registry}
    found: dict = {"state": state}
    for record in load("saved/records.json"):
        described, events = record["execution"], record["events"]
        store.save_execution(described, events, summary=build_summary(store, described, events))
        for state_name, path in log_files(store, record):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"log of {state_name}\n")
        kind = kinds.get(f"executionName:{described['name']}")
        if "Model Package State Change" in described["input"]:
            kind = "approval"
        elif described["status"] == "FAILED":
            kind = "failed"
        found[kind] = write_run_report(state, described["name"])
    return found


def test_summary_has_the_confusion_matrix_and_curves(saved: dict) -> None:
    """`--json` summaries carry what evaluation.json has: no null confusion matrix or curves."""
    from stepwise.console.records import find_execution
    from stepwise.console.summary import quality_metrics
    from stepwise.emulator.store import Store

    store = Store(saved["state"], create=False)
    summary = find_execution(store, saved["v2"].parent.name)["summary"]
    document = load("saved/objects.json")[
        f"s3://{load('saved/stack.json')['outputs']['BucketName']}/runs/{summary['run']['id']}/evaluation/evaluation.json"
    ]
    evaluation = document["binary_classification_metrics"]
    metrics = summary["metrics"]
    assert set(metrics) == set(evaluation) | {"pr_auc"} and None not in metrics.values()
    assert metrics["pr_auc"] == document["precision_recall_metrics"]["pr_auc"]["value"]
    assert summary["operatingPoint"]["threshold"] == document["operating_point"]["threshold"]
    assert metrics["confusion_matrix"] == evaluation["confusion_matrix"]
    assert metrics["auc"] == evaluation["auc"]["value"]
    for name, axes in (
        ("receiver_operating_characteristic_curve", ("false_positive_rates", "true_positive_rates")),
        ("precision_recall_curve", ("precisions", "recalls")),
    ):
        for axis in axes:
            full, shown = evaluation[name][axis], metrics[name][axis]
            assert shown == full, "under 400 points: as evaluation.json has them"
    # a longer curve is thinned to 400 points, as report.html draws it, its first and last kept
    long = evaluation_document(0, rows=1000)["binary_classification_metrics"]
    thinned = quality_metrics({"binary_classification_metrics": long})["precision_recall_curve"]
    for axis, points in long["precision_recall_curve"].items():
        assert len(points) > 400 and len(thinned[axis]) == 400
        assert thinned[axis][0] == points[0] and thinned[axis][-1] == points[-1]
        assert set(thinned[axis]) <= set(points)


def test_saved_run_shows_its_lineage_with_working_log_links(saved: dict, tmp_path: Path) -> None:
    page = saved["v2"]
    text = page.read_text()
    lineage = _section(text, "lineage")
    record = next(r for r in load("saved/records.json") if r["execution"]["name"] == page.parent.name)
    resolved = next(
        json.loads(e["lambdaFunctionSucceededEventDetails"]["output"])
        for e in record["events"]
        if "lambdaFunctionSucceededEventDetails" in e
        and '"claimsETag"' in e["lambdaFunctionSucceededEventDetails"]["output"]
    )
    # the dataset's URIs and checksums, the code version, the image, hyperparameters, the model
    for fact in (
        resolved["s3Uri"],
        f"s3://{resolved['bucket']}/{resolved['claimsKey']}",
        resolved["claimsVersionId"],
        resolved["claimsETag"],
        resolved["customersETag"],
        "/code/0925e98fec91/",
        "sagemaker-xgboost:1.7-1",
        "num_round=<code>102</code>",
        "/output/model.tar.gz",
        "--probability-threshold 0.5",
    ):
        assert fact in lineage, fact
    run_id = next(
        e for e in record["events"] if e.get("stateExitedEventDetails", {}).get("name") == "ClaimRun"
    )
    claimed = json.loads(run_id["stateExitedEventDetails"]["output"])["run"]
    assert claimed["fingerprint"] in lineage and claimed["id"] in lineage
    # a log link per job and per function, relative to the report, each opening its file
    dom = rendered(page, tmp_path / "profile")
    links = [link for link in dom.links() if not link.startswith("#")]
    assert len([link for link in links if link.endswith("/logs/job.log")]) == 4
    assert len([link for link in links if link.startswith("lambda/")]) == 6
    for link in links:
        assert not urllib.parse.urlparse(link).scheme, link
        assert (page.parent / link).resolve().is_file(), link
    evaluate_log = next(link for link in links if "-evaluate-0/logs/job.log" in link)
    opened = chromium(
        "--dump-dom", urllib.parse.urljoin(page.as_uri(), evaluate_log), profile=tmp_path / "profile"
    )
    assert "log of Evaluate" in opened.stdout


def test_saved_run_compares_challenger_with_champion(saved: dict) -> None:
    text = saved["v2"].read_text()
    section = _section(text, "champion")
    objects = load("saved/objects.json")
    aucs = {
        uri.split("/runs/")[1].split("/")[0]: doc["binary_classification_metrics"]["auc"]["value"]
        for uri, doc in objects.items()
        if uri.endswith("evaluation.json")
    }
    registry = {p["version"]: p for p in load("saved/registry.json")}
    mine, theirs = aucs[registry[2]["metadata"]["runId"]], aucs[registry[1]["metadata"]["runId"]]
    assert "champion (version 1)" in section and registry[1]["arn"] in section
    assert f"{mine:.4f}" in section and f"{theirs:.4f}" in section and f"{mine - theirs:+.4f}" in section
    assert "passed" in section and "within the tolerance 0.01 of the serving model" in section
    # the threshold, as the registered package records it
    threshold = _section(text, "threshold")
    assert f"<code>{registry[2]['metadata']['decisionThreshold']}</code>" in threshold
    assert "differs from" not in threshold


def test_approval_run_shows_the_approved_packages_reports(saved: dict, tmp_path: Path) -> None:
    page = saved["approval"]
    text = page.read_text()
    assert "No evaluation.json" not in text and "No bias analysis.json" not in text
    assert "No explainability analysis.json" not in text
    registry = {p["version"]: p for p in load("saved/registry.json")}
    trained_by = registry[3]["metadata"]["executionName"]
    assert "This run deployed model package version 3" in text and trained_by in text
    dom = rendered(page, tmp_path / "profile")
    assert len(dom.with_class("path", "curve")) == 2 and len(dom.with_class("rect", "bar")) > 10
    assert "Disparate Impact (DI)" in "".join(dom.text)
    # the report of the run that trained it, and its jobs' logs, are linked
    assert f"../{trained_by}/report.html" in dom.links()
    job_logs = [link for link in dom.links() if link.endswith("/logs/job.log")]
    assert len(job_logs) == 4 and all((page.parent / link).resolve().is_file() for link in job_logs)
    functions = _section(text, "lineage").split("Lambda functions")[1]
    assert "this run" in functions and "training run" in functions
    assert "Deploy" in functions and "Register" in functions


def test_failed_run_shows_the_failed_state_as_failed(saved: dict, tmp_path: Path) -> None:
    page = saved["failed"]
    dom = rendered(page, tmp_path / "profile")
    spans = {span["class"] for span in dom.with_class("rect", "span")}
    assert "span running" not in spans
    failed = [s for s in dom.with_class("rect", "span") if s["class"] == "span failed"]
    assert len(failed) == 2 and {s["fill"] for s in failed} == {"#dc2626"}  # Evaluate, PipelineFailed
    timeline_text = _section(page.read_text(), "timeline")
    assert re.search(r"<td>Evaluate</td>.*?<span class=\"state failed\">failed</span>", timeline_text)
    assert re.search(r"<td>PipelineFailed</td>.*?<span class=\"state failed\">failed</span>", timeline_text)
    # the crashed job's log is linked, and says so
    lineage = _section(page.read_text(), "lineage")
    assert "exit code -6: about to crash" in lineage
    # drawn: red in the timeline, nothing in the colour of a running state
    shot = tmp_path / "failed.png"
    chromium("--window-size=1280,4000", f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "profile")
    image = read_png(shot.read_bytes()).astype(int)
    red = int((np.abs(image - np.array(FAILED_RED)).max(axis=2) < 30).sum())
    purple = int((np.abs(image - np.array(RUNNING_PURPLE)).max(axis=2) < 30).sum())
    assert red > 1500 and purple == 0, (red, purple)


def test_aborted_run_shows_the_stopped_state_as_aborted(saved: dict, tmp_path: Path) -> None:
    """Ctrl-C during Train, as local mode records it: the job's task ends {"Cancelled": true}, then
    ExecutionAborted."""
    from stepwise.console.lineage import lineage

    record = next(r for r in load("saved/records.json") if r["execution"]["name"] == saved["v2"].parent.name)
    events = record["events"]
    started = next(
        i for i, e in enumerate(events) if e.get("stateEnteredEventDetails", {}).get("name") == "Train"
    )
    stop = events[started + 2]["timestamp"]  # Train: entered, TaskScheduled, TaskStarted
    cancelled = {"output": json.dumps({"Cancelled": True})}
    events = [
        *events[: started + 3],
        {"timestamp": stop, "type": "TaskSucceeded", "taskSucceededEventDetails": cancelled},
        {"timestamp": stop, "type": "ExecutionAborted", "executionAbortedEventDetails": {}},
    ]
    run = {
        "execution": {**record["execution"], "status": "ABORTED", "stopDate": stop},
        "events": events,
        "failure": {"state": "Train", "error": None, "cause": ""},  # what build_summary says of it
        "lineage": lineage(events),
    }
    text = write_report(run, tmp_path / "aborted.html").read_text()
    assert re.search(r"<td>Train</td>.*?<span class=\"state aborted\">aborted</span>", text)
    assert "running" not in _section(text, "timeline")
    assert '<th>Stopped in</th><td><span class="stopped-state">Train</span></td>' in text
    assert "Failed in" not in text and "None" not in _section(text, "run")
    assert [job["status"] for job in run["lineage"]["jobs"]] == ["Completed", "Stopped"]
    with pytest.raises(KeyError, match="no execution 'nope'"):
        write_run_report(saved["state"], "nope")
