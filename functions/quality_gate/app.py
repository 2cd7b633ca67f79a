"""QualityGate: is the new model good enough to register and deploy?

Passes when the metric (from the Evaluate job's evaluation.json, SageMaker model-quality format)
is at least the threshold AND not worse than the model now serving (the latest Approved package in
the model package group) by more than the tolerance. No group or no Approved package: no champion,
and only the threshold applies.
"""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field
from stepwise_functions import registry
from stepwise_functions.events import StepwiseEvent, parse_event
from stepwise_functions.observability import powertools
from stepwise_functions.s3 import read_json

FUNCTION = "quality_gate"
# floating-point slack so that a value exactly on a boundary passes (0.8 - 0.01 is not exactly 0.79)
EPSILON = 1e-9

logger, tracer, metrics = powertools(FUNCTION)


class MetricNotFoundError(ValueError):
    """The evaluation file does not hold the metric the gate is configured with."""


class QualityGateEvent(StepwiseEvent):
    ENV_FALLBACKS = {
        "metric": "GATE_METRIC",
        "threshold": "GATE_THRESHOLD",
        "tolerance": "GATE_TOLERANCE",
        "model_package_group_name": "MODEL_PACKAGE_GROUP_NAME",
    }

    evaluation_uri: str = Field(pattern=r"^s3://[^/]+/.+")
    metric: str = Field(min_length=1)
    threshold: float
    tolerance: float = Field(ge=0)
    model_package_group_name: str | None = None


def metric_value(evaluation: Any, metric: str, source: str) -> float:
    """`metric` from a model-quality document: {"<kind>_metrics": {"<metric>": {"value": x}}}."""
    sections = {name: body for name, body in (evaluation or {}).items() if isinstance(body, dict)}
    for body in sections.values():
        if metric in body:
            entry = body[metric]
            value = entry.get("value") if isinstance(entry, dict) else entry
            try:
                return float(value)
            except (TypeError, ValueError):
                raise MetricNotFoundError(
                    f"metric '{metric}' in {source} is not a number: {value!r}"
                ) from None
    available = sorted(name for body in sections.values() for name in body)
    raise MetricNotFoundError(
        f"{source} has no metric '{metric}' (it has: {', '.join(available) or 'none'}); "
        "fix the gate's metric or the Evaluate job's output"
    )


def champion(group: str | None, metric: str) -> dict[str, Any] | None:
    """The serving package of `group` and its `metric` value (None when it recorded no such metric)."""
    package = registry.latest_approved_package(group) if group else None
    if package is None:
        return None
    properties = package.get("CustomerMetadataProperties", {})
    value: float | None = None
    if properties.get(registry.METRIC_NAME) == metric and registry.METRIC_VALUE in properties:
        value = float(properties[registry.METRIC_VALUE])
    else:
        statistics = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
        if statistics.get("S3Uri"):
            try:
                value = metric_value(read_json(statistics["S3Uri"]), metric, statistics["S3Uri"])
            except MetricNotFoundError as error:
                logger.warning("the serving model has no comparable metric", extra={"error": str(error)})
    return {"modelPackageArn": package["ModelPackageArn"], "value": value}


def decide(
    metric: str, value: float, threshold: float, tolerance: float, best: dict[str, Any] | None
) -> tuple[bool, str]:
    """(passed, a sentence giving every number behind the decision)."""
    if math.isnan(value) or value < threshold - EPSILON:
        return False, f"{metric} {value:g} is below the threshold {threshold:g}"
    if best is None:
        return True, (
            f"{metric} {value:g} meets the threshold {threshold:g}; "
            "there is no serving model to compare with "
            f"(tolerance {tolerance:g} unused)"
        )
    if best["value"] is None:
        return True, (
            f"{metric} {value:g} meets the threshold {threshold:g}; the serving model "
            f"{best['modelPackageArn']} has no {metric} recorded, so only the threshold applies "
            f"(tolerance {tolerance:g} unused)"
        )
    shortfall = best["value"] - value
    if shortfall > tolerance + EPSILON:
        return False, (
            f"{metric} {value:g} meets the threshold {threshold:g} "
            f"but is {shortfall:g} worse than the serving "
            f"model's {best['value']:g}, more than the tolerance {tolerance:g}"
        )
    return True, (
        f"{metric} {value:g} meets the threshold {threshold:g} and is within the tolerance {tolerance:g} "
        f"of the serving model's {best['value']:g} (difference {value - best['value']:+g})"
    )


def gate(request: QualityGateEvent) -> dict[str, Any]:
    value = metric_value(read_json(request.evaluation_uri), request.metric, request.evaluation_uri)
    best = champion(request.model_package_group_name, request.metric)
    passed, reason = decide(request.metric, value, request.threshold, request.tolerance, best)
    return {
        "passed": passed,
        "metric": request.metric,
        "value": value if math.isfinite(value) else None,  # NaN is not JSON
        "threshold": request.threshold,
        "tolerance": request.tolerance,
        "champion": best,
        "reason": reason,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, QualityGateEvent, FUNCTION)
    logger.set_correlation_id(request.correlation_id)
    result = gate(request)
    logger.info("quality gate decided", extra={"passed": result["passed"], "reason": result["reason"]})
    metrics.add_metric(name="GatePassed", unit=MetricUnit.Count, value=1 if result["passed"] else 0)
    if result["value"] is not None:
        metrics.add_metric(
            name=f"Model{request.metric.upper()}", unit=MetricUnit.NoUnit, value=result["value"]
        )
    return result
