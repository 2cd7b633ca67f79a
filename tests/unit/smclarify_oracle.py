"""smclarify, Clarify's open-source bias metrics: the test-only oracle of processing/bias_explainability.py.

Called the way the SageMaker Clarify processing container calls it (an analysis config's facet, label
values and probability threshold, "all" metrics of both stages), so that the job's numbers can be compared
with Clarify's on the same data. Nothing at run time imports smclarify: it is a dev dependency only.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from smclarify.bias import report as bias_report

# smclarify logs a traceback for every metric it cannot compute (e.g. CDDL without a group variable);
# the reason is in the result as the metric's "error", as Clarify reports it.
logging.getLogger("smclarify").setLevel(logging.CRITICAL)


class OracleRefused(Exception):
    """smclarify refused to compute the analysis (e.g. no favourable predicted label at all)."""


def bias_analysis(
    dataset: pd.DataFrame,
    probabilities: np.ndarray,
    *,
    label: str,
    facet: str,
    facet_value: Any,
    favourable: Any,
    threshold: float,
    group: str | None = None,
) -> dict[str, Any]:
    """Clarify's bias analysis.json (pre- and post-training metrics of one facet) for `dataset`."""
    predicted = pd.Series((np.asarray(probabilities) > threshold).astype(int), index=dataset.index)
    predicted.name = "predicted_label"
    group_variable = dataset[group] if group is not None else None
    label_column = bias_report.LabelColumn(label, dataset[label], [favourable])
    analysis: dict[str, Any] = {"version": "1.0"}
    for key, stage, predicted_column in (
        ("pre_training_bias_metrics", bias_report.StageType.PRE_TRAINING, None),
        (
            "post_training_bias_metrics",
            bias_report.StageType.POST_TRAINING,
            bias_report.LabelColumn(predicted.name, predicted, [favourable]),
        ),
    ):
        try:
            reports = bias_report.bias_report(
                dataset,
                bias_report.FacetColumn(facet, [facet_value]),
                label_column,
                stage,
                predicted_column,
                metrics=["all"],
                group_variable=group_variable,
            )
        except (ValueError, RuntimeError) as error:
            raise OracleRefused(f"{stage.value}: {error}") from error
        analysis[key] = {
            "label": label,
            "facets": {facet: reports},
            "label_value_or_threshold": bias_report.label_value_or_threshold(dataset[label], [favourable]),
        }
    return _without_nan(analysis)


def _without_nan(value: Any) -> Any:
    """NaN is not JSON: Clarify writes null (infinities stay "Infinity", as smclarify writes them)."""
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
