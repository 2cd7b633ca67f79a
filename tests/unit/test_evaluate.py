"""The Evaluate processing job (processing/evaluate.py): metrics against sklearn, format, bad inputs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn import metrics as sk

from processing import evaluate, preprocess
from stepwise.config import DEFAULT_HYPERPARAMETERS
from stepwise.containers import xgboost_algorithm

# The binary_classification_metrics keys of SageMaker Model Monitor's model-quality statistics
# (docs: "Model quality metrics and Amazon CloudWatch monitoring", binary classification example)
MODEL_MONITOR_KEYS = {
    "confusion_matrix",
    "recall",
    "precision",
    "accuracy",
    "recall_best_constant_classifier",
    "precision_best_constant_classifier",
    "accuracy_best_constant_classifier",
    "true_positive_rate",
    "true_negative_rate",
    "false_positive_rate",
    "false_negative_rate",
    "receiver_operating_characteristic_curve",
    "precision_recall_curve",
    "auc",
    "f0_5",
    "f1",
    "f2",
    "f0_5_best_constant_classifier",
    "f1_best_constant_classifier",
    "f2_best_constant_classifier",
}
FEATURES = ["age", "claim", "witnesses", "severity"]


def labels_and_scores(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced labels (about 10 % positive) and informative scores rounded to create ties."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.1).astype(float)
    scores = np.clip(0.3 * labels + rng.normal(0.3, 0.2, rows), 0, 1).round(2)
    return labels, scores


def write_fixture(root: Path, rows: int = 400, seed: int = 0) -> tuple[Path, Path, xgb.Booster, pd.DataFrame]:
    """A model.tar.gz trained on label-first data, a test.csv with header (label `fraud` first) and a
    validation/validation.csv of `rows` more rows in the built-in XGBoost format (no header, label first)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows * 3, len(FEATURES)))
    y = (x[:, 0] + x[:, 1] + rng.normal(size=rows * 3) > 1.5).astype(int)
    x_validation = rng.normal(size=(rows, len(FEATURES)))
    y_validation = (x_validation[:, 0] + x_validation[:, 1] + rng.normal(size=rows) > 1.5).astype(int)
    validation_dir = root / "validation"
    validation_dir.mkdir(parents=True)
    validation = pd.DataFrame(np.column_stack([y_validation, x_validation]))
    validation[0] = validation[0].astype(int)
    validation.to_csv(validation_dir / "validation.csv", header=False, index=False)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
        xgb.DMatrix(x[: rows * 2], label=y[: rows * 2]),
        20,
    )
    model_dir = root / "model"
    model_dir.mkdir(parents=True)
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
        raw = bytes(booster.save_raw(raw_format="json"))
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    test = pd.DataFrame(x[rows * 2 :], columns=FEATURES)
    test.insert(0, "fraud", y[rows * 2 :])
    test_dir = root / "test"
    test_dir.mkdir()
    test.to_csv(test_dir / "test.csv", index=False)
    return model_dir, test_dir, booster, test


def run(root: Path, model_dir: Path, test_dir: Path, *extra: str) -> int:
    return evaluate.main(
        [
            "--model-dir",
            str(model_dir),
            "--test-dir",
            str(test_dir),
            "--validation-dir",
            str(root / "validation"),
            "--output-dir",
            str(root / "evaluation"),
            "--message-file",
            str(root / "message"),
            *extra,
        ]
    )


