"""ResolveDataset: which dataset does this event start a run on, and is it complete?

A dataset is `claims.csv` + `customers.csv` under one prefix `raw/<dataset>/`.
- S3 "Object Created" event: ready only when both files are present and the uploaded object is the
  later of the two (LastModified, ties broken by key name), so uploading both files starts exactly
  one run. Any other key under the raw prefix is not a dataset file: not ready, with the reason.
- "Scheduled Event": the latest complete dataset under the raw prefix (by the newer LastModified of
  its two files); none: not ready, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import Field, model_validator
from stepwise_functions.aws import client
from stepwise_functions.events import InvalidEventError, StepwiseEvent, parse_event
from stepwise_functions.observability import powertools
from stepwise_functions.s3 import s3_uri

FUNCTION = "resolve_dataset"
CLAIMS = "claims.csv"
CUSTOMERS = "customers.csv"
DATASET_FILES = (CLAIMS, CUSTOMERS)

logger, tracer, metrics = powertools(FUNCTION)


class S3ObjectCreated(S3EventNotificationEventBridgeModel):
    detail_type: Literal["Object Created"] = Field(alias="detail-type")


class ScheduledEvent(EventBridgeModel):
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


class ResolveDatasetEvent(StepwiseEvent):
    """{"event": <the EventBridge event>, "bucket": ..., "rawPrefix": "raw/"}.

    The EventBridge event's own keys may also sit at the top level beside "bucket" and "rawPrefix".
    """

    ENV_FALLBACKS = {"bucket": "STEPWISE_BUCKET", "raw_prefix": "STEPWISE_RAW_PREFIX"}

    event: Annotated[Union[S3ObjectCreated, ScheduledEvent], Field(discriminator="detail_type")]
    bucket: str | None = None
    raw_prefix: str = "raw/"
    # The execution input's top-level "force": true (a manual start): retrain even on inputs that
    # were trained before (claim_run). EventBridge never sets it.
    force: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_event(cls, data: Any) -> Any:
        if isinstance(data, dict) and "event" not in data and "detail-type" in data:
            data = {**data, "event": data}
        if isinstance(data, dict) and isinstance(data.get("event"), dict) and "force" not in data:
            data = {**data, "force": data["event"].get("force") is True}
        return data


@dataclass(frozen=True)
class DatasetFile:
    key: str
    last_modified: datetime
    etag: str
    version_id: str | None

    @property
    def order(self) -> tuple[datetime, str]:
        """Upload order: LastModified, ties broken by key name."""
        return (self.last_modified, self.key)


def normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def dataset_name(key: str, raw_prefix: str) -> str | None:
    """The dataset that `key` is a file of (raw/<dataset>/claims.csv -> <dataset>), else None."""
    if not key.startswith(raw_prefix):
        return None
    dataset, _, file_name = key[len(raw_prefix) :].partition("/")
    return dataset if dataset and file_name in DATASET_FILES else None


def head(bucket: str, key: str) -> DatasetFile | None:
    try:
        response = client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return DatasetFile(key, response["LastModified"], response["ETag"].strip('"'), response.get("VersionId"))


def _result(
    ready: bool,
    reason: str,
    bucket: str | None,
    trigger: str,
    raw_prefix: str,
    dataset: str | None = None,
    claims: DatasetFile | None = None,
    customers: DatasetFile | None = None,
) -> dict[str, Any]:
    prefix = f"{raw_prefix}{dataset}/" if dataset else None
    return {
        "ready": ready,
        "reason": reason,
        "bucket": bucket,
        "datasetPrefix": prefix,
        "datasetId": dataset,
        "s3Uri": s3_uri(bucket, prefix) if bucket and prefix else None,
        "claimsKey": claims.key if claims else None,
        "customersKey": customers.key if customers else None,
        "claimsVersionId": claims.version_id if claims else None,
        "customersVersionId": customers.version_id if customers else None,
        "claimsETag": claims.etag if claims else None,
        "customersETag": customers.etag if customers else None,
        "trigger": trigger,
    }


def resolve_upload(
    bucket: str,
    raw_prefix: str,
    key: str,
    etag: str | None = None,
    version_id: str | None = None,
) -> dict[str, Any]:
    """Does the upload of `key` (with this ETag / VersionId, when known) start a run?"""
    raw_prefix = normalise_prefix(raw_prefix)
    dataset = dataset_name(key, raw_prefix)
    if dataset is None:
        reason = (
            f"s3://{bucket}/{key} is not a dataset file: a dataset is {CLAIMS} and {CUSTOMERS} "
            f"directly under {raw_prefix}<dataset>/"
        )
        return _result(False, reason, bucket, "s3", raw_prefix)
    prefix = f"{raw_prefix}{dataset}/"
    files = {name: head(bucket, prefix + name) for name in DATASET_FILES}
    claims, customers = files[CLAIMS], files[CUSTOMERS]
    uploaded = files[key[len(prefix) :]]
    if uploaded is None or not _same_object(uploaded, etag, version_id):
        reason = (
            f"s3://{bucket}/{key} has been replaced or deleted since this event: a newer event handles it"
        )
        return _result(False, reason, bucket, "s3", raw_prefix, dataset, claims, customers)
    if claims is None or customers is None:
        missing = CLAIMS if claims is None else CUSTOMERS
        reason = f"dataset {prefix} is incomplete: waiting for {missing}"
        return _result(False, reason, bucket, "s3", raw_prefix, dataset, claims, customers)
    later = max(claims, customers, key=lambda file: file.order)
    if later.key != key:
        reason = (
            f"dataset {prefix} is complete, but {later.key} (modified {later.last_modified.isoformat()}) "
            f"is the later upload: its event starts the run, not this one"
        )
        return _result(False, reason, bucket, "s3", raw_prefix, dataset, claims, customers)
    reason = f"dataset {prefix} is complete and {key} is the later of its two files"
    return _result(True, reason, bucket, "s3", raw_prefix, dataset, claims, customers)


def _same_object(current: DatasetFile, etag: str | None, version_id: str | None) -> bool:
    if version_id and current.version_id:
        return version_id == current.version_id
    if etag:
        return etag.strip('"') == current.etag
    return True


def resolve_latest(bucket: str, raw_prefix: str) -> dict[str, Any]:
    """The latest complete dataset under `raw_prefix` (by the newer LastModified of its two files)."""
    raw_prefix = normalise_prefix(raw_prefix)
    found: dict[str, dict[str, datetime]] = {}
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=raw_prefix):
        for item in page.get("Contents", []):
            dataset = dataset_name(item["Key"], raw_prefix)
            if dataset is not None:
                found.setdefault(dataset, {})[item["Key"].rpartition("/")[2]] = item["LastModified"]
    complete = {
        name: max(files.values()) for name, files in found.items() if len(files) == len(DATASET_FILES)
    }
    if not complete:
        reason = (
            f"no complete dataset under s3://{bucket}/{raw_prefix}: upload {CLAIMS} and {CUSTOMERS} "
            f"to {raw_prefix}<dataset>/"
        )
        return _result(False, reason, bucket, "schedule", raw_prefix)
    dataset = max(complete, key=lambda name: (complete[name], name))
    prefix = f"{raw_prefix}{dataset}/"
    claims, customers = head(bucket, prefix + CLAIMS), head(bucket, prefix + CUSTOMERS)
    if claims is None or customers is None:
        reason = f"dataset {prefix} lost a file while it was being resolved: the next schedule retries"
        return _result(False, reason, bucket, "schedule", raw_prefix, dataset, claims, customers)
    reason = (
        f"latest complete dataset is {prefix} (of {len(complete)} complete), "
        f"last modified {complete[dataset].isoformat()}"
    )
    return _result(True, reason, bucket, "schedule", raw_prefix, dataset, claims, customers)


def resolve(request: ResolveDatasetEvent) -> dict[str, Any]:
    return {**_resolve(request), "force": request.force}


def _resolve(request: ResolveDatasetEvent) -> dict[str, Any]:
    event = request.event
    if isinstance(event, S3ObjectCreated):
        bucket = event.detail.bucket.name
        if request.bucket and request.bucket != bucket:
            reason = (
                f"the upload is to bucket {bucket}, but this pipeline reads datasets from {request.bucket}"
            )
            return _result(False, reason, request.bucket, "s3", normalise_prefix(request.raw_prefix))
        obj = event.detail.object
        return resolve_upload(bucket, request.raw_prefix, obj.key, obj.etag, obj.version_id)
    if not request.bucket:
        raise InvalidEventError(
            f"{FUNCTION} received an invalid event: field 'bucket' is required for a scheduled run "
            "(or set the environment variable STEPWISE_BUCKET)"
        )
    return resolve_latest(request.bucket, request.raw_prefix)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, ResolveDatasetEvent, FUNCTION)
    logger.set_correlation_id(request.correlation_id)
    result = resolve(request)
    logger.info("dataset resolved", extra={"ready": result["ready"], "reason": result["reason"]})
    metrics.add_metric(name="DatasetReady", unit=MetricUnit.Count, value=1 if result["ready"] else 0)
    return result
