"""deploy_endpoint: create, blue/green update, refusal of unapproved packages, idempotent re-deploys."""

from __future__ import annotations

import boto3
import pytest
from functions_support import (
    ACCOUNT,
    REGION,
    FakeContext,
    layer,
    load_app,
    mocked_aws,
    sample_event,
    support_update_endpoint,
)
from moto.sagemaker.models import sagemaker_backends

app = load_app("deploy_endpoint")
GROUP = "stepwise-fraud-detection"
ENDPOINT = "stepwise-fraud-detection"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/stepwise-sagemaker-execution"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    with mocked_aws(monkeypatch):
        boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        yield


@pytest.fixture
def updates(aws, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    return support_update_endpoint(monkeypatch)


def register(run: str, status: str = "Approved") -> str:
    """A package as register_model leaves it; returns its ARN."""
    return boto3.client("sagemaker").create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://bucket/runs/{run}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus=status,
        CustomerMetadataProperties={"testDataUri": f"s3://bucket/runs/{run}/preprocess/test/test.csv"},
    )["ModelPackageArn"]


def deploy(arn: str, execution: str | None = "run-1", **changes) -> dict:
    event = {
        "modelPackageArn": arn,
        "endpointName": ENDPOINT,
        "instanceType": "ml.m5.large",
        "initialInstanceCount": 1,
        "executionRoleArn": ROLE,
        "executionName": execution,
        **changes,
    }
    return app.lambda_handler(event, FakeContext("deploy_endpoint"))


def endpoint_config_of_endpoint() -> dict:
    sagemaker = boto3.client("sagemaker")
    name = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    return sagemaker.describe_endpoint_config(EndpointConfigName=name)


def endpoint_config_names() -> list[str]:
    return sorted(sagemaker_backends[ACCOUNT][REGION].endpoint_configs)


def test_first_deploy_creates_model_config_and_endpoint(aws):
    arn = register("run-1")

    result = deploy(arn)

    assert result["action"] == "create"
    assert (result["modelName"], result["modelPackageArn"], result["modelPackageVersion"]) == (
        f"{ENDPOINT}-v1",
        arn,
        1,
    )
    assert result["testDataUri"] == "s3://bucket/runs/run-1/preprocess/test/test.csv"
    model = boto3.client("sagemaker").describe_model(ModelName=f"{ENDPOINT}-v1")
    assert model["PrimaryContainer"] == {
        "Image": IMAGE,
        "ModelDataUrl": "s3://bucket/runs/run-1/model.tar.gz",
    }
    assert model["ExecutionRoleArn"] == ROLE
    config = endpoint_config_of_endpoint()
    assert config["EndpointConfigName"] == result["endpointConfigName"]
    assert result["endpointConfigName"].startswith(f"{ENDPOINT}-v1-")
    [variant] = config["ProductionVariants"]
    assert (variant["ModelName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        f"{ENDPOINT}-v1",
        "ml.m5.large",
        1,
    )


def test_a_new_version_updates_the_endpoint_blue_green(updates):
    first = deploy(register("run-1"), execution="run-1")
    second_arn = register("run-2")

    result = deploy(
        second_arn, execution="run-2", rollbackAlarms=["stepwise-endpoint-5xx", "stepwise-latency"]
    )

    assert result["action"] == "update"
    assert result["modelPackageVersion"] == 2
    assert result["endpointConfigName"] != first["endpointConfigName"]
    assert endpoint_config_of_endpoint()["ProductionVariants"][0]["ModelName"] == f"{ENDPOINT}-v2"
    [request] = updates
    assert request["EndpointConfigName"] == result["endpointConfigName"]
    assert request["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 120,
            "MaximumExecutionTimeoutInSeconds": 1800,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": "stepwise-endpoint-5xx"}, {"AlarmName": "stepwise-latency"}]
        },
    }


def test_without_alarms_the_update_has_no_alarm_rollback(updates):
    deploy(register("run-1"), execution="run-1")
    deploy(register("run-2"), execution="run-2")

    assert "AutoRollbackConfiguration" not in updates[0]["DeploymentConfig"]


