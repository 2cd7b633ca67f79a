"""register_model: one package per execution, with its metrics, lineage and approval status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import numpy as np
import pytest
from functions_support import FakeContext, layer, load_app, mocked_aws, sample_event

from processing import evaluate

app = load_app("register_model")
GROUP = "stepwise-fraud-detection"
BUCKET = "stepwise-data-123456789012"
RUN = f"s3://{BUCKET}/runs/20261128-083001-5c7e21"
EVALUATION_KEY = "runs/20261128-083001-5c7e21/evaluation/evaluation.json"


# validation (and test) labels and scores: the best F1 flags score >= 0.7, recall 1 needs score >= 0.05
LABELS = np.array([0, 0, 1, 0, 1, 1, 0, 0])
SCORES = np.array([0.1, 0.2, 0.05, 0.4, 0.7, 0.8, 0.9, 0.3])


def operating_point_section(rule: str = "best-f1") -> dict:
    """evaluation.json's operating_point as processing/evaluate.py writes it."""
    return evaluate.operating_point(evaluate.parse_operating_point(rule), LABELS, SCORES, LABELS, SCORES)


def put_evaluation(document: dict | bytes) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=EVALUATION_KEY, Body=body)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """moto, with the run's evaluation.json (the event's evaluationUri) in the bucket."""
    with mocked_aws(monkeypatch):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        put_evaluation({"binary_classification_metrics": {}, "operating_point": operating_point_section()})
        yield


def event(**changes) -> dict:
    """The sample event, with its start time moved to now (the registry search is bounded by it)."""
    started = datetime.now(UTC) - timedelta(minutes=5)
    return {**sample_event("register_model"), "executionStartTime": started.isoformat(), **changes}


def packages() -> list[dict]:
    sagemaker = boto3.client("sagemaker")
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def test_registers_the_model_with_its_metrics_and_lineage(aws):
    result = app.lambda_handler(event(), FakeContext("register_model"))

    assert result["created"] is True
    assert (result["modelPackageVersion"], result["approvalStatus"]) == (1, "Approved")
    [package] = packages()
    assert package["ModelPackageArn"] == result["modelPackageArn"]
    assert package["ModelApprovalStatus"] == "Approved"
    specification = package["InferenceSpecification"]
    assert specification["Containers"] == [
        {
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": f"{RUN}/train/20261128-083001-5c7e21-train-0/output/model.tar.gz",
        }
    ]
    assert (
        specification["SupportedContentTypes"] == specification["SupportedResponseMIMETypes"] == ["text/csv"]
    )
    assert specification["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large", "ml.m5.xlarge"]
    metrics = package["ModelMetrics"]
    assert metrics["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": f"{RUN}/evaluation/evaluation.json",
    }
    assert metrics["Bias"]["Report"]["S3Uri"] == f"{RUN}/checks/bias/analysis.json"
    assert metrics["Explainability"]["Report"]["S3Uri"] == f"{RUN}/checks/explainability/analysis.json"
    assert package["CustomerMetadataProperties"] == {
        "executionArn": sample_event("register_model")["executionArn"],
        "executionName": "7b1f5c2e-3f4a-4d8e-9c61-2a5b8f0e9d13",
        "datasetUri": "s3://stepwise-data-123456789012/raw/2026-11-28/",
        "datasetId": "2026-11-28",
        "claimsVersion": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        "customersVersion": "UIORUnfndfiufdisojhr398493jfdkjFJ",
        "testDataUri": f"{RUN}/preprocess/test/test.csv",
        "schemaUri": f"{RUN}/preprocess/schema/schema.json",
        "metricName": "auc",
        "metricValue": "0.8412",
        "runId": "20261128-083001-5c7e21",
        "fingerprint": "4f1c9a7be2d05c3e8a6b1f0d9e7c2a5b3d8e6f1a0c9b7d5e3f2a1b0c9d8e7f6a",
        "decisionThreshold": "0.7",
        "operatingPoint": "best-f1 on validation",
    }
    json.dumps(result)