# ---------------------------------------------------------------------------------------------------
# Metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn(seed: int) -> None:
    labels, scores = labels_and_scores(500, seed)
    result = evaluate.binary_classification_metrics(labels, scores, threshold=0.5)
    predicted = (scores >= 0.5).astype(int)

    value = {
        name: entry["value"] for name, entry in result.items() if isinstance(entry, dict) and "value" in entry
    }
    assert value["auc"] == pytest.approx(sk.roc_auc_score(labels, scores), abs=1e-12)
    assert value["precision"] == pytest.approx(sk.precision_score(labels, predicted, zero_division=0))
    assert value["recall"] == pytest.approx(sk.recall_score(labels, predicted))
    assert value["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert value["f1"] == pytest.approx(sk.f1_score(labels, predicted))
    assert value["f0_5"] == pytest.approx(sk.fbeta_score(labels, predicted, beta=0.5))
    assert value["f2"] == pytest.approx(sk.fbeta_score(labels, predicted, beta=2))
    (tn, fp), (fn, tp) = sk.confusion_matrix(labels, predicted)
    assert result["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert value["true_negative_rate"] == pytest.approx(tn / (tn + fp))
    assert value["false_negative_rate"] == pytest.approx(fn / (fn + tp))


def test_curves_match_sklearn_and_are_monotone_within_unit_interval() -> None:
    labels, scores = labels_and_scores(500, 3)
    result = evaluate.binary_classification_metrics(labels, scores)
    roc = result["receiver_operating_characteristic_curve"]
    fpr, tpr = np.array(roc["false_positive_rates"]), np.array(roc["true_positive_rates"])
    sk_fpr, sk_tpr, _ = sk.roc_curve(labels, scores, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)

    pr = result["precision_recall_curve"]
    precisions, recalls = np.array(pr["precisions"]), np.array(pr["recalls"])
    assert len(precisions) == len(recalls) == len(fpr)
    assert np.all(np.diff(recalls) >= 0) and recalls[-1] == 1.0
    assert np.all((precisions >= 0) & (precisions <= 1))
    sk_precision, sk_recall, _ = sk.precision_recall_curve(labels, scores)
    # sklearn lists the same points from the lowest threshold up, ending at (recall 0, precision 1)
    assert np.allclose(precisions, sk_precision[::-1]) and np.allclose(recalls, sk_recall[::-1])


def test_best_constant_classifier_is_always_positive_as_in_model_monitors_example() -> None:
    # Model Monitor's published example: 4 rows, 1 positive -> precision 0.25, recall 1, f1 0.4, f2 0.625
    result = evaluate.binary_classification_metrics(np.array([1, 0, 0, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert result["precision_best_constant_classifier"]["value"] == 0.25
    assert result["recall_best_constant_classifier"]["value"] == 1.0
    assert result["accuracy_best_constant_classifier"]["value"] == 0.25
    assert result["f1_best_constant_classifier"]["value"] == pytest.approx(0.4)
    assert result["f2_best_constant_classifier"]["value"] == pytest.approx(0.625)
    assert result["f0_5_best_constant_classifier"]["value"] == pytest.approx(0.29411764705882354)


def test_standard_deviation_is_nan_below_200_rows_and_a_spread_above() -> None:
    small = evaluate.binary_classification_metrics(*labels_and_scores(150, 0))
    assert small["auc"]["standard_deviation"] == "NaN"
    large = evaluate.binary_classification_metrics(*labels_and_scores(1000, 0))
    assert 0 < large["auc"]["standard_deviation"] < 0.1
    assert large["confusion_matrix"]["1"]["1"] + large["confusion_matrix"]["1"]["0"] > 0


def test_single_class_auc_is_reported_as_nan_not_a_crash() -> None:
    result = evaluate.binary_classification_metrics(np.zeros(10), np.linspace(0, 1, 10))
    assert result["auc"]["value"] == "NaN"
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pr_auc_is_sklearns_average_precision(seed: int) -> None:
    labels, scores = labels_and_scores(500, seed)  # scores rounded to 2 decimals: many ties

    section = evaluate.precision_recall_metrics(labels, scores)

    assert section["pr_auc"]["value"] == pytest.approx(sk.average_precision_score(labels, scores), abs=1e-12)
    # not the trapezoidal area under the curve, which differs on these ties
    precision, recall, _ = sk.precision_recall_curve(labels, scores)
    assert abs(section["pr_auc"]["value"] - sk.auc(recall, precision)) > 1e-6
    samples = evaluate.deviation_samples(labels.size)
    expected = np.std([sk.average_precision_score(labels[i], scores[i]) for i in samples])
    assert section["pr_auc"]["standard_deviation"] == pytest.approx(expected, abs=1e-12)


def test_pr_auc_deviation_is_nan_below_200_rows_and_value_nan_without_positives() -> None:
    assert (
        evaluate.precision_recall_metrics(*labels_and_scores(150, 0))["pr_auc"]["standard_deviation"] == "NaN"
    )
    section = evaluate.precision_recall_metrics(np.zeros(300), np.linspace(0, 1, 300))
    assert section["pr_auc"]["value"] == "NaN"
    json.dumps(section, allow_nan=False)


def best_f1_by_brute_force(labels: np.ndarray, scores: np.ndarray) -> float:
    """The highest of sklearn's precision_recall_curve thresholds whose F1 is the maximum."""
    precision, recall, thresholds = sk.precision_recall_curve(labels, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0)
    return float(thresholds[f1 >= f1.max() - 1e-12].max())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_best_f1_threshold_is_the_brute_force_one_over_sklearns_curve(seed: int) -> None:
    labels, scores = labels_and_scores(450, seed)

    threshold = evaluate.choose_threshold(evaluate.parse_operating_point("best-f1"), labels, scores)

    assert threshold == best_f1_by_brute_force(labels, scores)
    best = evaluate.threshold_metrics(labels, scores, threshold)["f1"]
    assert best == pytest.approx(sk.f1_score(labels, scores >= threshold))
    for other in np.unique(scores):  # no distinct score does better
        assert sk.f1_score(labels, scores >= other) <= best + 1e-12


def test_equal_f1_goes_to_the_highest_threshold() -> None:
    # 2 positives: flagging the top row gives F1 2/3, flagging all four rows gives F1 2/3 too
    labels = np.array([1, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert sk.f1_score(labels, scores >= 0.9) == pytest.approx(sk.f1_score(labels, scores >= 0.6))

    assert evaluate.choose_threshold(evaluate.parse_operating_point("best-f1"), labels, scores) == 0.9


@pytest.mark.parametrize("recall", [0.1, 0.25, 0.5, 0.8, 0.95, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_recall_rule_is_the_highest_threshold_reaching_that_recall(recall: float, seed: int) -> None:
    labels, scores = labels_and_scores(450, seed)
    _, recalls, thresholds = sk.precision_recall_curve(labels, scores)
    expected = thresholds[recalls[:-1] >= recall].max()

    threshold = evaluate.choose_threshold(evaluate.parse_operating_point(f"recall={recall}"), labels, scores)

    assert threshold == expected
    assert sk.recall_score(labels, scores >= threshold) >= recall
    higher = np.unique(scores)[np.unique(scores) > threshold]
    assert all(sk.recall_score(labels, scores >= t) < recall for t in higher)


def test_fixed_threshold_rule_ignores_the_data() -> None:
    labels, scores = labels_and_scores(100, 0)
    rule = evaluate.parse_operating_point("threshold=0.37")
    assert evaluate.choose_threshold(rule, labels, scores) == 0.37
    assert rule.description == "fixed threshold=0.37"
    assert evaluate.choose_threshold(rule, np.zeros(5), np.zeros(5)) == 0.37  # no positive: still defined


@pytest.mark.parametrize("text", ["best-f1", "recall=0.8"])
def test_equal_scores_give_the_one_threshold_that_flags_every_row(text: str) -> None:
    labels, scores = np.array([0, 1, 0, 0, 1, 0]), np.full(6, 0.42, dtype=np.float32)

    threshold = evaluate.choose_threshold(evaluate.parse_operating_point(text), labels, scores)

    assert threshold == pytest.approx(0.42) and threshold == float(scores[0])
    assert evaluate.threshold_metrics(labels, scores, threshold) == pytest.approx(
        {"precision": 2 / 6, "recall": 1.0, "f1": sk.f1_score(labels, np.ones(6))}
    )


@pytest.mark.parametrize("text", ["best-f1", "recall=0.5"])
def test_no_positive_in_validation_is_an_error_for_the_rules_that_need_one(text: str) -> None:
    with pytest.raises(evaluate.InputError, match="validation.csv has no positive row .* in 20 rows"):
        evaluate.choose_threshold(evaluate.parse_operating_point(text), np.zeros(20), np.linspace(0, 1, 20))


@pytest.mark.parametrize(
    ("text", "kind", "value", "description"),
    [
        ("best-f1", "best-f1", None, "best-f1 on validation"),
        ("recall=0.9", "recall", 0.9, "recall>=0.9 on validation"),
        ("recall=1", "recall", 1.0, "recall>=1.0 on validation"),
        ("threshold=0", "threshold", 0.0, "fixed threshold=0.0"),
        ("threshold=.65", "threshold", 0.65, "fixed threshold=0.65"),
    ],
)
def test_operating_point_rules_parse(text: str, kind: str, value, description: str) -> None:
    rule = evaluate.parse_operating_point(text)
    assert (rule.kind, rule.value, rule.description) == (kind, value, description)


# ---------------------------------------------------------------------------------------------------
# The job


def test_job_writes_evaluation_json_in_model_quality_format(tmp_path: Path) -> None:
    model_dir, test_dir, booster, test = write_fixture(tmp_path)
    assert run(tmp_path, model_dir, test_dir) == 0

    document = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    metrics = document["binary_classification_metrics"]
    assert set(metrics) == MODEL_MONITOR_KEYS
    for name in MODEL_MONITOR_KEYS - {"confusion_matrix", "receiver_operating_characteristic_curve"}:
        if name != "precision_recall_curve":
            assert set(metrics[name]) == {"value", "standard_deviation"}, name
    labels = test["fraud"].to_numpy()
    scores = booster.predict(xgb.DMatrix(test[FEATURES].to_numpy()))
    assert metrics["auc"]["value"] == pytest.approx(sk.roc_auc_score(labels, scores))
    assert metrics["f1"]["value"] == pytest.approx(sk.f1_score(labels, scores >= 0.5))
    assert document["dataset"] == {"rows": 400, "positives": int(labels.sum()), "threshold": 0.5}
    assert not (tmp_path / "message").exists()


def test_threshold_option_changes_the_decision(tmp_path: Path) -> None:
    model_dir, test_dir, booster, test = write_fixture(tmp_path)
    assert run(tmp_path, model_dir, test_dir, "--threshold", "0.2") == 0
    metrics = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())[
        "binary_classification_metrics"
    ]
    scores = booster.predict(xgb.DMatrix(test[FEATURES].to_numpy()))
    assert metrics["recall"]["value"] == pytest.approx(sk.recall_score(test["fraud"], scores >= 0.2))
    assert metrics["recall"]["value"] > sk.recall_score(test["fraud"], scores >= 0.5)


def _break_missing_model(model_dir: Path, test_dir: Path) -> None:
    (model_dir / "model.tar.gz").unlink()


def _break_missing_test(model_dir: Path, test_dir: Path) -> None:
    (test_dir / "test.csv").unlink()


def _break_label(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir / "test.csv").rename(columns={"fraud": "is_fraud"})
    frame.to_csv(test_dir / "test.csv", index=False)


def _break_feature_count(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir / "test.csv").drop(columns=["severity"])
    frame.to_csv(test_dir / "test.csv", index=False)


def _break_archive_content(model_dir: Path, test_dir: Path) -> None:
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        tar.addfile(info, io.BytesIO(b""))


def _break_label_values(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir / "test.csv")
    frame.loc[3, "fraud"] = 2
    frame.to_csv(test_dir / "test.csv", index=False)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_break_missing_model, "No model.tar.gz in"),
        (_break_missing_test, "No test.csv in"),
        (_break_label, "has no 'fraud' column"),
        (_break_feature_count, "has 3 feature columns but the model was trained on 4"),
        (_break_archive_content, "has no 'xgboost-model' at its root"),
        (_break_label_values, "data row 4 has 2"),
    ],
)
def test_bad_input_writes_the_reason_to_the_message_file_and_exits_1(
    tmp_path: Path, breakage, message
) -> None:
    model_dir, test_dir, _, _ = write_fixture(tmp_path)
    breakage(model_dir, test_dir)
    assert run(tmp_path, model_dir, test_dir) == 1
    assert message in (tmp_path / "message").read_text()
    assert not (tmp_path / "evaluation" / "evaluation.json").exists()


def _break_missing_validation(model_dir: Path, test_dir: Path) -> None:
    (test_dir.parent / "validation" / "validation.csv").unlink()
    (test_dir.parent / "validation").rmdir()


def _break_validation_header(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir.parent / "validation" / "validation.csv", header=None)
    frame.to_csv(test_dir.parent / "validation" / "validation.csv", header=["fraud", *FEATURES], index=False)


def _break_validation_feature_count(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir.parent / "validation" / "validation.csv", header=None)
    frame.drop(columns=[4]).to_csv(
        test_dir.parent / "validation" / "validation.csv", header=False, index=False
    )


def _break_validation_label(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir.parent / "validation" / "validation.csv", header=None)
    frame.loc[6, 0] = 3
    frame.to_csv(test_dir.parent / "validation" / "validation.csv", header=False, index=False)


def _break_validation_positives(model_dir: Path, test_dir: Path) -> None:
    frame = pd.read_csv(test_dir.parent / "validation" / "validation.csv", header=None)
    frame[0] = 0
    frame.to_csv(test_dir.parent / "validation" / "validation.csv", header=False, index=False)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_break_missing_validation, "No validation.csv in"),
        (_break_validation_header, "are not numeric. The validation split is in the built-in XGBoost format"),
        (
            _break_validation_feature_count,
            "validation.csv has 3 feature columns but the model was trained on 4",
        ),
        (_break_validation_label, "line 7 has 3"),
        (_break_validation_positives, "validation.csv has no positive row (label 1) in 400 rows"),
    ],
)
def test_bad_validation_split_writes_the_reason_and_exits_1(tmp_path: Path, breakage, message) -> None:
    model_dir, test_dir, _, _ = write_fixture(tmp_path)
    breakage(model_dir, test_dir)
    assert run(tmp_path, model_dir, test_dir) == 1
    assert message in (tmp_path / "message").read_text()
    assert not (tmp_path / "evaluation" / "evaluation.json").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("best_f1", "--operating-point 'best_f1' is not a rule; use best-f1 (the default"),
        ("f1", "is not a rule; use best-f1"),
        ("", "--operating-point '' is not a rule"),
        ("precision=0.5", "is not a rule; use best-f1"),
        ("recall=0", "recall needs a number with 0 < x <= 1"),
        ("recall=1.5", "recall needs a number with 0 < x <= 1"),
        ("recall=", "recall needs a number with 0 < x <= 1"),
        ("recall=nan", "recall needs a number with 0 < x <= 1"),
        ("threshold=-0.1", "threshold needs a number with 0 <= t <= 1"),
        ("threshold=inf", "threshold needs a number with 0 <= t <= 1"),
    ],
)
def test_unknown_operating_point_rules_are_rejected_with_the_accepted_forms(
    tmp_path: Path, text: str, message: str
) -> None:
    model_dir, test_dir, _, _ = write_fixture(tmp_path)
    assert run(tmp_path, model_dir, test_dir, "--operating-point", text) == 1
    assert message in (tmp_path / "message").read_text()
    assert not (tmp_path / "evaluation" / "evaluation.json").exists()


