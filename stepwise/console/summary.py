"""A run's summary: status, state durations, model quality and gate, bias, SHAP, registered version,
endpoint and sample predictions; or, for a failed run, the failed state, error, cause, the permission
that was missing and where the job's logs are.

Built from what a target holds (stepwise/console/target.py: the state folder, or a deployed stack):
the execution's description and history, the run's files in the bucket (README "S3 layout"), the
registry. No moto: `stepwise show` builds the same summary long after the run. The run command adds
what only the live embedded AWS knows (sample predictions from the endpoint).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, TextIO

from stepwise.console.progress import _short, failed_state, format_seconds, run_of, timeline

SAMPLE_ROWS = 5
BIAS_METRICS_SHOWN = ("DPPL", "DI", "DCR", "RD", "DAR", "CI", "DPL")
TOP_FEATURES = 5
MAX_CURVE_POINTS = 400  # a curve in a summary (and in report.html's charts); evaluation.json has them all


def _find(value: Any, key: str) -> Any | None:
    """The first value stored under `key` anywhere in a JSON document (depth first)."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for item in value.values():
            found = _find(item, key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def state_output(events: list[dict], state: str) -> dict:
    """The output of the first exit of `state` in the history ({} when it never ended)."""
    for event in events:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == state:
            try:
                return json.loads(details.get("output") or "{}")
            except ValueError:
                return {}
    return {}


def bias_metrics(analysis: dict | None) -> dict[str, float]:
    """{metric name: value} of the first facet, post-training metrics after pre-training ones."""
    result: dict[str, float] = {}
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        facets = ((analysis or {}).get(stage) or {}).get("facets") or {}
        for groups in facets.values():
            for metric in (groups[0].get("metrics") if groups else None) or []:
                if metric.get("value") is not None:
                    result[metric["name"]] = metric["value"]
            break
    return result


def top_shap(analysis: dict | None, count: int = TOP_FEATURES) -> list[tuple[str, float]]:
    values = _find(analysis or {}, "global_shap_values") or {}
    return sorted(values.items(), key=lambda item: -abs(item[1]))[:count]


def thinned(count: int, most: int = MAX_CURVE_POINTS) -> list[int]:
    """At most `most` evenly spread indices of `count` points, always the first and the last."""
    if count <= most:
        return list(range(count))
    step = (count - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


def quality_metrics(evaluation: dict) -> dict[str, Any]:
    """evaluation.json's binary_classification_metrics for a summary: each metric's value, the
    confusion matrix as it is ({actual: {predicted: count}}), and each curve ({axis: [points]}) with
    at most MAX_CURVE_POINTS of its points (see `thinned`)."""
    metrics = evaluation.get("binary_classification_metrics") or {}
    result: dict[str, Any] = {}
    for name, entry in metrics.items():
        if not isinstance(entry, dict):
            continue
        if "value" in entry:
            result[name] = entry["value"]
        elif all(isinstance(axis, list) for axis in entry.values()) and entry:
            keep = thinned(min(len(axis) for axis in entry.values()))
            result[name] = {key: [axis[i] for i in keep] for key, axis in entry.items()}
        else:
            result[name] = entry
    return result


def run_files(store: Any, bucket: str | None, run_id: str | None) -> dict[str, Any]:
    """The run's documents in its S3 prefix runs/<run id>/ (absent ones are left out)."""
    found: dict[str, Any] = {}
    if not bucket or not run_id:
        return found
    for name, relative in (
        ("evaluation", "evaluation/evaluation.json"),
        ("bias", "checks/bias/analysis.json"),
        ("explainability", "checks/explainability/analysis.json"),
    ):
        data = store.read_object(bucket, f"runs/{run_id}/{relative}")
        if data is not None:
            try:
                found[name] = json.loads(data)
            except ValueError:
                continue
    return found


def build_summary(source: Any, described: dict, events: list[dict]) -> dict[str, Any]:
    """The summary of one execution, from what a target (or a state folder's store) holds."""
    from stepwise.console.records import as_target, package_of_execution

    target = as_target(source)
    name = described["name"]
    output = json.loads(described.get("output") or "{}") if described["status"] == "SUCCEEDED" else {}
    states = timeline(events)
    seconds = None
    if described.get("stopDate"):
        from stepwise.console.progress import _seconds

        seconds = _seconds(described["startDate"], described["stopDate"])
    summary: dict[str, Any] = {
        "execution": name,
        "executionArn": described["executionArn"],
        "status": described["status"],
        "seconds": seconds,
        "states": [
            {
                "name": s.name,
                "type": s.type,
                "seconds": s.seconds,
                **({"error": s.failed["error"]} if s.failed else {}),
            }
            for s in states
        ],
        "endState": states[-1].name if states else None,
    }
    dataset = state_output(events, "ResolveDataset").get("dataset")
    if isinstance(dataset, dict):
        summary["dataset"] = {key: dataset.get(key) for key in ("ready", "reason", "s3Uri", "trigger")}
    run = run_of(events)
    if run:
        summary["run"] = {
            key: run.get(key) for key in ("id", "fingerprint", "status", "reason", "modelPackageVersion")
        }
    package = package_of_execution(target.packages(), described)
    # a run that trained reads its own files; a run an approval started, those of the run that trained
    # the package it deploys
    trained_by = (run or {}).get("id") or ((package or {}).get("metadata") or {}).get("runId")
    files = run_files(target, target.bucket(), trained_by)
    evaluation = files.get("evaluation")
    if evaluation:
        summary["metrics"] = quality_metrics(evaluation)
        pr_auc = ((evaluation.get("precision_recall_metrics") or {}).get("pr_auc") or {}).get("value")
        if pr_auc is not None:
            summary["metrics"]["pr_auc"] = pr_auc
        point = evaluation.get("operating_point")
        if isinstance(point, dict) and point.get("threshold") is not None:
            summary["operatingPoint"] = {
                "rule": point.get("rule"),
                "threshold": point["threshold"],
                "test": {k: (point.get("test") or {}).get(k) for k in ("precision", "recall", "f1")},
            }
    gate = _find(output, "gate") or state_output(events, "QualityGate").get("gate")
    if gate:
        summary["gate"] = gate
    bias = bias_metrics(files.get("bias"))
    if bias:
        summary["bias"] = {k: bias[k] for k in BIAS_METRICS_SHOWN if k in bias} or bias
    shap = top_shap(files.get("explainability"))
    if shap:
        summary["topFeatures"] = [{"feature": f, "meanAbsShap": v} for f, v in shap]
    if package:
        summary["modelPackage"] = {
            "group": package["group"],
            "version": package["version"],
            "arn": package["arn"],
            "approval": package["status"],
        }
    deployment = _find(output, "deployment") or state_output(events, "Deploy").get("deployment")
    if isinstance(deployment, dict) and deployment.get("endpointName"):
        summary["endpoint"] = {
            "name": deployment["endpointName"],
            "config": deployment.get("endpointConfigName"),
            "status": (_find(output, "description") or {}).get("status") if output else None,
        }
    if described["status"] != "SUCCEEDED":
        summary["failure"] = failure_of(target, described, events)
    return summary


def _recorded_failure(events: list[dict]) -> dict | None:
    """The definition's own record of a caught error, `$.failure` = {state, error, cause}."""
    for event in reversed(events):
        details = event.get("stateEnteredEventDetails")
        if not details or not details.get("input"):
            continue
        try:
            recorded = json.loads(details["input"]).get("failure")
        except (ValueError, AttributeError):
            continue
        if isinstance(recorded, dict) and {"state", "error", "cause"} <= recorded.keys():
            return recorded
    return None


def failure_of(target: Any, described: dict, events: list[dict]) -> dict:
    state = failed_state(events)
    states = timeline(events)
    recorded = _recorded_failure(events)
    if recorded:
        failure: dict[str, Any] = {
            "state": recorded["state"],
            "error": recorded["error"],
            "cause": _short(recorded["cause"], 2000),
        }
    else:
        failure = {
            "state": state.name if state else (states[-1].name if states else None),
            "error": (state.failed or {}).get("error") if state else described.get("error"),
            "cause": _short((state.failed or {}).get("cause") if state else described.get("cause"), 2000),
        }
    last = next((e for e in reversed(events) if e["type"].startswith("Execution")), {})
    details = next((v for k, v in last.items() if k.endswith("EventDetails")), {})
    failure["executionError"] = details.get("error") or described.get("error")
    failure["executionCause"] = _short(details.get("cause") or described.get("cause"), 2000)
    missing = _missing_permission(failure.get("cause") or "")
    if missing:
        failure["missingPermission"] = missing
    logs = job_logs(target, described["name"], failure.get("state"), events)
    if logs:
        failure["logs"] = logs
    return failure


def _missing_permission(cause: str) -> str | None:
    """From AWS's AccessDenied text: "add <action> on <resource> to role <role>"."""
    import re

    match = re.search(
        r"assumed-role/([^/\s]+)/\S+ is not authorized to perform: (\S+) on resource: \"?([^\s\"]+)\"?", cause
    )
    if not match:
        return None
    role, action, resource = match.groups()
    return f"add {action} on {resource} to role {role}"


def job_logs(target: Any, execution: str, state_name: str | None, events: list[dict]) -> list[str]:
    """Where the logs of the jobs (or Lambda function) the failed state ran are (Target.log_location)."""
    logs: list[str] = []
    current = None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            current = details.get("name")
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if scheduled and current == state_name:
            parameters = json.loads(scheduled.get("parameters") or scheduled.get("input") or "{}")
            for key in ("ProcessingJobName", "TrainingJobName"):
                if parameters.get(key):
                    logs.append(target.log_location(execution, job=parameters[key], job_key=key))
            resource = scheduled.get("resource") or ""
            if ":function:" in resource or parameters.get("FunctionName"):
                logs.append(
                    target.log_location(execution, function=parameters.get("FunctionName") or resource)
                )
    return sorted(set(logs))


def sample_predictions(aws: Any, summary: dict, count: int = SAMPLE_ROWS) -> None:
    """Ask the live endpoint for predictions on the first test rows (adds endpoint status and samples)."""
    endpoint = summary.get("endpoint")
    run_id = (summary.get("run") or {}).get("id")
    if not endpoint:
        return
    sagemaker = aws.client("sagemaker")
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint["name"])
    except Exception as error:  # noqa: BLE001 (deleted meanwhile)
        endpoint["status"] = f"unavailable ({error})"
        return
    endpoint.update(status=described["EndpointStatus"], config=described["EndpointConfigName"])
    test_uri = _test_rows_uri(aws, summary, run_id)
    if test_uri is None:
        return
    bucket, _, key = test_uri.removeprefix("s3://").partition("/")
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except Exception:  # noqa: BLE001
        return
    rows = list(csv.reader(io.StringIO(body)))[1 : count + 1]
    payload = "\n".join(",".join(row[1:]) for row in rows)
    try:
        answer = (
            aws.client("sagemaker-runtime")
            .invoke_endpoint(
                EndpointName=endpoint["name"], ContentType="text/csv", Accept="text/csv", Body=payload
            )["Body"]
            .read()
            .decode()
        )
    except Exception as error:  # noqa: BLE001
        endpoint["predictionError"] = str(error)
        return
    predictions = [float(value) for value in answer.replace(",", "\n").split()]
    endpoint["samplePredictions"] = [
        {"label": int(float(row[0])), "probability": round(p, 4)}
        for row, p in zip(rows, predictions, strict=False)
    ]


def _test_rows_uri(aws: Any, summary: dict, run_id: str | None) -> str | None:
    if run_id:
        return f"s3://{aws.bucket}/runs/{run_id}/preprocess/test/test.csv"
    package = summary.get("modelPackage") or {}
    if package.get("arn"):
        described = aws.client("sagemaker").describe_model_package(ModelPackageName=package["arn"])
        return (described.get("CustomerMetadataProperties") or {}).get("testDataUri")
    return None


# ------------------------------------------------------------------------------------------------
# Printing
# ------------------------------------------------------------------------------------------------
def _durations(states: list[dict]) -> list[str]:
    """ "Name 1.2s" per state in first-entered order; a state entered n times shows "Name ×n" with its
    total time. Choice and Pass states, which take no time, are left out."""
    totals: dict[str, list] = {}
    for state in states:
        if state["type"] in ("Choice", "Pass"):
            continue
        entry = totals.setdefault(state["name"], [0, 0.0])
        entry[0] += 1
        entry[1] += state["seconds"] or 0.0
    return [
        f"{name}{f' ×{count}' if count > 1 else ''} {format_seconds(seconds)}"
        for name, (count, seconds) in totals.items()
    ]


def _number(value: Any, digits: int = 3) -> str:
    """A metric for display: analysis.json has null (or "Infinity") where a metric is undefined."""
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def print_summary(summary: dict, stream: TextIO) -> None:
    status = summary["status"]
    took = format_seconds(summary.get("seconds"))
    print(
        f"\nExecution {summary['execution']}: {status} in {took} (ended in {summary.get('endState')})",
        file=stream,
    )
    durations = _durations(summary["states"])
    for start in range(0, len(durations), 4):
        label = "  states        : " if start == 0 else "                  "
        print(label + "  ".join(durations[start : start + 4]), file=stream)
    dataset = summary.get("dataset") or {}
    if dataset and not dataset.get("ready"):
        print(f"  dataset       : {dataset.get('reason')}", file=stream)
    run = summary.get("run") or {}
    if run.get("status") in ("matched", "running"):
        print(f"  inputs        : {run.get('reason')}", file=stream)
    if "metrics" in summary:
        metrics = summary["metrics"]
        shown = ", ".join(
            f"{k.replace('_', ' ')} {_number(metrics[k], 4)}"
            for k in ("auc", "pr_auc", "f1", "precision", "recall")
            if metrics.get(k) is not None
        )
        print(f"  model quality : {shown} (at 0.5)", file=stream)
    point = summary.get("operatingPoint")
    if point:
        test = point.get("test") or {}
        print(
            f"  threshold     : {_number(point['threshold'], 4)} ({point.get('rule')}): precision "
            f"{_number(test.get('precision'), 4)}, recall {_number(test.get('recall'), 4)} on the test split",
            file=stream,
        )
    if "gate" in summary:
        gate = summary["gate"]
        verdict = "passed" if gate.get("passed") else "REJECTED"
        reason = f" ({gate['reason']})" if gate.get("reason") else ""
        print(f"  quality gate  : {verdict}{reason}", file=stream)
    if "bias" in summary:
        print(
            "  bias          : " + ", ".join(f"{k} {_number(v)}" for k, v in summary["bias"].items()),
            file=stream,
        )
    if "topFeatures" in summary:
        print(
            "  top SHAP      : "
            + ", ".join(f"{f['feature']} {_number(f['meanAbsShap'])}" for f in summary["topFeatures"]),
            file=stream,
        )
    if "modelPackage" in summary:
        package = summary["modelPackage"]
        print(
            f"  registered    : {package['group']} version {package['version']} ({package['approval']})",
            file=stream,
        )
    if "endpoint" in summary:
        endpoint = summary["endpoint"]
        print(
            f"  endpoint      : {endpoint['name']} {endpoint.get('status')} ({endpoint.get('config')})",
            file=stream,
        )
        samples = endpoint.get("samplePredictions") or []
        if samples:
            print(
                f"  predictions   : {len(samples)} test rows through the endpoint, "
                "true label -> probability of fraud:",
                file=stream,
            )
            pairs = "   ".join(f"{sample['label']} -> {sample['probability']:.4f}" for sample in samples)
            print(f"                  {pairs}", file=stream)
    failure = summary.get("failure")
    if failure:
        stopped = summary["status"] in ("ABORTED", "TIMED_OUT")
        print(f"  {'stopped in' if stopped else 'failed state':<13} : {failure.get('state')}", file=stream)
        for label, key in (("error", "error"), ("cause", "cause")):
            if failure.get(key) is not None:
                print(f"  {label:<13} : {failure[key]}", file=stream)
        if failure.get("missingPermission"):
            print(f"  missing       : {failure['missingPermission']}", file=stream)
        for log in failure.get("logs", []):
            print(f"  logs          : {log}", file=stream)
    if summary.get("report"):
        print(f"  report        : {summary['report']}", file=stream)
