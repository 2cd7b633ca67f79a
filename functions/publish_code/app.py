"""PublishCode: CloudFormation custom resource that puts the processing scripts in the bucket.

On Create and Update it uploads every file of the ProcessingCode layer (processing/, mounted at
/opt) to s3://<Bucket>/code/<sha256-12>/ and returns that prefix as the attribute `Prefix`, which
template.yaml passes to the state machine (DefinitionSubstitutions: CodePrefix). A code change gives
a new layer version, hence an Update with a new prefix; old prefixes stay for runs still using them
(the README's clean-up empties the bucket). Delete does nothing.

No powertools here: the function runs once per deploy and must answer CloudFormation even when
something fails, or the stack waits for an hour.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from code_bundle import bundle_digest, bundle_files

CODE_ROOT_ENV = "CODE_ROOT"
DEFAULT_CODE_ROOT = "/opt"  # where Lambda mounts layer content

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def publish(bucket: str, root: Path) -> str:
    """Upload the files under `root` to s3://bucket/code/<sha256-12>/; returns `code/<sha256-12>`."""
    files = bundle_files(root)
    prefix = f"code/{bundle_digest(files)}"
    s3 = boto3.client("s3")
    for name, content in files:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=content, ContentType=content_type)
    logger.info("published %d files to s3://%s/%s/", len(files), bucket, prefix)
    return prefix


# Fields CloudFormation puts in every custom resource request; a response must echo the last three
REQUEST_TYPES = ("Create", "Update", "Delete")
ECHOED = ("StackId", "RequestId", "LogicalResourceId")


def send_response(
    event: dict[str, Any], status: str, reason: str, physical_id: str, data: dict[str, str]
) -> None:
    """Answer CloudFormation through the pre-signed ResponseURL (the custom resource protocol).

    A field missing from the event is echoed as "" rather than raising: CloudFormation then rejects
    the response itself, and the reason says why, instead of waiting for ServiceTimeout."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            **{field: str(event.get(field) or "") for field in ECHOED},
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (CloudFormation's https URL)
        logger.info("CloudFormation answered %s", response.status)


def problems(event: dict[str, Any]) -> list[str]:
    """What makes `event` a request this function cannot carry out (empty when it can)."""
    found = [f"no {field}" for field in ECHOED if not event.get(field)]
    if event.get("RequestType") not in REQUEST_TYPES:
        found.append(f"RequestType {event.get('RequestType')!r} is not one of {', '.join(REQUEST_TYPES)}")
    elif event["RequestType"] != "Delete":
        bucket = (event.get("ResourceProperties") or {}).get("Bucket")
        if not isinstance(bucket, str) or not bucket:
            found.append("no ResourceProperties.Bucket (the bucket to publish the processing code to)")
    return found


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """Publish on Create/Update, nothing on Delete; every request gets an answer, FAILED with the
    reason when it cannot succeed, so that CloudFormation never waits for its timeout."""
    if not isinstance(event, dict) or not event.get("ResponseURL"):
        # Nobody to answer: not a CloudFormation request (a test invoke, say). Say so and stop.
        logger.error("not a CloudFormation custom resource request (no ResponseURL): %r", event)
        return
    physical_id = (
        event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId') or 'ProcessingCode'}-unpublished"
    )
    try:
        wrong = problems(event)
        if wrong:
            send_response(
                event, "FAILED", "invalid custom resource request: " + "; ".join(wrong), physical_id, {}
            )
            return
        if event["RequestType"] == "Delete":
            send_response(
                event, "SUCCESS", "nothing to delete: code prefixes stay for past runs", physical_id, {}
            )
            return
        bucket = event["ResourceProperties"]["Bucket"]
        prefix = publish(bucket, Path(os.environ.get(CODE_ROOT_ENV, DEFAULT_CODE_ROOT)))
        send_response(
            event,
            "SUCCESS",
            f"published to s3://{bucket}/{prefix}/",
            f"s3://{bucket}/{prefix}",
            {"Prefix": prefix},
        )
    except Exception as error:  # CloudFormation must hear about every failure
        logger.exception("publishing the processing code failed")
        try:
            send_response(event, "FAILED", f"{type(error).__name__}: {error}", physical_id, {})
        except Exception:  # the ResponseURL itself is unreachable or expired: nothing more to do
            logger.exception("could not answer CloudFormation at the ResponseURL")
