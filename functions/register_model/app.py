"""Register: put the trained model in the SageMaker Model Registry, tied to the run that made it.

Creates the model package group if it is missing, then one versioned model package carrying the
model (image + model.tar.gz), its quality, bias and explainability reports, and metadata naming the
execution, the dataset, the test data, the gate metric and the decision threshold (read from the
Evaluate job's evaluation.json: its operating_point). Idempotent per execution: a Lambda retry
or a re-run of the same execution finds the package whose metadata carries its execution ARN and
returns it with "created": false (and CreateModelPackage's ClientToken guards the race on AWS).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any, Literal, NamedTuple

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from stepwise_functions import registry
from stepwise_functions.aws import client
from stepwise_functions.events import StepwiseEvent, comma_separated, parse_event
from stepwise_functions.observability import powertools
from stepwise_functions.s3 import read_json

FUNCTION = "register_model"
S3_URI = r"^s3://[^/]+/.+"
JSON = "application/json"
DEFAULT_INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]
METADATA_VALUE_LIMIT = 256  # SageMaker's limit on a CustomerMetadataProperties value

logger, tracer, metrics = powertools(FUNCTION)


class OperatingPointNotFoundError(ValueError):
    """evaluation.json holds no usable decision threshold (operating_point)."""


class OperatingPoint(NamedTuple):
    """The decision threshold the Evaluate job chose, and the rule it used."""

    threshold: float
    rule: str


def read_operating_point(evaluation_uri: str) -> OperatingPoint:
    """The ``operating_point`` of the evaluation.json at `evaluation_uri` (processing/evaluate.py)."""
    document = read_json(evaluation_uri)
    point = document.get("operating_point") if isinstance(document, dict) else None
    if not isinstance(point, dict):
        raise OperatingPointNotFoundError(
            f"{evaluation_uri} has no operating_point section: it was not written by this version of "
            "processing/evaluate.py (which chooses the decision threshold on the validation split)"
        )
    threshold, rule = point.get("threshold"), point.get("rule")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
        or not isinstance(rule, str)
        or not rule
    ):
        raise OperatingPointNotFoundError(
            f"{evaluation_uri}: operating_point needs a finite number 'threshold' and a text 'rule'; "
            f"it has threshold {threshold!r} and rule {rule!r}"
        )
    return OperatingPoint(float(threshold), rule)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class DatasetInfo(_Camel):
    """The parts of resolve_dataset's result that the package records."""

    s3_uri: str | None = None
    dataset_id: str | None = None
    claims_version_id: str | None = None
    customers_version_id: str | None = None
    claims_etag: str | None = Field(None, alias="claimsETag")
    customers_etag: str | None = Field(None, alias="customersETag")


class GateInfo(_Camel):
    metric: str
    value: float | None = None


class RegisterModelEvent(StepwiseEvent):
    ENV_FALLBACKS = {
        "model_package_group_name": "MODEL_PACKAGE_GROUP_NAME",
        "approval_status": "MODEL_APPROVAL_STATUS",
        "realtime_instance_types": "SUPPORTED_INSTANCE_TYPES",
    }

    model_package_group_name: str = Field(min_length=1, max_length=63)
    model_data_url: str = Field(pattern=S3_URI)
    image_uri: str = Field(min_length=1)
    evaluation_uri: str = Field(pattern=S3_URI)
    bias_report_uri: str = Field(pattern=S3_URI)
    explainability_report_uri: str = Field(pattern=S3_URI)
    approval_status: Literal["Approved", "PendingManualApproval"] = "Approved"
    execution_arn: str = Field(min_length=1)
    dataset: DatasetInfo = Field(default_factory=DatasetInfo)
    test_data_uri: str = Field(pattern=S3_URI)
    schema_uri: str = Field(pattern=S3_URI)
    gate: GateInfo
    realtime_instance_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INSTANCE_TYPES), min_length=1
    )
    # $$.Execution.StartTime: bounds the search for this execution's package to newer packages
    execution_start_time: datetime | None = None
    # claim_run's result: the run id and the fingerprint of the inputs (later runs match it)
    run_id: str | None = Field(None, pattern=r"^[a-zA-Z0-9-]{1,63}$")
    fingerprint: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    _split_types = field_validator("realtime_instance_types", mode="before")(comma_separated)