def scores_of(booster: xgb.Booster, root: Path) -> tuple[np.ndarray, np.ndarray]:
    validation = np.loadtxt(root / "validation" / "validation.csv", delimiter=",")
    return validation[:, 0], booster.predict(xgb.DMatrix(validation[:, 1:]))


def test_job_chooses_the_best_f1_threshold_on_validation_and_reports_it_on_test(tmp_path: Path) -> None:
    model_dir, test_dir, booster, test = write_fixture(tmp_path)
    assert run(tmp_path, model_dir, test_dir) == 0

    document = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert list(document) == [
        "binary_classification_metrics",
        "precision_recall_metrics",
        "operating_point",
        "dataset",
    ]
    labels = test["fraud"].to_numpy()
    scores = booster.predict(xgb.DMatrix(test[FEATURES].to_numpy()))
    assert document["precision_recall_metrics"]["pr_auc"]["value"] == pytest.approx(
        sk.average_precision_score(labels, scores), abs=1e-12
    )

    point = document["operating_point"]
    validation_labels, validation_scores = scores_of(booster, tmp_path)
    threshold = best_f1_by_brute_force(validation_labels, validation_scores)
    assert point["rule"] == "best-f1 on validation"
    assert point["threshold"] == threshold
    flagged = validation_scores >= threshold
    assert point["validation"] == pytest.approx(
        {
            "rows": 400,
            "positives": int(validation_labels.sum()),
            "precision": sk.precision_score(validation_labels, flagged),
            "recall": sk.recall_score(validation_labels, flagged),
            "f1": sk.f1_score(validation_labels, flagged),
        }
    )
    flagged = scores >= threshold
    (tn, fp), (fn, tp) = sk.confusion_matrix(labels, flagged)
    assert point["test"].pop("confusion_matrix") == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert point["test"] == pytest.approx(
        {
            "precision": sk.precision_score(labels, flagged),
            "recall": sk.recall_score(labels, flagged),
            "f1": sk.f1_score(labels, flagged),
        }
    )
    assert point["test"]["precision"] != document["binary_classification_metrics"]["precision"]["value"]


