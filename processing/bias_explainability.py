"""Bias and explainability job: SageMaker Clarify's bias metrics and exact TreeSHAP, in one script.

SageMaker Clarify is closed to new customers; AWS's guidance is to compute the standardized bias
metrics directly, and SHAP with the same engine, in a processing job you own. This is that job. It
runs inside the built-in XGBoost image as a processing job (``python3``: Python 3.8, xgboost 1.7,
pandas 1.x, numpy 1.x) and locally as a plain process (xgboost 3, pandas 3, numpy 2): standard
library, numpy, pandas and xgboost only. It reads its input with ``evaluate.py`` (the Evaluate job's
script, which sits beside this file in the code folder), so both jobs load the model and test.csv
the same way and reject the same bad input with the same messages.

    python3 bias_explainability.py [--model-dir /opt/ml/processing/model]
        [--data-dir /opt/ml/processing/test] [--output-dir /opt/ml/processing/output]
        [--label fraud] [--facet customer_gender_female] [--facet-value 1] [--favourable-label 0]
        [--probability-threshold 0.5] [--group-variable COLUMN] [--shap-sample-rows 100]
        [--shap-seed 42] [--message-file /opt/ml/output/message]

As for the other jobs, the processing job should pass every path in its ContainerArguments: local
mode maps the container paths it finds in the request to the job's folder, not a script's defaults.

Reads ``model.tar.gz`` (``xgboost-model`` inside) and ``test.csv`` (header row, the label first, then the
model's features); writes, in Clarify's output layout so that the Model Registry's
``ModelMetrics.Bias.Report`` / ``ModelMetrics.Explainability.Report`` and Clarify tooling can read them:

- ``bias/analysis.json``: ``pre_training_bias_metrics`` and ``post_training_bias_metrics``, each
  ``{"label", "facets": {facet: [{"value_or_threshold", "metrics": [{"name", "description", "value"}]}]},
  "label_value_or_threshold"}``. Metrics are in name order. A metric that cannot be computed has
  ``"value": null`` and an ``"error"``; an infinite value is the string ``"Infinity"`` /
  ``"-Infinity"``, as Clarify writes it; NaN is ``null``: the file is always strict JSON.
- ``explainability/analysis.json``: ``explanations.kernel_shap.label0`` with ``global_shap_values``
  (mean |SHAP| per feature, over every row, in feature order) and ``expected_value``.
- ``explainability/explanations_shap/out.csv``: per-row SHAP values of a deterministic sample of
  ``--shap-sample-rows`` rows (``RandomState(--shap-seed)``, in file order; every row when the file has
  no more): a ``test_row`` column (the row's 0-based position among test.csv's data rows, as a Clarify
  join column would lead), then ``<feature>_label0`` per feature.
- ``report.md``: every metric with its value and a one-line meaning, and the top features.

Conventions (the tutorial's, set in ``stepwise/config.py`` and passed by the state machine): the favourable
outcome is ``--favourable-label`` (0, "not fraud"); the sensitive group *d* is the rows whose facet
column equals ``--facet-value``, the others are *a*; the model predicts the label 1 (fraud) when its
probability is above ``--probability-threshold``, so a prediction is favourable when the probability
is at or below it.

Bias metrics follow Clarify's open-source implementation (smclarify 0.5, the reference the tests
compare against to 1e-9): the same formulas, the same conventions for zero denominators (0/0 is 0,
x/0 is infinite; the difference of two infinite rates is 0), the label distributions of KL, JS, LP,
TVD and KS restricted to the outcomes present in both groups (not renormalised), FT's
k-nearest-neighbour model (k = 5, or 1 with 9 or fewer other rows; Euclidean distance on the
features except the facet) and the same error messages. One caveat for FT: where rows at exactly
the same distance compete for the k-th place, this script takes the earlier row, while scikit-learn
(which Clarify uses) keeps whichever its heap-based search happens to keep (not the earlier row,
measured); on such data (duplicate rows, few distinct values) FT can differ from Clarify's by a few
times 1/n_d. With the claims' continuous columns (amounts, zip codes) such ties do not occur.
Pre-training: CDDL, CI, DPL, JS, KL, KS, LP, TVD. Post-training: AD, CDDPL, DAR, DCA, DCR, DI, DPPL,
DRR, FT, GE, RD, SD, TE. CDDL and CDDPL need ``--group-variable``; without it they carry Clarify's
error. Where this script deliberately differs from smclarify: the label and the facet are always
compared as categories by numeric value (smclarify reads a 0/1 column with 5 % or more distinct
values, i.e. fewer than 40 rows, or any float column, as continuous and then turns the value into
a threshold, which can invert the favourable label); and when the model predicts no favourable
outcome at all, smclarify refuses the whole post-training analysis while this script computes it.

SHAP values are exact TreeSHAP from xgboost (``pred_contribs=True``), in log-odds (margin) units: what
Clarify reports with ``use_logit: true``. ``expected_value`` is the bias column (the model's expected
margin); each row's values add up to its margin minus ``expected_value``.

Bad input (no model, no or empty test.csv, no label, facet or group column, a label other than 0/1,
features unlike the model's, an option out of range) writes a one-line reason to ``--message-file``
(SageMaker's FailureReason) and stderr, and exits 1; nothing is written to the output folder.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import xgboost as xgb

if __package__:  # imported as processing.bias_explainability (tests, local tools)
    from . import evaluate
else:  # run as a script: the job's code folder holds evaluate.py beside this file
    import evaluate

InputError = evaluate.InputError

LABEL = evaluate.LABEL
FACET = "customer_gender_female"
FACET_VALUE = 1.0
FAVOURABLE_LABEL = 0.0
PROBABILITY_THRESHOLD = 0.5
SHAP_SAMPLE_ROWS = 100
SHAP_SEED = 42

BIAS_FILE = Path("bias") / "analysis.json"
EXPLAINABILITY_FILE = Path("explainability") / "analysis.json"
LOCAL_SHAP_FILE = Path("explainability") / "explanations_shap" / "out.csv"
REPORT_FILE = Path("report.md")
ROW_COLUMN = "test_row"
SHAP_LABEL = "label0"  # the model returns one score, which Clarify names label0
TOP_FEATURES = 10

# FlipTest's nearest-neighbour model, as smclarify sets it
FT_NEIGHBOURS = 5
FT_FEW_ROWS = 9  # with this many other rows or fewer, one neighbour
FT_BLOCK_ELEMENTS = 1 << 22  # bounds one block of query-to-reference distances (32 MB)


class MetricError(ValueError):
    """One metric cannot be computed: Clarify reports it with value null and this message."""


class BiasData(NamedTuple):
    """The rows of test.csv as the metrics see them (one entry or row per row)."""

    sensitive: np.ndarray  # facet == facet value: group d
    favourable: np.ndarray  # label == favourable label
    predicted: np.ndarray  # the model's prediction is the favourable label
    others: np.ndarray  # the features except the facet column (FlipTest's neighbour space)
    group: Optional[np.ndarray]  # the group variable's values (CDDL, CDDPL), if any


# ---------------------------------------------------------------------------------------------------
# Arithmetic with Clarify's conventions


def divide(numerator: float, denominator: float) -> float:
    """numerator / denominator; 0/0 is 0 and x/0 is +-infinity, as in Clarify."""
    if denominator == 0:
        if numerator == 0:
            return 0.0
        return -math.inf if numerator < 0 else math.inf
    return numerator / denominator


def difference(first: float, second: float) -> float:
    """first - second, but 0 when both are infinite (Clarify's convention, instead of NaN)."""
    if first == second == math.inf:
        return 0.0
    return first - second


def count(*masks: np.ndarray) -> int:
    """The number of rows where every mask is True."""
    return int(np.count_nonzero(np.logical_and.reduce(masks)))


def _group_sizes(data: BiasData, prefix: str = "") -> Tuple[int, int]:
    """(n_a, n_d); Clarify's message when either group is empty (the sensitive group checked first)."""
    n_a, n_d = count(~data.sensitive), count(data.sensitive)
    if n_d == 0:
        raise MetricError(prefix + "Facet set is empty")
    if n_a == 0:
        raise MetricError(prefix + "Negated Facet set is empty")
    return n_a, n_d


# ---------------------------------------------------------------------------------------------------
# Pre-training metrics: the labels only


def class_imbalance(data: BiasData) -> float:
    n_a, n_d = count(~data.sensitive), count(data.sensitive)
    if n_a == 0:
        raise MetricError("CI: negated facet set is empty. Check that x[~facet] has non-zero length.")
    if n_d == 0:
        raise MetricError("CI: facet set is empty. Check that x[facet] has non-zero length.")
    return float(n_a - n_d) / (n_a + n_d)


def positive_proportion_difference(sensitive: np.ndarray, outcome: np.ndarray) -> float:
    """q_a - q_d: the share of favourable outcomes among the others minus among the sensitive group."""
    n_a, n_d = count(~sensitive), count(sensitive)
    if n_a == 0:
        raise MetricError("Negative facet set is empty.")
    if n_d == 0:
        raise MetricError("Facet set is empty.")
    return count(~sensitive, outcome) / n_a - count(sensitive, outcome) / n_d


def label_distributions(data: BiasData) -> Tuple[np.ndarray, np.ndarray]:
    """Each group's shares of the outcomes (unfavourable, favourable), keeping only the outcomes that
    occur in both groups, without renormalising: Clarify's aligned non-zero distributions."""
    n_a, n_d = count(~data.sensitive), count(data.sensitive)
    shares_a: List[float] = []
    shares_d: List[float] = []
    for outcome in (~data.favourable, data.favourable):  # the outcomes in order: False, True
        in_a, in_d = count(~data.sensitive, outcome), count(data.sensitive, outcome)
        if in_a and in_d:
            shares_a.append(in_a / n_a)
            shares_d.append(in_d / n_d)
    if not shares_a:
        raise MetricError("No instance of common facet found, dataset may be too small")
    return np.array(shares_a), np.array(shares_d)


def kullback_leibler(data: BiasData) -> float:
    p_a, p_d = label_distributions(data)
    return float(np.sum(p_a * np.log(p_a / p_d)))


def jensen_shannon(data: BiasData) -> float:
    p_a, p_d = label_distributions(data)
    mixture = 1 / 2 * (p_a + p_d)
    return float(0.5 * (np.sum(p_a * np.log(p_a / mixture)) + np.sum(p_d * np.log(p_d / mixture))))


def lp_norm(data: BiasData, order: float) -> float:
    p_a, p_d = label_distributions(data)
    return float(np.linalg.norm(p_a - p_d, order))


def conditional_demographic_disparity(data: BiasData, outcome: np.ndarray) -> float:
    """Mean over the group variable's subgroups, weighted by size, of (the sensitive group's share of
    the unfavourable outcomes) - (its share of the favourable ones)."""
    if data.group is None:
        raise MetricError("Group variable is empty or not provided")
    if count(outcome) == 0:
        raise MetricError("No positive labels in set")
    if count(~outcome) == 0:
        raise MetricError("No negative labels in set")
    sizes, disparities = [], []
    for value in np.unique(data.group):
        member = data.group == value
        sizes.append(float(count(member)))
        accepted = count(outcome, member)
        rejected = count(~outcome, member)
        share_accepted = count(outcome, data.sensitive, member) / accepted if accepted else 0
        share_rejected = count(~outcome, data.sensitive, member) / rejected if rejected else 0
        disparities.append(share_rejected - share_accepted)
    return float(divide(np.sum(np.array(sizes) * np.array(disparities)), np.sum(np.array(sizes))))


# ---------------------------------------------------------------------------------------------------
# Post-training metrics: labels and the model's predictions


def predicted_favourable(probabilities: np.ndarray, threshold: float, favourable_label: float) -> np.ndarray:
    """Whether the model's predicted label is the favourable one: it predicts 1 (fraud) when the
    probability is strictly above the threshold, as Clarify does."""
    predicted_labels = (probabilities > threshold).astype(np.float64)
    return predicted_labels == favourable_label


def disparate_impact(data: BiasData) -> float:
    n_a, n_d = count(~data.sensitive), count(data.sensitive)
    if n_a == 0:
        raise MetricError("Negated facet set is empty")
    rate_a = count(data.predicted, ~data.sensitive) / n_a
    if n_d == 0:
        raise MetricError("Facet set is empty")
    return divide(count(data.predicted, data.sensitive) / n_d, rate_a)


def _paired_differences(
    data: BiasData,
    prefix: str,
    favourable: Tuple[np.ndarray, np.ndarray],
    unfavourable: Tuple[np.ndarray, np.ndarray],
) -> Tuple[float, float]:
    """Clarify's paired metrics: per group, the ratio of two row counts (numerator and denominator
    masks) on the favourable side, reported a - d, and on the unfavourable side, reported d - a."""
    _group_sizes(data, prefix)

    def ratio(masks: Tuple[np.ndarray, np.ndarray], group: np.ndarray) -> float:
        return divide(count(masks[0], group), count(masks[1], group))

    s = data.sensitive
    return (
        difference(ratio(favourable, ~s), ratio(favourable, s)),
        difference(ratio(unfavourable, s), ratio(unfavourable, ~s)),
    )


def conditional_outcomes(data: BiasData) -> Tuple[float, float]:
    """(DCA, DCR): favourable labels / favourable predictions, and the same for unfavourable ones."""
    y, p = data.favourable, data.predicted
    return _paired_differences(data, "DCO: ", (y, p), (~y, ~p))


def label_rates(data: BiasData) -> Tuple[float, float]:
    """(DAR, DRR): the precision of the favourable predictions, and of the unfavourable ones."""
    y, p = data.favourable, data.predicted
    return _paired_differences(data, "DLR: ", (y & p, p), (~y & ~p, ~p))


def label_accuracy(data: BiasData) -> Tuple[float, float]:
    """(RD, SD): recall (favourable labels predicted favourable) and specificity (the unfavourable)."""
    y, p = data.favourable, data.predicted
    return _paired_differences(data, "DLA: ", (y & p, y), (~y & ~p, ~y))


def accuracy_difference(data: BiasData) -> float:
    _group_sizes(data)
    s, y, p = data.sensitive, data.favourable, data.predicted
    correct = y == p
    return difference(divide(count(correct, ~s), count(~s)), divide(count(correct, s), count(s)))


def treatment_equality(data: BiasData) -> float:
    _group_sizes(data)
    s, y, p = data.sensitive, data.favourable, data.predicted
    ratio_a = divide(count(y, ~p, ~s), count(~y, p, ~s))
    ratio_d = divide(count(y, ~p, s), count(~y, p, s))
    return difference(ratio_d, ratio_a)


def nearest_favourable_counts(
    reference: np.ndarray, favourable: np.ndarray, queries: np.ndarray, neighbours: int
) -> np.ndarray:
    """For each query row, how many of its ``neighbours`` nearest reference rows are favourable.

    Nearest by Euclidean distance; among equal distances the earlier reference row comes first. The
    squared distances are computed as |q|^2 + |r|^2 - 2 q.r (one matrix product per block of queries,
    as scikit-learn does) on centred data; where the k-th and the next distance are closer than that
    formula's rounding error bound, the query's distances are recomputed exactly from the differences.
    """
    votes = np.empty(len(queries), dtype=np.int64)
    if neighbours >= len(reference):  # every reference row is a neighbour
        votes[:] = np.count_nonzero(favourable)
        return votes
    centre = reference.mean(axis=0)
    centred = reference - centre
    reference_norms = np.einsum("ij,ij->i", centred, centred)
    rounding = 4 * (reference.shape[1] + 3) * np.finfo(np.float64).eps
    step = max(1, FT_BLOCK_ELEMENTS // len(reference))
    for start in range(0, len(queries), step):
        block = queries[start : start + step] - centre
        block_norms = np.einsum("ij,ij->i", block, block)
        distances = block @ centred.T
        distances *= -2.0
        distances += reference_norms[None, :]
        distances += block_norms[:, None]
        order = np.argpartition(distances, neighbours, axis=1)  # the k nearest first, then the next
        nearest = order[:, :neighbours]
        kth = np.take_along_axis(distances, nearest, axis=1).max(axis=1)
        following = np.take_along_axis(distances, order[:, neighbours : neighbours + 1], axis=1)[:, 0]
        block_votes = favourable[nearest].sum(axis=1)
        bound = rounding * (block_norms + reference_norms.max())
        for row in np.nonzero(following - kth <= 2 * bound)[0]:  # a tie, or too close to tell
            exact = np.square(reference - queries[start + row]).sum(axis=1)
            block_votes[row] = favourable[np.argsort(exact, kind="stable")[:neighbours]].sum()
        votes[start : start + step] = block_votes
    return votes


def flip_test(data: BiasData) -> float:
    """(sensitive rows favoured by the model but not by a k-NN model of the others' predictions -
    the reverse) / n_d."""
    n_a, n_d = _group_sizes(data)
    if np.isnan(data.others).any():
        raise MetricError("FlipTest cannot use rows with missing feature values (NaN)")
    neighbours = FT_NEIGHBOURS if n_a > FT_FEW_ROWS else 1
    votes = nearest_favourable_counts(
        data.others[~data.sensitive], data.predicted[~data.sensitive], data.others[data.sensitive], neighbours
    )
    favoured_by_others = 2 * votes > neighbours
    model = data.predicted[data.sensitive]
    return divide(count(model, ~favoured_by_others) - count(~model, favoured_by_others), n_d)


def generalized_entropy(data: BiasData) -> float:
    """Generalized entropy index (alpha = 2) of the benefit b = prediction - label + 1, over all rows."""
    rows = data.favourable.size
    if rows == 0:
        raise MetricError("dataset must be non-empty")
    benefit = data.predicted.astype(np.int64) - data.favourable.astype(np.int64) + 1
    mean = benefit.mean()
    if mean == 0:
        raise MetricError(
            "All predicted labels are false negatives. There should be at least one prediction that is "
            "not false negative."
        )
    return float(((benefit / mean) ** 2 - 1).sum() / (rows * 2 * (2 - 1)))


class Metric(NamedTuple):
    name: str
    description: str  # Clarify's
    meaning: str  # one line for report.md
    compute: Callable[[BiasData], float]


PRE_TRAINING: List[Metric] = [
    Metric(
        "CDDL",
        "Conditional Demographic Disparity in Labels (CDDL)",
        "DD of the labels averaged over the --group-variable's subgroups, weighted by size",
        lambda data: conditional_demographic_disparity(data, data.favourable),
    ),
    Metric(
        "CI",
        "Class Imbalance (CI)",
        "(n_a - n_d) / (n_a + n_d): > 0 when the sensitive group is the smaller one; in [-1, 1]",
        class_imbalance,
    ),
    Metric(
        "DPL",
        "Difference in Positive Proportions in Labels (DPL)",
        "favourable-label rate of the others minus the sensitive group's; > 0: labels favour the others",
        lambda data: positive_proportion_difference(data.sensitive, data.favourable),
    ),
    Metric(
        "JS",
        "Jensen-Shannon Divergence (JS)",
        "symmetric divergence of the two groups' label distributions; 0 when they are equal",
        jensen_shannon,
    ),
    Metric(
        "KL",
        "Kullback-Liebler Divergence (KL)",
        "divergence of the others' label distribution from the sensitive group's; 0 when they are equal",
        kullback_leibler,
    ),
    Metric(
        "KS",
        "Kolmogorov-Smirnov Distance (KS)",
        "largest difference between the two groups' label distributions",
        lambda data: lp_norm(data, np.inf),
    ),
    Metric(
        "LP",
        "L-p Norm (LP)",
        "Euclidean (L2) distance between the two groups' label distributions",
        lambda data: lp_norm(data, 2),
    ),
    Metric(
        "TVD",
        "Total Variation Distance (TVD)",
        "half the L1 distance between the two groups' label distributions",
        lambda data: 0.5 * lp_norm(data, 1),
    ),
]

POST_TRAINING: List[Metric] = [
    Metric(
        "AD",
        "Accuracy Difference (AD)",
        "accuracy on the others minus accuracy on the sensitive group",
        accuracy_difference,
    ),
    Metric(
        "CDDPL",
        "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
        "CDDL computed on the predictions instead of the labels",
        lambda data: conditional_demographic_disparity(data, data.predicted),
    ),
    Metric(
        "DAR",
        "Difference in Acceptance Rates (DAR)",
        "precision of the favourable predictions: the others' minus the sensitive group's",
        lambda data: label_rates(data)[0],
    ),
    Metric(
        "DCA",
        "Difference in Conditional Acceptance (DCA)",
        "favourable labels / favourable predictions, others minus sensitive group; > 0: relative to its "
        "labels the sensitive group gets more favourable predictions",
        lambda data: conditional_outcomes(data)[0],
    ),
    Metric(
        "DCR",
        "Difference in Conditional Rejection (DCR)",
        "unfavourable labels / unfavourable predictions, sensitive group minus others; > 0: relative to "
        "its labels the sensitive group gets fewer unfavourable predictions",
        lambda data: conditional_outcomes(data)[1],
    ),
    Metric(
        "DI",
        "Disparate Impact (DI)",
        "favourable-prediction rate of the sensitive group divided by the others'; 1 is parity, < 1 "
        "disadvantages the sensitive group",
        disparate_impact,
    ),
    Metric(
        "DPPL",
        "Difference in Positive Proportions in Predicted Labels (DPPL)",
        "favourable-prediction rate of the others minus the sensitive group's; > 0: the model favours "
        "the others",
        lambda data: positive_proportion_difference(data.sensitive, data.predicted),
    ),
    Metric(
        "DRR",
        "Difference in Rejection Rates (DRR)",
        "precision of the unfavourable predictions: the sensitive group's minus the others'",
        lambda data: label_rates(data)[1],
    ),
    Metric(
        "FT",
        "Flip Test (FT)",
        "sensitive rows favoured by the model but not by the nearest others' predictions, minus the "
        "reverse, over n_d",
        flip_test,
    ),
    Metric(
        "GE",
        "Generalized Entropy (GE)",
        "inequality (alpha = 2) of the benefit prediction - label + 1 over all rows; 0: all treated alike",
        generalized_entropy,
    ),
    Metric(
        "RD",
        "Recall Difference (RD)",
        "recall of the favourable label: the others' minus the sensitive group's",
        lambda data: label_accuracy(data)[0],
    ),
    Metric(
        "SD",
        "Specificity Difference (SD)",
        "specificity (unfavourable labels predicted unfavourable): the sensitive group's minus the others'",
        lambda data: label_accuracy(data)[1],
    ),
    Metric(
        "TE",
        "Treatment Equality (TE)",
        "false negatives / false positives (favourable = positive): the sensitive group's minus the others'",
        treatment_equality,
    ),
]


def compute_metrics(metrics: Sequence[Metric], data: BiasData) -> List[dict]:
    """Clarify's metric entries: name, description, value (None and an error when it cannot be computed)."""
    entries = []
    for metric in metrics:
        entry: dict = {"name": metric.name, "description": metric.description}
        try:
            entry["value"] = float(metric.compute(data))
        except MetricError as error:
            entry["value"] = None
            entry["error"] = str(error)
        entries.append(entry)
    return entries


# ---------------------------------------------------------------------------------------------------
# SHAP


def shap_values(booster: xgb.Booster, features: np.ndarray) -> Tuple[np.ndarray, float]:
    """Exact TreeSHAP values in log-odds units (one row per row of ``features``), and the expected value."""
    contributions = booster.predict(xgb.DMatrix(features), pred_contribs=True)
    return contributions[:, :-1].astype(np.float64), float(contributions[0, -1])


def sample_rows(rows: int, size: int, seed: int) -> np.ndarray:
    """A deterministic sample of ``size`` row positions, in file order (all rows when there are no more)."""
    if size >= rows:
        return np.arange(rows)
    return np.sort(np.random.RandomState(seed).choice(rows, size=size, replace=False))


# ---------------------------------------------------------------------------------------------------
# Inputs


def _value_text(value: float) -> str:
    """1.0 -> "1": how Clarify prints a configured label or facet value."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def read_inputs(
    model_dir: Path, data_dir: Path, label: str
) -> Tuple[xgb.Booster, np.ndarray, np.ndarray, List[str]]:
    """(booster, labels, features, feature names); the Evaluate job's checks and messages."""
    booster = evaluate.load_model(model_dir)
    path = data_dir / evaluate.TEST_FILE
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(
            f"{path} is empty (0 bytes): it needs a header row with the label '{label}' first, then the "
            "features, and one row per test example (the preprocess job's 'test' output)"
        )
    labels, features, names = evaluate.load_test_set(data_dir, label)
    return booster, labels, features, names


def column(names: List[str], name: str, option: str, path: Path) -> int:
    """The position of ``name`` among the feature columns; a message naming the option otherwise."""
    if name not in names:
        similar = [other for other in names if name.lower() in other.lower()]
        similar += difflib.get_close_matches(name, [other for other in names if other not in similar], 3, 0.6)
        hint = f"did you mean {similar[:4]}?" if similar else f"columns: {names[:10]}..."
        raise InputError(
            f"{path} has no column '{name}' (given by {option}; {hint}): pass {option} with a feature "
            "column of test.csv"
        )
    return names.index(name)


def check_options(args: argparse.Namespace) -> None:
    if not 0.0 <= args.probability_threshold <= 1.0:
        raise InputError(
            f"--probability-threshold {args.probability_threshold} is outside [0, 1]: it is the "
            "probability of fraud above which the model predicts fraud"
        )
    if args.favourable_label not in (0.0, 1.0):
        raise InputError(
            f"--favourable-label {_value_text(args.favourable_label)} is not a label value: the label "
            "is 0 or 1 (the tutorial's favourable outcome is 0, not fraud)"
        )
    if args.shap_sample_rows < 1:
        raise InputError(f"--shap-sample-rows {args.shap_sample_rows} must be at least 1")
    if not 0 <= args.shap_seed < 2**32:
        raise InputError(f"--shap-seed {args.shap_seed} must be between 0 and 2**32 - 1")


# ---------------------------------------------------------------------------------------------------
# Outputs


def json_value(value: Optional[float]):
    """Clarify's JSON for a metric value: infinities as "Infinity"/"-Infinity", NaN as null."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def bias_analysis(
    pre: List[dict], post: List[dict], label: str, facet: str, facet_value: float, favourable: float
) -> dict:
    def section(metrics: List[dict]) -> dict:
        entries = [{**entry, "value": json_value(entry["value"])} for entry in metrics]
        return {
            "label": label,
            "facets": {facet: [{"value_or_threshold": _value_text(facet_value), "metrics": entries}]},
            "label_value_or_threshold": _value_text(favourable),
        }

    return {
        "version": "1.0",
        "pre_training_bias_metrics": section(pre),
        "post_training_bias_metrics": section(post),
    }


def explainability_analysis(names: List[str], global_values: np.ndarray, expected_value: float) -> dict:
    return {
        "version": "1.0",
        "explanations": {
            "kernel_shap": {
                SHAP_LABEL: {
                    "global_shap_values": {name: float(value) for name, value in zip(names, global_values)},
                    "expected_value": expected_value,
                }
            }
        },
    }


def _shown(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.4g}"


def _metric_rows(entries: List[dict], metrics: Sequence[Metric]) -> List[str]:
    meanings = {metric.name: metric.meaning for metric in metrics}
    lines = ["| metric | value | meaning |", "|---|---|---|"]
    for entry in entries:
        value = _shown(json_value(entry["value"]))
        if "error" in entry:
            value += f" ({entry['error']})"
        lines.append(f"| {entry['description']} | {value} | {meanings[entry['name']]} |")
    return lines


def report_markdown(summary: dict, pre: List[dict], post: List[dict], explanation: dict) -> str:
    s = summary
    groups = [
        "| group | rows | favourable labels | favourable predictions |",
        "|---|---|---|---|",
    ]
    for name, key in (("sensitive (d)", "d"), ("others (a)", "a"), ("all", "all")):
        rows, labels, predictions = s["groups"][key]
        groups.append(f"| {name} | {rows} | {labels} | {predictions} |")
    shap = explanation["explanations"]["kernel_shap"][SHAP_LABEL]
    ranking = sorted(shap["global_shap_values"].items(), key=lambda item: -item[1])[:TOP_FEATURES]
    top = ["| rank | feature | mean abs SHAP (log-odds) |", "|---|---|---|"]
    top += [f"| {rank} | {name} | {value:.4g} |" for rank, (name, value) in enumerate(ranking, 1)]
    lines = [
        "# Bias and explainability report",
        "",
        f"Model `{s['model']}`, data `{s['data']}` ({s['rows']} rows). Computed by "
        "processing/bias_explainability.py with SageMaker Clarify's metric definitions and exact TreeSHAP.",
        "",
        f"- Sensitive group (d): `{s['facet']}` = {s['facet_value']}; the others are (a).",
        f"- Favourable outcome: `{s['label']}` = {s['favourable']}. The model predicts {s['label']} = 1 when "
        f"its probability is above {s['threshold']}; a prediction is favourable otherwise.",
        "",
        *groups,
        "",
        "## Pre-training bias (labels)",
        "",
        *_metric_rows(pre, PRE_TRAINING),
        "",
        "## Post-training bias (the model's predictions)",
        "",
        *_metric_rows(post, POST_TRAINING),
        "",
        "## Explainability (SHAP)",
        "",
        f"Exact TreeSHAP values in log-odds units over all {s['rows']} rows. Expected value (the model's "
        f"expected log-odds): {shap['expected_value']:.4g}; each row's values add up to its log-odds "
        f"minus this. Per-row values for {s['sampled']} rows: `{LOCAL_SHAP_FILE.as_posix()}`.",
        "",
        *top,
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# The job


def analyse(args: argparse.Namespace) -> Tuple[Dict[str, object], str]:
    """Compute everything: the documents to write, keyed by their path under the output folder, and a
    one-line summary."""
    booster, labels, features, names = read_inputs(args.model_dir, args.data_dir, args.label)
    path = args.data_dir / evaluate.TEST_FILE
    facet_index = column(names, args.facet, "--facet", path)
    group = None
    if args.group_variable is not None:
        group = features[:, column(names, args.group_variable, "--group-variable", path)]
    probabilities = evaluate.predict(booster, features, names)  # checks the columns against the model

    sensitive = features[:, facet_index] == args.facet_value
    favourable = labels == args.favourable_label
    predicted = predicted_favourable(probabilities, args.probability_threshold, args.favourable_label)
    others = np.delete(features, facet_index, axis=1)
    data = BiasData(sensitive, favourable, predicted, others, group)
    if not sensitive.any() or sensitive.all():
        print(
            f"warning: {'no' if not sensitive.any() else 'every'} row of {path} has {args.facet} = "
            f"{_value_text(args.facet_value)}: the metrics comparing the two groups are null (see 'error')",
            file=sys.stderr,
        )
    pre = compute_metrics(PRE_TRAINING, data)
    post = compute_metrics(POST_TRAINING, data)

    local, expected_value = shap_values(booster, features)
    global_values = np.abs(local).mean(axis=0)
    sample = sample_rows(len(labels), args.shap_sample_rows, args.shap_seed)
    local_frame = pd.DataFrame(local[sample], columns=[f"{name}_{SHAP_LABEL}" for name in names])
    local_frame.insert(0, ROW_COLUMN, sample)

    bias = bias_analysis(pre, post, args.label, args.facet, args.facet_value, args.favourable_label)
    explanation = explainability_analysis(names, global_values, expected_value)
    summary = {
        "model": str(args.model_dir / evaluate.MODEL_ARCHIVE),
        "data": str(path),
        "rows": len(labels),
        "label": args.label,
        "favourable": _value_text(args.favourable_label),
        "facet": args.facet,
        "facet_value": _value_text(args.facet_value),
        "threshold": args.probability_threshold,
        "sampled": len(sample),
        "groups": {
            key: (count(mask), count(mask, favourable), count(mask, predicted))
            for key, mask in (("d", sensitive), ("a", ~sensitive), ("all", np.ones_like(sensitive)))
        },
    }
    documents = {
        BIAS_FILE.as_posix(): bias,
        EXPLAINABILITY_FILE.as_posix(): explanation,
        LOCAL_SHAP_FILE.as_posix(): local_frame,
        REPORT_FILE.as_posix(): report_markdown(summary, pre, post, explanation),
    }
    shown = {entry["name"]: _shown(json_value(entry["value"])) for entry in post}
    top = names[int(np.argmax(global_values))]
    line = (
        f"{len(labels)} rows, DPPL {shown['DPPL']}, DI {shown['DI']}; top feature {top} "
        f"(mean |SHAP| {global_values.max():.4g})"
    )
    return documents, line


def write_outputs(output_dir: Path, documents: Dict[str, object]) -> None:
    for name, document in documents.items():
        target = output_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(document, pd.DataFrame):
            document.to_csv(target, index=False)
        elif isinstance(document, str):
            target.write_text(document, encoding="utf-8")
        else:
            target.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def report_failure(message: str, message_file: Path) -> None:
    """The reason to stderr and where SageMaker reads a processing job's FailureReason."""
    print(f"bias_explainability: {message}", file=sys.stderr)
    try:
        message_file.parent.mkdir(parents=True, exist_ok=True)
        message_file.write_text(message + "\n", encoding="utf-8")
    except OSError as error:
        print(f"(could not write the message file {message_file}: {error})", file=sys.stderr)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bias_explainability.py",
        description="Bias metrics (Clarify's definitions) and exact TreeSHAP explanations of the model",
        allow_abbrev=False,
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--data-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--label", default=LABEL, help="label column of test.csv")
    parser.add_argument("--facet", default=FACET, help="column that defines the sensitive group")
    parser.add_argument("--facet-value", type=float, default=FACET_VALUE, help="its value in that group")
    parser.add_argument("--favourable-label", type=float, default=FAVOURABLE_LABEL)
    parser.add_argument(
        "--probability-threshold",
        type=float,
        default=PROBABILITY_THRESHOLD,
        help="the model predicts label 1 when its probability is above this",
    )
    parser.add_argument("--group-variable", default=None, help="column of subgroups for CDDL and CDDPL")
    parser.add_argument("--shap-sample-rows", type=int, default=SHAP_SAMPLE_ROWS)
    parser.add_argument("--shap-seed", type=int, default=SHAP_SEED)
    parser.add_argument("--message-file", type=Path, default=Path("/opt/ml/output/message"))
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        check_options(args)
        documents, summary = analyse(args)
        write_outputs(args.output_dir, documents)
    except InputError as error:
        report_failure(str(error), args.message_file)
        return 1
    except Exception as error:  # a bug or an I/O failure: still leave SageMaker a reason, then the traceback
        report_failure(f"internal error: {type(error).__name__}: {error}", args.message_file)
        raise
    print(f"bias_explainability: {summary}; wrote {args.output_dir} in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
