"""The bias and explainability job (processing/bias_explainability.py), which replaces both Clarify jobs.

smclarify, Clarify's open-source bias metrics, is the oracle: every metric value must equal what it
computes, called as Clarify's container calls it (tests/unit/smclarify_oracle.py), on the tutorial's
data, on generated data and on small crafted data that reaches the zero-denominator and empty-group
cases. SHAP values must add up to the model's log-odds and agree with the emulator's TreeSHAP.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from smclarify_oracle import OracleRefused, bias_analysis
from xgb_models import model_tar_gz

from processing import bias_explainability as job
from processing import preprocess
from processing.preprocess import LABEL, feature_names
from stepwise.config import DEFAULT_HYPERPARAMETERS
from stepwise.containers import model_archive, xgboost_algorithm, xgboost_serving
from stepwise.data import generate_dataset

FACET = "customer_gender_female"
PRE = {"CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD"}
POST = {"AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "GE", "RD", "SD", "TE"}


# ---------------------------------------------------------------------------------------------------
# Helpers: a pipeline's model and test split, the job, and the oracle


def pipeline_run(raw: Path, work: Path) -> tuple[Path, Path]:
    """Preprocess ``raw`` and train the built-in XGBoost emulator on it, as the pipeline does:
    (folder holding model.tar.gz, folder holding test.csv)."""
    splits = work / "preprocess"
    assert preprocess.main(["--input-dir", str(raw), "--output-dir", str(splits)]) == 0
    booster = xgboost_algorithm.train(
        {**DEFAULT_HYPERPARAMETERS, "nthread": "1"},
        xgboost_algorithm.load_channel(splits / "train"),
        xgboost_algorithm.load_channel(splits / "validation", channel="validation"),
        log=lambda line: None,
    )
    model_dir = work / "model"
    model_dir.mkdir()
    (model_dir / "model.tar.gz").write_bytes(model_tar_gz(booster))
    return model_dir, splits / "test"


def run_job(model_dir: Path, data_dir: Path, out: Path, *options: str) -> tuple[int, Path]:
    """Run the job in-process: (exit code, output folder). The message file goes to out/message."""
    code = job.main(
        [
            "--model-dir",
            str(model_dir),
            "--data-dir",
            str(data_dir),
            "--output-dir",
            str(out / "output"),
            "--message-file",
            str(out / "message"),
            *options,
        ]
    )
    return code, out / "output"


def strict_json(path: Path) -> dict:
    """The file as JSON, refusing NaN and Infinity (which are not JSON)."""

    def refuse(constant: str):
        raise ValueError(f"{path} holds {constant}, which is not valid JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def metrics_of(section: dict, facet: str = FACET) -> dict[str, dict]:
    [facet_report] = section["facets"][facet]
    return {metric["name"]: metric for metric in facet_report["metrics"]}


class TrainedModel:
    """The trained model, as the XGBoost endpoint serves it (model.tar.gz -> xgboost-model)."""

    def __init__(self, artifact: Path) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            model_archive.extract(artifact, Path(scratch))
            self.booster = xgboost_serving.load_model(Path(scratch))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(xgb.DMatrix(features.to_numpy(dtype=float)))


class FixedModel:
    """Stands for the model behind Clarify's endpoint: returns the probabilities it is given."""

    def __init__(self, probabilities: np.ndarray) -> None:
        self.probabilities = probabilities

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.probabilities


def smclarify_analysis(
    dataset: pd.DataFrame,
    model,
    *,
    facet: str = FACET,
    facet_value: int = 1,
    favourable: int = 0,
    threshold: float = 0.5,
    group: str | None = None,
) -> dict:
    """What the Clarify bias job computes (smclarify) for the same question."""
    features = dataset.drop(columns=[LABEL])
    return bias_analysis(
        dataset,
        model.predict(features),
        label=LABEL,
        facet=facet,
        facet_value=facet_value,
        favourable=favourable,
        threshold=threshold,
        group=group,
    )