@pytest.mark.parametrize(
    ("text", "rule"),
    [("recall=0.9", "recall>=0.9 on validation"), ("threshold=0.3", "fixed threshold=0.3")],
)
def test_other_rules_through_the_job_leave_the_model_monitor_section_alone(
    tmp_path: Path, text: str, rule: str
) -> None:
    model_dir, test_dir, booster, _ = write_fixture(tmp_path)
    assert run(tmp_path, model_dir, test_dir) == 0
    default = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert run(tmp_path, model_dir, test_dir, "--operating-point", text) == 0
    document = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())

    point = document["operating_point"]
    assert point["rule"] == rule
    validation_labels, validation_scores = scores_of(booster, tmp_path)
    if text.startswith("recall"):
        assert point["validation"]["recall"] >= 0.9
        assert point["threshold"] == evaluate.choose_threshold(
            evaluate.parse_operating_point(text), validation_labels, validation_scores
        )
    else:
        assert point["threshold"] == 0.3
    assert point["threshold"] != default["operating_point"]["threshold"]
    assert document["binary_classification_metrics"] == default["binary_classification_metrics"]


# ---------------------------------------------------------------------------------------------------
# The tutorial's data: preprocess -> built-in XGBoost training (the emulator) -> evaluate, as the pipeline


