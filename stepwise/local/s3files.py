"""Copying between S3 prefixes and local folders, as SageMaker does for a job's inputs and outputs."""

from __future__ import annotations

from pathlib import Path


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/key' -> ('bucket', 'some/key')."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def download_prefix(s3, uri: str, target: Path) -> int:
    """Copy every object under the S3 prefix `uri` into `target`, keeping the paths below the prefix.

    A URI naming one object copies that object into `target`. Returns the number of files copied.
    """
    bucket, prefix = parse_s3_uri(uri)
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            # SageMaker's S3Prefix matches keys by prefix; a URI naming one object copies that object
            relative = key[len(prefix) :].lstrip("/") or Path(key).name
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(destination))
            count += 1
    return count


def upload_dir(s3, source: Path, uri: str) -> int:
    """Copy every file under `source` to the S3 prefix `uri`; return the number of files copied."""
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix.rstrip("/")
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = (
            f"{prefix}/{path.relative_to(source).as_posix()}"
            if prefix
            else path.relative_to(source).as_posix()
        )
        s3.upload_file(str(path), bucket, key)
        count += 1
    return count
