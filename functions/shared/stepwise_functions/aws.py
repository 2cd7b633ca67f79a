"""boto3 clients, created on first use and then reused while the Lambda container stays warm.

Creating clients lazily (not at import) lets tests start moto first and lets local mode point boto3
at its own endpoints: boto3 itself honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    """The boto3 client for `service` (e.g. "s3", "sagemaker"), created once per process."""
    return boto3.client(service)


def reset_clients() -> None:
    """Forget the cached clients (tests call this when they change the region or the endpoints)."""
    client.cache_clear()
