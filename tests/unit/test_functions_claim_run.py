"""claim_run: a short run id, a fingerprint of the inputs, and each input trained only once."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import boto3
import pytest
from botocore.loaders import Loader
from functions_support import FakeContext, layer, load_app, mocked_aws, sample_event

app = load_app("claim_run")
BUCKET = "stepwise-data-123456789012"
GROUP = "stepwise-fraud-detection"
MACHINE = "stepwise-pipeline"
ROLE = "arn:aws:iam::123456789012:role/stepwise-state-machine"
STAGES = ("preprocess", "train", "evaluate", "checks")

# Every character AWS allows in an execution name besides letters and digits (StartExecution: no
# whitespace, brackets, wildcards, " # % \ ^ | ~ ` $ & , ; : /, or control characters), and non-ASCII.
ALLOWED_SPECIALS = "!'()+-.=@_éß日本"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    with mocked_aws(monkeypatch):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield


def event(execution: str | None = None, **changes) -> dict:
    base = sample_event("claim_run")
    if execution is not None:
        base["executionName"] = execution
        base["executionArn"] = f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:{execution}"
    for key, value in changes.items():
        if key in base["dataset"]:
            base["dataset"][key] = value
        else:
            base[key] = value
    return base


def claim(execution: str | None = None, **changes) -> dict:
    return app.lambda_handler(event(execution, **changes), FakeContext("claim_run"))


def start_execution(name: str) -> str:
    """A RUNNING execution of the pipeline (moto does not run it)."""
    sfn = boto3.client("stepfunctions")
    try:
        arn = sfn.create_state_machine(
            name=MACHINE,
            definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Succeed"}}}),
            roleArn=ROLE,
        )["stateMachineArn"]
    except sfn.exceptions.StateMachineAlreadyExists:
        arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE}"
    return sfn.start_execution(stateMachineArn=arn, name=name)["executionArn"]


def register(fingerprint: str, version_note: str = "") -> str:
    sagemaker = boto3.client("sagemaker")
    if not sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]:
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    registry = layer("registry")
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=version_note or "a run",
        InferenceSpecification={
            "Containers": [{"Image": "xgboost:1.7-1", "ModelDataUrl": f"s3://{BUCKET}/runs/x/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={registry.FINGERPRINT: fingerprint},
    )["ModelPackageArn"]


def test_the_first_run_on_new_inputs_claims_them(aws) -> None:
    result = claim()

    assert result["status"] == "new"
    assert re.fullmatch(r"20261128-083001-[0-9a-f]{6}", result["id"])
    assert re.fullmatch(r"[0-9a-f]{64}", result["fingerprint"])
    key = f"fingerprints/{result['fingerprint']}.json"
    assert result["claimUri"] == f"s3://{BUCKET}/{key}"
    record = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert record["executionArn"] == event()["executionArn"]
    assert record["runId"] == result["id"]
    assert record["dataset"]["claimsETag"] == event()["dataset"]["claimsETag"]


def test_the_same_content_under_another_dataset_prefix_has_the_same_fingerprint() -> None:
    request = app.ClaimRunEvent.model_validate(event())
    moved = app.ClaimRunEvent.model_validate(
        event(s3Uri=f"s3://{BUCKET}/raw/elsewhere/", claimsVersionId="other", customersVersionId="other")
    )
    assert app.fingerprint(request.dataset, request.recipe) == app.fingerprint(moved.dataset, moved.recipe)


@pytest.mark.parametrize(
    "change",
    [
        {"claimsETag": "00000000000000000000000000000000"},
        {"customersETag": "00000000000000000000000000000000"},
        {"recipe": {**sample_event("claim_run")["recipe"], "codePrefix": "code/ba9876543210"}},
        {"recipe": {**sample_event("claim_run")["recipe"], "trainingImage": "xgboost:1.5-1"}},
        {"recipe": {**sample_event("claim_run")["recipe"], "hyperparameters": {"eta": "0.3"}}},
    ],
)
def test_any_change_of_data_code_image_or_hyperparameters_changes_the_fingerprint(change: dict) -> None:
    base = app.ClaimRunEvent.model_validate(event())
    changed = app.ClaimRunEvent.model_validate(event(**change))
    assert app.fingerprint(base.dataset, base.recipe) != app.fingerprint(changed.dataset, changed.recipe)


def test_inputs_registered_before_end_the_run_naming_the_version(aws) -> None:
    first = claim("first-delivery")
    package = register(first["fingerprint"])

    second = claim("second-delivery")

    assert second["status"] == "matched"
    assert (second["modelPackageArn"], second["modelPackageVersion"]) == (package, 1)
    assert "registered as version 1" in second["reason"]
    assert second["claimedBy"].endswith(":first-delivery")


def test_a_second_delivery_while_the_first_trains_ends_at_once(aws) -> None:
    first_arn = start_execution("first-delivery")  # RUNNING
    assert claim("first-delivery")["status"] == "new"

    second = claim("second-delivery")

    assert second["status"] == "running"
    assert second["claimedBy"] == first_arn


def test_a_claim_whose_execution_ended_without_registering_is_taken_over(aws) -> None:
    start_execution("failed-run")
    boto3.client("stepfunctions").stop_execution(
        executionArn=f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:failed-run"
    )
    assert claim("failed-run")["status"] == "new"

    retry = claim("retry-run")

    assert retry["status"] == "new"
    assert "took the claim over" in retry["reason"]
    record = json.loads(
        boto3.client("s3")
        .get_object(Bucket=BUCKET, Key=f"fingerprints/{retry['fingerprint']}.json")["Body"]
        .read()
    )
    assert record["executionArn"].endswith(":retry-run")


def test_force_retrains_inputs_that_were_registered(aws) -> None:
    first = claim("first")
    register(first["fingerprint"])

    forced = claim("forced", force=True)

    assert (forced["status"], forced["forced"]) == ("new", True)


def test_a_retried_invocation_of_the_same_execution_keeps_its_claim(aws) -> None:
    first = claim("one-execution")
    again = claim("one-execution")
    assert (again["status"], again["id"], again["fingerprint"]) == ("new", first["id"], first["fingerprint"])


def test_two_claims_of_the_same_inputs_leave_exactly_one_new_run(aws) -> None:
    start_execution("a")
    start_execution("b")
    statuses = sorted(claim(name)["status"] for name in ("a", "b"))
    assert statuses == ["new", "running"]


def sagemaker_name_rule() -> tuple[int, str]:
    """Max length and pattern of a processing job name, from botocore's SageMaker model."""
    model = Loader().load_service_model("sagemaker", "service-2")
    shape = model["shapes"]["ProcessingJobName"]
    return shape["max"], shape["pattern"]


