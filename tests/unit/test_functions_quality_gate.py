"""quality_gate: threshold, the serving model (champion) and the tolerance."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from functions_support import FakeContext, layer, load_app, mocked_aws, sample_event

app = load_app("quality_gate")
BUCKET = "stepwise-data-123456789012"
GROUP = "stepwise-fraud-detection"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    with mocked_aws(monkeypatch):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield


def put_evaluation(run: str, auc: float, **other: float) -> str:
    """An evaluation.json as the Evaluate job writes it (SageMaker model-quality format)."""
    metrics = {"auc": {"value": auc, "standard_deviation": 0.01}}
    metrics.update({name: {"value": value} for name, value in other.items()})
    key = f"runs/{run}/evaluation/evaluation.json"
    body = json.dumps({"binary_classification_metrics": metrics})
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def add_package(status: str, evaluation_uri: str, metadata: dict[str, str] | None = None) -> str:
    sagemaker = boto3.client("sagemaker")
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if not any(group["ModelPackageGroupName"] == GROUP for group in groups):
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    request = {
        "ModelPackageGroupName": GROUP,
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri}}
        },
        "ModelApprovalStatus": status,
    }
    if metadata:
        request["CustomerMetadataProperties"] = metadata
    return sagemaker.create_model_package(**request)["ModelPackageArn"]


def champion_with_auc(auc: float, run: str = "champion", status: str = "Approved") -> str:
    return add_package(status, put_evaluation(run, auc), {"metricName": "auc", "metricValue": repr(auc)})


def run_gate(auc: float, threshold: float = 0.7, tolerance: float = 0.01, group: str | None = GROUP) -> dict:
    request = app.QualityGateEvent(
        evaluation_uri=put_evaluation("candidate", auc),
        metric="auc",
        threshold=threshold,
        tolerance=tolerance,
        model_package_group_name=group,
    )
    return app.gate(request)


def test_passes_on_the_threshold_when_nothing_serves_yet(aws):
    result = run_gate(0.84)

    assert result["passed"] is True
    assert (result["metric"], result["value"], result["champion"]) == ("auc", 0.84, None)
    assert result["reason"] == (
        "auc 0.84 meets the threshold 0.7; there is no serving model to compare with (tolerance 0.01 unused)"
    )


def test_fails_below_the_threshold(aws):
    result = run_gate(0.65)

    assert result["passed"] is False
    assert result["reason"] == "auc 0.65 is below the threshold 0.7"


def test_passes_within_the_tolerance_of_the_serving_model(aws):
    arn = champion_with_auc(0.85)

    result = run_gate(0.845)

    assert result["passed"] is True
    assert result["champion"] == {"modelPackageArn": arn, "value": 0.85}
    assert result["reason"] == (
        "auc 0.845 meets the threshold 0.7 and is within the tolerance 0.01 of the serving model's 0.85 "
        "(difference -0.005)"
    )


def test_retraining_to_the_same_value_passes(aws):
    champion_with_auc(0.8)

    result = run_gate(0.8)

    assert result["passed"] is True
    assert result["reason"].endswith("of the serving model's 0.8 (difference +0)")


def test_fails_when_worse_than_the_serving_model_by_more_than_the_tolerance(aws):
    champion_with_auc(0.90)

    result = run_gate(0.85)

    assert result["passed"] is False
    assert result["reason"] == (
        "auc 0.85 meets the threshold 0.7 but is 0.05 worse than the serving model's 0.9, "
        "more than the tolerance 0.01"
    )


def test_exactly_at_the_tolerance_passes(aws):
    champion_with_auc(0.80)

    assert run_gate(0.79)["passed"] is True


def test_the_serving_model_is_the_latest_approved_package(aws):
    champion_with_auc(0.95, run="old")
    newest_approved = champion_with_auc(0.80, run="current")
    champion_with_auc(0.99, run="pending", status="PendingManualApproval")
    champion_with_auc(0.99, run="rejected", status="Rejected")

    result = run_gate(0.82)

    assert result["champion"] == {"modelPackageArn": newest_approved, "value": 0.80}
    assert result["passed"] is True


def test_champion_metric_read_from_its_evaluation_file_without_metadata(aws):
    arn = add_package("Approved", put_evaluation("champion", 0.91))

    result = run_gate(0.85)

    assert result["champion"] == {"modelPackageArn": arn, "value": 0.91}
    assert result["passed"] is False


def test_champion_without_the_metric_leaves_only_the_threshold(aws):
    add_package("Approved", put_evaluation("champion", 0.91), {"note": "registered by hand"})
    boto3.client("s3").put_object(Bucket=BUCKET, Key="runs/champion/evaluation/evaluation.json", Body=b"{}")

    result = run_gate(0.75)

    assert result["passed"] is True
    assert result["champion"]["value"] is None
    assert "has no auc recorded, so only the threshold applies" in result["reason"]


def test_no_group_configured_means_no_champion(aws):
    champion_with_auc(0.99)

    result = run_gate(0.75, group=None)

    assert (result["passed"], result["champion"]) == (True, None)


def test_a_metric_missing_from_the_evaluation_is_a_clear_error(aws):
    uri = put_evaluation("candidate", 0.84, accuracy=0.9)
    request = app.QualityGateEvent(evaluation_uri=uri, metric="f1", threshold=0.5, tolerance=0.0)

    with pytest.raises(app.MetricNotFoundError, match=r"has no metric 'f1' \(it has: accuracy, auc\)"):
        app.gate(request)


def test_handler_with_the_sample_event(aws):
    event = sample_event("quality_gate")
    key = event["evaluationUri"].split(f"s3://{BUCKET}/", 1)[1]
    body = json.dumps(
        {"binary_classification_metrics": {"auc": {"value": 0.8412, "standard_deviation": 0.01}}}
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)

    result = app.lambda_handler(event, FakeContext("quality_gate"))

    assert result == {
        "passed": True,
        "metric": "auc",
        "value": 0.8412,
        "threshold": 0.7,
        "tolerance": 0.01,
        "champion": None,
        "reason": "auc 0.8412 meets the threshold 0.7; there is no serving model to compare with "
        "(tolerance 0.01 unused)",
    }
    json.dumps(result)  # a Lambda result must be JSON


def test_logs_carry_the_execution_and_metrics_go_to_the_stepwise_namespace(aws, capsys):
    event = {**sample_event("quality_gate"), "evaluationUri": put_evaluation("candidate", 0.9)}
    logs = io.StringIO()
    handler = app.logger.registered_handler
    previous = handler.setStream(logs)  # the handler kept the stdout of import time
    try:
        app.lambda_handler(event, FakeContext("quality_gate"))
    finally:
        handler.setStream(previous)

    [decision] = [json.loads(line) for line in logs.getvalue().splitlines() if "quality gate decided" in line]
    assert decision["correlation_id"] == event["executionArn"]
    assert decision["function_name"] == "quality_gate"
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stepwise"
    assert (emf["GatePassed"], emf["ModelAUC"]) == ([1.0], [0.9])


def test_thresholds_fall_back_to_the_environment(aws, monkeypatch):
    event = {"evaluationUri": put_evaluation("candidate", 0.72)}
    monkeypatch.setenv("GATE_METRIC", "auc")
    monkeypatch.setenv("GATE_THRESHOLD", "0.75")
    monkeypatch.setenv("GATE_TOLERANCE", "0.02")

    result = app.lambda_handler(event, FakeContext("quality_gate"))

    assert (result["passed"], result["threshold"], result["tolerance"]) == (False, 0.75, 0.02)


def test_bad_events_name_the_field(aws):
    invalid = layer("events").InvalidEventError
    event = sample_event("quality_gate")

    with pytest.raises(invalid, match="field 'threshold': Input should be a valid number"):
        app.lambda_handler({**event, "threshold": "high"}, FakeContext("quality_gate"))
    with pytest.raises(invalid, match="field 'evaluationUri': String should match pattern"):
        app.lambda_handler({**event, "evaluationUri": "/tmp/evaluation.json"}, FakeContext("quality_gate"))
    without_tolerance = {key: value for key, value in event.items() if key != "tolerance"}
    with pytest.raises(
        invalid, match="field 'tolerance': Field required .or set the environment variable GATE_TOLERANCE"
    ):
        app.lambda_handler(without_tolerance, FakeContext("quality_gate"))
