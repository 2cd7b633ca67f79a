"""Evaluate job: score the trained model on the test split, in SageMaker's model-quality format.

Runs inside the built-in XGBoost image as a processing job (``python3``: Python 3.8, xgboost 1.7,
pandas 1.x) and locally (xgboost 3, pandas 3): standard library, numpy, pandas and xgboost only.
See README "Processing job contract".

Reads ``--model-dir`` (``model.tar.gz`` holding ``xgboost-model``, as the training job wrote it),
``--test-dir`` (``test.csv``: header row, label ``fraud`` first, then the features in the model's order) and
``--validation-dir`` (``validation.csv`` as the preprocess job writes it for the training job: no header,
label first, then the same features); writes ``--output-dir``/``evaluation.json``:

    {"binary_classification_metrics": {<the keys SageMaker Model Monitor writes for binary classification>},
     "precision_recall_metrics": {"pr_auc": {"value": x, "standard_deviation": s}},
     "operating_point": {"rule": "best-f1 on validation", "threshold": t,
                         "validation": {"rows", "positives", "precision", "recall", "f1"},
                         "test": {"precision", "recall", "f1", "confusion_matrix"}},
     "dataset": {"rows": n, "positives": p, "threshold": 0.5}}

``binary_classification_metrics`` is on the test split at ``--threshold`` (0.5), exactly Model Monitor's
format (the quality gate and Model Monitor tooling read it). Every metric is ``{"value": x,
"standard_deviation": s}``; as in Model Monitor, the standard deviation is that of the metric over five
random 80 % samples, and the string "NaN" below 200 rows. The "best constant classifier" metrics are those
of the classifier that always predicts the positive class (Model Monitor's published example shows the
same values). Model Monitor's format has no key for the area under the precision-recall curve, so
``pr_auc`` (test split, same value/deviation form) has a section of its own.

``operating_point`` is the decision threshold to act on: chosen on the validation split by
``--operating-point`` (see ``choose_threshold``), then measured on the test split. A row is fraud when
its score is at or above the threshold, everywhere in this file.

A rejected input (missing file, no label column, feature count unlike the model's, an unknown operating
point rule) writes the reason to ``--message-file`` (SageMaker's ExitMessage) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import xgboost as xgb

LABEL = "fraud"
MODEL_ARCHIVE = "model.tar.gz"
MODEL_FILE = "xgboost-model"
TEST_FILE = "test.csv"
VALIDATION_FILE = "validation.csv"
OUTPUT_FILE = "evaluation.json"
# Model Monitor reports standard deviations only from this many rows, over this many 80 % samples
MIN_ROWS_FOR_DEVIATION = 200
DEVIATION_SAMPLES = 5
DEVIATION_FRACTION = 0.8
DEFAULT_OPERATING_POINT = "best-f1"


class InputError(Exception):
    """The job's input cannot be evaluated; the message says what to fix."""


# ---------------------------------------------------------------------------------------------------
# Metrics (numpy only: sklearn is not needed in the container; tests compare against sklearn)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


def f_beta(precision: float, recall: float, beta: float) -> float:
    """F-beta score from precision and recall (0 when both are 0)."""
    weight = beta * beta
    return _ratio((1 + weight) * precision * recall, weight * precision + recall)


def confusion_counts(labels: np.ndarray, predicted: np.ndarray) -> Tuple[int, int, int, int]:
    """(true negatives, false positives, false negatives, true positives) of 0/1 arrays."""
    labels = labels.astype(bool)
    predicted = predicted.astype(bool)
    return (
        int(np.sum(~labels & ~predicted)),
        int(np.sum(~labels & predicted)),
        int(np.sum(labels & ~predicted)),
        int(np.sum(labels & predicted)),
    )


