"""SageMaker Model Registry helpers: groups, the package now serving, packages of one execution.

register_model writes the CustomerMetadataProperties keys below on every package; quality_gate and
deploy_endpoint read them back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .aws import client

APPROVED = "Approved"

# CustomerMetadataProperties keys written by register_model
EXECUTION_ARN = "executionArn"
EXECUTION_NAME = "executionName"
DATASET_URI = "datasetUri"
DATASET_ID = "datasetId"
CLAIMS_VERSION = "claimsVersion"
CUSTOMERS_VERSION = "customersVersion"
TEST_DATA_URI = "testDataUri"
SCHEMA_URI = "schemaUri"
METRIC_NAME = "metricName"
METRIC_VALUE = "metricValue"
FINGERPRINT = "fingerprint"  # claim_run: the SHA-256 of the run's inputs
RUN_ID = "runId"  # claim_run: the short id in every job name and S3 key of the run
DECISION_THRESHOLD = "decisionThreshold"  # evaluation.json operating_point: flag fraud at score >= this
OPERATING_POINT = "operatingPoint"  # the rule that chose it, e.g. "best-f1 on validation"


def _is_missing(error: ClientError) -> bool:
    message = error.response.get("Error", {}).get("Message", "")
    return error.response.get("Error", {}).get("Code") == "ValidationException" and (
        "does not exist" in message or "not found" in message
    )


def ensure_group(group: str, description: str) -> bool:
    """Create the model package group `group` unless it exists; True when this call created it."""
    sagemaker = client("sagemaker")
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        return False
    except ClientError as error:
        if not _is_missing(error):
            raise
    sagemaker.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription=description
    )
    return True


def describe_package(arn: str) -> dict[str, Any]:
    return client("sagemaker").describe_model_package(ModelPackageName=arn)


def latest_approved_package(group: str) -> dict[str, Any] | None:
    """The newest Approved package of `group` (the model that serves), or None (no group or none)."""
    try:
        summaries = client("sagemaker").list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus=APPROVED,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
    except ClientError as error:
        if _is_missing(error):
            return None
        raise
    return describe_package(summaries[0]["ModelPackageArn"]) if summaries else None


def find_package(
    group: str, key: str, value: str, created_after: datetime | None = None
) -> dict[str, Any] | None:
    """The newest package of `group` whose CustomerMetadataProperties[key] == value, or None.

    Reads the packages newest first (created after `created_after` when given, which bounds the scan)
    and stops at the first match.
    """
    arguments: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    if created_after is not None:
        arguments["CreationTimeAfter"] = created_after
    pages = client("sagemaker").get_paginator("list_model_packages").paginate(**arguments)
    try:
        for page in pages:
            for summary in page["ModelPackageSummaryList"]:
                package = describe_package(summary["ModelPackageArn"])
                if package.get("CustomerMetadataProperties", {}).get(key) == value:
                    return package
    except ClientError as error:
        if _is_missing(error):
            return None
        raise
    return None
