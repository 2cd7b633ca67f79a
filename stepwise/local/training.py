"""Run a CreateTrainingJob request locally with the built-in XGBoost emulator.

``run_training_job`` takes the request exactly as ``boto3.client("sagemaker").create_training_job(**request)``
would, plus a local folder for each channel's data. It lays out the container's /opt/ml tree under
``workdir`` (as SageMaker does on the training instance), runs ``stepwise.containers.xgboost_algorithm`` in a
subprocess, packs ``model/`` into ``output/model.tar.gz`` and returns a DescribeTrainingJob-shaped dict.
Copying to and from S3 is the caller's job: the dict names the S3 URI SageMaker would write
(``ModelArtifacts.S3ModelArtifacts``) and the local file that belongs there (``LocalModelArtifact``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepwise.containers import model_archive

CONTAINER_MODULE = "stepwise.containers.xgboost_algorithm"
XGBOOST_REPOSITORY = "sagemaker-xgboost"
POLL_SECONDS = 0.2
# How long a cancelled container gets to exit after SIGTERM before it is killed
TERMINATE_GRACE_SECONDS = 5.0
# "[12]#011train-auc:0.81234#011validation-auc:0.75000": one metric line of the container's log
_METRIC_LINE = re.compile(r"^\[(\d+)\](.*)$")
_METRIC = re.compile(r"#011([A-Za-z0-9_]+)-([^:#]+):([-+0-9.eE]+|nan|inf)")
_SRC_ROOT = Path(__file__).resolve().parents[2]


class TrainingRequestError(ValueError):
    """The request cannot run locally (SageMaker would reject it, or the emulator does not support it)."""


def image_repository(image_uri: str) -> str:
    """Repository of an ECR image URI: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1'
    -> 'sagemaker-xgboost'."""
    path = image_uri.split("/", 1)[1] if "/" in image_uri else image_uri
    return re.split(r"[:@]", path, maxsplit=1)[0]


def _check_request(request: dict, channels: dict[str, Path]) -> None:
    for key in ("TrainingJobName", "AlgorithmSpecification", "InputDataConfig", "OutputDataConfig"):
        if key not in request:
            raise TrainingRequestError(f"CreateTrainingJob request has no {key}")
    algorithm = request["AlgorithmSpecification"]
    image = algorithm.get("TrainingImage", "")
    if image_repository(image) != XGBOOST_REPOSITORY:
        raise TrainingRequestError(
            f"TrainingImage {image!r} is not the built-in XGBoost algorithm: local mode runs only images of "
            f"the '{XGBOOST_REPOSITORY}' repository (e.g. <account>.dkr.ecr.<region>.amazonaws.com/"
            f"{XGBOOST_REPOSITORY}:1.7-1)"
        )
    if algorithm.get("TrainingInputMode", "File") != "File":
        raise TrainingRequestError(
            f"TrainingInputMode {algorithm['TrainingInputMode']!r} is not supported locally; use 'File'"
        )
    for name, value in request.get("HyperParameters", {}).items():
        if not isinstance(value, str):
            raise TrainingRequestError(
                f"HyperParameters[{name!r}] is {type(value).__name__} {value!r}: CreateTrainingJob "
                f"takes strings only, write {str(value)!r}"
            )
    requested = [channel["ChannelName"] for channel in request["InputDataConfig"]]
    missing = [name for name in requested if name not in channels]
    if missing:
        raise TrainingRequestError(
            f"No local data folder given for channel(s) {missing}; got {sorted(channels)}"
        )
    extra = [name for name in channels if name not in requested]
    if extra:
        raise TrainingRequestError(
            f"Local data given for channel(s) {extra} that InputDataConfig does not name"
        )
    for name in requested:
        if not Path(channels[name]).exists():
            raise TrainingRequestError(
                f"The local data for channel {name!r} does not exist: {channels[name]}"
            )


def _input_data_config(request: dict) -> dict:
    """inputdataconfig.json as SageMaker writes it: one entry per channel."""
    config = {}
    for channel in request["InputDataConfig"]:
        entry = {
            "TrainingInputMode": channel.get(
                "InputMode", request["AlgorithmSpecification"]["TrainingInputMode"]
            ),
            "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                "S3DataDistributionType", "FullyReplicated"
            ),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        config[channel["ChannelName"]] = entry
    return config


def _lay_out(request: dict, channels: dict[str, Path], root: Path) -> None:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {}), indent=2))
    (config / "inputdataconfig.json").write_text(json.dumps(_input_data_config(request), indent=2))
    resources = {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
    (config / "resourceconfig.json").write_text(json.dumps(resources, indent=2))
    for name, source in channels.items():
        target = root / "input" / "data" / name
        source = Path(source)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir(parents=True)
            shutil.copy2(source, target / source.name)
    (root / "model").mkdir()
    (root / "output").mkdir()


def parse_final_metrics(log_text: str, timestamp: str) -> list[dict]:
    """FinalMetricDataList from the container's log: the last value of every "<channel>:<metric>"."""
    final: dict[str, float] = {}
    for line in log_text.splitlines():
        match = _METRIC_LINE.match(line.strip())
        if not match:
            continue
        for channel, metric, value in _METRIC.findall(match.group(2)):
            final[f"{channel}:{metric}"] = float(value)
    return [{"MetricName": name, "Value": value, "Timestamp": timestamp} for name, value in final.items()]


