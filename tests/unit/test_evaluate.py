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

from processing import evaluate

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
    """A model.tar.gz trained on label-first data, and a test.csv with header (label `fraud` first)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows * 3, len(FEATURES)))
    y = (x[:, 0] + x[:, 1] + rng.normal(size=rows * 3) > 1.5).astype(int)
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
