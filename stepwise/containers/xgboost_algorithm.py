"""Emulator of SageMaker's built-in XGBoost algorithm container (sagemaker-xgboost:1.7-1, algorithm mode).

Run as ``python -m stepwise.containers.xgboost_algorithm --root DIR`` where DIR stands for ``/opt/ml``.
It reads and writes exactly the files the real container does:

- ``input/config/hyperparameters.json``: every value a string, as CreateTrainingJob passes them;
- ``input/config/inputdataconfig.json``: the channels and their ContentType;
- ``input/data/train/`` (required) and ``input/data/validation/`` (optional): CSV, label first, no header;
  every file in the folder is read (names starting with ``.`` or ``_`` are skipped, as the container does);
- writes ``model/xgboost-model`` (``Booster.save_model``), prints one metric line per round in the format
  CloudWatch shows (``[0]#011train-auc:0.81234#011validation-auc:0.75000``: the container prints a tab,
  CloudWatch renders it as ``#011``, and SageMaker's metric regexes match that), and on any error writes
  the reason to ``output/failure`` (the job's FailureReason) and exits non-zero.

Behaviour copied from the container's source (github.com/aws/sagemaker-xgboost-container):
hyperparameter names, types and ranges; "Extraneous hyperparameter found: X"; early stopping watches the
*last* ``eval_metric`` on the ``validation`` channel and keeps the best iteration; without a validation
channel or an ``eval_metric`` the container ignores ``early_stopping_rounds`` (this emulator does the same
and says so on stderr). Differences: only CSV is supported (the container also reads libsvm, parquet and
recordio-protobuf; a missing ContentType means libsvm there, so it is an error here), and the
container-only custom metrics (accuracy, f1, precision, recall, r2, mse...) are rejected.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb

from stepwise.containers import model_archive

MODEL_NAME = model_archive.MODEL_FILE  # what the container writes into /opt/ml/model
TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
CSV_CONTENT_TYPES = ("csv", "text/csv")
# Content types the real container also reads; named in the error so users know it is an emulator limit
OTHER_CONTAINER_CONTENT_TYPES = (
    "libsvm",
    "text/libsvm",
    "text/x-libsvm",
    "parquet",
    "application/x-parquet",
    "recordio-protobuf",
    "application/x-recordio-protobuf",
)

# The container's eval metrics that XGBoost itself computes; "maximize" decides early stopping's direction.
MAXIMIZE_METRICS = ("auc", "aucpr", "map", "ndcg", "pre")
MINIMIZE_METRICS = (
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
)
# Metrics the real container computes itself (not XGBoost); the emulator does not implement them.
CONTAINER_ONLY_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "mse",
    "precision",
    "precision_macro",
    "precision_micro",
    "r2",
    "recall",
    "recall_macro",
    "recall_micro",
)


class UserError(Exception):
    """A problem with the job's input that the user can fix (the container's ClientError)."""


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter the container accepts: how to parse its string and which values are valid."""

    kind: str  # "int", "float", "str" or "list" (comma-separated)
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be strictly greater than low
    choices: tuple[str, ...] = ()


def _int(low: float | None = None, high: float | None = None) -> Hyperparameter:
    return Hyperparameter("int", low, high)


def _float(low: float | None = None, high: float | None = None, low_open: bool = False) -> Hyperparameter:
    return Hyperparameter("float", low, high, low_open)


def _choice(*choices: str) -> Hyperparameter:
    return Hyperparameter("str", choices=choices)


