"""What a run really did, read from its execution history: the lineage report.html shows.

Every fact comes from the history's events (the same AWS-shaped events `get_execution_history`
returns on AWS), not from configuration:

- the dataset: ResolveDataset's result (the S3 prefix, each file's key, version id and ETag);
- the claim: ClaimRun's request (the recipe: code prefix, images, hyperparameters, split, operating
  point rule) and result (run id, fingerprint of the inputs, the claim object);
- each SageMaker job: its request in the TaskScheduled event (image, entrypoint and arguments,
  hyperparameters, every input's and output's S3 URI) and its Describe result (status, failure
  reason, the model artifact, the final metrics);
- each Lambda function the states called (its name: its log file is named after it);
- the registered model package (Register's result).

A job that is still running, or a state the run never reached, is simply absent or has no result.
"""

from __future__ import annotations

import json
from typing import Any

from stepwise.console.progress import _seconds

JOB_NAME_KEYS = ("ProcessingJobName", "TrainingJobName")


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def task_calls(events: list[dict]) -> list[dict]:
    """Each Task's call, in order: {state, resource, request, result | error + cause, seconds}."""
    calls: list[dict] = []
    state = None
    for event in events:
        kind = event.get("type", "")
        entered = event.get("stateEnteredEventDetails")
        if entered:
            state = entered.get("name")
            continue
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if scheduled:
            calls.append(
                {
                    "state": state,
                    "resource": str(scheduled.get("resource") or ""),
                    "request": _json(scheduled.get("parameters") or scheduled.get("input") or "{}"),
                    "scheduled": event.get("timestamp"),
                }
            )
            continue
        if not calls or "result" in calls[-1] or "error" in calls[-1]:
            continue
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None) or {}
        if kind in ("TaskSucceeded", "LambdaFunctionSucceeded"):
            calls[-1]["result"] = _json(details.get("output") or "{}")
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut"):
            calls[-1]["error"] = details.get("error")
            calls[-1]["cause"] = details.get("cause")
        else:
            continue
        if calls[-1].get("scheduled") and event.get("timestamp"):
            calls[-1]["seconds"] = _seconds(calls[-1]["scheduled"], event["timestamp"])
    return calls


def function_name(resource: str, request: Any) -> str | None:
    """The Lambda function a Task called (its ARN as Resource, or FunctionName in its parameters)."""
    target = resource
    if isinstance(request, dict) and request.get("FunctionName"):
        target = str(request["FunctionName"])
    if ":function:" not in target:
        return None
    return target.split(":function:", 1)[1].split(":")[0]


def _job(call: dict) -> dict:
    request = call["request"]
    described = call.get("result")
    if described is None and call.get("cause"):
        described = _json(call["cause"])  # a failed .sync job's cause is its Describe*Job result
    described = described if isinstance(described, dict) else {}
    job: dict[str, Any] = {"state": call["state"], "seconds": call.get("seconds")}
    if "TrainingJobName" in request:
        algorithm = request.get("AlgorithmSpecification") or {}
        job.update(
            type="training",
            name=request["TrainingJobName"],
            image=algorithm.get("TrainingImage"),
            hyperparameters=dict(request.get("HyperParameters") or {}),
            inputs=[
                (c.get("ChannelName"), ((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri"))
                for c in request.get("InputDataConfig") or []
            ],
            outputs=[("model", (request.get("OutputDataConfig") or {}).get("S3OutputPath"))],
            status=described.get("TrainingJobStatus"),
            modelArtifact=(described.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
            finalMetrics={
                m.get("MetricName"): m.get("Value") for m in described.get("FinalMetricDataList") or []
            },
        )
    else:
        application = request.get("AppSpecification") or {}
        job.update(
            type="processing",
            name=request.get("ProcessingJobName"),
            image=application.get("ImageUri"),
            entrypoint=list(application.get("ContainerEntrypoint") or []),
            arguments=list(application.get("ContainerArguments") or []),
            inputs=[
                (i.get("InputName"), (i.get("S3Input") or {}).get("S3Uri"))
                for i in request.get("ProcessingInputs") or []
            ],
            outputs=[
                (o.get("OutputName"), (o.get("S3Output") or {}).get("S3Uri"))
                for o in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
            ],
            status=described.get("ProcessingJobStatus"),
        )
    if call.get("error") and not job["status"]:
        job["status"] = "Failed"
    if call.get("result") == {"Cancelled": True}:  # what local mode records for a job it stopped
        job["status"] = "Stopped"
    if described.get("FailureReason"):
        job["failureReason"] = described["FailureReason"]
    elif call.get("error"):
        job["failureReason"] = f"{call['error']}: {call.get('cause') or ''}".strip()
    return job


def argument(job: dict, option: str) -> str | None:
    """The value a processing job's ContainerArguments give `option` (e.g. --probability-threshold)."""
    arguments = job.get("arguments") or []
    for position, value in enumerate(arguments[:-1]):
        if value == option:
            return arguments[position + 1]
    return None


def lineage(events: list[dict]) -> dict[str, Any]:
    """The run's lineage (see the module doc); keys are absent where the run has no such fact."""
    calls = task_calls(events)
    found: dict[str, Any] = {"jobs": [], "functions": []}
    for call in calls:
        request = call["request"] if isinstance(call["request"], dict) else {}
        result = call.get("result") if isinstance(call.get("result"), dict) else None
        if any(key in request for key in JOB_NAME_KEYS):
            found["jobs"].append(_job({**call, "request": request}))
            continue
        name = function_name(call["resource"], request)
        if name is None:
            continue
        function: dict[str, Any] = {"state": call["state"], "function": name, "seconds": call.get("seconds")}
        if call.get("error"):
            function["error"] = call["error"]
        found["functions"].append(function)
        if result is None:
            continue
        if call["state"] == "ResolveDataset":
            found["dataset"] = result
        elif call["state"] == "ClaimRun":
            found["run"] = result
            if isinstance(request.get("recipe"), dict):
                found["recipe"] = request["recipe"]
        elif call["state"] == "Register":
            found["registration"] = result
    code = {uri for job in found["jobs"] for name, uri in job.get("inputs") or [] if name == "code" and uri}
    if code:
        found["code"] = sorted(code)
    artifacts = [job["modelArtifact"] for job in found["jobs"] if job.get("modelArtifact")]
    if artifacts:
        found["model"] = artifacts[-1]
    return found
