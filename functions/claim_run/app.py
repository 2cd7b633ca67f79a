"""ClaimRun: give this run a short id, fingerprint its inputs, and train each input only once.

EventBridge delivers at least once, so one upload can start two executions, and the schedule starts
one on data that has not changed. A run is idempotent on its inputs:

- The fingerprint is a SHA-256 over what decides the model: both raw files' checksums (their ETags:
  identical content gives the same fingerprint whatever the dataset's prefix) and the recipe the
  state machine passes (the processing code's content address, the images, the hyperparameters and
  the split settings).
- The run claims it atomically with an S3 conditional write: `PutObject If-None-Match: *` of
  `fingerprints/<fingerprint>.json`. Exactly one of two deliveries arriving together wins.
- Loser, or a later run on the same inputs: the model package registered with this fingerprint
  (register_model records it in the package's metadata) ends the run as "matched" with its version;
  while the claiming execution is still running, "running"; when it ended without registering (failed,
  stopped, rejected by the gate), this run takes the claim over (`If-Match` on the claim's ETag) and
  trains.
- `force` (the execution input's top-level "force": true, resolved by ResolveDataset) retrains anyway.

The run id (`20261130-094847-3f9a1c`: start time and a hash of the execution name, 22 characters of
[0-9a-f-]) names every SageMaker job and S3 prefix of the run: execution names can be 80 characters
of almost any character, SageMaker names stop at 63 of [a-zA-Z0-9-].
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from stepwise_functions import registry
from stepwise_functions.aws import client
from stepwise_functions.events import StepwiseEvent, parse_event
from stepwise_functions.observability import powertools
from stepwise_functions.s3 import s3_uri

FUNCTION = "claim_run"
CLAIMS_PREFIX = "fingerprints/"
NEW, MATCHED, RUNNING = "new", "matched", "running"
# S3 answers a conditional write that lost with 412 PreconditionFailed, or with 409
# ConditionalRequestConflict while a concurrent write to the same key is in flight (then retry).
LOST = ("PreconditionFailed", "412")
CONFLICT = ("ConditionalRequestConflict", "409")
ATTEMPTS = 3

logger, tracer, metrics = powertools(FUNCTION)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class DatasetFiles(_Camel):
    """The parts of resolve_dataset's result that identify the data."""

    s3_uri: str
    claims_etag: str = Field(alias="claimsETag", min_length=1)
    customers_etag: str = Field(alias="customersETag", min_length=1)
    claims_version_id: str | None = None
    customers_version_id: str | None = None
    force: bool = False


class ClaimRunEvent(StepwiseEvent):
    ENV_FALLBACKS = {"bucket": "STEPWISE_BUCKET", "model_package_group_name": "MODEL_PACKAGE_GROUP_NAME"}

    bucket: str = Field(min_length=3)
    model_package_group_name: str = Field(min_length=1, max_length=63)
    dataset: DatasetFiles
    recipe: dict[str, Any] = Field(min_length=1)
    execution_arn: str = Field(min_length=1)
    execution_name: str = Field(min_length=1)
    execution_start_time: datetime | None = None


def run_id(execution_name: str, started: datetime | None) -> str:
    """`<yyyymmdd-HHMMSS>-<sha256(execution name)[:6]>`, or the hash alone without a start time.

    Pattern-safe for SageMaker ([0-9-] and hex) whatever characters the execution name holds, and
    22 characters: `<run id>-<stage>-<attempt>` stays far below SageMaker's 63."""
    digest = hashlib.sha256(execution_name.encode("utf-8")).hexdigest()
    if started is None:
        return digest[:22]
    return f"{started.astimezone(UTC):%Y%m%d-%H%M%S}-{digest[:6]}"


