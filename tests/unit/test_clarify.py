"""Clarify: analysis configs (stepwise.clarify_config) and the local container (stepwise.containers.clarify).

The data has a planted truth: fraud depends strongly on incident_severity and less on being female
(so the favourable label, "not fraud", is rarer for women: CI > 0, DPL > 0, DPPL > 0), two columns
are pure noise and every other feature is constant (it cannot matter to the model).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from processing.preprocess import LABEL, feature_names
from stepwise import clarify_config
from stepwise.containers import clarify

FACET = "customer_gender_female"
STRONG = "incident_severity"
NOISE = ["customer_age", "months_as_customer"]


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 800
    features = pd.DataFrame(0, index=range(n), columns=feature_names())
    features[STRONG] = rng.integers(0, 3, n)
    features[FACET] = (rng.random(n) < 0.35).astype(int)
    features["customer_age"] = rng.integers(18, 80, n)
    features["months_as_customer"] = rng.integers(1, 480, n)
    logit = -3.0 + 2.5 * features[STRONG] + 1.5 * features[FACET]
    fraud = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.concat([pd.Series(fraud, name=LABEL), features], axis=1)


@pytest.fixture(scope="module")
def booster(dataset: pd.DataFrame) -> xgb.Booster:
    train = xgb.DMatrix(dataset.drop(columns=[LABEL]).to_numpy(dtype=float), label=dataset[LABEL])
    return xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 0}, train, 30)


@pytest.fixture(scope="module")
def model_artifact(booster: xgb.Booster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    with (
        warnings.catch_warnings()
    ):  # no file extension, as SageMaker names it: xgboost notes its default format
        warnings.simplefilter("ignore")
        booster.save_model(str(folder / "xgboost-model"))
    artifact = folder / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(folder / "xgboost-model", arcname="xgboost-model")
    return artifact


def headers() -> list[str]:
    return clarify_config.dataset_headers()


def job_root(tmp_path: Path, config: dict, dataset: pd.DataFrame, header: bool = True) -> Path:
    """An /opt/ml as the Clarify processing job sees it."""
    config_dir = tmp_path / "processing/input/config"
    data_dir = tmp_path / "processing/input/data"
    config_dir.mkdir(parents=True)
    data_dir.mkdir(parents=True)
    (config_dir / "analysis_config.json").write_text(json.dumps(config))
    dataset.to_csv(data_dir / "test.csv", index=False, header=header)
    return tmp_path


def metrics_of(section: dict) -> dict[str, dict]:
    [facet_report] = section["facets"][FACET]
    return {metric["name"]: metric for metric in facet_report["metrics"]}


def shap_config(**options) -> dict:
    return clarify_config.explainability_config("fraud-model", headers(), None, **options)


# --- analysis configs ------------------------------------------------------------------------------


def test_configs_pass_the_sagemaker_sdks_own_analysis_config_schema(monkeypatch, dataset):
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.clarify import ANALYSIS_CONFIG_SCHEMA_V1_0

    baseline = clarify_config.mean_baseline(dataset)
    for config in (
        clarify_config.bias_config("fraud-model", headers()),
        clarify_config.bias_config("fraud-model", headers(), header_row=False),
        clarify_config.explainability_config("fraud-model", headers(), baseline),
        clarify_config.explainability_config("fraud-model", headers(), None),
        clarify_config.explainability_config("fraud-model", headers(), "s3://bucket/baseline.csv"),
    ):
        ANALYSIS_CONFIG_SCHEMA_V1_0.validate(json.loads(json.dumps(config)))


def test_bias_config_describes_the_tutorials_check():
    config = clarify_config.bias_config("fraud-model-42", headers())

    assert config["dataset_type"] == "text/csv"
    assert "headers" not in config  # test.csv has a header row: Clarify reads the names from it
    assert config["label"] == "fraud"
    assert config["label_values_or_threshold"] == [0]
    assert config["facet"] == [{"name_or_index": FACET, "value_or_threshold": [1]}]
    assert config["probability_threshold"] == 0.5
    assert config["methods"] == {
        "pre_training_bias": {"methods": "all"},
        "post_training_bias": {"methods": "all"},
    }
    assert config["predictor"]["model_name"] == "fraud-model-42"
    assert config["predictor"]["content_type"] == config["predictor"]["accept_type"] == "text/csv"
    # the state machine embeds it: only the model name may differ between runs
    other = clarify_config.bias_config("another-model", headers())
    other["predictor"]["model_name"] = "fraud-model-42"
    assert json.dumps(other) == json.dumps(config)


def test_headers_are_written_for_a_file_without_a_header_row():
    for build in (
        clarify_config.bias_config,
        lambda *a, **k: clarify_config.explainability_config(*a, None, **k),
    ):
        assert build("m", headers(), header_row=False)["headers"] == [LABEL, *feature_names()]


def test_explainability_config_with_and_without_a_baseline(dataset):
    baseline = clarify_config.mean_baseline(dataset)
    assert len(baseline) == 1 and len(baseline[0]) == len(feature_names())
    assert baseline[0][feature_names().index(FACET)] == pytest.approx(dataset[FACET].mean())

    shap = clarify_config.explainability_config("m", headers(), baseline)["methods"]["shap"]
    assert shap["baseline"] == baseline
    assert shap["agg_method"] == "mean_abs" and shap["seed"] == 42 and shap["use_logit"] is True
    assert shap["save_local_shap_values"] is True and "num_clusters" not in shap

    computed_by_clarify = shap_config()["methods"]["shap"]
    assert "baseline" not in computed_by_clarify and computed_by_clarify["num_clusters"] >= 1


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: clarify_config.bias_config("m", feature_names()), "label column 'fraud'"),
        (lambda: clarify_config.bias_config("m", [LABEL, "x"]), "facet column 'customer_gender_female'"),
        (lambda: clarify_config.explainability_config("m", headers(), [[1.0, 2.0]]), "has 2 values"),
        (lambda: clarify_config.explainability_config("m", headers(), []), "at least one row"),
        (lambda: clarify_config.explainability_config("m", headers(), "baseline.csv"), "s3:// URI"),
    ],
)
def test_config_builders_reject_inconsistent_input(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --- the container: one real process ------------------------------------------------------------------


def test_container_runs_as_a_module_and_writes_clarifys_files(tmp_path, dataset, model_artifact):
    root = job_root(tmp_path, shap_config(), dataset)

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stepwise.containers.clarify",
            "--root",
            str(root),
            "--model-artifact",
            str(model_artifact),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    analysis = json.loads((root / "processing/output/analysis.json").read_text())
    assert analysis["version"] == "1.0"
    explanation = analysis["explanations"]["kernel_shap"]["label0"]
    assert list(explanation["global_shap_values"]) == feature_names()
    assert isinstance(explanation["expected_value"], float)
    local = pd.read_csv(root / "processing/output/explanations_shap/out.csv")
    assert local.shape == (len(dataset), len(feature_names()))
    assert list(local.columns) == [f"{name}_label0" for name in feature_names()]
    assert not (root / "output/message").exists()


# --- bias ------------------------------------------------------------------------------------------


def test_bias_job_files_and_format(tmp_path, dataset, model_artifact):
    root = job_root(tmp_path, clarify_config.bias_config("m", headers()), dataset)

    clarify.run(root, model_artifact)

    analysis = json.loads((root / "processing/output/analysis.json").read_text())
    assert analysis["version"] == "1.0"
    for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        assert analysis[section]["label"] == "fraud"
        assert analysis[section]["label_value_or_threshold"] == "0"
        [facet_report] = analysis[section]["facets"][FACET]
        assert facet_report["value_or_threshold"] == "1"
        for metric in facet_report["metrics"]:
            assert set(metric) >= {"name", "description", "value"}
    assert metrics_of(analysis["pre_training_bias_metrics"])["CI"]["description"] == "Class Imbalance (CI)"
    assert {"DPPL", "DI", "DCA", "DCR", "RD", "DAR", "DRR", "AD", "TE", "FT"} <= set(
        metrics_of(analysis["post_training_bias_metrics"])
    )


def test_bias_metrics_agree_with_their_definitions(dataset, booster):
    result = clarify.run_analysis(
        clarify_config.bias_config("m", headers()), dataset, clarify.XGBoostModel(booster)
    )

    female = dataset[FACET] == 1
    favourable = dataset[LABEL] == 0
    predicted_favourable = pd.Series(
        booster.predict(xgb.DMatrix(dataset.drop(columns=[LABEL]).to_numpy(dtype=float))) <= 0.5
    )
    n_a, n_d = (~female).sum(), female.sum()
    expected_ci = (n_a - n_d) / (n_a + n_d)
    expected_dpl = favourable[~female].mean() - favourable[female].mean()
    expected_dppl = predicted_favourable[~female].mean() - predicted_favourable[female].mean()
    expected_di = predicted_favourable[female].mean() / predicted_favourable[~female].mean()

    pre = metrics_of(result.analysis["pre_training_bias_metrics"])
    post = metrics_of(result.analysis["post_training_bias_metrics"])
    assert pre["CI"]["value"] == pytest.approx(expected_ci)
    assert pre["DPL"]["value"] == pytest.approx(expected_dpl)
    assert post["DPPL"]["value"] == pytest.approx(expected_dppl)
    assert post["DI"]["value"] == pytest.approx(expected_di)
    # the planted bias: fewer women, and fewer favourable outcomes for them, in labels and predictions
    assert pre["CI"]["value"] > 0.2 and pre["DPL"]["value"] > 0.1
    assert post["DPPL"]["value"] > 0.05 and post["DI"]["value"] < 1


def test_group_metrics_need_a_group_variable(dataset, booster):
    config = clarify_config.bias_config("m", headers())
    model = clarify.XGBoostModel(booster)

    without = clarify.run_analysis(config, dataset, model).analysis
    assert "Group variable" in metrics_of(without["pre_training_bias_metrics"])["CDDL"]["error"]
    assert metrics_of(without["pre_training_bias_metrics"])["CDDL"]["value"] is None

    grouped = clarify.run_analysis({**config, "group_variable": STRONG}, dataset, model).analysis
    assert isinstance(metrics_of(grouped["pre_training_bias_metrics"])["CDDL"]["value"], float)
    assert isinstance(metrics_of(grouped["post_training_bias_metrics"])["CDDPL"]["value"], float)


def test_pre_training_bias_alone_needs_no_model(dataset):
    config = clarify_config.bias_config("m", headers())
    config["methods"] = {"pre_training_bias": {"methods": ["CI", "DPL"]}}

    analysis = clarify.run_analysis(config, dataset, None).analysis

    assert set(metrics_of(analysis["pre_training_bias_metrics"])) == {"CI", "DPL"}
    assert "post_training_bias_metrics" not in analysis


def test_dataset_without_a_header_row_reads_the_same(tmp_path, dataset):
    config = clarify_config.bias_config("m", headers())
    with_header = clarify.read_dataset(job_root(tmp_path / "a", config, dataset) / clarify.DATA_DIR, config)
    config = clarify_config.bias_config("m", headers(), header_row=False)
    without = clarify.read_dataset(
        job_root(tmp_path / "b", config, dataset, header=False) / clarify.DATA_DIR, config
    )

    pd.testing.assert_frame_equal(with_header, dataset)
    pd.testing.assert_frame_equal(without, dataset)


def test_a_facet_written_as_floats_is_a_threshold_and_selects_nobody(dataset, capsys):
    # Clarify (smclarify) reads a float column as continuous: value_or_threshold [1] then means "> 1".
    floats = dataset.assign(**{FACET: dataset[FACET].astype(float)})
    config = clarify_config.bias_config("m", headers())
    config["methods"] = {"pre_training_bias": {"methods": ["CI", "DPL"]}}

    analysis = clarify.run_analysis(config, floats, None).analysis

    assert all(
        metric["value"] is None for metric in metrics_of(analysis["pre_training_bias_metrics"]).values()
    )
    assert "write 0/1 columns as integers" in capsys.readouterr().err


# --- SHAP ------------------------------------------------------------------------------------------


def test_global_shap_ranks_the_planted_feature_first_and_ignores_constant_ones(dataset, booster):
    result = clarify.run_analysis(shap_config(), dataset, clarify.XGBoostModel(booster))

    importance = result.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    ranking = sorted(importance, key=importance.get, reverse=True)
    assert ranking[:2] == [STRONG, FACET]  # the noise columns, which the trees overfit a little, rank below
    constant = [name for name in feature_names() if name not in (STRONG, FACET, *NOISE)]
    assert all(importance[name] == 0.0 for name in constant)


def test_local_shap_rows_add_up_to_the_log_odds_minus_the_expected_value(dataset, booster):
    result = clarify.run_analysis(shap_config(), dataset, clarify.XGBoostModel(booster))

    expected_value = result.analysis["explanations"]["kernel_shap"]["label0"]["expected_value"]
    features = xgb.DMatrix(dataset.drop(columns=[LABEL]).to_numpy(dtype=float))
    log_odds = booster.predict(features, output_margin=True)
    np.testing.assert_allclose(result.local_shap.sum(axis=1) + expected_value, log_odds, atol=1e-4)
    # and the mean_abs aggregate is the mean of their absolute values
    importance = result.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    assert importance[STRONG] == pytest.approx(result.local_shap[f"{STRONG}_label0"].abs().mean())


@pytest.mark.parametrize(
    ("agg_method", "aggregate"), [("median", np.median), ("mean_sq", lambda v: np.mean(v**2))]
)
def test_other_aggregations_of_local_values(dataset, booster, agg_method, aggregate):
    config = shap_config()
    config["methods"]["shap"]["agg_method"] = agg_method

    result = clarify.run_analysis(config, dataset, clarify.XGBoostModel(booster))

    importance = result.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    for name in (STRONG, FACET, NOISE[0]):
        assert importance[name] == pytest.approx(aggregate(result.local_shap[f"{name}_label0"].to_numpy()))


def test_local_values_are_not_written_unless_asked(tmp_path, dataset, model_artifact):
    root = job_root(tmp_path, shap_config(save_local_shap_values=False), dataset)

    clarify.run(root, model_artifact)

    assert (root / "processing/output/analysis.json").is_file()
    assert not (root / "processing/output/explanations_shap").exists()


def test_join_column_is_kept_out_of_the_model_and_leads_the_local_values(tmp_path, dataset, model_artifact):
    with_id = dataset.assign(policy_id=range(1000, 1000 + len(dataset)))
    config = clarify_config.explainability_config("m", [*headers(), "policy_id"], None)
    config["joinsource_name_or_index"] = "policy_id"
    root = job_root(tmp_path, config, with_id)

    result = clarify.run(root, model_artifact)

    assert (
        list(result.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"])
        == feature_names()
    )
    local = pd.read_csv(root / "processing/output/explanations_shap/out.csv")
    assert list(local.columns) == ["policy_id", *[f"{name}_label0" for name in feature_names()]]
    assert local["policy_id"].tolist() == with_id["policy_id"].tolist()


# --- failures: reason in output/message, exit code 1 -------------------------------------------------------


def _facet_renamed(config: dict) -> dict:
    config["facet"][0]["name_or_index"] = "gender_female"
    return config


def _with(key: str, value):
    def change(config: dict) -> dict:
        config[key] = value
        return config

    return change


def _method(name: str, spec):
    def change(config: dict) -> dict:
        config["methods"][name] = spec
        return config

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_with("label", "is_fraud"), "label 'is_fraud' is not a column"),
        (_facet_renamed, "facet 'gender_female' is not a column"),
        (_with("dataset_type", "application/jsonlines"), "dataset_type 'application/jsonlines'"),
        (_method("pdp", {"grid_resolution": 10}), "methods ['pdp'] are not supported"),
        (_method("post_training_bias", {"methods": ["DPPL", "XYZ"]}), "metrics ['XYZ'] do not exist"),
        (_with("headers", headers()[:-1]), "has 49 columns but the config lists 48 headers"),
        (_with("headers", headers()), "starts with a header row and the config lists 'headers' too"),
    ],
)
def test_bias_job_failures_are_reported(tmp_path, dataset, model_artifact, change, message):
    root = job_root(tmp_path, change(clarify_config.bias_config("m", headers())), dataset)

    assert clarify.main(["--root", str(root), "--model-artifact", str(model_artifact)]) == 1

    assert message in (root / "output/message").read_text()
    assert not (root / "processing/output/analysis.json").exists()


def test_shap_in_other_units_is_refused(tmp_path, dataset, model_artifact):
    root = job_root(tmp_path, shap_config(use_logit=False), dataset)

    assert clarify.main(["--root", str(root), "--model-artifact", str(model_artifact)]) == 1

    assert "use_logit" in (root / "output/message").read_text()


def test_missing_config_model_or_dataset(tmp_path, dataset):
    empty = tmp_path / "empty"
    assert clarify.main(["--root", str(empty)]) == 1
    assert "analysis_config" in (empty / "output/message").read_text()

    root = job_root(tmp_path / "job", clarify_config.bias_config("m", headers()), dataset)
    assert clarify.main(["--root", str(root)]) == 1
    assert "--model-artifact" in (root / "output/message").read_text()

    assert clarify.main(["--root", str(root), "--model-artifact", str(tmp_path / "nowhere.tar.gz")]) == 1
    assert "does not exist" in (root / "output/message").read_text()

    (root / "processing/input/data/test.csv").unlink()
    assert clarify.main(["--root", str(root)]) == 1
    assert "no dataset under" in (root / "output/message").read_text()


def test_artifact_without_the_model_file(tmp_path, dataset):
    artifact = tmp_path / "model.tar.gz"
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with tarfile.open(artifact, "w:gz") as archive:
        archive.add(tmp_path / "model.bin", arcname="model.bin")
    root = job_root(tmp_path / "job", clarify_config.bias_config("m", headers()), dataset)

    assert clarify.main(["--root", str(root), "--model-artifact", str(artifact)]) == 1

    assert "must contain 'xgboost-model'" in (root / "output/message").read_text()

    artifact.write_bytes(b"not a tar file")
    assert clarify.main(["--root", str(root), "--model-artifact", str(artifact)]) == 1
    assert "is not a readable tar.gz archive" in (root / "output/message").read_text()
