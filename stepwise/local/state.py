"""Local mode's persistence: the embedded AWS saved to and restored from a folder (`.stepwise/`).

Layout of the state folder:
- `s3/<bucket>/<key>`: every object, as a file; `s3/manifest.json` keeps their upload order so a
  restore gives them the same relative LastModified order (the Lambdas pick "the latest dataset" by it);
- `sagemaker.json`: the create requests of model package groups, model packages (in version order,
  with their approval status), models, endpoint configs and endpoints. Replaying them in order on an
  empty SageMaker gives the same names, package versions and ARNs;
- `executions/<name>.json`: describe_execution + the full get_execution_history of every run, which
  `stepwise runs` / `show` read without starting the embedded AWS;
- `runs/<execution>/jobs/<job>/`: each job's folder and logs (written while the job runs).

Everything is written with write-then-rename, so an interrupted save never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from stepwise.local.engine import to_json_safe

SAGEMAKER_FILE = "sagemaker.json"
MANIFEST_FILE = "manifest.json"


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(to_json_safe(value), indent=1))
    os.replace(temporary, path)


def _request(client, operation: str, described: dict) -> dict:
    """The parts of a Describe* result that the Create* operation accepts, by botocore's own model
    (nested structures included: Describe results carry read-only fields a create call rejects)."""
    return _fit(described, client.meta.service_model.operation_model(operation).input_shape)


def _fit(value: Any, shape) -> Any:
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key: _fit(item, shape.members[key])
            for key, item in value.items()
            if key in shape.members and item not in (None, [], {})
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_fit(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _fit(item, shape.value) for key, item in value.items()}
    return value


class StateStore:
    """Saves and restores the embedded AWS under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def s3_dir(self) -> Path:
        return self.root / "s3"

    @property
    def executions_dir(self) -> Path:
        return self.root / "executions"

    def runs_dir(self) -> Path:
        return self.root / "runs"

    # -------------------------------------------------------------------------------- S3
    def save_s3(self, s3, buckets: list[str]) -> int:
        """Mirror every object of `buckets` to files; remove files of deleted objects. Returns the count."""
        manifest: list[dict] = []
        for bucket in buckets:
            bucket_dir = self.s3_dir / bucket
            seen: set[Path] = set()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    path = bucket_dir / item["Key"]
                    seen.add(path)
                    manifest.append(
                        {
                            "bucket": bucket,
                            "key": item["Key"],
                            "lastModified": item["LastModified"],
                            "size": item["Size"],
                        }
                    )
                    if path.is_file() and path.stat().st_size == item["Size"] and self._same_etag(path, item):
                        continue
                    path.parent.mkdir(parents=True, exist_ok=True)
                    temporary = path.with_name(path.name + ".tmp")
                    s3.download_file(bucket, item["Key"], str(temporary))
                    os.replace(temporary, path)
            if bucket_dir.is_dir():
                for path in [p for p in bucket_dir.rglob("*") if p.is_file() and p not in seen]:
                    path.unlink()
        manifest.sort(key=lambda entry: (entry["lastModified"], entry["key"]))
        _write_json(self.s3_dir / MANIFEST_FILE, manifest)
        return len(manifest)

    @staticmethod
    def _same_etag(path: Path, item: dict) -> bool:
        import hashlib

        etag = item.get("ETag", "").strip('"')
        if "-" in etag:  # multipart: size equality is all we can check cheaply
            return True
        return hashlib.md5(path.read_bytes()).hexdigest() == etag  # noqa: S324 (S3's ETag is MD5)

    def restore_s3(self, s3) -> int:
        """Upload the saved objects in their original order. Returns the count."""
        manifest_path = self.s3_dir / MANIFEST_FILE
        if not manifest_path.is_file():
            return 0
        count = 0
        for entry in json.loads(manifest_path.read_text()):
            path = self.s3_dir / entry["bucket"] / entry["key"]
            if path.is_file():
                s3.upload_file(str(path), entry["bucket"], entry["key"])
                count += 1
        return count

    # -------------------------------------------------------------------------------- SageMaker
    def save_sagemaker(self, sagemaker) -> dict[str, int]:
        calls: list[dict] = []
        groups = _all(sagemaker, "list_model_package_groups", "ModelPackageGroupSummaryList")
        for group in sorted(groups, key=lambda g: g["CreationTime"]):
            described = sagemaker.describe_model_package_group(
                ModelPackageGroupName=group["ModelPackageGroupName"]
            )
            calls.append(_call(sagemaker, "CreateModelPackageGroup", described))
            packages = _all(
                sagemaker,
                "list_model_packages",
                "ModelPackageSummaryList",
                ModelPackageGroupName=group["ModelPackageGroupName"],
            )
            for package in sorted(packages, key=lambda p: p.get("ModelPackageVersion", 0)):
                described = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
                request = _request(sagemaker, "CreateModelPackage", described)
                request.pop("ModelPackageName", None)  # versioned packages are named by group + version
                calls.append({"operation": "CreateModelPackage", "request": request})
        for model in sorted(_all(sagemaker, "list_models", "Models"), key=lambda m: m["CreationTime"]):
            calls.append(
                _call(sagemaker, "CreateModel", sagemaker.describe_model(ModelName=model["ModelName"]))
            )
        configs = _all(sagemaker, "list_endpoint_configs", "EndpointConfigs")
        for config in sorted(configs, key=lambda c: c["CreationTime"]):
            described = sagemaker.describe_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
            calls.append(_call(sagemaker, "CreateEndpointConfig", described))
        for endpoint in sorted(
            _all(sagemaker, "list_endpoints", "Endpoints"), key=lambda e: e["CreationTime"]
        ):
            described = sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])
            calls.append(_call(sagemaker, "CreateEndpoint", described))
        _write_json(self.root / SAGEMAKER_FILE, calls)
        counts: dict[str, int] = {}
        for call in calls:
            counts[call["operation"]] = counts.get(call["operation"], 0) + 1
        return counts

    def restore_sagemaker(self, sagemaker) -> int:
        """Replay the saved create calls in order. Returns how many were replayed."""
        path = self.root / SAGEMAKER_FILE
        if not path.is_file():
            return 0
        calls = json.loads(path.read_text())
        for call in calls:
            method = getattr(sagemaker, _snake(call["operation"]))
            method(**call["request"])
        return len(calls)

    # -------------------------------------------------------------------------------- executions
    def save_execution(self, stepfunctions, execution_arn: str, extra: dict | None = None) -> Path:
        """Write describe_execution + the whole history (+ `extra`) to executions/<name>.json. An execution
        saved after it ended is not fetched again: its history cannot change any more."""
        described = stepfunctions.describe_execution(executionArn=execution_arn)
        described.pop("ResponseMetadata", None)
        path = self.executions_dir / f"{described['name']}.json"
        kept = json.loads(path.read_text()) if path.is_file() else {}  # e.g. the summary saved earlier
        saved_status = (kept.get("execution") or {}).get("status")
        if not extra and saved_status == described["status"] != "RUNNING":
            return path
        events: list[dict] = []
        for page in stepfunctions.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        record = {**kept, "execution": described, "events": events, **(extra or {})}
        _write_json(path, record)
        return path

    def executions(self) -> list[dict]:
        """Every saved execution record, oldest first."""
        if not self.executions_dir.is_dir():
            return []
        records = [json.loads(p.read_text()) for p in self.executions_dir.glob("*.json")]
        return sorted(records, key=lambda r: r["execution"]["startDate"])

    def execution(self, name: str) -> dict | None:
        path = self.executions_dir / f"{name}.json"
        if path.is_file():
            return json.loads(path.read_text())
        matches = [r for r in self.executions() if r["execution"]["name"].startswith(name)]
        return matches[-1] if len(matches) >= 1 else None

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _all(client, method: str, key: str, **arguments) -> list[dict]:
    items: list[dict] = []
    for page in client.get_paginator(method).paginate(**arguments):
        items.extend(page.get(key, []))
    return items


def _call(client, operation: str, described: dict) -> dict:
    return {"operation": operation, "request": _request(client, operation, described)}


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)
