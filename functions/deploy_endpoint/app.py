"""Deploy: serve an Approved model package on a real-time endpoint, blue/green when it exists.

- Model: one SageMaker Model per package version, named "<endpoint>-v<version>", built from the
  package's inference container (Image + ModelDataUrl, tagged with the package ARN); reused when a
  retry finds it.
- Endpoint config: a new one per deploy ("<endpoint>-v<version>-<suffix>", the suffix derived from
  the execution name, or the time for approval-triggered deploys that have none).
- Endpoint: created when missing; otherwise UpdateEndpoint with a blue/green policy (all traffic
  at once after the new fleet is healthy, the old fleet kept for TerminationWaitInSeconds) and,
  when alarms are given, AutoRollbackConfiguration. SageMaker itself rolls the endpoint back to the
  old config when the update fails or an alarm fires during it: the endpoint keeps serving.
- Idempotent: when the endpoint already serves (or is updating to) this package, nothing happens and
  the result says so ("action": "none").
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import Field, field_validator
from stepwise_functions import registry
from stepwise_functions.aws import client
from stepwise_functions.events import StepwiseEvent, comma_separated, parse_event
from stepwise_functions.observability import powertools

FUNCTION = "deploy_endpoint"
NAME_LIMIT = 63  # SageMaker model / endpoint / endpoint config names
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
VARIANT = "AllTraffic"
PACKAGE_TAG = "stepwise:modelPackageArn"
IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}

logger, tracer, metrics = powertools(FUNCTION)


class PackageNotApprovedError(RuntimeError):
    """Only Approved model packages are deployed."""


class EndpointNotReadyError(RuntimeError):
    """The endpoint is busy with another deployment, or failed: it cannot take an update now."""


class DeploymentConflictError(RuntimeError):
    """A model or endpoint config of this deploy's name exists but holds something else."""


class DeployEndpointEvent(StepwiseEvent):
    ENV_FALLBACKS = {
        "endpoint_name": "ENDPOINT_NAME",
        "instance_type": "ENDPOINT_INSTANCE_TYPE",
        "initial_instance_count": "ENDPOINT_INSTANCE_COUNT",
        "execution_role_arn": "SAGEMAKER_EXECUTION_ROLE_ARN",
        "rollback_alarms": "ROLLBACK_ALARMS",
    }

    model_package_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+")
    endpoint_name: str = Field(pattern=NAME_PATTERN)
    instance_type: str = Field(pattern=r"^ml\.")
    initial_instance_count: int = Field(1, ge=1)
    execution_role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
    rollback_alarms: list[str] = Field(default_factory=list, max_length=10)
    termination_wait_in_seconds: int = Field(120, ge=0, le=3600)
    maximum_execution_timeout_in_seconds: int = Field(1800, ge=600, le=28800)

    _split_alarms = field_validator("rollback_alarms", mode="before")(comma_separated)


def sagemaker_name(*parts: str) -> str:
    """Parts joined by "-", the first one shortened so the name fits SageMaker's 63 characters."""
    first, rest = parts[0], "".join(f"-{part}" for part in parts[1:])
    return first[: NAME_LIMIT - len(rest)].rstrip("-") + rest


def deploy_suffix(execution_name: str | None) -> str:
    """Makes each deploy's endpoint config name unique; the same execution gets the same suffix."""
    if execution_name:
        return hashlib.sha256(execution_name.encode()).hexdigest()[:10]
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")