def assert_same_metrics(ours: dict, oracle: dict, facet: str = FACET) -> None:
    """Every metric of both stages: the same names in the same order, values to 1e-9, the same errors."""
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        assert ours[stage]["label"] == oracle[stage]["label"]
        assert ours[stage]["label_value_or_threshold"] == oracle[stage]["label_value_or_threshold"]
        [mine], [theirs] = ours[stage]["facets"][facet], oracle[stage]["facets"][facet]
        assert mine["value_or_threshold"] == theirs["value_or_threshold"]
        assert [m["name"] for m in mine["metrics"]] == [m["name"] for m in theirs["metrics"]]
        for got, want in zip(mine["metrics"], theirs["metrics"], strict=True):
            assert got["description"] == want["description"]
            assert got.get("error") == want.get("error"), got["name"]
            if isinstance(want["value"], float | int) and not isinstance(want["value"], bool):
                assert got["value"] == pytest.approx(want["value"], rel=1e-9, abs=1e-12), got["name"]
            else:  # None (with an error) or Clarify's "Infinity" / "-Infinity"
                assert got["value"] == want["value"], got["name"]


def compare_with_smclarify(model_dir: Path, data_dir: Path, out: Path, **question) -> dict:
    """Run the job and the oracle on the same model and data; return the job's bias analysis."""
    options = {
        "facet": "--facet",
        "facet_value": "--facet-value",
        "favourable": "--favourable-label",
        "threshold": "--probability-threshold",
        "group": "--group-variable",
    }
    argv = [item for key, value in question.items() for item in (options[key], str(value))]
    code, output = run_job(model_dir, data_dir, out, *argv)
    assert code == 0, (out / "message").read_text()
    ours = strict_json(output / "bias" / "analysis.json")

    dataset = pd.read_csv(data_dir / "test.csv")
    model = TrainedModel(model_dir / "model.tar.gz")
    assert_same_metrics(ours, smclarify_analysis(dataset, model, **question), question.get("facet", FACET))
    return ours


# ---------------------------------------------------------------------------------------------------
# Fixtures: one tutorial run and generated runs, shared by the module


