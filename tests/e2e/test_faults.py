"""Faults in a local run reach the state machine's Retry/Catch as on AWS, and the failure notification
runs: a job whose process crashes, a Lambda function that raises, an endpoint whose server fails to start
(on create, and on update, which rolls back), an event EventBridge delivers twice.

The faults are planted where a user would make them: in a copy of the project (its processing script,
its function's code), deployed to the embedded AWS in this test process. A corrupt model artifact is
planted in the endpoint's model extraction (the one fault a user cannot write into the project)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import project_copy

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def _embedded(state: Path, template: Path | None = None) -> Iterator:
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(state, template=template) as aws:
        yield aws


@pytest.fixture
def aws(tmp_path: Path):
    """The embedded AWS with the project as it is."""
    with _embedded(tmp_path / "state") as aws:
        yield aws


def _entered(aws, arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in aws.history(arn) if "stateEnteredEventDetails" in e
    ]


def _summary(aws, arn: str) -> dict:
    from stepwise.console.summary import build_summary

    return build_summary(aws.store, aws.wait(arn), aws.history(arn))


def _run(aws, data: Path) -> str:
    started = aws.upload_dataset(data)
    assert len(started) == 2, "the template's rule must match both uploads' events"
    for arn in started:
        aws.wait(arn)
    return started[-1]


def test_crashing_job_is_caught_and_notified(tmp_path: Path, tutorial_data: Path) -> None:
    template = project_copy(tmp_path / "project")
    (template.parent / "processing" / "preprocess.py").write_text(
        "import os\nprint('about to crash', flush=True)\nos.abort()\n"
    )
    with _embedded(tmp_path / "state", template) as aws:
        arn = _run(aws, tutorial_data)
        summary = _summary(aws, arn)
        assert summary["status"] == "FAILED"
        assert _entered(aws, arn)[-3:] == ["PreprocessFailed", "NotifyFailure", "PipelineFailed"]
        failure = summary["failure"]
        assert failure["state"] == "Preprocess" and failure["error"] == "States.TaskFailed"
        # no message file: the reason is the exit status and the log's last line, as the log shows
        assert "exit code -6: about to crash" in failure["cause"], failure["cause"]
        (log,) = failure["logs"]
        assert "about to crash" in Path(log).read_text()


def test_raising_lambda_is_caught_and_notified(tmp_path: Path, tutorial_data: Path) -> None:
    template = project_copy(tmp_path / "project")
    handler = template.parent / "functions" / "quality_gate" / "app.py"
    signature = "def gate(request: QualityGateEvent) -> dict[str, Any]:\n"
    source = handler.read_text()
    assert signature in source
    handler.write_text(
        source.replace(signature, signature + "    raise RuntimeError('evaluation.json has no auc')\n")
    )
    with _embedded(tmp_path / "state", template) as aws:
        arn = _run(aws, tutorial_data)
        summary = _summary(aws, arn)
        assert summary["status"] == "FAILED"
        entered = _entered(aws, arn)
        assert entered.count("QualityGate") == 1, (
            "a function error is not retried (Retry is for service errors)"
        )
        assert entered[-3:] == ["QualityGateFailed", "NotifyFailure", "PipelineFailed"]
        failure = summary["failure"]
        assert failure["state"] == "QualityGate" and failure["error"] == "RuntimeError"
        assert "evaluation.json has no auc" in failure["cause"]
        # the execution's error names the state; its cause leads with the caught error
        assert failure["executionError"] == "QualityGateFailed"
        assert failure["executionCause"].startswith("RuntimeError: ")
        (log,) = failure["logs"]
        assert "evaluation.json has no auc" in Path(log).read_text(), "the traceback is in the function's log"


def _plant_broken_model_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every model an endpoint deploys has an unreadable xgboost-model (a corrupt upload)."""
    from stepwise.emulator.sagemaker import endpoints

    extract = endpoints.extract_model

    def extract_corrupted(artifact, folder):
        model_dir = extract(artifact, folder)
        (model_dir / "xgboost-model").write_bytes(b"not an xgboost model")
        return model_dir

    monkeypatch.setattr(endpoints, "extract_model", extract_corrupted)


def _endpoint_name(aws) -> str:
    return aws.stack.outputs["EndpointName"]


def test_endpoint_that_fails_to_start_is_caught_and_notified(
    aws, tutorial_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plant_broken_model_artifacts(monkeypatch)
    arn = _run(aws, tutorial_data)
    summary = _summary(aws, arn)
    assert summary["status"] == "FAILED"
    assert _entered(aws, arn)[-3:] == ["GetEndpointFailure", "NotifyFailure", "PipelineFailed"]
    failure = summary["failure"]
    assert failure["state"] == "EndpointStatus" and failure["error"] == "EndpointFailed"
    assert "failed to start" in failure["cause"], failure["cause"]
    described = aws.client("sagemaker").describe_endpoint(EndpointName=_endpoint_name(aws))
    assert described["EndpointStatus"] == "Failed"


def test_failed_endpoint_update_rolls_back_and_the_old_model_keeps_serving(
    aws, tutorial_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _summary(aws, _run(aws, tutorial_data))
    assert first["status"] == "SUCCEEDED", first.get("failure")
    name = _endpoint_name(aws)
    sagemaker, runtime = aws.client("sagemaker"), aws.client("sagemaker-runtime")
    serving_config = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]

    _plant_broken_model_artifacts(monkeypatch)
    # the same data, retrained (as `stepwise run --schedule --force`): version 2's deploy fails
    (arn,) = aws.run_schedule(force=True)
    summary = _summary(aws, arn)
    assert summary["status"] == "FAILED"
    assert _entered(aws, arn)[-3:] == ["DeploymentRolledBack", "NotifyFailure", "PipelineFailed"]
    assert summary["failure"]["error"] == "DeploymentRolledBack"
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == serving_config, "the endpoint must still serve version 1"
    row = ",".join(["0"] * 48)
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=row)
    assert 0.0 <= float(answer["Body"].read().decode().strip()) <= 1.0


def test_the_same_event_delivered_twice_trains_once(aws, tutorial_data: Path) -> None:
    """EventBridge delivers at least once: two executions of one upload event start together, and only
    one of them trains; a later delivery names the version the first registered."""
    aws.eventbridge.duplicates = 1
    started = aws.upload_dataset(tutorial_data)
    assert len(started) == 4, "each upload's event delivered twice"
    for arn in started:
        aws.wait(arn)
    ends = sorted(_summary(aws, arn)["endState"] for arn in started)
    assert ends.count("Succeeded") == 1, ends
    # the others: found the run claimed or registered, or (started by claims.csv) found no customers.csv yet
    assert set(ends) <= {"Succeeded", "AlreadyRunning", "AlreadyRegistered", "WaitingForDataset"}, ends
    trained = [arn for arn in started if "Preprocess" in _entered(aws, arn)]
    assert len(trained) == 1
    group = aws.stack.outputs["ModelPackageGroupName"]
    packages = aws.client("sagemaker").list_model_packages(ModelPackageGroupName=group)
    assert len(packages["ModelPackageSummaryList"]) == 1

    aws.eventbridge.duplicates = 0
    (late,) = aws.put_event(aws.s3_event_of(_last_upload(aws, "customers.csv")))
    summary = _summary(aws, late)
    assert summary["endState"] == "AlreadyRegistered"
    assert summary["run"]["modelPackageVersion"] == 1 and "version 1" in summary["run"]["reason"]


def _last_upload(aws, name: str) -> str:
    keys = aws.store.object_keys(aws.bucket, "raw/")
    return [key for key in keys if key.endswith(f"/{name}")][-1]
