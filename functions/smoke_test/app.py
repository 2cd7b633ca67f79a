"""SmokeTest: does the deployed endpoint answer real rows with one probability per row?

Reads the first rows of the run's test.csv (header, label first), drops the header and the label,
sends them to the endpoint as text/csv through the SageMaker runtime API, and checks the answer:
exactly one number per row, each in [0, 1]. Anything else raises SmokeTestFailed with the details.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field
from stepwise_functions.aws import client
from stepwise_functions.events import StepwiseEvent, parse_event
from stepwise_functions.observability import powertools
from stepwise_functions.s3 import read_csv_rows

FUNCTION = "smoke_test"
CSV = "text/csv"
SHOWN = 200  # characters of a bad response body quoted in the error

logger, tracer, metrics = powertools(FUNCTION)


class SmokeTestFailed(RuntimeError):
    """The endpoint's answer is not one probability per row."""


class SmokeTestEvent(StepwiseEvent):
    ENV_FALLBACKS = {"endpoint_name": "ENDPOINT_NAME", "rows": "SMOKE_TEST_ROWS"}

    endpoint_name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    test_data_uri: str = Field(pattern=r"^s3://[^/]+/.+")
    rows: int = Field(20, ge=1, le=1000)


def feature_rows(test_data_uri: str, rows: int) -> list[list[str]]:
    """The first `rows` rows of test.csv without its header and without the label (first column)."""
    table = read_csv_rows(test_data_uri, rows + 1)
    if len(table) < 2:
        raise SmokeTestFailed(
            f"{test_data_uri} has no data rows below its header: nothing to send to the endpoint"
        )
    return [row[1:] for row in table[1:]]


def to_csv(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\n" for row in rows)


def parse_predictions(body: str, content_type: str) -> list[float]:
    """One float per prediction from text/csv (newline- or comma-separated) or application/json."""
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            document = json.loads(body)
        except ValueError as error:
            raise SmokeTestFailed(
                f"the endpoint said application/json but sent invalid JSON: {error}"
            ) from None
        values = document.get("predictions") if isinstance(document, dict) else document
        if not isinstance(values, list):
            raise SmokeTestFailed(f"expected a list or {{'predictions': [...]}}, got: {body[:SHOWN]!r}")
    else:
        values = [part.strip() for part in body.replace("\n", ",").split(",") if part.strip()]
    predictions = []
    for index, value in enumerate(values):
        if isinstance(value, bool):
            value = None  # JSON true/false is not a probability
        try:
            predictions.append(float(value))
        except (TypeError, ValueError):
            raise SmokeTestFailed(
                f"prediction {index} is not a number: {value!r} (body: {body[:SHOWN]!r})"
            ) from None
    return predictions


def check(predictions: list[float], rows: int) -> None:
    if len(predictions) != rows:
        raise SmokeTestFailed(f"sent {rows} rows but got {len(predictions)} predictions: {predictions[:10]}")
    outside = [(index, value) for index, value in enumerate(predictions) if not 0.0 <= value <= 1.0]
    if outside:
        shown = ", ".join(f"row {index}: {value}" for index, value in outside[:10])
        raise SmokeTestFailed(f"{len(outside)} predictions are not probabilities in [0, 1]: {shown}")


def smoke_test(request: SmokeTestEvent) -> dict[str, Any]:
    rows = feature_rows(request.test_data_uri, request.rows)
    response = client("sagemaker-runtime").invoke_endpoint(
        EndpointName=request.endpoint_name, ContentType=CSV, Accept=CSV, Body=to_csv(rows).encode()
    )
    body = response["Body"].read().decode("utf-8", errors="replace")
    predictions = parse_predictions(body, response.get("ContentType") or CSV)
    check(predictions, len(rows))
    return {
        "endpointName": request.endpoint_name,
        "rows": len(rows),
        "predictions": predictions,
        "passed": True,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, SmokeTestEvent, FUNCTION)
    logger.set_correlation_id(request.correlation_id)
    try:
        result = smoke_test(request)
    except SmokeTestFailed:
        metrics.add_metric(name="SmokeTestPassed", unit=MetricUnit.Count, value=0)
        raise
    logger.info("smoke test passed", extra={"rows": result["rows"]})
    metrics.add_metric(name="SmokeTestPassed", unit=MetricUnit.Count, value=1)
    return result