@pytest.mark.parametrize("length", [36, 73, 80])
def test_run_ids_make_valid_sagemaker_names_whatever_the_execution_name(length: int) -> None:
    max_length, pattern = sagemaker_name_rule()
    alphabet = "aZ09" + ALLOWED_SPECIALS
    name = (alphabet * 10)[:length]
    assert len(name) == length and set(ALLOWED_SPECIALS) <= set(name)
    started = datetime(2026, 11, 28, 8, 30, 1, tzinfo=UTC)
    for execution_name in (name, name[::-1], "x" * length):
        run_id = app.run_id(execution_name, started)
        for stage in STAGES:
            job = f"{run_id}-{stage}-12"  # attempts stay below 10; two digits leave room
            assert len(job) <= max_length
            assert re.fullmatch(pattern, job), job
    assert app.run_id(name, started) != app.run_id(name[::-1], started)
    assert app.run_id(name, None) != app.run_id(name, started)


def test_a_bad_event_names_every_bad_field(aws) -> None:
    bad = copy.deepcopy(sample_event("claim_run"))
    del bad["dataset"]["claimsETag"]
    bad["recipe"] = {}
    with pytest.raises(layer("events").InvalidEventError) as raised:
        app.lambda_handler(bad, FakeContext("claim_run"))
    message = str(raised.value)
    assert "dataset.claimsETag" in message and "recipe" in message
