"""Local stand-in for the SageMaker Clarify processing container (sagemaker-clarify-processing).

Run as ``python -m stepwise.containers.clarify --root DIR --model-artifact model.tar.gz``, DIR
standing for the container's ``/opt/ml``. Like the real container it reads
``processing/input/config/analysis_config.json`` and the dataset under ``processing/input/data/``,
and writes ``processing/output/analysis.json`` in Clarify's output format (plus
``processing/output/explanations_shap/out.csv`` when ``save_local_shap_values`` is set). On failure
the reason goes to ``output/message`` (a processing job's FailureReason) and the exit code is 1.
The real container calls the model through a shadow endpoint made from ``predictor.model_name``;
here the model is the ``model.tar.gz`` given on the command line (``xgboost-model`` inside).

What it computes, and how it differs from the cloud:

- **Bias** (``pre_training_bias``, ``post_training_bias``): the same code as the cloud. Clarify's
  bias metrics are the open-source ``smclarify`` package, called here with the same facet, label
  values and metric names; predicted labels are ``probability > probability_threshold``. Metrics
  that cannot be computed (e.g. CDDL without a ``group_variable``) are reported with an ``error``,
  as Clarify does.
- **SHAP** (``shap``): the cloud runs Kernel SHAP, a sampling estimate (``num_samples`` coalitions,
  ``seed``) of Shapley values relative to a ``baseline`` (given rows, or k-means centroids of the
  dataset). Locally we compute *exact* TreeSHAP with xgboost (``pred_contribs=True``, path-dependent:
  the reference distribution is the training data the trees saw, recorded as leaf covers), so
  ``baseline``, ``num_samples``, ``num_clusters`` and ``seed`` are not used. Values are in
  **log-odds** (margin) units, the space the trees add up in, which is what Clarify reports with
  ``use_logit: true``; the emulator therefore requires ``use_logit: true`` (the default in
  ``stepwise.clarify_config``) rather than silently report other units. ``expected_value`` is the
  model's base margin (xgboost's bias term: the training data's expected margin under the trees'
  covers), and every row's local values add up exactly to that row's margin minus
  ``expected_value``. Global values aggregate the local ones over the rows with ``agg_method``
  (``mean_abs``, ``median`` or ``mean_sq``). The two methods estimate different quantities (other
  reference, sampled vs exact), so compare feature rankings across worlds, not digits.
- **Dataset**: as documented for Clarify, a config without ``headers`` means the files start with a
  header row; with ``headers`` they hold data rows only (a file repeating the headers is refused).
  A NaN metric value is written as ``null`` so that analysis.json stays valid JSON.
- Not produced: the report notebook/PDF (``methods.report`` is accepted and ignored), partial
  dependence plots, text, image and time-series explanations (rejected with a message).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from smclarify.bias import report as bias_report
from smclarify.bias.metrics import POSTTRAINING_METRICS, PRETRAINING_METRICS

from stepwise.containers import model_archive, xgboost_serving

CONFIG_PATH = Path("processing/input/config/analysis_config.json")
DATA_DIR = Path("processing/input/data")
OUTPUT_DIR = Path("processing/output")
ANALYSIS_FILE = "analysis.json"
LOCAL_SHAP_FILE = Path("explanations_shap/out.csv")
FAILURE_MESSAGE = Path("output/message")

SUPPORTED_DATASET_TYPES = ("text/csv",)
BIAS_METHODS = ("pre_training_bias", "post_training_bias")
IGNORED_METHODS = ("report",)  # the report notebook is not produced locally
AGG_METHODS = ("mean_abs", "median", "mean_sq")
UNSUPPORTED_SHAP_KEYS = ("text_config", "image_config", "features_to_explain")
SHAP_LABEL = "label0"  # the model returns one score, which Clarify names label0
DEFAULT_PROBABILITY_THRESHOLD = 0.5

# smclarify logs a traceback for every metric it cannot compute (e.g. CDDL without a group variable);
# the reason is already in analysis.json as the metric's "error", as Clarify reports it.
logging.getLogger("smclarify").setLevel(logging.CRITICAL)


class ClarifyError(Exception):
    """The job cannot run: the message says what is wrong and what to change."""


@dataclass
class AnalysisResult:
    analysis: dict[str, Any]  # the content of analysis.json
    local_shap: pd.DataFrame | None  # the content of explanations_shap/out.csv, when asked for


class XGBoostModel:
    """The model behind Clarify's shadow endpoint: one fraud probability per row of features."""

    def __init__(self, booster: xgb.Booster) -> None:
        self.booster = booster

    def _matrix(self, features: pd.DataFrame) -> xgb.DMatrix:
        expected = self.booster.num_features()
        if features.shape[1] != expected:
            raise ClarifyError(
                f"the model takes {expected} features but the dataset has {features.shape[1]} feature "
                "columns (headers minus label and excluded_columns): check the analysis config's headers"
            )
        names = self.booster.feature_names
        if names is not None and list(names) != list(features.columns):
            raise ClarifyError(
                "the dataset's feature columns are not the model's features in the model's order: "
                f"model {list(names)[:5]}..., dataset {list(features.columns)[:5]}..."
            )
        non_numeric = [
            name for name, dtype in features.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)
        ]
        if non_numeric:
            raise ClarifyError(
                f"the model takes numbers but these feature columns hold other values: {non_numeric[:5]} "
                "(a CSV header row read as data does this too)"
            )
        return xgb.DMatrix(features.to_numpy(dtype=float), feature_names=names)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (what the XGBoost endpoint returns for binary:logistic)."""
        return self.booster.predict(self._matrix(features))

    def shap_values(self, features: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Exact TreeSHAP values in log-odds units, one row per instance, and the expected value."""
        contributions = self.booster.predict(self._matrix(features), pred_contribs=True)
        return contributions[:, :-1], float(contributions[0, -1])