# The container's hyperparameters (algorithm_mode/hyperparameter_validation.py, image 1.7-1).
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "num_round": _int(1),
    "csv_weights": _int(0, 1),
    "early_stopping_rounds": _int(1),
    "booster": _choice("gbtree", "gblinear", "dart"),
    "verbosity": _int(0, 3),
    "nthread": _int(1),
    "eta": _float(0, 1),
    "gamma": _float(0),
    "max_depth": _int(0),
    "min_child_weight": _float(0),
    "max_delta_step": _float(0),
    "subsample": _float(0, 1, low_open=True),
    "colsample_bytree": _float(0, 1, low_open=True),
    "colsample_bylevel": _float(0, 1, low_open=True),
    "colsample_bynode": _float(0, 1, low_open=True),
    "lambda": _float(0),
    "alpha": _float(0),
    "tree_method": _choice("auto", "exact", "approx", "hist", "gpu_hist"),
    "sketch_eps": _float(0, 1, low_open=True),
    "scale_pos_weight": _float(0, low_open=True),
    "updater": Hyperparameter("list"),
    "dsplit": _choice("row", "col"),
    "refresh_leaf": _int(0, 1),
    "process_type": _choice("default", "update"),
    "grow_policy": _choice("depthwise", "lossguide"),
    "max_leaves": _int(0),
    "max_bin": _int(0),
    "predictor": _choice("auto", "cpu_predictor", "gpu_predictor"),
    "monotone_constraints": Hyperparameter("str"),
    "interaction_constraints": Hyperparameter("str"),
    "sample_type": _choice("uniform", "weighted"),
    "normalize_type": _choice("tree", "forest"),
    "rate_drop": _float(0, 1),
    "one_drop": _int(0, 1),
    "skip_drop": _float(0, 1),
    "lambda_bias": _float(0, 1),
    "tweedie_variance_power": _float(1, 2, low_open=True),
    "objective": _choice(
        "binary:logistic",
        "binary:logitraw",
        "binary:hinge",
        "count:poisson",
        "multi:softmax",
        "multi:softprob",
        "rank:pairwise",
        "rank:ndcg",
        "rank:map",
        "reg:linear",
        "reg:squarederror",
        "reg:logistic",
        "reg:gamma",
        "reg:pseudohubererror",
        "reg:squaredlogerror",
        "reg:tweedie",
        "survival:aft",
        "survival:cox",
    ),
    "num_class": _int(2),
    "base_score": _float(0),
    "eval_metric": Hyperparameter("list"),
    "seed": _int(-(2**31) + 1, 2**31 - 2),
    "num_parallel_tree": _int(1),
    "save_model_on_termination": _choice("true", "false"),
    "aft_loss_distribution": _choice("normal", "logistic", "extreme"),
    "aft_loss_distribution_scale": _float(0),
    "single_precision_histogram": _choice("true", "false"),
    "deterministic_histogram": _choice("true", "false"),
    "sampling_method": _choice("uniform", "gradient_based"),
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
# Accepted by the container but about its own machinery (cross-validation, tuning, checkpoints), not XGBoost
NOT_EMULATED = ("_kfold", "_num_cv_round", "_tuning_objective_metric", "use_dask_gpu_training")
# Read by the container itself; never passed on to xgboost.train's params
CONTAINER_KEYS = ("num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination")


def _check_eval_metric(metric: str, objective: str | None) -> None:
    name = metric.split("@")[0].strip()
    if "@" in metric and name not in ("error", "ndcg", "map", "pre"):
        raise UserError(
            f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold should "
            "be one of these options: 'error', 'ndcg', 'map'."
        )
    if name in CONTAINER_ONLY_METRICS:
        raise UserError(
            f"Hyperparameter eval_metric: '{name}' is computed by the real container, not by XGBoost, "
            "and the local emulator does not implement it; use one of "
            + ", ".join(MAXIMIZE_METRICS + MINIMIZE_METRICS)
        )
    if name not in MAXIMIZE_METRICS + MINIMIZE_METRICS:
        raise UserError(f"Hyperparameter eval_metric: value {metric} not in range of supported metrics")
    if name == "auc" and objective is not None and not objective.startswith(("binary:", "rank:")):
        raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")