def fingerprint(dataset: DatasetFiles, recipe: dict[str, Any]) -> str:
    """SHA-256 (hex) of the files' checksums and the recipe, as canonical JSON."""
    document = {
        "claims": dataset.claims_etag.strip('"'),
        "customers": dataset.customers_etag.strip('"'),
        "recipe": recipe,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _put_claim(bucket: str, key: str, record: dict[str, Any], **condition: str) -> bool:
    """Write the claim under `condition` (IfNoneMatch / IfMatch); False when another writer won."""
    body = json.dumps(record, indent=1, sort_keys=True).encode()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            client("s3").put_object(
                Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition
            )
            return True
        except ClientError as error:
            if _code(error) in LOST:
                return False
            if _code(error) in CONFLICT and attempt < ATTEMPTS:
                continue
            raise
    return False


def _read_claim(bucket: str, key: str) -> tuple[dict[str, Any], str] | None:
    try:
        response = client("s3").get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(response["Body"].read()), response["ETag"]


def _execution_status(arn: str) -> str:
    try:
        return client("stepfunctions").describe_execution(executionArn=arn)["status"]
    except ClientError as error:
        if _code(error) == "ExecutionDoesNotExist":
            return "MISSING"
        raise


def _registered(group: str, fingerprint_value: str, since: str | None) -> dict[str, Any] | None:
    created_after = datetime.fromisoformat(since) if since else None
    return registry.find_package(group, registry.FINGERPRINT, fingerprint_value, created_after=created_after)


def claim(request: ClaimRunEvent) -> dict[str, Any]:
    started = request.execution_start_time
    value = fingerprint(request.dataset, request.recipe)
    key = f"{CLAIMS_PREFIX}{value}.json"
    result: dict[str, Any] = {
        "id": run_id(request.execution_name, started),
        "fingerprint": value,
        "claimUri": s3_uri(request.bucket, key),
        "forced": request.dataset.force,
        "modelPackageArn": None,
        "modelPackageVersion": None,
        "claimedBy": request.execution_arn,
    }
    record = {
        "fingerprint": value,
        "executionArn": request.execution_arn,
        "runId": result["id"],
        "claimedAt": (started or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "dataset": request.dataset.model_dump(by_alias=True, exclude={"force"}),
        "recipe": request.recipe,
    }
    if request.dataset.force:
        client("s3").put_object(
            Bucket=request.bucket, Key=key, Body=json.dumps(record, indent=1, sort_keys=True).encode()
        )
        return {**result, "status": NEW, "reason": "forced: retraining whatever was trained before"}
    if _put_claim(request.bucket, key, record, IfNoneMatch="*"):
        return {**result, "status": NEW, "reason": "first run on these inputs"}

    found = _read_claim(request.bucket, key)
    if found is None:  # deleted between the two calls: claim again from the start
        if _put_claim(request.bucket, key, record, IfNoneMatch="*"):
            return {**result, "status": NEW, "reason": "first run on these inputs"}
        found = _read_claim(request.bucket, key) or ({}, "")
    existing, etag = found
    owner = existing.get("executionArn")
    if owner == request.execution_arn:  # this execution's own claim (a retried invocation)
        return {**result, "status": NEW, "reason": "this execution holds the claim"}
    package = _registered(request.model_package_group_name, value, existing.get("claimedAt"))
    if package is not None:
        version = package.get("ModelPackageVersion")
        reason = (
            f"these inputs were trained and registered as version {version} "
            f"({package['ModelPackageArn']}) by {owner}: nothing to do (start with force to retrain)"
        )
        return {
            **result,
            "status": MATCHED,
            "reason": reason,
            "modelPackageArn": package["ModelPackageArn"],
            "modelPackageVersion": version,
            "claimedBy": owner,
        }
    status = _execution_status(owner) if owner else "MISSING"
    if status == "RUNNING":
        reason = f"execution {owner} is already training these inputs: this delivery ends here"
        return {**result, "status": RUNNING, "reason": reason, "claimedBy": owner}
    if _put_claim(request.bucket, key, record, IfMatch=etag):
        reason = f"took the claim over from {owner} ({status}, registered nothing)"
        return {**result, "status": NEW, "reason": reason}
    reason = "another execution took the claim over at the same moment: this delivery ends here"
    return {**result, "status": RUNNING, "reason": reason, "claimedBy": None}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, ClaimRunEvent, FUNCTION)
    logger.set_correlation_id(request.correlation_id)
    result = claim(request)
    logger.info("run claimed", extra={"status": result["status"], "reason": result["reason"]})
    metrics.add_metric(name="RunsClaimed", unit=MetricUnit.Count, value=1 if result["status"] == NEW else 0)
    return result