def test_redeploying_the_serving_package_does_nothing(updates):
    arn = register("run-1")
    first = deploy(arn, execution="run-1")
    configs = endpoint_config_names()

    again = deploy(arn, execution="run-1-redrive")

    assert again["action"] == "none"
    assert again["endpointConfigName"] == first["endpointConfigName"]
    assert endpoint_config_names() == configs
    assert updates == []


def test_a_retry_after_a_failed_update_reuses_the_model_and_config(aws, monkeypatch):
    deploy(register("run-1"), execution="run-1")
    second = register("run-2")
    with pytest.raises(NotImplementedError):  # moto without UpdateEndpoint: the update call fails
        deploy(second, execution="run-2")
    configs = endpoint_config_names()
    support_update_endpoint(monkeypatch)

    result = deploy(second, execution="run-2")

    assert result["action"] == "update"
    assert endpoint_config_names() == configs


def test_refuses_a_package_that_is_not_approved(aws):
    arn = register("run-1", status="PendingManualApproval")

    with pytest.raises(app.PackageNotApprovedError, match="is PendingManualApproval, not Approved"):
        deploy(arn)
    assert boto3.client("sagemaker").list_models()["Models"] == []


def test_refuses_to_update_an_endpoint_busy_with_another_deployment(aws):
    deploy(register("run-1"), execution="run-1")
    sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT].endpoint_status = "Updating"

    with pytest.raises(app.EndpointNotReadyError, match="is Updating with another deployment"):
        deploy(register("run-2"), execution="run-2")


def test_a_package_being_deployed_counts_as_served(updates):
    """DescribeEndpoint during an update names the new config in PendingDeploymentSummary."""
    first = deploy(register("run-1"), execution="run-1")
    second = deploy(register("run-2"), execution="run-2")
    updating = {
        "EndpointConfigName": first["endpointConfigName"],
        "PendingDeploymentSummary": {"EndpointConfigName": second["endpointConfigName"]},
    }

    assert app.serving_models(updating) == {
        first["endpointConfigName"]: [f"{ENDPOINT}-v1"],
        second["endpointConfigName"]: [f"{ENDPOINT}-v2"],
    }


def test_a_model_name_taken_by_another_container_is_a_conflict(aws):
    boto3.client("sagemaker").create_model(
        ModelName=f"{ENDPOINT}-v1",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bucket/elsewhere/model.tar.gz"},
    )

    with pytest.raises(app.DeploymentConflictError, match=f"a model named {ENDPOINT}-v1 already exists"):
        deploy(register("run-1"))


def test_approval_deploys_without_an_execution_get_distinct_config_names(updates):
    first = deploy(register("run-1"), execution=None)
    second = deploy(register("run-2"), execution=None)

    assert first["endpointConfigName"] != second["endpointConfigName"]
    assert second["action"] == "update"


def test_names_fit_sagemakers_limit():
    long_endpoint = "e" * 60

    name = app.sagemaker_name(long_endpoint, "v12", app.deploy_suffix("run-1"))

    assert len(name) == 63
    assert name.endswith("-v12-" + app.deploy_suffix("run-1"))


def test_handler_with_the_sample_event(aws):
    event = sample_event("deploy_endpoint")
    assert register("run-1") == event["modelPackageArn"]

    result = app.lambda_handler(event, FakeContext("deploy_endpoint"))

    assert (result["action"], result["endpointName"], result["modelName"]) == (
        "create",
        ENDPOINT,
        f"{ENDPOINT}-v1",
    )
    status = boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"]
    assert status == "InService"


def test_bad_events_name_the_field(aws):
    event = sample_event("deploy_endpoint")
    invalid = layer("events").InvalidEventError

    with pytest.raises(invalid, match="field 'endpointName': String should match pattern"):
        app.lambda_handler({**event, "endpointName": "my_endpoint"}, FakeContext("deploy_endpoint"))
    with pytest.raises(
        invalid, match="field 'initialInstanceCount': Input should be greater than or equal to 1"
    ):
        app.lambda_handler({**event, "initialInstanceCount": 0}, FakeContext("deploy_endpoint"))
    with pytest.raises(invalid, match="field 'executionRoleArn'.*SAGEMAKER_EXECUTION_ROLE_ARN"):
        app.lambda_handler(
            {k: v for k, v in event.items() if k != "executionRoleArn"}, FakeContext("deploy_endpoint")
        )