def parse_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Validate the job's hyperparameters (all strings) as the container does; return them typed.

    Aliases (learning_rate, reg_lambda...) become their canonical names; ``eval_metric`` becomes a list.
    Raises UserError with the container's wording for an unknown name, a missing ``num_round``, a value
    that does not parse or is out of range.
    """
    canonical: dict[str, Any] = {}
    for name, value in raw.items():
        name = ALIASES.get(name, name)
        if name in NOT_EMULATED:
            raise UserError(f"Hyperparameter {name} is accepted by SageMaker but not by the local emulator")
        if name not in HYPERPARAMETERS:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        if not isinstance(value, str):
            raise UserError(
                f"Hyperparameter {name}: SageMaker passes every hyperparameter as a string, got "
                f"{type(value).__name__} {value!r}"
            )
        canonical[name] = value
    if "num_round" not in canonical:
        raise UserError("Missing required hyperparameter: num_round")

    parsed: dict[str, Any] = {}
    for name, text in canonical.items():
        spec = HYPERPARAMETERS[name]
        try:
            if spec.kind == "int":
                value: Any = int(text)
            elif spec.kind == "float":
                value = float(text)
            elif spec.kind == "list":
                value = [item.strip() for item in text.split(",")]
            else:
                value = text
        except ValueError as error:
            raise UserError(f"Hyperparameter {name}: could not parse value (caused by ValueError)") from error
        if spec.kind in ("int", "float") and not _in_range(value, spec):
            raise UserError(f"Hyperparameter {name}: {text} is not in {_describe_range(spec)}")
        if spec.choices and value not in spec.choices:
            raise UserError(f"Hyperparameter {name}: {text} is not in {list(spec.choices)}")
        parsed[name] = value

    objective = parsed.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in parsed:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    for metric in parsed.get("eval_metric", []):
        _check_eval_metric(metric, objective)
    return parsed


def _in_range(value: float, spec: Hyperparameter) -> bool:
    if math.isnan(value):
        return False
    if spec.low is not None and (value < spec.low or (spec.low_open and value == spec.low)):
        return False
    return not (spec.high is not None and value > spec.high)


def _describe_range(spec: Hyperparameter) -> str:
    low = "(-inf" if spec.low is None else ("(" if spec.low_open else "[") + f"{spec.low:g}"
    high = "+inf)" if spec.high is None else f"{spec.high:g}]"
    return f"{low}, {high}"


def content_type_is_csv(content_type: str | None, channel: str) -> None:
    """Accept 'text/csv' and 'csv' (optionally with ';label_size=1'); raise UserError for anything else."""
    if content_type is None:
        raise UserError(
            f"Channel {channel} has no ContentType: the container then reads libsvm, which the local "
            "emulator does not support. Set ContentType to 'text/csv' (label in the first column, no header)."
        )
    media_type, *params = [part.strip() for part in content_type.lower().split(";")]
    if media_type in CSV_CONTENT_TYPES:
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "label_size" and value.strip() != "1":
                raise UserError(
                    f"{content_type} is not an accepted csv ContentType. "
                    "Optional parameter label_size must be equal to 1"
                )
        return
    if media_type in OTHER_CONTAINER_CONTENT_TYPES:
        raise UserError(
            f"Channel {channel}: ContentType {content_type} is accepted by the real container but the local "
            "emulator reads CSV only. Use 'text/csv' (label in the first column, no header)."
        )
    raise UserError(
        f"Channel {channel}: {content_type} is not an accepted ContentType: "
        + ", ".join(CSV_CONTENT_TYPES + OTHER_CONTAINER_CONTENT_TYPES)
        + "."
    )


def load_channel(
    folder: Path, content_type: str | None = "text/csv", channel: str = TRAIN_CHANNEL
) -> xgb.DMatrix:
    """Read every CSV file of a channel folder (label first, no header) into one DMatrix.

    Raises UserError when the content type is not CSV, the folder holds no data, a file is not numeric
    CSV, or the files disagree on the number of columns.
    """
    content_type_is_csv(content_type, channel)
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a valid path! (channel {channel})")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
    frames = []
    for path in files:
        if path.stat().st_size == 0:
            continue
        try:
            frame = pd.read_csv(path, header=None, dtype=float)
        except ValueError as error:
            first_line = path.read_text(errors="replace").splitlines()[0][:50]
            raise UserError(
                f"Failed to load csv data: file '{path.name}' of channel {channel} is not numeric CSV "
                f"(first line '{first_line}...'). The built-in algorithm expects the label in the first "
                f"column, numeric features after it and no header row. ({error})"
            ) from error
        if frames and frame.shape[1] != frames[0].shape[1]:
            raise UserError(
                f"Failed to load csv data: file '{path.name}' of channel {channel} has {frame.shape[1]} "
                f"columns but '{files[0].name}' has {frames[0].shape[1]}; every file needs the same columns."
            )
        frames.append(frame)
    if not frames:
        raise UserError(f"No data in {channel} channel path {folder}")
    data = pd.concat(frames, ignore_index=True).to_numpy()
    if data.shape[1] < 2:
        raise UserError(
            f"Channel {channel} has a single column: the built-in algorithm expects the label first, "
            "then at least one feature"
        )
    return xgb.DMatrix(data[:, 1:], label=data[:, 0])


XGBOOST_1_7_BASE_SCORE = 0.5


def booster_params(parsed: dict[str, Any]) -> dict[str, Any]:
    """The ``params`` the container passes to ``xgboost.train``, from parse_hyperparameters' output."""
    params = {name: value for name, value in parsed.items() if name not in CONTAINER_KEYS}
    # The 1.7-1 image runs xgboost 1.7, whose starting score is always 0.5; xgboost >= 2 estimates it
    # from the data instead, which would train a different model from the same request.
    params.setdefault("base_score", XGBOOST_1_7_BASE_SCORE)
    if "updater" in params:
        params["updater"] = ",".join(params["updater"])
    return params