def customer_metadata(request: RegisterModelEvent, point: OperatingPoint) -> dict[str, str]:
    """The package's CustomerMetadataProperties (keys in stepwise_functions.registry)."""
    dataset = request.dataset
    values = {
        registry.EXECUTION_ARN: request.execution_arn,
        registry.EXECUTION_NAME: request.execution_name,
        registry.DATASET_URI: dataset.s3_uri,
        registry.DATASET_ID: dataset.dataset_id,
        registry.CLAIMS_VERSION: dataset.claims_version_id or dataset.claims_etag,
        registry.CUSTOMERS_VERSION: dataset.customers_version_id or dataset.customers_etag,
        registry.TEST_DATA_URI: request.test_data_uri,
        registry.SCHEMA_URI: request.schema_uri,
        registry.METRIC_NAME: request.gate.metric,
        registry.METRIC_VALUE: None if request.gate.value is None else repr(request.gate.value),
        registry.RUN_ID: request.run_id,
        registry.FINGERPRINT: request.fingerprint,
        registry.DECISION_THRESHOLD: repr(point.threshold),
        registry.OPERATING_POINT: point.rule,
    }
    too_long = [
        key for key, value in values.items() if value is not None and len(value) > METADATA_VALUE_LIMIT
    ]
    if too_long:
        raise ValueError(
            f"model package metadata values longer than {METADATA_VALUE_LIMIT} characters: "
            f"{', '.join(too_long)}; "
            "use shorter bucket, dataset or execution names (or a shorter operating point rule)"
        )
    return {key: value for key, value in values.items() if value is not None}


def package_request(request: RegisterModelEvent, point: OperatingPoint) -> dict[str, Any]:
    """The CreateModelPackage request for this run; `point` is its evaluation's decision threshold."""
    report = {"ContentType": JSON}
    description = f"Stepwise run {request.execution_name or request.execution_arn}"
    if request.gate.value is not None:
        description += f": {request.gate.metric} {request.gate.value:g}"
    return {
        "ModelPackageGroupName": request.model_package_group_name,
        "ModelPackageDescription": description[:1024],
        "InferenceSpecification": {
            "Containers": [{"Image": request.image_uri, "ModelDataUrl": request.model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
            "SupportedRealtimeInferenceInstanceTypes": request.realtime_instance_types,
        },
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {**report, "S3Uri": request.evaluation_uri}},
            "Bias": {"Report": {**report, "S3Uri": request.bias_report_uri}},
            "Explainability": {"Report": {**report, "S3Uri": request.explainability_report_uri}},
        },
        "ModelApprovalStatus": request.approval_status,
        "CustomerMetadataProperties": customer_metadata(request, point),
        # same execution, same token: AWS returns the first package instead of creating a second
        "ClientToken": str(uuid.uuid5(uuid.NAMESPACE_URL, request.execution_arn)),
    }


def register(request: RegisterModelEvent) -> dict[str, Any]:
    group = request.model_package_group_name
    existing = registry.find_package(
        group, registry.EXECUTION_ARN, request.execution_arn, created_after=request.execution_start_time
    )
    if existing is not None:
        logger.info("this execution already registered its model", extra={"arn": existing["ModelPackageArn"]})
        return {
            "modelPackageArn": existing["ModelPackageArn"],
            "modelPackageVersion": existing.get("ModelPackageVersion"),
            "approvalStatus": existing["ModelApprovalStatus"],
            "created": False,
        }
    point = read_operating_point(request.evaluation_uri)
    if registry.ensure_group(
        group, "Stepwise fraud-detection models (XGBoost), one version per pipeline run"
    ):
        logger.info("created model package group", extra={"group": group})
    sagemaker = client("sagemaker")
    arn = sagemaker.create_model_package(**package_request(request, point))["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    return {
        "modelPackageArn": arn,
        "modelPackageVersion": package.get("ModelPackageVersion"),
        "approvalStatus": package["ModelApprovalStatus"],
        "created": True,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, RegisterModelEvent, FUNCTION)
    logger.set_correlation_id(request.correlation_id)
    result = register(request)
    logger.info("model registered", extra={"registration": result})
    metrics.add_metric(name="ModelRegistered", unit=MetricUnit.Count, value=1 if result["created"] else 0)
    return result
