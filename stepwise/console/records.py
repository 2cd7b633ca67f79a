"""The records the console shows, read through a Target (stepwise/console/target.py): a state folder
without starting the embedded AWS, or a deployed stack through the AWS APIs.

The embedded AWS keeps, besides its journal, snapshots the console reads (stepwise/emulator/aws.py
writes them as they change): `stack` (the deployed stack: its resources' names, outputs, parameters),
`registry` (every model package: group, version, ARN, approval, metadata, metrics), `deployed-endpoints`
(what each endpoint serves). Executions are records of their own (description, history, summary).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar


def stack_of(store: Any) -> dict:
    return store.get("stack") or {}


def bucket_of(store: Any) -> str | None:
    stack = stack_of(store)
    outputs = stack.get("outputs") or {}
    if outputs.get("BucketName"):
        return outputs["BucketName"]
    for resource in (stack.get("resources") or {}).values():
        if resource.get("type") == "AWS::S3::Bucket":
            return resource.get("physical_id")
    return None


def as_target(source: Any) -> Any:
    """A console Target (stepwise/console/target.py) for a target, or for a state folder's Store."""
    from stepwise.console.target import LocalTarget, Target

    return source if isinstance(source, Target) else LocalTarget.of_store(source)


def package_record(described: dict) -> dict:
    """A model package as the console shows it, from DescribeModelPackage (the embedded AWS keeps the
    registry in this shape: EmbeddedAWS.snapshot_registry)."""
    from stepwise.emulator.stepfunctions import to_json_safe

    return {
        "group": described.get("ModelPackageGroupName"),
        "version": described.get("ModelPackageVersion"),
        "arn": described["ModelPackageArn"],
        "status": described.get("ModelApprovalStatus"),
        "description": described.get("ModelPackageDescription"),
        "metadata": described.get("CustomerMetadataProperties") or {},
        "metrics": to_json_safe(described.get("ModelMetrics") or {}),
        "created": to_json_safe(described.get("CreationTime")),
        "container": (described.get("InferenceSpecification") or {}).get("Containers", [{}])[0],
    }


def packages(source: Any) -> list[dict]:
    """Every model package, oldest first: {group, version, arn, status, description, metadata, metrics,
    created}."""
    return as_target(source).packages()


def package_of_execution(all_packages: list[dict], described: dict) -> dict | None:
    """The package an execution registered (metadata executionArn), or the one an approval deployed."""
    arn = described.get("executionArn")
    for package in all_packages:
        if (package.get("metadata") or {}).get("executionArn") == arn:
            return package
    try:
        approved = (json.loads(described.get("input") or "{}").get("detail") or {}).get("ModelPackageArn")
    except ValueError:
        approved = None
    return next((p for p in all_packages if p["arn"] == approved), None) if approved else None


def serving_versions(source: Any) -> dict[str, dict]:
    """endpoint name -> {EndpointConfigName, ModelDataUrl...} of what serves now."""
    return as_target(source).serving()


T = TypeVar("T")


class AmbiguousRun(LookupError):
    """A run id prefix that names several executions: the message lists them."""


def find_execution(source: Any, name: str) -> dict | None:
    """The record of execution `name`: its full name, a unique prefix, its run id, or 'last'."""
    return as_target(source).find_execution(name)


def find_record(records: list[dict], name: str) -> dict | None:
    """`name` among execution records (newest first): 'last', or what `stepwise runs` shows in its RUN
    column or any unique start of it: a run id (the saved summary's) or an execution name.
    AmbiguousRun when a prefix names several."""
    if not records:
        return None
    if name == "last":
        return records[0]
    return pick_run(records, name, lambda r: (r["execution"]["name"], run_id(r)))


def run_id(record: dict) -> str | None:
    """The run id `stepwise runs` shows for an execution record: its saved summary's, else the one
    ClaimRun gave it in its history (a run still recording, or left ABORTED by a kill); None for an
    execution that ended before ClaimRun."""
    from stepwise.console.progress import run_of

    saved = ((record.get("summary") or {}).get("run") or {}).get("id")
    return saved or (run_of(record.get("events") or []) or {}).get("id")


def run_label(record: dict) -> str:
    """How `stepwise runs` names a run: its run id, else its execution name."""
    return run_id(record) or record["execution"]["name"]


def pick_run(items: list[T], name: str, keys: Callable[[T], tuple[str, str | None]]) -> T | None:
    """The one item whose execution name or run id (`keys(item)`) is `name`, else the one that either
    starts with; None when none does, AmbiguousRun (listing them by run id) when several do."""
    for matches in (
        [i for i in items if name in keys(i)],
        [i for i in items if any(key and key.startswith(name) for key in keys(i))],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            labels = ", ".join(keys(i)[1] or keys(i)[0] for i in matches[:10])
            more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
            raise AmbiguousRun(f"{name!r} names {len(matches)} runs: {labels}{more}; give more of it")
    return None