class _PrintMetrics(xgb.callback.TrainingCallback):
    """Print each round's evaluation results as the container does (as seen in CloudWatch)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__()
        self.log = log

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        parts = [f"[{epoch}]"]
        for data_name, metrics in evals_log.items():
            for metric_name, history in metrics.items():
                parts.append(f"{data_name}-{metric_name}:{history[-1]:.5f}")
        self.log("#011".join(parts))
        return False


def _log_stdout(line: str) -> None:
    print(line, flush=True)


def _warn(message: str) -> None:
    print(f"[WARNING] {message}", file=sys.stderr, flush=True)


def train(
    hyperparameters: dict[str, str],
    train_data: xgb.DMatrix,
    validation_data: xgb.DMatrix | None = None,
    log: Callable[[str], None] = _log_stdout,
) -> xgb.Booster:
    """Train as the container does: same parameters, watchlist, metric lines and early stopping.

    ``hyperparameters`` are the job's strings (validated with parse_hyperparameters). With
    ``early_stopping_rounds``, a validation set and an ``eval_metric``, training stops when the last metric
    on validation has not improved for that many rounds and the returned booster keeps the best round.
    """
    parsed = parse_hyperparameters(hyperparameters)
    params = booster_params(parsed)
    eval_metrics = params.get("eval_metric")

    callbacks: list[xgb.callback.TrainingCallback] = [_PrintMetrics(log)]
    rounds = parsed.get("early_stopping_rounds")
    if rounds:
        if validation_data is None:
            _warn(
                "early_stopping_rounds is ignored: there is no validation channel (as in the real container)"
            )
        elif not eval_metrics:
            _warn("early_stopping_rounds is ignored: no eval_metric is set (as in the real container)")
        else:
            metric = eval_metrics[-1]
            # After the printer: xgboost stops calling callbacks once one asks to stop.
            callbacks.append(
                xgb.callback.EarlyStopping(
                    rounds=rounds,
                    metric_name=metric,
                    data_name=VALIDATION_CHANNEL,
                    maximize=metric.split("@")[0] in MAXIMIZE_METRICS,
                    save_best=True,
                )
            )

    watchlist = [(train_data, TRAIN_CHANNEL)]
    if validation_data is not None:
        if validation_data.num_col() != train_data.num_col():
            raise UserError(
                f"The validation channel has {validation_data.num_col()} features but the train channel has "
                f"{train_data.num_col()}; both need the same columns (label first)."
            )
        watchlist.append((validation_data, VALIDATION_CHANNEL))
    try:
        return xgb.train(
            params,
            train_data,
            num_boost_round=parsed["num_round"],
            evals=watchlist,
            callbacks=callbacks,
            verbose_eval=False,
        )
    except xgb.core.XGBoostError as error:
        # XGBoost's own checks (label out of range for the objective, single-class AUC...) are user errors
        raise UserError(f"XGB train call failed with exception:\n {error}") from error


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise UserError(f"{path} is missing: the training job's configuration was not provided")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON: {error}") from error


def run(root: Path) -> None:
    """The container's whole job under ``root`` (its /opt/ml): config in, model out. Raises on failure."""
    config = root / "input" / "config"
    hyperparameters = _read_json(config / "hyperparameters.json")
    channels = _read_json(config / "inputdataconfig.json")
    parse_hyperparameters(hyperparameters)  # fail fast, before reading data, as the container does

    if TRAIN_CHANNEL not in channels:
        raise UserError(
            f"Missing required channel: {TRAIN_CHANNEL}. "
            f"InputDataConfig has {sorted(channels) or 'no channels'}"
        )
    for name in channels:
        if name not in (TRAIN_CHANNEL, VALIDATION_CHANNEL):
            raise UserError(
                f"Extraneous channel found: {name} (the algorithm reads 'train' and 'validation')"
            )

    data_root = root / "input" / "data"
    train_data = load_channel(
        data_root / TRAIN_CHANNEL, channels[TRAIN_CHANNEL].get("ContentType"), TRAIN_CHANNEL
    )
    validation_data = None
    if VALIDATION_CHANNEL in channels:
        validation_data = load_channel(
            data_root / VALIDATION_CHANNEL,
            channels[VALIDATION_CHANNEL].get("ContentType"),
            VALIDATION_CHANNEL,
        )
    print(
        f"[INFO] Train matrix has {train_data.num_row()} rows and {train_data.num_col()} columns"
        + (
            f"; validation matrix has {validation_data.num_row()} rows" if validation_data is not None else ""
        ),
        file=sys.stderr,
        flush=True,
    )

    booster = train(hyperparameters, train_data, validation_data)
    model_dir = root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    # JSON: a format every XGBoost from 1.0 to 3.x loads, whatever the file is named (the real 1.7-1
    # container writes its legacy binary format, which XGBoost 3 no longer writes).
    (model_dir / MODEL_NAME).write_bytes(booster.save_raw(raw_format="json"))


def write_failure(root: Path, reason: str) -> None:
    """Write the FailureReason where SageMaker reads it (output/failure)."""
    output = root / "output"
    output.mkdir(parents=True, exist_ok=True)
    (output / "failure").write_text(reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/opt/ml"), help="the container's /opt/ml")
    args = parser.parse_args(argv)
    try:
        run(args.root)
    except UserError as error:
        write_failure(args.root, f"ClientError: {error}")
        print(f"[ERROR] ClientError: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # anything else is the algorithm's fault, as SageMaker reports it
        write_failure(args.root, f"AlgorithmError: {error}")
        traceback.print_exc()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