def _job_arn(request: dict) -> str | None:
    region = re.search(
        r"\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com", request["AlgorithmSpecification"]["TrainingImage"]
    )
    account = re.match(r"arn:aws[a-z-]*:iam::(\d{12}):", request.get("RoleArn", ""))
    if not (region and account):
        return None
    return f"arn:aws:sagemaker:{region.group(1)}:{account.group(1)}:training-job/{request['TrainingJobName']}"


def _run_container(
    root: Path, log_file: Path, should_stop: Callable[[], bool] | None, max_seconds: float | None
) -> str:
    """Run the container process; return 'exited', 'stopped' (caller cancelled) or 'timeout'."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_SRC_ROOT), os.environ.get("PYTHONPATH")]))
    )
    started = time.monotonic()
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", CONTAINER_MODULE, "--root", str(root)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            while True:
                try:
                    process.wait(timeout=POLL_SECONDS)
                    return "exited"
                except subprocess.TimeoutExpired:
                    pass
                if should_stop is not None and should_stop():
                    outcome = "stopped"
                elif max_seconds is not None and time.monotonic() - started > max_seconds:
                    outcome = "timeout"
                else:
                    continue
                process.terminate()  # SIGTERM, as SageMaker sends on StopTrainingJob
                try:
                    process.wait(timeout=TERMINATE_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                return outcome
        finally:
            if process.poll() is None:  # an exception (e.g. KeyboardInterrupt) must not leave it running
                process.kill()
                process.wait()


def run_training_job(
    request: dict,
    channels: dict[str, Path],
    workdir: Path,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run one CreateTrainingJob request locally; return its DescribeTrainingJob-shaped result.

    ``channels`` maps each InputDataConfig ChannelName to a local folder (or file) holding that channel's
    data. ``workdir`` must be new or empty: it becomes the container's /opt/ml, plus ``logs/container.log``.
    ``should_stop`` is polled every 0.2 s; when it returns True the container is terminated and the job
    ends ``Stopped``, as after StopTrainingJob. StoppingCondition.MaxRuntimeInSeconds is enforced the same
    way (SecondaryStatus ``MaxRuntimeExceeded``). A failing container gives ``Failed`` with the
    FailureReason it wrote. Raises TrainingRequestError when the request cannot run at all.
    """
    _check_request(request, channels)
    root = Path(workdir)
    if root.exists() and any(root.iterdir()):
        raise TrainingRequestError(
            f"workdir {root} is not empty: every training job needs a folder of its own"
        )
    root.mkdir(parents=True, exist_ok=True)
    _lay_out(request, channels, root)
    log_file = root / "logs" / "container.log"
    log_file.parent.mkdir()

    started = datetime.now(UTC)
    max_seconds = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    outcome = _run_container(root, log_file, should_stop, max_seconds)
    ended = datetime.now(UTC)

    name = request["TrainingJobName"]
    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    result: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": request["AlgorithmSpecification"],
        "RoleArn": request.get("RoleArn"),
        "HyperParameters": request.get("HyperParameters", {}),
        "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": request["OutputDataConfig"],
        "ResourceConfig": request.get("ResourceConfig"),
        "StoppingCondition": request.get("StoppingCondition"),
        "CreationTime": started.isoformat(),
        "TrainingStartTime": started.isoformat(),
        "TrainingEndTime": ended.isoformat(),
        "LastModifiedTime": ended.isoformat(),
        "TrainingTimeInSeconds": max(1, round((ended - started).total_seconds())),
        "FinalMetricDataList": parse_final_metrics(log_file.read_text(errors="replace"), ended.isoformat()),
        "LocalLogFile": str(log_file),
    }
    arn = _job_arn(request)
    if arn:
        result["TrainingJobArn"] = arn

    model_file = root / "model" / model_archive.MODEL_FILE
    failure_file = root / "output" / "failure"
    if outcome == "stopped":
        result.update(TrainingJobStatus="Stopped", SecondaryStatus="Stopped")
    elif outcome == "timeout":
        result.update(
            TrainingJobStatus="Stopped",
            SecondaryStatus="MaxRuntimeExceeded",
            FailureReason=f"Training job reached MaxRuntimeInSeconds ({max_seconds} s)",
        )
    elif failure_file.is_file() or not model_file.is_file():
        reason = failure_file.read_text().strip() if failure_file.is_file() else ""
        result.update(
            TrainingJobStatus="Failed",
            SecondaryStatus="Failed",
            FailureReason=reason or f"AlgorithmError: the container exited without a model; see {log_file}",
        )
    else:
        archive = model_archive.pack(root / "model", root / "output" / "model.tar.gz")
        result.update(
            TrainingJobStatus="Completed",
            SecondaryStatus="Completed",
            ModelArtifacts={"S3ModelArtifacts": f"{output_path}/{name}/output/model.tar.gz"},
            LocalModelArtifact=str(archive),
        )
    return result