@pytest.fixture(scope="module")
def tutorial_run(tutorial_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return pipeline_run(tutorial_data, tmp_path_factory.mktemp("tutorial"))


@pytest.fixture(scope="module")
def tutorial_output(tutorial_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The job's outputs on the tutorial run, default options, every row's SHAP values kept."""
    code, output = run_job(*tutorial_run, tmp_path_factory.mktemp("job"), "--shap-sample-rows", "100000")
    assert code == 0
    return output


@pytest.fixture(scope="module", params=[(1500, 3), (3000, 11)], ids=["1500-rows-seed-3", "3000-rows-seed-11"])
def generated_run(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    rows, seed = request.param
    work = tmp_path_factory.mktemp(f"generated-{rows}-{seed}")
    generate_dataset(rows, seed, work / "raw")
    return pipeline_run(work / "raw", work)


# ---------------------------------------------------------------------------------------------------
# Bias metrics against smclarify


def test_tutorial_metrics_equal_smclarifys(tutorial_run, tmp_path: Path) -> None:
    ours = compare_with_smclarify(*tutorial_run, tmp_path)

    pre = metrics_of(ours["pre_training_bias_metrics"])
    post = metrics_of(ours["post_training_bias_metrics"])
    assert set(pre) == PRE and set(post) == POST
    assert all(isinstance(pre[name]["value"], float) for name in PRE - {"CDDL"})
    assert "Group variable" in pre["CDDL"]["error"] and pre["CDDL"]["value"] is None


def test_generated_metrics_equal_smclarifys(generated_run, tmp_path: Path) -> None:
    compare_with_smclarify(*generated_run, tmp_path)


def test_other_questions_equal_smclarifys(generated_run, tmp_path: Path) -> None:
    # fraud as the favourable outcome, men as the sensitive group, another threshold, and subgroups:
    # CDDL and CDDPL are computed once a group variable is given
    ours = compare_with_smclarify(
        *generated_run, tmp_path, facet_value=0, favourable=1, threshold=0.3, group="incident_severity"
    )
    assert isinstance(metrics_of(ours["pre_training_bias_metrics"])["CDDL"]["value"], float)
    assert isinstance(metrics_of(ours["post_training_bias_metrics"])["CDDPL"]["value"], float)


def test_another_facet_equals_smclarifys(tutorial_run, tmp_path: Path) -> None:
    compare_with_smclarify(*tutorial_run, tmp_path, facet="policy_state_ca", threshold=0.7)


# Small crafted data: (rows in d, rows in a, favourable-label share in d, in a, favourable-prediction
# share in d, in a). Shares of 0 and 1 make the zero denominators, empty outcome sets and infinities.
CRAFTED = [
    (20, 30, 0.5, 0.5, 0.5, 0.5),
    (20, 30, 1.0, 0.5, 0.5, 0.5),  # d has no unfavourable label: distributions share one outcome only
    (20, 30, 1.0, 0.0, 0.5, 0.5),  # no outcome in common: KL, JS, LP, TVD, KS cannot be computed
    (20, 30, 0.5, 0.5, 0.5, 0.0),  # the others never predicted favourable: DI, DCA infinite
    (20, 30, 0.5, 0.5, 1.0, 0.0),
    (20, 30, 0.0, 0.0, 1.0, 1.0),
    (20, 30, 1.0, 0.5, 0.5, 0.5),  # d has no false positive: TE infinite
    (20, 30, 1.0, 1.0, 0.0, 0.5),  # nobody has one: TE is 0
    (44, 6, 0.5, 0.5, 0.5, 0.5),  # 9 or fewer others: FlipTest uses one neighbour
    (0, 50, 0.5, 0.5, 0.5, 0.5),  # nobody in the sensitive group
    (50, 0, 0.5, 0.5, 0.5, 0.5),  # everybody in it
]


def crafted_dataset(case: tuple, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """(test.csv-like frame: label, facet, 20 continuous features; probabilities of fraud)."""
    n_d, n_a, label_d, label_a, predicted_d, predicted_a = case
    rng = np.random.default_rng(seed)

    def favourable(rows: int, share: float) -> np.ndarray:
        flags = np.zeros(rows, dtype=bool)
        flags[rng.permutation(rows)[: round(rows * share)]] = True
        return flags

    facet = np.r_[np.ones(n_d, dtype=int), np.zeros(n_a, dtype=int)]
    label_favourable = np.r_[favourable(n_d, label_d), favourable(n_a, label_a)]
    predicted_favourable = np.r_[favourable(n_d, predicted_d), favourable(n_a, predicted_a)]
    frame = pd.DataFrame(rng.normal(size=(n_d + n_a, 20)), columns=[f"x{i}" for i in range(20)])
    frame.insert(0, FACET, facet)
    frame.insert(0, LABEL, np.where(label_favourable, 0, 1))
    # a probability equal to the threshold (0.5) is not above it: the prediction is favourable
    probabilities = np.where(predicted_favourable, rng.choice([0.2, 0.5], n_d + n_a), 0.8).astype(np.float32)
    return frame, probabilities


def job_metrics(frame: pd.DataFrame, probabilities: np.ndarray) -> dict:
    """The job's bias analysis for a frame, with the model's probabilities given."""
    features = frame.drop(columns=[LABEL])
    facet_index = list(features.columns).index(FACET)
    values = features.to_numpy(dtype=float)
    data = job.BiasData(
        sensitive=values[:, facet_index] == 1,
        favourable=frame[LABEL].to_numpy() == 0,
        predicted=job.predicted_favourable(probabilities, 0.5, 0),
        others=np.delete(values, facet_index, axis=1),
        group=None,
    )
    pre = job.compute_metrics(job.PRE_TRAINING, data)
    post = job.compute_metrics(job.POST_TRAINING, data)
    return json.loads(json.dumps(job.bias_analysis(pre, post, LABEL, FACET, 1, 0), allow_nan=False))


@pytest.mark.parametrize("case", CRAFTED, ids=[str(case) for case in CRAFTED])
def test_edge_cases_equal_smclarifys(case: tuple) -> None:
    frame, probabilities = crafted_dataset(case, seed=CRAFTED.index(case))

    ours = job_metrics(frame, probabilities)

    assert_same_metrics(ours, smclarify_analysis(frame, FixedModel(probabilities)))


def test_edge_cases_give_null_or_infinity_with_clarifys_reasons() -> None:
    empty_group = job_metrics(*crafted_dataset((0, 50, 0.5, 0.5, 0.5, 0.5), seed=0))
    pre = metrics_of(empty_group["pre_training_bias_metrics"])
    assert pre["CI"] == {
        "name": "CI",
        "description": "Class Imbalance (CI)",
        "value": None,
        "error": "CI: facet set is empty. Check that x[facet] has non-zero length.",
    }
    post = metrics_of(empty_group["post_training_bias_metrics"])
    assert all(post[name]["value"] is None for name in POST - {"GE"})
    assert isinstance(post["GE"]["value"], float)  # GE does not compare groups

    # d has no unfavourable label, so no false positive, but false negatives: FN / FP is infinite
    no_false_positive = job_metrics(*crafted_dataset((20, 30, 1.0, 0.5, 0.5, 0.5), seed=0))
    assert metrics_of(no_false_positive["post_training_bias_metrics"])["TE"]["value"] == "Infinity"


def test_no_favourable_prediction_at_all_is_computed_where_smclarify_refuses() -> None:
    frame, probabilities = crafted_dataset((20, 30, 0.5, 0.2, 0.0, 0.0), seed=0)
    with pytest.raises(OracleRefused, match="No Label values are present in the predicted"):
        smclarify_analysis(frame, FixedModel(probabilities))

    post = metrics_of(job_metrics(frame, probabilities)["post_training_bias_metrics"])

    assert post["DPPL"]["value"] == 0.0 and post["DI"]["value"] == 0.0  # 0/0 is 0: parity
    assert post["AD"]["value"] == pytest.approx(24 / 30 - 10 / 20)  # accuracy: the unfavourable share


def exact_votes(reference: np.ndarray, favourable: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The neighbour rule spelled out: exact distances, the earlier row first among equal ones."""
    distances = np.square(queries[:, None, :] - reference[None, :, :]).sum(axis=2)
    return favourable[np.argsort(distances, axis=1, kind="stable")[:, :k]].sum(axis=1)


@pytest.mark.parametrize("kind", ["continuous", "ties"])
def test_flip_test_neighbours_are_the_exact_nearest(kind: str, monkeypatch) -> None:
    rng = np.random.default_rng(5)
    if kind == "continuous":  # magnitudes like the claims' (amounts, zip codes): rounding matters
        reference, queries = (
            rng.normal(50_000, 20_000, size=(300, 30)),
            rng.normal(50_000, 20_000, size=(90, 30)),
        )
    else:  # 0/1 columns: many equal distances
        reference, queries = rng.integers(0, 2, size=(300, 30)), rng.integers(0, 2, size=(90, 30))
    favourable = rng.random(300) < 0.5
    monkeypatch.setattr(job, "FT_BLOCK_ELEMENTS", 300 * 7)  # several blocks of queries

    for k in (1, 5):
        votes = job.nearest_favourable_counts(reference.astype(float), favourable, queries.astype(float), k)
        np.testing.assert_array_equal(votes, exact_votes(reference, favourable, queries, k))


def test_flip_test_takes_the_earlier_of_equally_near_rows() -> None:
    # six reference rows at the same distance: the first five vote, two of them favourable
    reference = np.array([[0.0]] * 6 + [[9.0]])
    favourable = np.array([False, False, False, True, True, True, True])

    assert job.nearest_favourable_counts(reference, favourable, np.array([[1.0]]), 5).tolist() == [2]


def test_a_facet_value_nobody_has_completes_with_null_metrics_and_a_warning(
    tutorial_run, tmp_path: Path, capsys
) -> None:
    code, output = run_job(*tutorial_run, tmp_path, "--facet-value", "7")

    assert code == 0
    analysis = strict_json(output / "bias" / "analysis.json")
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        assert metrics_of(analysis[stage])["DPPL" if stage.startswith("post") else "DPL"]["error"]
        assert analysis[stage]["facets"][FACET][0]["value_or_threshold"] == "7"
    assert "warning: no row of" in capsys.readouterr().err
    assert "| sensitive (d) | 0 |" in (output / "report.md").read_text()


# ---------------------------------------------------------------------------------------------------
# SHAP


def shap_outputs(output: Path) -> tuple[dict, pd.DataFrame]:
    explanation = strict_json(output / "explainability" / "analysis.json")
    return (
        explanation["explanations"]["kernel_shap"]["label0"],
        pd.read_csv(output / "explainability" / "explanations_shap" / "out.csv"),
    )


def test_shap_rows_add_up_to_the_log_odds_and_global_values_are_their_mean_abs(
    tutorial_run, tutorial_output: Path
) -> None:
    shap, local = shap_outputs(tutorial_output)
    model_dir, data_dir = tutorial_run
    test = pd.read_csv(data_dir / "test.csv")
    assert local["test_row"].tolist() == list(range(len(test)))  # every row was asked for
    values = local.drop(columns=["test_row"])
    assert list(values.columns) == [f"{name}_label0" for name in feature_names()]

    booster = TrainedModel(model_dir / "model.tar.gz").booster
    margins = booster.predict(
        xgb.DMatrix(test.drop(columns=[LABEL]).to_numpy(dtype=float)), output_margin=True
    )
    np.testing.assert_allclose(values.sum(axis=1) + shap["expected_value"], margins, atol=1e-5)

    assert list(shap["global_shap_values"]) == feature_names()
    mean_abs = values.abs().mean(axis=0).to_numpy()
    np.testing.assert_allclose(list(shap["global_shap_values"].values()), mean_abs, rtol=1e-12, atol=0)


def test_shap_values_are_xgboosts_exact_treeshap(tutorial_run, tutorial_output: Path) -> None:
    shap, local = shap_outputs(tutorial_output)
    model_dir, data_dir = tutorial_run
    features = pd.read_csv(data_dir / "test.csv").drop(columns=[LABEL]).to_numpy(dtype=float)

    contributions = TrainedModel(model_dir / "model.tar.gz").booster.predict(
        xgb.DMatrix(features), pred_contribs=True
    )

    assert shap["expected_value"] == pytest.approx(float(contributions[0, -1]), abs=1e-7)
    np.testing.assert_allclose(local.drop(columns=["test_row"]).to_numpy(), contributions[:, :-1], atol=1e-7)


def test_per_row_values_are_a_deterministic_sample_in_file_order(tutorial_run, tmp_path: Path) -> None:
    first = run_job(*tutorial_run, tmp_path / "a", "--shap-sample-rows", "30")[1]
    again = run_job(*tutorial_run, tmp_path / "b", "--shap-sample-rows", "30")[1]
    other = run_job(*tutorial_run, tmp_path / "c", "--shap-sample-rows", "30", "--shap-seed", "7")[1]
    (_, sample), (_, same), (_, different) = map(shap_outputs, (first, again, other))

    assert len(sample) == 30 and sample["test_row"].is_monotonic_increasing
    assert sample["test_row"].nunique() == 30 and sample["test_row"].max() < 500
    pd.testing.assert_frame_equal(sample, same)
    assert sample["test_row"].tolist() != different["test_row"].tolist()
    # the global values do not depend on the sample: they are over every row
    assert shap_outputs(first)[0] == shap_outputs(other)[0]


# ---------------------------------------------------------------------------------------------------
# Output layout and the report


def test_bias_analysis_has_clarifys_layout(tutorial_output: Path) -> None:
    analysis = strict_json(tutorial_output / "bias" / "analysis.json")

    assert list(analysis) == ["version", "pre_training_bias_metrics", "post_training_bias_metrics"]
    for stage, names in (("pre_training_bias_metrics", PRE), ("post_training_bias_metrics", POST)):
        section = analysis[stage]
        assert list(section) == ["label", "facets", "label_value_or_threshold"]
        assert section["label"] == "fraud" and section["label_value_or_threshold"] == "0"
        [facet_report] = section["facets"][FACET]
        assert facet_report["value_or_threshold"] == "1"
        metrics = facet_report["metrics"]
        assert [metric["name"] for metric in metrics] == sorted(names)
        for metric in metrics:
            assert set(metric) in (
                {"name", "description", "value"},
                {"name", "description", "value", "error"},
            )
            assert metric["description"].endswith(f"({metric['name']})")


def test_report_lists_every_metric_and_the_top_features(tutorial_output: Path) -> None:
    report = (tutorial_output / "report.md").read_text()
    shap, _ = shap_outputs(tutorial_output)
    analysis = strict_json(tutorial_output / "bias" / "analysis.json")

    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for metric in metrics_of(analysis[stage]).values():
            [line] = [line for line in report.splitlines() if line.startswith(f"| {metric['description']} |")]
            value = metric["value"]
            shown = "n/a" if value is None else value if isinstance(value, str) else f"{value:.4g}"
            assert f"| {shown}" in line
            assert len(line.split("|")[3].strip()) > 20  # a meaning
    top = max(shap["global_shap_values"], key=shap["global_shap_values"].get)
    assert f"| 1 | {top} |" in report
    assert "| sensitive (d) |" in report and "customer_gender_female" in report


# ---------------------------------------------------------------------------------------------------
# The container's file contract: a real process, the code folder as SageMaker mounts it


def container_root(tmp_path: Path, repo: Path, model_dir: Path, data_dir: Path) -> Path:
    """An /opt/ml with processing/ as the code input, the model and the test split."""
    root = tmp_path / "opt" / "ml"
    code = root / "processing" / "input" / "code"
    code.mkdir(parents=True)
    for script in (repo / "processing").glob("*.py"):
        shutil.copy(script, code / script.name)
    shutil.copytree(model_dir, root / "processing" / "model")
    shutil.copytree(data_dir, root / "processing" / "test")
    return root


def run_container(root: Path, *options: str) -> subprocess.CompletedProcess:
    """python3 /opt/ml/processing/input/code/bias_explainability.py, with /opt/ml standing at ``root``."""
    paths = {
        "--model-dir": "processing/model",
        "--data-dir": "processing/test",
        "--output-dir": "processing/output",
        "--message-file": "output/message",
    }
    argv = [item for option, path in paths.items() for item in (option, str(root / path))]
    return subprocess.run(
        [sys.executable, str(root / "processing/input/code/bias_explainability.py"), *argv, *options],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )


def test_container_run_writes_every_output(tutorial_run, repo: Path, tmp_path: Path) -> None:
    root = container_root(tmp_path, repo, *tutorial_run)

    done = run_container(root)

    assert done.returncode == 0, done.stderr
    output = root / "processing" / "output"
    assert sorted(str(path.relative_to(output)) for path in output.rglob("*") if path.is_file()) == [
        "bias/analysis.json",
        "explainability/analysis.json",
        "explainability/explanations_shap/out.csv",
        "report.md",
    ]
    assert len(pd.read_csv(output / "explainability/explanations_shap/out.csv")) == 100  # the default
    assert not (root / "output" / "message").exists()
    assert "DPPL" in done.stdout


def test_container_defaults_are_the_container_paths() -> None:
    args = job.parse_args([])
    assert (args.model_dir, args.data_dir, args.output_dir, args.message_file) == (
        Path("/opt/ml/processing/model"),
        Path("/opt/ml/processing/test"),
        Path("/opt/ml/processing/output"),
        Path("/opt/ml/output/message"),
    )
    assert (args.label, args.facet, args.facet_value, args.favourable_label) == (LABEL, FACET, 1, 0)
    assert args.probability_threshold == 0.5 and args.shap_sample_rows == 100


def test_container_failure_leaves_the_reason_and_no_output(tutorial_run, repo: Path, tmp_path: Path) -> None:
    root = container_root(tmp_path, repo, *tutorial_run)
    (root / "processing" / "model" / "model.tar.gz").unlink()

    done = run_container(root)

    assert done.returncode == 1
    message = (root / "output" / "message").read_text()
    assert message.startswith(f"No model.tar.gz in {root / 'processing' / 'model'}")
    assert message.count("\n") == 1 and message.strip() in done.stderr
    assert not (root / "processing" / "output").exists()


# ---------------------------------------------------------------------------------------------------
# Bad input: exit code 1, a one-line reason naming the file or column and what to fix


def _write_test(data_dir: Path, tmp_path: Path, change) -> Path:
    target = tmp_path / "bad-test"
    target.mkdir()
    frame = pd.read_csv(data_dir / "test.csv")
    result = change(frame)
    if isinstance(result, str):
        (target / "test.csv").write_text(result)
    elif result is not None:
        result.to_csv(target / "test.csv", index=False)
    return target


def _with_label(value):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[3, LABEL] = value
        return frame

    return change


def _as_is(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _without(column: str):
    return lambda frame: frame.drop(columns=[column])


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        (lambda frame: None, (), "No test.csv in"),
        (lambda frame: "", (), "is empty (0 bytes)"),
        (lambda frame: frame.head(0), (), "has a header but no rows"),
        (lambda frame: frame.rename(columns={LABEL: "is_fraud"}), (), "has no 'fraud' column"),
        (_as_is, ("--label", "is_fraud"), "has no 'is_fraud' column"),
        (_without(FACET), (), "has no column 'customer_gender_female' (given by --facet"),
        (
            _as_is,
            ("--facet", "gender_female"),
            "(given by --facet; did you mean ['customer_gender_female', ",
        ),
        (_as_is, ("--group-variable", "region"), "has no column 'region' (given by --group-variable"),
        (_with_label(2), (), "the label 'fraud' must be 0 or 1; data row 4 has 2"),
        (_without("auto_year"), (), "47 feature columns but the model was trained on 48"),
        (_as_is, ("--probability-threshold", "1.5"), "--probability-threshold 1.5 is outside [0, 1]"),
        (_as_is, ("--favourable-label", "2"), "--favourable-label 2 is not a label value"),
        (_as_is, ("--shap-sample-rows", "0"), "--shap-sample-rows 0 must be at least 1"),
        (_as_is, ("--shap-seed", "-1"), "--shap-seed -1 must be between 0 and 2**32 - 1"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    tutorial_run, tmp_path: Path, capsys, change, options, message
) -> None:
    model_dir, data_dir = tutorial_run
    bad = _write_test(data_dir, tmp_path, change)

    code, output = run_job(model_dir, bad, tmp_path, *options)

    assert code == 1
    reason = (tmp_path / "message").read_text()
    assert message in reason
    assert reason.count("\n") == 1 and reason.strip() in capsys.readouterr().err
    assert not output.exists()


def test_missing_or_broken_model(tutorial_run, tmp_path: Path) -> None:
    _, data_dir = tutorial_run
    empty = tmp_path / "model"
    empty.mkdir()
    assert run_job(empty, data_dir, tmp_path)[0] == 1
    assert "No model.tar.gz in" in (tmp_path / "message").read_text()
    assert "'model' processing input" in (tmp_path / "message").read_text()

    (empty / "model.tar.gz").write_bytes(model_tar_gz(content=b"not a model"))
    assert run_job(empty, data_dir, tmp_path)[0] == 1
    assert "is not an XGBoost model" in (tmp_path / "message").read_text()
