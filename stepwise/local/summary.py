"""The end-of-run summary: status, state durations, model quality and gate, bias, SHAP, registry
version, endpoint and sample predictions; or, for a failed run, the failed state, error, cause and
where the job's logs are.

Built from the execution's history and output plus the run's artefacts in the embedded S3 (paths of
README "S3 layout"), while the embedded AWS is still running; stored in the execution's record so
`stepwise show` prints it later.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, TextIO

from stepwise.local.progress import _short, failed_state, format_seconds, run_of, timeline

SAMPLE_ROWS = 5
BIAS_METRICS_SHOWN = ("DPPL", "DI", "DCR", "RD", "DAR", "CI", "DPL")
TOP_FEATURES = 5


def _read_json(s3, bucket: str, key: str) -> Any | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception:  # absent (the run stopped before that stage) or unreadable: nothing to show
        return None


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


def build_summary(local, execution_arn: str) -> dict[str, Any]:
    """The summary of one execution of `local` (a running LocalAWS)."""
    described = local.describe(execution_arn)
    events = local.history(execution_arn)
    name = described["name"]
    bucket = local.stack.buckets[0]
    s3 = local.client("s3")
    output = json.loads(described.get("output") or "{}") if described["status"] == "SUCCEEDED" else {}
    states = timeline(events)
    summary: dict[str, Any] = {
        "execution": name,
        "executionArn": execution_arn,
        "status": described["status"],
        "seconds": (described.get("stopDate") - described["startDate"]).total_seconds()
        if described.get("stopDate")
        else None,
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
    dataset = _state_output(events, "ResolveDataset").get("dataset")
    if isinstance(dataset, dict):
        summary["dataset"] = {key: dataset.get(key) for key in ("ready", "reason", "s3Uri", "trigger")}
    run = run_of(events)
    if run:
        summary["run"] = {
            key: run.get(key) for key in ("id", "fingerprint", "status", "reason", "modelPackageVersion")
        }
    prefix = f"runs/{(run or {}).get('id') or name}"
    evaluation = _read_json(s3, bucket, f"{prefix}/evaluation/evaluation.json")
    if evaluation:
        metrics = evaluation.get("binary_classification_metrics", {})
        summary["metrics"] = {k: v.get("value") for k, v in metrics.items() if isinstance(v, dict)}
    gate = _find(output, "gate") or _gate_from_history(events)
    if gate:
        summary["gate"] = gate
    bias = bias_metrics(_read_json(s3, bucket, f"{prefix}/checks/bias/analysis.json"))
    if bias:
        summary["bias"] = {k: bias[k] for k in BIAS_METRICS_SHOWN if k in bias} or bias
    shap = top_shap(_read_json(s3, bucket, f"{prefix}/checks/explainability/analysis.json"))
    if shap:
        summary["topFeatures"] = [{"feature": f, "meanAbsShap": v} for f, v in shap]
    package = _package_of(local, name) or _package_of_approval(local, described)
    if package:
        summary["modelPackage"] = package
    endpoint = _find(output, "endpointName") or _find(output, "EndpointName")
    if endpoint:
        summary["endpoint"] = _endpoint(local, endpoint, bucket, f"{prefix}/preprocess/test/test.csv")
    if described["status"] != "SUCCEEDED":
        summary["failure"] = _failure(local, described, events)
    return summary


def _state_output(events: list[dict], state: str) -> dict:
    """The output of the first exit of `state` in the history ({} when it never ended)."""
    for event in events:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == state:
            try:
                return json.loads(details.get("output") or "{}")
            except ValueError:
                return {}
    return {}


def _gate_from_history(events: list[dict]) -> dict | None:
    for event in events:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "QualityGate":
            return _find(json.loads(details.get("output") or "{}"), "gate")
    return None


def _package_of(local, execution_name: str) -> dict | None:
    """The model package this execution registered (CustomerMetadataProperties executionName)."""
    sagemaker = local.client("sagemaker")
    for group in sagemaker.list_model_package_groups().get("ModelPackageGroupSummaryList", []):
        packages = sagemaker.list_model_packages(ModelPackageGroupName=group["ModelPackageGroupName"])
        for summary in packages.get("ModelPackageSummaryList", []):
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if (package.get("CustomerMetadataProperties") or {}).get("executionName") == execution_name:
                return {
                    "group": package["ModelPackageGroupName"],
                    "version": package.get("ModelPackageVersion"),
                    "arn": package["ModelPackageArn"],
                    "approval": package.get("ModelApprovalStatus"),
                }
    return None


def _package_of_approval(local, described: dict) -> dict | None:
    """The package a "Model Package State Change" run deploys (the event's ModelPackageArn)."""
    arn = (json.loads(described.get("input") or "{}").get("detail") or {}).get("ModelPackageArn")
    if not arn:
        return None
    package = local.client("sagemaker").describe_model_package(ModelPackageName=arn)
    return {
        "group": package["ModelPackageGroupName"],
        "version": package.get("ModelPackageVersion"),
        "arn": arn,
        "approval": package.get("ModelApprovalStatus"),
    }


def _endpoint(local, name: str, bucket: str, test_key: str) -> dict:
    sagemaker = local.client("sagemaker")
    result: dict[str, Any] = {"name": name}
    try:
        described = sagemaker.describe_endpoint(EndpointName=name)
    except Exception as error:  # deleted meanwhile
        result["status"] = f"unavailable ({error})"
        return result
    result.update(status=described["EndpointStatus"], config=described["EndpointConfigName"])
    try:
        body = local.client("s3").get_object(Bucket=bucket, Key=test_key)["Body"].read().decode()
    except Exception:
        return result
    rows = list(csv.reader(io.StringIO(body)))[1 : SAMPLE_ROWS + 1]  # header, then label + features
    payload = "\n".join(",".join(row[1:]) for row in rows)
    try:
        answer = (
            local.client("sagemaker-runtime")
            .invoke_endpoint(EndpointName=name, ContentType="text/csv", Accept="text/csv", Body=payload)[
                "Body"
            ]
            .read()
            .decode()
        )
    except Exception as error:
        result["predictionError"] = str(error)
        return result
    predictions = [float(value) for value in answer.replace(",", "\n").split()]
    result["samplePredictions"] = [
        {"label": int(float(row[0])), "probability": round(p, 4)}
        for row, p in zip(rows, predictions, strict=False)
    ]
    return result


def _recorded_failure(events: list[dict]) -> dict | None:
    """The definition's own record of a caught error, `$.failure` = {state, error, cause}, as the
    failure notification got it (it also covers failures no Task raised, e.g. an endpoint gone Failed)."""
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


def _failure(local, described: dict, events: list[dict]) -> dict:
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
            # the Task whose error ended the run, else the state it ended in (a Fail such as ModelRejected)
            "state": state.name if state else (states[-1].name if states else None),
            "error": (state.failed or {}).get("error") if state else described.get("error"),
            "cause": _short((state.failed or {}).get("cause") if state else described.get("cause"), 2000),
        }
    last = next((e for e in reversed(events) if e["type"].startswith("Execution")), {})
    details = next((v for k, v in last.items() if k.endswith("EventDetails")), {})
    failure["executionError"] = details.get("error") or described.get("error")
    failure["executionCause"] = _short(details.get("cause") or described.get("cause"), 2000)
    if failure["state"]:
        logs = _job_logs(local, described["name"], failure["state"], events)
        if logs:
            failure["logs"] = logs
    return failure