def roc_points(
    labels: np.ndarray, scores: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative counts at every distinct score, highest first: (thresholds, true positives, false
    positives, predicted positives). Predicting "positive" for score >= threshold."""
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    sorted_labels = labels[order].astype(float)
    # the last index of each run of equal scores: ties move together along the curve
    last_of_run = np.r_[np.nonzero(np.diff(sorted_scores))[0], sorted_scores.size - 1]
    true_positives = np.cumsum(sorted_labels)[last_of_run]
    predicted_positives = last_of_run + 1.0
    false_positives = predicted_positives - true_positives
    return sorted_scores[last_of_run], true_positives, false_positives, predicted_positives


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """False and true positive rates from (0, 0) to (1, 1), one point per distinct score."""
    _, true_positives, false_positives, _ = roc_points(labels, scores)
    positives = float(np.sum(labels))
    negatives = float(labels.size) - positives
    fpr = np.r_[0.0, false_positives / negatives if negatives else np.zeros_like(false_positives)]
    tpr = np.r_[0.0, true_positives / positives if positives else np.zeros_like(true_positives)]
    return fpr, tpr


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; ties count one half, as sklearn's roc_auc_score)."""
    if labels.min() == labels.max():
        return float("nan")  # undefined with a single class
    fpr, tpr = roc_curve(labels, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def precision_recall_curve(labels: np.ndarray, scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Precisions and recalls from (recall 0, precision 1) down through every distinct score."""
    _, true_positives, _, predicted_positives = roc_points(labels, scores)
    positives = float(np.sum(labels))
    precisions = np.r_[1.0, true_positives / predicted_positives]
    recalls = np.r_[0.0, true_positives / positives if positives else np.zeros_like(true_positives)]
    return precisions, recalls


def point_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Dict[str, float]:
    """Every scalar metric of Model Monitor's binary classification set, at one threshold."""
    tn, fp, fn, tp = confusion_counts(labels, scores >= threshold)
    rows = tn + fp + fn + tp
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    # the constant classifier that always answers "positive"
    prevalence = _ratio(tp + fn, rows)
    constant_recall = 1.0 if tp + fn else 0.0
    return {
        "recall": recall,
        "precision": precision,
        "accuracy": _ratio(tp + tn, rows),
        "recall_best_constant_classifier": constant_recall,
        "precision_best_constant_classifier": prevalence,
        "accuracy_best_constant_classifier": prevalence,
        "true_positive_rate": recall,
        "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
        "auc": roc_auc(labels, scores),
        "f0_5": f_beta(precision, recall, 0.5),
        "f1": f_beta(precision, recall, 1.0),
        "f2": f_beta(precision, recall, 2.0),
        "f0_5_best_constant_classifier": f_beta(prevalence, constant_recall, 0.5),
        "f1_best_constant_classifier": f_beta(prevalence, constant_recall, 1.0),
        "f2_best_constant_classifier": f_beta(prevalence, constant_recall, 2.0),
    }


def deviation_samples(rows: int, seed: int = 0) -> List[np.ndarray]:
    """Model Monitor's five random 80 % samples (row indices) for standard deviations; none below 200 rows."""
    if rows < MIN_ROWS_FOR_DEVIATION:
        return []
    rng = np.random.RandomState(seed)
    size = int(DEVIATION_FRACTION * rows)
    return [rng.choice(rows, size=size, replace=False) for _ in range(DEVIATION_SAMPLES)]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision, sklearn's ``average_precision_score``.

    AP = sum over the distinct scores, highest first, of (R_n - R_(n-1)) * P_n: each step of recall weighted
    by the precision at that threshold, with no interpolation (not the trapezoidal area under the curve,
    which linear interpolation between PR points makes optimistic). Ties move together. NaN when there is
    no positive row (sklearn then warns and returns 0).
    """
    if not np.any(labels):
        return float("nan")
    precisions, recalls = precision_recall_curve(labels, scores)
    return float(np.sum(np.diff(recalls) * precisions[1:]))


def _json_number(value: float):
    """Model Monitor writes undefined values as the string "NaN" (JSON has no NaN)."""
    return "NaN" if value != value else value


def binary_classification_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5, seed: int = 0
) -> dict:
    """The ``binary_classification_metrics`` object of SageMaker's model-quality statistics."""
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    values = point_metrics(labels, scores, threshold)

    deviations = {name: float("nan") for name in values}
    samples = deviation_samples(labels.size, seed)
    if samples:
        sampled = [point_metrics(labels[index], scores[index], threshold) for index in samples]
        deviations = {name: float(np.std([metrics[name] for metrics in sampled])) for name in values}

    tn, fp, fn, tp = confusion_counts(labels, scores >= threshold)
    fpr, tpr = roc_curve(labels, scores)
    precisions, recalls = precision_recall_curve(labels, scores)
    result: dict = {"confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}}
    for name in values:
        result[name] = {
            "value": _json_number(values[name]),
            "standard_deviation": _json_number(deviations[name]),
        }
    result["receiver_operating_characteristic_curve"] = {
        "false_positive_rates": fpr.tolist(),
        "true_positive_rates": tpr.tolist(),
    }
    result["precision_recall_curve"] = {"precisions": precisions.tolist(), "recalls": recalls.tolist()}
    return result


def precision_recall_metrics(labels: np.ndarray, scores: np.ndarray, seed: int = 0) -> dict:
    """``{"pr_auc": {"value", "standard_deviation"}}``: average precision, in Model Monitor's value form.

    The deviation uses the same five samples as ``binary_classification_metrics`` (same seed).
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    value = average_precision(labels, scores)
    deviation = float("nan")
    samples = deviation_samples(labels.size, seed)
    if samples:
        deviation = float(np.std([average_precision(labels[index], scores[index]) for index in samples]))
    return {"pr_auc": {"value": _json_number(value), "standard_deviation": _json_number(deviation)}}


# ---------------------------------------------------------------------------------------------------
# Operating point: the decision threshold, chosen on the validation split


class OperatingPointRule(NamedTuple):
    """A parsed ``--operating-point``: kind "best-f1", "recall" (value x) or "threshold" (value t)."""

    kind: str
    value: Optional[float] = None

    @property
    def description(self) -> str:
        """How evaluation.json and the model package name the rule, e.g. "best-f1 on validation"."""
        if self.kind == "best-f1":
            return "best-f1 on validation"
        if self.kind == "recall":
            return f"recall>={self.value!r} on validation"
        return f"fixed threshold={self.value!r}"


OPERATING_POINT_FORMS = (
    "best-f1 (the default: the threshold with the highest F1 on the validation split), "
    "recall=<x> (the highest threshold whose validation recall is at least x, 0 < x <= 1) "
    "or threshold=<t> (a fixed threshold, 0 <= t <= 1)"
)
_DECIMAL = re.compile(r"^[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$|^[0-9]+\.$")


def parse_operating_point(text: str) -> OperatingPointRule:
    """The rule ``text`` names; InputError with the accepted forms for anything else."""
    if text == "best-f1":
        return OperatingPointRule("best-f1")
    kind, sep, number = text.partition("=")
    if sep and kind in ("recall", "threshold"):
        value = float(number) if _DECIMAL.match(number) else float("nan")
        low_ok = value > 0 if kind == "recall" else value >= 0
        if low_ok and value <= 1:
            return OperatingPointRule(kind, value)
        bounds = "0 < x <= 1" if kind == "recall" else "0 <= t <= 1"
        raise InputError(
            f"--operating-point {text!r}: {kind} needs a number with {bounds} (plain decimal notation)"
        )
    raise InputError(f"--operating-point {text!r} is not a rule; use {OPERATING_POINT_FORMS}")


def choose_threshold(rule: OperatingPointRule, labels: np.ndarray, scores: np.ndarray) -> float:
    """The decision threshold ``rule`` picks on (validation) ``labels`` and ``scores``.

    The candidates are the distinct scores (a row is positive at score >= threshold; rows with equal scores
    are flagged together), as the points of sklearn's ``precision_recall_curve``:
    - best-f1: the candidate with the highest F1 (= 2 TP / (TP + FP + P)); among equal F1 values, the
      highest threshold (the fewest rows flagged).
    - recall=x: the highest candidate whose recall is at least x. The lowest candidate flags every row
      (recall 1), so one always exists.
    - threshold=t: t, whatever the data.
    When every score is equal there is one candidate, that score: it flags every row (recall 1, precision
    the positive rate). With no positive row, best-f1 and recall=x are undefined: InputError.
    """
    if rule.kind == "threshold":
        assert rule.value is not None
        return float(rule.value)
    labels = np.asarray(labels, dtype=float)
    positives = float(np.sum(labels))
    if positives == 0:
        raise InputError(
            f"{VALIDATION_FILE} has no positive row (label 1) in {labels.size} rows: the rule "
            f"'{rule.description}' cannot choose a threshold. Evaluate with the validation split of the "
            "same preprocess run (it holds both classes), or use --operating-point threshold=<t>"
        )
    thresholds, true_positives, _, predicted_positives = roc_points(labels, np.asarray(scores, dtype=float))
    if rule.kind == "best-f1":
        f1 = 2.0 * true_positives / (predicted_positives + positives)
        index = int(np.argmax(f1))  # the first maximum: thresholds run from the highest down
    else:
        assert rule.value is not None
        index = int(np.argmax(true_positives / positives >= rule.value))
    return float(thresholds[index])


def threshold_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Dict[str, float]:
    """Precision, recall and F1 of flagging score >= threshold (0 where undefined, as Model Monitor)."""
    _, fp, fn, tp = confusion_counts(np.asarray(labels), np.asarray(scores) >= threshold)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {"precision": precision, "recall": recall, "f1": f_beta(precision, recall, 1.0)}


def operating_point(
    rule: OperatingPointRule,
    validation_labels: np.ndarray,
    validation_scores: np.ndarray,
    test_labels: np.ndarray,
    test_scores: np.ndarray,
) -> dict:
    """The ``operating_point`` section: the threshold chosen on validation and how it does on test."""
    threshold = choose_threshold(rule, validation_labels, validation_scores)
    validation = {
        "rows": int(np.size(validation_labels)),
        "positives": int(np.sum(validation_labels)),
        **threshold_metrics(validation_labels, validation_scores, threshold),
    }
    tn, fp, fn, tp = confusion_counts(np.asarray(test_labels), np.asarray(test_scores) >= threshold)
    test = {
        **threshold_metrics(test_labels, test_scores, threshold),
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
    }
    return {"rule": rule.description, "threshold": threshold, "validation": validation, "test": test}


# ---------------------------------------------------------------------------------------------------
# Inputs


def load_model(model_dir: Path) -> xgb.Booster:
    """The booster inside ``model_dir/model.tar.gz`` (any format XGBoost reads: JSON, UBJSON, binary)."""
    archive = model_dir / MODEL_ARCHIVE
    if not archive.is_file():
        present = (
            sorted(p.name for p in model_dir.iterdir()) if model_dir.is_dir() else "the folder is missing"
        )
        raise InputError(
            f"No {MODEL_ARCHIVE} in {model_dir} (found: {present}). Pass the training job's "
            "ModelArtifacts.S3ModelArtifacts as the 'model' processing input."
        )
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(MODEL_FILE)
            model_bytes = member.read() if member is not None else b""
    except KeyError as error:
        raise InputError(
            f"{archive} has no '{MODEL_FILE}' at its root: it is not a built-in XGBoost model archive"
        ) from error
    except (tarfile.TarError, OSError) as error:
        raise InputError(f"{archive} is not a readable .tar.gz file: {error}") from error
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(model_bytes))
    except xgb.core.XGBoostError as error:
        raise InputError(f"'{MODEL_FILE}' in {archive} is not an XGBoost model: {error}") from error
    return booster


def load_test_set(test_dir: Path, label: str = LABEL) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """(labels, features, feature names) of ``test_dir/test.csv``; the label column is ``label``."""
    path = test_dir / TEST_FILE
    if not path.is_file():
        raise InputError(
            f"No {TEST_FILE} in {test_dir}: pass the preprocess job's 'test' output as the 'test' input"
        )
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as error:
        raise InputError(f"{path} is not a readable CSV file: {error}") from error
    if label not in frame.columns:
        raise InputError(
            f"{path} has no '{label}' column (columns: {list(frame.columns)[:10]}...). The test split "
            f"needs a header row with the label '{label}' first, then the features."
        )
    if frame.empty:
        raise InputError(f"{path} has a header but no rows: there is nothing to evaluate")
    features = frame.drop(columns=[label])
    non_numeric = [name for name in features.columns if not pd.api.types.is_numeric_dtype(features[name])]
    if non_numeric:
        raise InputError(f"{path}: columns {non_numeric} are not numeric; the model takes encoded features")
    labels = frame[label].to_numpy(dtype=float)
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{path}: the label '{label}' must be 0 or 1; data row {row + 1} has {labels[row]:g}"
        )
    return labels, features.to_numpy(dtype=float), [str(name) for name in features.columns]


def load_validation_set(validation_dir: Path) -> Tuple[np.ndarray, np.ndarray]:
    """(labels, features) of ``validation_dir/validation.csv``: no header, label first (built-in XGBoost)."""
    path = validation_dir / VALIDATION_FILE
    if not path.is_file():
        present = (
            sorted(p.name for p in validation_dir.iterdir())
            if validation_dir.is_dir()
            else "the folder is missing"
        )
        raise InputError(
            f"No {VALIDATION_FILE} in {validation_dir} (found: {present}). The decision threshold is chosen "
            "on the validation split: pass the preprocess job's 'validation' output as the 'validation' "
            "processing input (--validation-dir)"
        )
    try:
        frame = pd.read_csv(path, header=None)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty: there is nothing to choose a threshold on") from None
    except (ValueError, pd.errors.ParserError) as error:
        raise InputError(f"{path} is not a readable CSV file: {error}") from error
    non_numeric = [int(c) + 1 for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise InputError(
            f"{path}: columns {non_numeric[:10]} (1-based) are not numeric. The validation split is in the "
            "built-in XGBoost format: no header row, the label first, then the encoded features"
        )
    if frame.shape[1] < 2:
        raise InputError(f"{path} has {frame.shape[1]} column: it needs the label first, then the features")
    labels = frame[0].to_numpy(dtype=float)
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"{path}: the label (first column) must be 0 or 1; line {row + 1} has {labels[row]:g}"
        )
    return labels, frame.drop(columns=[0]).to_numpy(dtype=float)


def predict(
    booster: xgb.Booster,
    features: np.ndarray,
    feature_names: Optional[Sequence[str]],
    source: str = TEST_FILE,
) -> np.ndarray:
    """The model's scores for every row; the feature count must match the one it was trained on.

    ``feature_names`` (None for a file without header) are checked against the model's, if it has any.
    """
    expected = booster.num_features()
    if features.shape[1] != expected:
        split = source.rsplit(".", 1)[0]
        raise InputError(
            f"{source} has {features.shape[1]} feature columns but the model was trained on {expected}: "
            f"evaluate with the {split} split of the same preprocess run as the training data"
        )
    names = booster.feature_names
    if names is not None and feature_names is not None and list(names) != list(feature_names):
        raise InputError(f"{source} columns {list(feature_names)} differ from the model's features {names}")
    return booster.predict(xgb.DMatrix(features))


def evaluate(
    model_dir: Path,
    test_dir: Path,
    validation_dir: Path,
    threshold: float = 0.5,
    rule: Optional[OperatingPointRule] = None,
) -> dict:
    """The whole evaluation.json document; ``rule`` defaults to best-f1."""
    rule = rule or parse_operating_point(DEFAULT_OPERATING_POINT)
    booster = load_model(model_dir)
    labels, features, names = load_test_set(test_dir)
    scores = predict(booster, features, names)
    validation_labels, validation_features = load_validation_set(validation_dir)
    validation_scores = predict(booster, validation_features, None, VALIDATION_FILE)
    return {
        "binary_classification_metrics": binary_classification_metrics(labels, scores, threshold),
        "precision_recall_metrics": precision_recall_metrics(labels, scores),
        "operating_point": operating_point(rule, validation_labels, validation_scores, labels, scores),
        "dataset": {"rows": int(labels.size), "positives": int(labels.sum()), "threshold": threshold},
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Evaluate the model on the test split (model-quality metrics and a decision threshold)"
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument(
        "--validation-dir",
        type=Path,
        default=Path("/opt/ml/processing/validation"),
        help=f"holds {VALIDATION_FILE} (no header, label first): where the decision threshold is chosen",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="score at or above which a row is fraud in binary_classification_metrics (Model Monitor's)",
    )
    parser.add_argument(
        "--operating-point",
        default=DEFAULT_OPERATING_POINT,
        help=f"how the decision threshold is chosen: {OPERATING_POINT_FORMS}",
    )
    parser.add_argument("--message-file", type=Path, default=Path("/opt/ml/output/message"))
    args = parser.parse_args(argv)
    try:
        if not 0.0 <= args.threshold <= 1.0:
            raise InputError(f"--threshold {args.threshold} is outside [0, 1]")
        rule = parse_operating_point(args.operating_point)
        document = evaluate(args.model_dir, args.test_dir, args.validation_dir, args.threshold, rule)
    except InputError as error:
        args.message_file.parent.mkdir(parents=True, exist_ok=True)
        args.message_file.write_text(str(error))
        print(f"evaluate: {error}", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    with open(args.output_dir / OUTPUT_FILE, "w") as handle:
        json.dump(document, handle, indent=2)
    metrics = document["binary_classification_metrics"]
    rows = document["dataset"]["rows"]
    point = document["operating_point"]
    print(
        f"evaluate: {rows} rows, auc {metrics['auc']['value']}, f1 {metrics['f1']['value']} at "
        f"{args.threshold:g}, pr_auc {document['precision_recall_metrics']['pr_auc']['value']}; "
        f"{point['rule']}: threshold {point['threshold']:.6g}, test precision "
        f"{point['test']['precision']:.3f}, recall {point['test']['recall']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