def test_on_the_tutorial_data_the_chosen_threshold_is_more_precise_than_0_5(
    tmp_path: Path, tutorial_data: Path
) -> None:
    splits = tmp_path / "preprocess"
    assert preprocess.main(["--input-dir", str(tutorial_data), "--output-dir", str(splits)]) == 0
    root = tmp_path / "opt_ml"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({**DEFAULT_HYPERPARAMETERS, "nthread": "1"})
    )
    (root / "input" / "config" / "inputdataconfig.json").write_text(
        json.dumps(
            {c: {"ContentType": "text/csv", "TrainingInputMode": "File"} for c in ("train", "validation")}
        )
    )
    for channel in ("train", "validation"):
        (root / "input" / "data" / channel).mkdir(parents=True)
        (root / "input" / "data" / channel / f"{channel}.csv").write_bytes(
            (splits / channel / f"{channel}.csv").read_bytes()
        )
    assert xgboost_algorithm.main(["--root", str(root)]) == 0
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as tar:
        tar.add(root / "model" / "xgboost-model", arcname="xgboost-model")
    (tmp_path / "validation").symlink_to(splits / "validation")

    assert run(tmp_path, model_dir, splits / "test") == 0

    document = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    booster = evaluate.load_model(model_dir)
    validation_labels, validation_scores = scores_of(booster, splits)
    point = document["operating_point"]
    assert point["threshold"] == best_f1_by_brute_force(validation_labels, validation_scores)
    at_half = document["binary_classification_metrics"]
    # on validation the rule can only improve F1 on 0.5 (a threshold just above 0.5 flags the same rows)
    assert point["validation"]["f1"] >= sk.f1_score(validation_labels, validation_scores >= 0.5)
    # on the test split: far fewer false alarms per fraud caught (0.13 against 0.08 at 0.5, see README)
    assert point["test"]["precision"] >= 1.5 * at_half["precision"]["value"]
    labels, features, names = evaluate.load_test_set(splits / "test")
    scores = evaluate.predict(booster, features, names)
    pr_auc = document["precision_recall_metrics"]["pr_auc"]["value"]
    assert pr_auc == pytest.approx(sk.average_precision_score(labels, scores), abs=1e-12)
    assert pr_auc > 2 * labels.mean()  # a random ranking's average precision is the fraud rate
