"""Faults in a local run reach the state machine's Retry/Catch as on AWS, and the failure notification
runs: a job whose process crashes, a Lambda function that raises, an endpoint whose server fails to start
(on create, and on update, which rolls back). The embedded AWS runs in this test process so the fault can
be planted (a crashing script in the published code, a raising handler, a corrupt model file)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def local(tmp_path: Path):
    from stepwise.local.runtime import LocalAWS

    with LocalAWS(tmp_path / "state") as aws:
        yield aws


def _entered(local, arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in local.history(arn) if "stateEnteredEventDetails" in e
    ]


def _run(local, data: Path, force: bool = False) -> str:
    events = local.upload_dataset(data)
    arns = [local.deliver(event, force=force) for event in events]
    assert all(arns), "the template's rule must match the upload's events"
    for arn in arns:
        local.wait(arn)
    return arns[-1]


def test_crashing_job_is_caught_and_notified(local, tutorial_data: Path) -> None:
    from stepwise.local.summary import build_summary

    s3 = local.client("s3")
    bucket, prefix = local.stack.buckets[0], local.stack.substitutions["CodePrefix"]
    crash = b"import os\nprint('about to crash')\nos.abort()\n"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/preprocess.py", Body=crash)

    arn = _run(local, tutorial_data)
    summary = build_summary(local, arn)
    assert summary["status"] == "FAILED"
    assert _entered(local, arn)[-3:] == ["PreprocessFailed", "NotifyFailure", "PipelineFailed"]
    failure = summary["failure"]
    assert failure["state"] == "Preprocess" and failure["error"] == "States.TaskFailed"
    # no message file: the reason is the exit status and the log's last line, as the log shows
    assert "exit code -6: about to crash" in failure["cause"]
    (log,) = failure["logs"]
    assert "about to crash" in Path(log).read_text()


def test_raising_lambda_is_caught_and_notified(local, tutorial_data: Path) -> None:
    from stepwise.local.summary import build_summary

    calls = []

    def broken_gate(event, context):
        calls.append(event)
        raise RuntimeError("evaluation.json has no auc")

    local.engine.register_lambda("QualityGateFunction", broken_gate)
    arn = _run(local, tutorial_data)
    summary = build_summary(local, arn)
    assert summary["status"] == "FAILED"
    assert len(calls) == 1, "a function error is not retried by the definition's Retry (service errors only)"
    assert _entered(local, arn)[-3:] == ["QualityGateFailed", "NotifyFailure", "PipelineFailed"]
    failure = summary["failure"]
    assert failure["state"] == "QualityGate" and failure["error"] == "RuntimeError"
    assert "evaluation.json has no auc" in failure["cause"]
    notified = [
        e for e in local.history(arn) if e.get("stateExitedEventDetails", {}).get("name") == "NotifyFailure"
    ]
    assert notified, "NotifyFailure did not complete"
    assert failure["executionError"] == "RuntimeError", "PipelineFailed reports the caught error"


def _plant_broken_model_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every model an endpoint deploys has an unreadable xgboost-model (a corrupt upload)."""
    from stepwise.local import endpoints

    extract = endpoints.extract_model

    def extract_corrupted(artifact, folder):
        model_dir = extract(artifact, folder)
        (model_dir / "xgboost-model").write_bytes(b"not an xgboost model")
        return model_dir

    monkeypatch.setattr(endpoints, "extract_model", extract_corrupted)


def test_endpoint_that_fails_to_start_is_caught_and_notified(
    local, tutorial_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stepwise.local.summary import build_summary

    _plant_broken_model_artifacts(monkeypatch)
    arn = _run(local, tutorial_data)
    summary = build_summary(local, arn)
    assert summary["status"] == "FAILED"
    assert _entered(local, arn)[-3:] == ["GetEndpointFailure", "NotifyFailure", "PipelineFailed"]
    failure = summary["failure"]
    assert failure["state"] == "EndpointStatus" and failure["error"] == "EndpointFailed"
    assert "failed to start" in failure["cause"], failure["cause"]
    name = local.stack.substitutions["EndpointName"]
    assert local.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"] == "Failed"


def test_failed_endpoint_update_rolls_back_and_the_old_model_keeps_serving(
    local, tutorial_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stepwise.local.summary import build_summary

    first = build_summary(local, _run(local, tutorial_data))
    assert first["status"] == "SUCCEEDED", first.get("failure")
    name = local.stack.substitutions["EndpointName"]
    sagemaker, runtime = local.client("sagemaker"), local.client("sagemaker-runtime")
    serving_config = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]

    _plant_broken_model_artifacts(monkeypatch)
    arn = _run(local, tutorial_data, force=True)  # the same data, retrained: version 2's deploy fails
    summary = build_summary(local, arn)
    assert summary["status"] == "FAILED"
    assert _entered(local, arn)[-3:] == ["DeploymentRolledBack", "NotifyFailure", "PipelineFailed"]
    assert summary["failure"]["error"] == "DeploymentRolledBack"
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == serving_config, "the endpoint must still serve version 1"
    row = ",".join(["0"] * 48)
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=row)
    assert 0.0 <= float(answer["Body"].read().decode().strip()) <= 1.0


def test_the_same_event_delivered_twice_trains_once(local, tutorial_data: Path) -> None:
    """EventBridge delivers at least once: two executions of one upload event start together, and only
    one of them trains; a later delivery names the version the first registered."""
    from stepwise.local.summary import build_summary

    claims_event, customers_event = local.upload_dataset(tutorial_data)
    local.wait(local.deliver(claims_event))
    twice = [local.deliver(customers_event), local.deliver(customers_event)]
    for arn in twice:
        local.wait(arn)
    ends = sorted(build_summary(local, arn)["endState"] for arn in twice)
    assert ends == ["AlreadyRunning", "Succeeded"], ends
    trained = [arn for arn in twice if "Preprocess" in _entered(local, arn)]
    assert len(trained) == 1
    packages = local.client("sagemaker").list_model_packages(ModelPackageGroupName="stepwise-fraud-detection")
    assert len(packages["ModelPackageSummaryList"]) == 1

    late = build_summary(local, local.wait(local.deliver(customers_event))["executionArn"])
    assert late["endState"] == "AlreadyRegistered"
    assert late["run"]["modelPackageVersion"] == 1 and "version 1" in late["run"]["reason"]