def _job_logs(local, execution_name: str, state_name: str, events: list[dict]) -> list[str]:
    """The log files of the jobs (or Lambda) the failed state ran."""
    from stepwise.local.services import job_dir

    logs: list[str] = []
    current = None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            current = details.get("name")
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if scheduled and current == state_name:
            parameters = json.loads(scheduled.get("parameters") or scheduled.get("input") or "{}")
            job = parameters.get("ProcessingJobName") or parameters.get("TrainingJobName")
            if job:
                log = job_dir(local.runs_dir, execution_name, job) / "logs" / "job.log"
                logs.append(str(log))
            function = parameters.get("FunctionName")
            if function:
                from stepwise.local.engine import function_name_from

                log = Path(local.runs_dir) / execution_name / "lambda" / f"{function_name_from(function)}.log"
                logs.append(str(log))
    return sorted(set(logs))


def _durations(states: list[dict]) -> list[str]:
    """ "Name 1.2s" per state in first-entered order; a state entered n times (a poll loop) shows
    "Name ×n" with its total time. Choice and Pass states, which take no time, are left out."""
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
    """A metric for display: analysis.json has null where a metric is undefined."""
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
            f"{k} {_number(metrics[k], 4)}"
            for k in ("auc", "f1", "precision", "recall")
            if metrics.get(k) is not None
        )
        print(f"  model quality : {shown}", file=stream)
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
        for sample in endpoint.get("samplePredictions", []):
            print(f"      label {sample['label']}  ->  {sample['probability']:.4f}", file=stream)
    failure = summary.get("failure")
    if failure:
        print(f"  failed state  : {failure.get('state')}", file=stream)
        print(f"  error         : {failure.get('error')}", file=stream)
        print(f"  cause         : {failure.get('cause')}", file=stream)
        for log in failure.get("logs", []):
            print(f"  logs          : {log}", file=stream)
    if summary.get("report"):
        print(f"  report        : {summary['report']}", file=stream)
