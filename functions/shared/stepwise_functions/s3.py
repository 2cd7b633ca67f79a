"""S3 URIs and small JSON/CSV objects."""

from __future__ import annotations

import codecs
import csv
import json
from typing import Any, NamedTuple

from .aws import client


class S3Location(NamedTuple):
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return s3_uri(self.bucket, self.key)


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> S3Location:
    """Split "s3://bucket/key" into bucket and key; the key may be empty ("s3://bucket/")."""
    scheme, sep, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme != "s3" or not sep or not bucket:
        raise ValueError(f"{uri!r} is not an S3 URI: expected s3://<bucket>/<key>")
    return S3Location(bucket, key)


def read_json(uri: str) -> Any:
    """The parsed JSON document stored at `uri`."""
    location = parse_s3_uri(uri)
    body = client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    try:
        return json.loads(body)
    except ValueError as error:
        raise ValueError(f"{uri} is not valid JSON: {error}") from error


def read_csv_rows(uri: str, limit: int) -> list[list[str]]:
    """The first `limit` rows (the header counts as a row) of the CSV object at `uri`.

    Streams the object: only the bytes needed for those rows are read, however large the file is.
    """
    location = parse_s3_uri(uri)
    body = client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"]
    try:
        lines = codecs.iterdecode(body.iter_lines(), "utf-8")
        rows: list[list[str]] = []
        for row in csv.reader(lines):
            if len(rows) == limit:
                break
            if row:
                rows.append(row)
        return rows
    finally:
        body.close()
