"""SageMaker Clarify analysis configurations for the pipeline's two checks: bias and explainability.

Each function returns a plain, JSON-serialisable dict in Clarify's documented ``analysis_config.json``
format ("Analysis Configuration Files" in the SageMaker developer guide). The state machine writes it
to S3 (``WriteBiasConfig`` / ``WriteExplainabilityConfig``) before the Clarify processing job reads
it; locally ``stepwise.containers.clarify`` reads the very same file.

The dataset both checks read is the Preprocess job's ``test.csv``: a header row, the label ``fraud``
first, then the model's features in ``processing.preprocess.feature_names()`` order
(see :func:`dataset_headers`). Clarify's documented way to read such a file is to leave ``headers``
out of the config: the job then takes the column names from the file's first row. So the builders
take the headers (to check the label, facet and baseline against them) and write them into the
config only for a file without a header row (``header_row=False``).

The model is reached through a shadow endpoint created from ``predictor.model_name``; everything
except the model name is fixed, so the definition can embed these dicts and fill the model name at
run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from processing.preprocess import LABEL, feature_names

# The tutorial's checks: is the model less favourable to female customers? The favourable outcome is
# "not fraud" (label 0); the sensitive group is customer_gender_female == 1.
FACET = "customer_gender_female"
FACET_VALUE = 1
FAVOURABLE_LABEL = 0
PROBABILITY_THRESHOLD = 0.5

# Shadow endpoint that Clarify creates from the model for the duration of the job
SHADOW_INSTANCE_TYPE = "ml.m5.xlarge"
SHADOW_INSTANCE_COUNT = 1

# Kernel SHAP settings
SHAP_NUM_SAMPLES = 100
SHAP_AGG_METHOD = "mean_abs"
SHAP_SEED = 42
# Used by Clarify only when no baseline is given: it clusters the dataset (k-means) into this many rows.
# One cluster's centroid is the mean of every feature: the same kind of baseline as mean_baseline().
SHAP_NUM_CLUSTERS = 1

CSV = "text/csv"


def dataset_headers() -> list[str]:
    """Column names of test.csv, the dataset Clarify analyses: the label, then the model's features."""
    return [LABEL, *feature_names()]


def bias_config(
    model_name: str,
    headers: Sequence[str],
    *,
    header_row: bool = True,
    label: str = LABEL,
    facet: str = FACET,
    facet_value: int = FACET_VALUE,
    favourable_label: int = FAVOURABLE_LABEL,
    probability_threshold: float = PROBABILITY_THRESHOLD,
    instance_type: str = SHADOW_INSTANCE_TYPE,
    instance_count: int = SHADOW_INSTANCE_COUNT,
) -> dict[str, Any]:
    """Analysis config for the bias check: all pre-training and post-training metrics for one facet.

    Post-training metrics (DPPL, DI, ...) compare the model's predicted labels, obtained by
    thresholding the predicted fraud probability at ``probability_threshold``. ``header_row`` says
    whether the dataset file starts with a header row (test.csv does).
    """
    _require_columns(headers, label=label, facet=facet)
    return {
        "version": "1.0",
        "dataset_type": CSV,
        **_headers_entry(headers, header_row),
        "label": label,
        "label_values_or_threshold": [favourable_label],
        "facet": [{"name_or_index": facet, "value_or_threshold": [facet_value]}],
        "probability_threshold": float(probability_threshold),
        "methods": {
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
        },
        "predictor": _predictor(model_name, instance_type, instance_count),
    }


