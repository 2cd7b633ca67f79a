"""The committed definition's SageMaker error handling, run on the embedded Step Functions: a throttled
or failed-for-capacity job starts again under a new name; a rejected request (validation, access denied,
quota) fails the run at once with AWS's cause.

The states are the real ones of statemachine/pipeline.asl.json (Preprocess, its Transient?/Backoff/Wait
states, PreprocessFailed, NotifyFailure, PipelineFailed); Preprocess's handler is planted to fail the way
the optimized SageMaker integration reports errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asl_support import entered_states

from stepwise.emulator.stepfunctions import TaskFailed

REPO = Path(__file__).resolve().parents[2]
TOPIC = "stepwise-failures"
SDK_CAUSE = (
    "{message} (Service: AmazonSageMaker; Status Code: 400; Error Code: {code}; Request ID: 1; Proxy: null)"
)


def preprocess_only(topic_arn: str) -> dict:
    """The definition's Preprocess and its error states, with Preprocess ending the execution."""
    states = json.loads((REPO / "statemachine" / "pipeline.asl.json").read_text())["States"]
    names = ["StartRun", "Preprocess", "PreprocessTransient?", "PreprocessBackoff", "PreprocessWait"]
    names += ["PreprocessFailed", "NotifyFailure", "PipelineFailed"]
    kept = {name: json.loads(json.dumps(states[name])) for name in names}
    kept["Preprocess"]["Next"] = "Done"
    kept["Preprocess"]["Parameters"] = {
        "ProcessingJobName.$": kept["Preprocess"]["Parameters"]["ProcessingJobName.$"]
    }
    kept["NotifyFailure"]["Parameters"]["TopicArn"] = topic_arn
    kept["Done"] = {"Type": "Succeed"}
    return {"StartAt": "StartRun", "States": kept}


@pytest.fixture
def planted(local_sfn):
    """Preprocess's handler: raises the queued errors one by one, then succeeds; records job names."""
    errors: list[tuple[str, str]] = []
    names: list[str] = []

    def handler(parameters: dict, ctx) -> dict:
        names.append(parameters["ProcessingJobName"])
        if errors:
            raise TaskFailed(*errors.pop(0))
        outputs = [{"S3Output": {"S3Uri": f"s3://bucket/runs/x/{name}"}} for name in ("a", "b", "c", "d")]
        return {
            "ProcessingJobName": parameters["ProcessingJobName"],
            "ProcessingJobStatus": "Completed",
            "ProcessingOutputConfig": {"Outputs": outputs},
        }

    local_sfn.engine.register("sagemaker:createProcessingJob.sync", handler)
    topic = local_sfn.client("sns").create_topic(Name=TOPIC)["TopicArn"]
    return local_sfn, errors, names, preprocess_only(topic)


def run(local_sfn, definition: dict) -> tuple[dict, list[str]]:
    described, events = local_sfn.run(definition, {"run": {"id": "20261128-083001-5c7e21"}}, timeout=60)
    return described, entered_states(events)


def test_throttling_and_capacity_errors_start_the_job_again_under_a_new_name(planted) -> None:
    local_sfn, errors, names, definition = planted
    errors.append(
        (
            "SageMaker.AmazonSageMakerException",
            SDK_CAUSE.format(message="Rate exceeded", code="ThrottlingException"),
        )
    )
    failed_job = {
        "ProcessingJobStatus": "Failed",
        "FailureReason": "CapacityError: Unable to provision ml.m5.xlarge",
    }
    errors.append(("States.TaskFailed", json.dumps(failed_job)))

    described, entered = run(local_sfn, definition)

    assert described["status"] == "SUCCEEDED"
    assert names == [f"20261128-083001-5c7e21-preprocess-{attempt}" for attempt in (0, 1, 2)]
    assert entered.count("PreprocessWait") == 2 and "NotifyFailure" not in entered


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "1 validation error detected: Value 'x' at 'processingJobName' failed"),
        ("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/R/s is not authorized"),
        ("ResourceLimitExceeded", "The account-level service limit 'ml.m5.xlarge for processing job usage'"),
    ],
)
def test_a_rejected_request_fails_the_run_at_once_with_awss_cause(planted, code: str, message: str) -> None:
    local_sfn, errors, names, definition = planted
    cause = SDK_CAUSE.format(message=message, code=code)
    errors.append(("SageMaker.AmazonSageMakerException", cause))

    described, entered = run(local_sfn, definition)

    assert described["status"] == "FAILED"
    assert len(names) == 1, "a request AWS rejected is not sent again"
    assert entered[-3:] == ["PreprocessFailed", "NotifyFailure", "PipelineFailed"]
    # the execution's error names the state; its cause is the caught error and AWS's cause
    assert (described["error"], described["cause"]) == (
        "PreprocessFailed",
        f"SageMaker.AmazonSageMakerException: {cause}",
    )


def test_transient_errors_give_up_after_the_last_attempt(planted) -> None:
    local_sfn, errors, names, definition = planted
    throttled = SDK_CAUSE.format(message="Rate exceeded", code="ThrottlingException")
    errors.extend([("SageMaker.AmazonSageMakerException", throttled)] * 10)

    described, entered = run(local_sfn, definition)

    assert described["status"] == "FAILED"
    assert described["cause"] == f"SageMaker.AmazonSageMakerException: {throttled}"
    assert len(names) == 5, names  # the first attempt and four more
    assert entered[-3:] == ["PreprocessFailed", "NotifyFailure", "PipelineFailed"]