def _not_found(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ValidationException" and "Could not find" in str(error)


def _describe(operation: str, **arguments: Any) -> dict[str, Any] | None:
    """A SageMaker Describe* result, or None when the resource does not exist."""
    try:
        return getattr(client("sagemaker"), operation)(**arguments)
    except ClientError as error:
        if _not_found(error):
            return None
        raise


def approved_package(arn: str) -> dict[str, Any]:
    package = registry.describe_package(arn)
    status = package.get("ModelApprovalStatus")
    if status != registry.APPROVED:
        raise PackageNotApprovedError(
            f"model package {arn} is {status}, not Approved: approve it in the Model Registry "
            "(UpdateModelPackage ModelApprovalStatus=Approved) to deploy it"
        )
    return package


def serving_models(endpoint: dict[str, Any]) -> dict[str, list[str]]:
    """endpoint config name -> its models, for the config serving now and one being deployed."""
    names = [endpoint.get("EndpointConfigName")]
    names.append(endpoint.get("PendingDeploymentSummary", {}).get("EndpointConfigName"))
    result = {}
    for name in filter(None, names):
        config = _describe("describe_endpoint_config", EndpointConfigName=name) or {}
        result[name] = [variant["ModelName"] for variant in config.get("ProductionVariants", [])]
    return result


def ensure_model(name: str, package: dict[str, Any], role_arn: str) -> None:
    """The SageMaker Model `name` serving `package`'s container: created, or checked and reused."""
    container = package["InferenceSpecification"]["Containers"][0]
    wanted = {key: container[key] for key in ("Image", "ModelDataUrl", "Environment") if container.get(key)}
    existing = _describe("describe_model", ModelName=name)
    if existing is None:
        client("sagemaker").create_model(
            ModelName=name,
            ExecutionRoleArn=role_arn,
            PrimaryContainer=wanted,
            Tags=[{"Key": PACKAGE_TAG, "Value": package["ModelPackageArn"]}],
        )
        return
    current = existing.get("PrimaryContainer", {})
    if (current.get("Image"), current.get("ModelDataUrl")) != (wanted["Image"], wanted["ModelDataUrl"]):
        raise DeploymentConflictError(
            f"a model named {name} already exists with another container "
            f"({current.get('ModelDataUrl')}); delete it or deploy to another endpoint name"
        )


def ensure_endpoint_config(name: str, model: str, request: DeployEndpointEvent, package_arn: str) -> None:
    existing = _describe("describe_endpoint_config", EndpointConfigName=name)
    if existing is not None:  # a retry of this deploy
        if [variant["ModelName"] for variant in existing["ProductionVariants"]] != [model]:
            raise DeploymentConflictError(f"endpoint config {name} exists and serves another model")
        return
    client("sagemaker").create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": VARIANT,
                "ModelName": model,
                "InstanceType": request.instance_type,
                "InitialInstanceCount": request.initial_instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
        Tags=[{"Key": PACKAGE_TAG, "Value": package_arn}],
    )


def deployment_config(request: DeployEndpointEvent) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: blue/green, all at once, rollback on the given alarms."""
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": request.termination_wait_in_seconds,
            "MaximumExecutionTimeoutInSeconds": request.maximum_execution_timeout_in_seconds,
        }
    }
    if request.rollback_alarms:
        config["AutoRollbackConfiguration"] = {
            "Alarms": [{"AlarmName": name} for name in request.rollback_alarms]
        }
    return config


def deploy(request: DeployEndpointEvent) -> dict[str, Any]:
    package = approved_package(request.model_package_arn)
    version = package.get("ModelPackageVersion")
    label = (
        f"v{version}" if version else "p" + hashlib.sha256(request.model_package_arn.encode()).hexdigest()[:8]
    )
    model = sagemaker_name(request.endpoint_name, label)
    result = {
        "endpointName": request.endpoint_name,
        "modelName": model,
        "modelPackageArn": package["ModelPackageArn"],
        "modelPackageVersion": version,
        "testDataUri": package.get("CustomerMetadataProperties", {}).get(registry.TEST_DATA_URI),
    }

    endpoint = _describe("describe_endpoint", EndpointName=request.endpoint_name)
    if endpoint is not None:
        status = endpoint["EndpointStatus"]
        for config_name, models in serving_models(endpoint).items():
            if model in models and status != "Failed":
                logger.info("endpoint already serves this package", extra={"status": status})
                return {**result, "endpointConfigName": config_name, "action": "none"}
        if status == "Failed":
            raise EndpointNotReadyError(
                f"endpoint {request.endpoint_name} is Failed "
                f"({endpoint.get('FailureReason', 'no reason given')}); "
                "SageMaker cannot update a failed endpoint: delete it and deploy again"
            )
        if status in IN_PROGRESS:
            raise EndpointNotReadyError(
                f"endpoint {request.endpoint_name} is {status} with another deployment; "
                "retry when it is InService"
            )

    ensure_model(model, package, request.execution_role_arn)
    config_name = sagemaker_name(request.endpoint_name, label, deploy_suffix(request.execution_name))
    ensure_endpoint_config(config_name, model, request, package["ModelPackageArn"])
    sagemaker = client("sagemaker")
    if endpoint is None:
        sagemaker.create_endpoint(EndpointName=request.endpoint_name, EndpointConfigName=config_name)
        action = "create"
    else:
        sagemaker.update_endpoint(
            EndpointName=request.endpoint_name,
            EndpointConfigName=config_name,
            DeploymentConfig=deployment_config(request),
        )
        action = "update"
    return {**result, "endpointConfigName": config_name, "action": action}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, DeployEndpointEvent, FUNCTION)
    logger.set_correlation_id(request.correlation_id)
    result = deploy(request)
    logger.info("deployment decided", extra={"deployment": result})
    metrics.add_metric(
        name="EndpointDeployments", unit=MetricUnit.Count, value=0 if result["action"] == "none" else 1
    )
    return result
