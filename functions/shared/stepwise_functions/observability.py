"""Logger, Tracer and Metrics configured the same way for every function."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "Stepwise"


def powertools(function: str) -> tuple[Logger, Tracer, Metrics]:
    """Logger, Tracer and Metrics for `function`.

    The service name is POWERTOOLS_SERVICE_NAME when set (template.yaml), else the function's name.
    Tracing turns itself off outside Lambda (and with POWERTOOLS_TRACE_DISABLED=1).
    """
    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or function
    return (
        Logger(service=service),
        Tracer(service=service),
        Metrics(namespace=METRICS_NAMESPACE, service=service),
    )
