"""What the console reads from a state folder, without starting the embedded AWS.

The embedded AWS keeps, besides its journal, snapshots the console reads (stepwise/emulator/aws.py
writes them as they change): `stack` (the deployed stack: its resources' names, outputs, parameters),
`registry` (every model package: group, version, ARN, approval, metadata, metrics), `deployed-endpoints`
(what each endpoint serves). Executions are records of their own (description, history, summary).
"""

from __future__ import annotations

import json
from typing import Any


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


def packages(store: Any) -> list[dict]:
    """Every model package, oldest first: {group, version, arn, status, description, metadata, metrics,
    created}."""
    return list(store.get("registry") or [])


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


def serving_versions(store: Any) -> dict[str, dict]:
    """endpoint name -> {config, modelDataUrl} of what serves now."""
    return dict(store.get("deployed-endpoints") or {})


def execution_records(store: Any) -> list[dict]:
    """Every execution record, newest first."""
    return list(reversed(store.executions()))


class AmbiguousRun(LookupError):
    """A run id prefix that names several executions: the message lists them."""


def find_execution(store: Any, name: str) -> dict | None:
    """The record of execution `name`: its full name, a unique prefix, its run id, or 'last'."""
    records = store.executions()
    if not records:
        return None
    if name == "last":
        return records[-1]
    exact = [r for r in records if r["execution"]["name"] == name]
    if exact:
        return exact[0]
    by_run = [
        r
        for r in records
        if (r.get("summary") or {}).get("run", {}) and r["summary"]["run"].get("id") == name
    ]
    if len(by_run) == 1:
        return by_run[0]
    matches = [r for r in records if r["execution"]["name"].startswith(name)]
    if len(matches) > 1:
        names = ", ".join(r["execution"]["name"] for r in matches[:10])
        raise AmbiguousRun(f"{name!r} names {len(matches)} runs: {names}; give more of the name")
    return matches[0] if matches else None