def explainability_config(
    model_name: str,
    headers: Sequence[str],
    baseline: list[list[float]] | str | None,
    *,
    header_row: bool = True,
    label: str = LABEL,
    num_samples: int = SHAP_NUM_SAMPLES,
    agg_method: str = SHAP_AGG_METHOD,
    seed: int = SHAP_SEED,
    save_local_shap_values: bool = True,
    use_logit: bool = True,
    num_clusters: int = SHAP_NUM_CLUSTERS,
    instance_type: str = SHADOW_INSTANCE_TYPE,
    instance_count: int = SHADOW_INSTANCE_COUNT,
) -> dict[str, Any]:
    """Analysis config for the explainability check: SHAP values of the model's fraud score.

    ``baseline`` is the Kernel SHAP background: rows of feature values (no label; see
    :func:`mean_baseline`), an S3 URI of such a CSV, or None to let Clarify compute one by
    clustering the dataset into ``num_clusters`` rows (useful when the config is written before the
    data exists, as in the state machine).

    ``use_logit`` defaults to True so that SHAP values are in log-odds units: that is the space in
    which the local emulator computes exact TreeSHAP values, so the cloud and local reports share
    their units (see ``stepwise.containers.clarify``). With False, Clarify explains the probability.
    ``header_row`` says whether the dataset file starts with a header row (test.csv does).
    """
    _require_columns(headers, label=label)
    features = [name for name in headers if name != label]
    shap: dict[str, Any] = {
        "num_samples": int(num_samples),
        "agg_method": agg_method,
        "seed": int(seed),
        "use_logit": bool(use_logit),
        "save_local_shap_values": bool(save_local_shap_values),
    }
    if baseline is None:
        shap["num_clusters"] = int(num_clusters)
    else:
        shap["baseline"] = _checked_baseline(baseline, features)
    return {
        "version": "1.0",
        "dataset_type": CSV,
        **_headers_entry(headers, header_row),
        "label": label,
        "methods": {"shap": shap},
        "predictor": _predictor(model_name, instance_type, instance_count),
    }


def mean_baseline(dataset: pd.DataFrame, label: str = LABEL) -> list[list[float]]:
    """A one-row SHAP baseline: the mean of every feature column of ``dataset`` (label dropped).

    The "average claim" is the reference each explanation is measured against. For a one-hot
    column the mean is the category's frequency (e.g. 0.43), not a value any real row has; tree
    models handle that fine (it falls on one side of every split), and a single row keeps Kernel
    SHAP's cost at one model call per sample. Use training data, not the rows being explained.
    """
    features = dataset.drop(columns=[label], errors="ignore")
    non_numeric = [
        name for name, dtype in features.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if non_numeric:
        raise ValueError(f"mean_baseline needs numeric feature columns; these are not: {non_numeric}")
    return [[float(value) for value in features.mean(axis=0)]]


def _predictor(model_name: str, instance_type: str, instance_count: int) -> dict[str, Any]:
    # The built-in XGBoost model answers a CSV row with one number: the probability of fraud. With no
    # "label"/"probability" key, Clarify reads that number as the score, as the docs describe.
    return {
        "model_name": model_name,
        "instance_type": instance_type,
        "initial_instance_count": int(instance_count),
        "content_type": CSV,
        "accept_type": CSV,
    }


def _headers_entry(headers: Sequence[str], header_row: bool) -> dict[str, list[str]]:
    # With a header row, Clarify reads the names from the file; "headers" names a headerless file's columns.
    return {} if header_row else {"headers": list(headers)}


def _require_columns(headers: Sequence[str], **columns: str) -> None:
    for role, name in columns.items():
        if name not in headers:
            raise ValueError(
                f"{role} column {name!r} is not among the dataset headers ({len(headers)} columns: "
                f"{list(headers)[:5]}...); pass the headers of the file Clarify will read"
            )


def _checked_baseline(baseline: list[list[float]] | str, features: list[str]) -> list[list[float]] | str:
    if isinstance(baseline, str):
        if not baseline.startswith("s3://"):
            raise ValueError(f"a baseline given as a string must be an s3:// URI, got {baseline!r}")
        return baseline
    if not baseline:
        raise ValueError("the SHAP baseline needs at least one row (or pass None to let Clarify compute one)")
    rows = []
    for number, row in enumerate(baseline):
        if len(row) != len(features):
            raise ValueError(
                f"baseline row {number} has {len(row)} values but the dataset has {len(features)} features "
                "(a baseline row holds the features only, without the label)"
            )
        rows.append([float(value) for value in row])
    return rows