@pytest.mark.parametrize(
    ("rule", "threshold", "description"),
    [("recall=1", "0.05", "recall>=1.0 on validation"), ("threshold=0.25", "0.25", "fixed threshold=0.25")],
)
def test_the_package_records_the_threshold_of_the_evaluations_rule(aws, rule, threshold, description):
    put_evaluation({"operating_point": operating_point_section(rule)})

    app.lambda_handler(event(), FakeContext("register_model"))

    [package] = packages()
    properties = package["CustomerMetadataProperties"]
    assert (properties["decisionThreshold"], properties["operatingPoint"]) == (threshold, description)
    assert float(properties["decisionThreshold"]) == evaluate.choose_threshold(
        evaluate.parse_operating_point(rule), LABELS, SCORES
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"binary_classification_metrics": {}}, "has no operating_point section"),
        ({"operating_point": {"rule": "best-f1 on validation", "threshold": "NaN"}}, "threshold 'NaN'"),
        ({"operating_point": {"rule": "", "threshold": 0.7}}, "and rule ''"),
        ([1, 2], "has no operating_point section"),
    ],
)
def test_an_evaluation_without_a_threshold_registers_nothing(aws, document, message):
    put_evaluation(document)

    with pytest.raises(app.OperatingPointNotFoundError, match=message):
        app.lambda_handler(event(), FakeContext("register_model"))
    assert packages() == []


def test_a_rule_longer_than_sagemakers_metadata_limit_is_refused(aws):
    put_evaluation({"operating_point": {"rule": "r" * 257, "threshold": 0.7}})

    with pytest.raises(ValueError, match="longer than 256 characters: operatingPoint"):
        app.lambda_handler(event(), FakeContext("register_model"))
    assert packages() == []


def test_a_retry_of_the_same_execution_registers_nothing_twice(aws):
    first = app.lambda_handler(event(), FakeContext("register_model"))
    again = app.lambda_handler(event(), FakeContext("register_model"))

    assert len(packages()) == 1
    assert again == {**first, "created": False}


def test_the_search_for_this_executions_package_also_works_unbounded(aws):
    first = app.lambda_handler(event(executionStartTime=None), FakeContext("register_model"))
    again = app.lambda_handler(event(executionStartTime=None), FakeContext("register_model"))

    assert (again["modelPackageArn"], again["created"], len(packages())) == (
        first["modelPackageArn"],
        False,
        1,
    )


def test_another_execution_registers_the_next_version(aws):
    app.lambda_handler(event(), FakeContext("register_model"))
    other_arn = "arn:aws:states:us-east-1:123456789012:execution:stepwise-pipeline:second-run"

    result = app.lambda_handler(
        event(executionArn=other_arn, executionName="second-run"), FakeContext("register_model")
    )

    assert (result["created"], result["modelPackageVersion"]) == (True, 2)
    assert sorted(p["CustomerMetadataProperties"]["executionName"] for p in packages()) == [
        "7b1f5c2e-3f4a-4d8e-9c61-2a5b8f0e9d13",
        "second-run",
    ]


def test_pending_manual_approval(aws):
    result = app.lambda_handler(event(approvalStatus="PendingManualApproval"), FakeContext("register_model"))

    assert result["approvalStatus"] == "PendingManualApproval"
    assert [p["ModelApprovalStatus"] for p in packages()] == ["PendingManualApproval"]


def test_approval_status_from_the_environment(aws, monkeypatch):
    monkeypatch.setenv("MODEL_APPROVAL_STATUS", "PendingManualApproval")
    without_status = {key: value for key, value in event().items() if key != "approvalStatus"}

    assert app.lambda_handler(without_status, FakeContext("register_model"))["approvalStatus"] == (
        "PendingManualApproval"
    )


def test_the_client_token_is_stable_per_execution():
    request = app.RegisterModelEvent.model_validate(event())
    other = app.RegisterModelEvent.model_validate(event(executionArn="arn:aws:states:::execution:x:other"))
    point = app.OperatingPoint(0.7, "best-f1 on validation")

    token = app.package_request(request, point)["ClientToken"]

    assert token == app.package_request(request, point)["ClientToken"]
    assert token != app.package_request(other, point)["ClientToken"]
    assert len(token) <= 36


def test_other_approval_statuses_are_rejected(aws):
    with pytest.raises(
        layer("events").InvalidEventError, match="field 'approvalStatus'.*'PendingManualApproval'"
    ):
        app.lambda_handler(event(approvalStatus="Rejected"), FakeContext("register_model"))
    assert packages() == []


def test_missing_and_malformed_fields_are_named(aws):
    broken = event(modelDataUrl="model.tar.gz", gate={"value": 0.8})
    del broken["executionArn"]

    with pytest.raises(layer("events").InvalidEventError) as error:
        app.lambda_handler(broken, FakeContext("register_model"))

    message = str(error.value)
    assert "field 'modelDataUrl': String should match pattern" in message
    assert "field 'executionArn': Field required" in message
    assert "field 'gate.metric': Field required" in message