def load_model(model_artifact: Path) -> XGBoostModel:
    """Unpack a SageMaker model.tar.gz and load its ``xgboost-model`` as the XGBoost endpoint would."""
    if not model_artifact.is_file():
        raise ClarifyError(
            f"model artifact {model_artifact} does not exist: pass the training job's model.tar.gz"
        )
    with tempfile.TemporaryDirectory() as scratch:
        try:
            model_archive.extract(model_artifact, Path(scratch))
        except ValueError as error:
            raise ClarifyError(str(error)) from error
        try:
            return XGBoostModel(xgboost_serving.load_model(Path(scratch)))
        except ValueError as error:
            raise ClarifyError(f"{model_artifact.name}: {error}") from error


def read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ClarifyError(
            f"analysis config {path} not found: the processing job needs an input named "
            "'analysis_config' mounted at /opt/ml/processing/input/config"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ClarifyError(f"analysis config {path} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise ClarifyError(f"analysis config {path} must be a JSON object, not {type(config).__name__}")
    return config


def read_dataset(data_dir: Path, config: dict[str, Any]) -> pd.DataFrame:
    """All CSV files under ``data_dir`` (recursively, in path order) as one table.

    As the Clarify documentation describes: without ``headers`` in the config, every file starts with
    a header row naming the columns; with ``headers``, the files hold data rows only. A file whose first
    row repeats the configured headers is refused rather than guessed at: drop one of the two.
    """
    dataset_type = config.get("dataset_type")
    if dataset_type not in SUPPORTED_DATASET_TYPES:
        raise ClarifyError(
            f"dataset_type {dataset_type!r} is not supported locally; use one of {SUPPORTED_DATASET_TYPES}"
        )
    files = sorted(
        path
        for path in data_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(data_dir).parts)
    )
    if not files:
        raise ClarifyError(
            f"no dataset under {data_dir}: the processing job needs an input named 'dataset' there"
        )
    headers = config.get("headers")
    frames = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            first_row = next(csv.reader(handle), None)
        if first_row is None:
            continue
        if headers is None:
            frame = pd.read_csv(path)
        else:
            if len(first_row) != len(headers):
                raise ClarifyError(
                    f"{path.name} has {len(first_row)} columns but the config lists {len(headers)} headers"
                )
            if first_row == [str(name) for name in headers]:
                raise ClarifyError(
                    f"{path.name} starts with a header row and the config lists 'headers' too: leave "
                    "'headers' out of the config (Clarify then reads the names from the file) or write the "
                    "file without a header row"
                )
            frame = pd.read_csv(path, header=None, names=list(headers))
        frames.append((path, frame))
    if not frames:
        raise ClarifyError(f"the dataset files under {data_dir} are empty")
    first_path, first = frames[0]
    for path, frame in frames[1:]:
        if list(frame.columns) != list(first.columns):
            raise ClarifyError(
                f"{path.name} has other columns than {first_path.name}: {list(frame.columns)[:8]}..."
            )
    return pd.concat([frame for _, frame in frames], ignore_index=True)


def run_analysis(config: dict[str, Any], dataset: pd.DataFrame, model: XGBoostModel | None) -> AnalysisResult:
    """Compute what ``config["methods"]`` asks for on ``dataset``; ``model`` answers for the endpoint."""
    methods = config.get("methods")
    if not isinstance(methods, dict) or not methods:
        raise ClarifyError(
            "the analysis config has no 'methods': add pre_training_bias, post_training_bias or shap"
        )
    unknown = sorted(set(methods) - {*BIAS_METHODS, "shap", *IGNORED_METHODS})
    if unknown:
        raise ClarifyError(
            f"methods {unknown} are not supported by the local Clarify emulator; "
            f"it supports {[*BIAS_METHODS, 'shap']}"
        )
    needs_model = "post_training_bias" in methods or "shap" in methods
    if needs_model and model is None:
        raise ClarifyError("post_training_bias and shap need the model: pass --model-artifact model.tar.gz")

    label = _column(config["label"], "label", dataset) if "label" in config else None
    features = _feature_frame(config, dataset, label)
    probabilities = model.predict(features) if needs_model else None

    analysis: dict[str, Any] = {"version": "1.0"}
    local_shap = None
    if "pre_training_bias" in methods:
        analysis["pre_training_bias_metrics"] = _bias_metrics(
            config, dataset, label, bias_report.StageType.PRE_TRAINING, methods["pre_training_bias"], None
        )
    if "post_training_bias" in methods:
        threshold = float(config.get("probability_threshold", DEFAULT_PROBABILITY_THRESHOLD))
        predicted = pd.Series(
            (probabilities > threshold).astype(int), index=dataset.index, name="predicted_label"
        )
        analysis["post_training_bias_metrics"] = _bias_metrics(
            config,
            dataset,
            label,
            bias_report.StageType.POST_TRAINING,
            methods["post_training_bias"],
            predicted,
        )
    if "shap" in methods:
        explanations, local_shap = _explain(methods["shap"], features, model)
        analysis["explanations"] = explanations
    return AnalysisResult(analysis=_json_safe(analysis), local_shap=local_shap)


def _column(name_or_index: Any, what: str, dataset: pd.DataFrame) -> str:
    """Resolve a column given by name or by index (label, facet, group_variable, excluded_columns...)."""
    if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
        if not 0 <= name_or_index < dataset.shape[1]:
            raise ClarifyError(
                f"{what} index {name_or_index} is out of range: the dataset has {dataset.shape[1]} columns"
            )
        return str(dataset.columns[name_or_index])
    if name_or_index not in dataset.columns:
        raise ClarifyError(
            f"{what} {name_or_index!r} is not a column of the dataset; "
            f"columns are {list(dataset.columns)[:8]}..."
        )
    return str(name_or_index)


def _feature_frame(config: dict[str, Any], dataset: pd.DataFrame, label: str | None) -> pd.DataFrame:
    """What Clarify sends to the endpoint: every column but the label and the excluded ones, in order."""
    excluded = {_column(name, "excluded column", dataset) for name in config.get("excluded_columns", [])}
    if "joinsource_name_or_index" in config:
        excluded.add(_column(config["joinsource_name_or_index"], "joinsource_name_or_index", dataset))
    return dataset[[name for name in dataset.columns if name != label and name not in excluded]]


def _metric_names(stage: bias_report.StageType, requested: Any) -> list[str]:
    registered = PRETRAINING_METRICS if stage is bias_report.StageType.PRE_TRAINING else POSTTRAINING_METRICS
    known = [metric.__name__ for metric in registered]
    spec = requested.get("methods", "all") if isinstance(requested, dict) else requested
    if spec == "all" or spec == ["all"]:
        return ["all"]
    names = [spec] if isinstance(spec, str) else list(spec)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ClarifyError(f"{stage.value} metrics {unknown} do not exist; choose from {known} or 'all'")
    return names


def _bias_metrics(
    config: dict[str, Any],
    dataset: pd.DataFrame,
    label: str | None,
    stage: bias_report.StageType,
    requested: Any,
    predicted: pd.Series | None,
) -> dict[str, Any]:
    if label is None:
        raise ClarifyError("bias metrics need the 'label' column: add \"label\" to the analysis config")
    label_values = config.get("label_values_or_threshold")
    if not label_values:
        raise ClarifyError("bias metrics need 'label_values_or_threshold', the favourable label value(s)")
    facets = config.get("facet")
    if not facets:
        raise ClarifyError(
            'bias metrics need a \'facet\': [{"name_or_index": ..., "value_or_threshold": [...]}]'
        )
    metrics = _metric_names(stage, requested)
    group_variable = (
        dataset[_column(config["group_variable"], "group_variable", dataset)]
        if "group_variable" in config
        else None
    )
    label_column = bias_report.LabelColumn(label, dataset[label], list(label_values))
    predicted_column = (
        None if predicted is None else bias_report.LabelColumn(predicted.name, predicted, list(label_values))
    )

    result: dict[str, Any] = {"label": label, "facets": {}}
    for facet in facets:
        name = _column(facet.get("name_or_index"), "facet", dataset)
        values = facet.get("value_or_threshold")
        try:
            reports = bias_report.bias_report(
                dataset,
                bias_report.FacetColumn(name, list(values) if values else None),
                label_column,
                stage,
                predicted_column,
                metrics=metrics,
                group_variable=group_variable,
            )
        except (ValueError, RuntimeError) as error:
            raise ClarifyError(f"{stage.value} bias metrics for facet {name!r} failed: {error}") from error
        _warn_if_all_failed(name, values, reports)
        result["facets"][name] = reports
    result["label_value_or_threshold"] = bias_report.label_value_or_threshold(
        dataset[label], list(label_values)
    )
    return result


def _warn_if_all_failed(facet: str, values: Any, reports: list[dict[str, Any]]) -> None:
    """Clarify completes even when no metric could be computed; say why on stderr (the job log)."""
    for report in reports:
        if report["metrics"] and all("error" in metric for metric in report["metrics"]):
            print(
                f"warning: no bias metric could be computed for facet {facet!r} = {values}: "
                f"{report['metrics'][-1]['error']}. A facet column with float values (1.0) is treated "
                "as continuous and value_or_threshold as a lower bound (facet > 1): write 0/1 columns "
                "as integers.",
                file=sys.stderr,
            )


def _explain(
    shap: dict[str, Any], features: pd.DataFrame, model: XGBoostModel
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    unsupported = [key for key in UNSUPPORTED_SHAP_KEYS if key in shap]
    if unsupported:
        raise ClarifyError(
            f"shap options {unsupported} are not supported locally (tabular explanations only)"
        )
    if shap.get("use_logit") is not True:
        raise ClarifyError(
            "the local Clarify emulator computes exact TreeSHAP in log-odds units: set "
            "methods.shap.use_logit to true (stepwise.clarify_config.explainability_config does) so the "
            "cloud reports the same units"
        )
    agg_method = shap.get("agg_method", "mean_abs")
    if agg_method not in AGG_METHODS:
        raise ClarifyError(f"shap agg_method {agg_method!r} is not one of {AGG_METHODS}")

    local, expected_value = model.shap_values(features)
    if agg_method == "mean_abs":
        aggregated = np.abs(local).mean(axis=0)
    elif agg_method == "median":
        aggregated = np.median(local, axis=0)
    else:
        aggregated = np.square(local).mean(axis=0)
    explanations = {
        "kernel_shap": {
            SHAP_LABEL: {
                "global_shap_values": {
                    name: float(value) for name, value in zip(features.columns, aggregated, strict=True)
                },
                "expected_value": expected_value,
            }
        }
    }
    local_shap = None
    if shap.get("save_local_shap_values", False):
        local_shap = pd.DataFrame(local, columns=[f"{name}_{SHAP_LABEL}" for name in features.columns])
    return explanations, local_shap


def _json_safe(value: Any) -> Any:
    """NaN is not JSON: write null (smclarify already writes infinities as "Infinity", as Clarify does)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run(root: Path, model_artifact: Path | None) -> AnalysisResult:
    """The container's job: files in under ``root`` (standing for /opt/ml), files out."""
    config = read_config(root / CONFIG_PATH)
    dataset = read_dataset(root / DATA_DIR, config)
    model = load_model(model_artifact) if model_artifact is not None else None
    result = run_analysis(config, dataset, model)
    output = root / OUTPUT_DIR
    output.mkdir(parents=True, exist_ok=True)
    (output / ANALYSIS_FILE).write_text(json.dumps(result.analysis, indent=2) + "\n", encoding="utf-8")
    if result.local_shap is not None:
        (output / LOCAL_SHAP_FILE).parent.mkdir(parents=True, exist_ok=True)
        join = config.get("joinsource_name_or_index")
        local = result.local_shap
        if join is not None:
            join_name = _column(join, "joinsource_name_or_index", dataset)
            local = pd.concat([dataset[[join_name]].reset_index(drop=True), local], axis=1)
        local.to_csv(output / LOCAL_SHAP_FILE, index=False)
    return result


def write_failure(root: Path, reason: str) -> None:
    """Where SageMaker picks up a processing job's FailureReason."""
    path = root / FAILURE_MESSAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reason + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=Path("/opt/ml"), help="stands for the container's /opt/ml"
    )
    parser.add_argument(
        "--model-artifact", type=Path, default=None, help="model.tar.gz (the shadow endpoint's model)"
    )
    args = parser.parse_args(argv)
    try:
        run(args.root, args.model_artifact)
    except ClarifyError as error:
        write_failure(args.root, str(error))
        print(f"ClientError: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
