"""The built-in XGBoost emulator (stepwise.containers.xgboost_algorithm), and training jobs as the
embedded AWS runs them (SyncJobs.run_training, stepwise/emulator/sagemaker/jobs.py)."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from processing import evaluate, preprocess
from stepwise.config import DEFAULT_HYPERPARAMETERS
from stepwise.containers import xgboost_algorithm as container
from stepwise.emulator.sagemaker.jobs import JobServices, SyncJobs, image_repository, job_dir
from stepwise.emulator.stepfunctions import TaskContext

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/stepwise-sagemaker"
RUN = "20261128-083001-5c7e21"  # a run id as ClaimRun makes them: its jobs run in runs/<run id>/jobs/
# nthread=1: the test machine is shared, and XGBoost threads contending for busy cores are very slow
BASIC = {
    "objective": "binary:logistic",
    "num_round": "10",
    "eval_metric": "auc",
    "max_depth": "3",
    "nthread": "1",
}


def write_label_first_csv(path: Path, rows: int, seed: int, features: int = 6) -> None:
    """A learnable binary problem: the label depends on the first two features plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    y = (x[:, 0] - 0.7 * x[:, 1] + 0.8 * rng.normal(size=rows) > 0).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([y, x]), delimiter=",", fmt="%.6g")


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    write_label_first_csv(tmp_path / "data" / "train" / "part-1.csv", 600, seed=1)
    write_label_first_csv(tmp_path / "data" / "train" / "part-2.csv", 400, seed=2)
    write_label_first_csv(tmp_path / "data" / "validation" / "validation.csv", 300, seed=3)
    return {"train": tmp_path / "data" / "train", "validation": tmp_path / "data" / "validation"}


def opt_ml(
    root: Path, hyperparameters: dict, channels: dict[str, Path], content_type: str = "text/csv"
) -> Path:
    """Lay out a container root by hand, as SageMaker would."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": content_type, "TrainingInputMode": "File"} for name in channels})
    )
    for name, folder in channels.items():
        target = root / "input" / "data" / name
        target.mkdir(parents=True)
        for file in folder.iterdir():
            (target / file.name).write_bytes(file.read_bytes())
    return root


def request(
    name: str, hyperparameters: dict | None = None, channels: str = "preprocess", **overrides
) -> dict:
    """A CreateTrainingJob request as the state machine's Train task sends it; the channels are read from
    s3://bucket/runs/<RUN>/<channels>/<channel>/."""
    body = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": dict(BASIC if hyperparameters is None else hyperparameters),
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://bucket/runs/{RUN}/{channels}/{channel}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://bucket/runs/{RUN}/train/"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    body.update(overrides)
    return body


# ---------------------------------------------------------------------------------------------------
# Hyperparameters


def test_hyperparameter_strings_are_parsed_to_the_types_xgboost_takes() -> None:
    parsed = container.parse_hyperparameters(
        {"num_round": "50", "eta": "0.1", "max_depth": "3", "eval_metric": "auc,logloss", "reg_lambda": "5"}
    )
    assert parsed == {
        "num_round": 50,
        "eta": 0.1,
        "max_depth": 3,
        "eval_metric": ["auc", "logloss"],
        "lambda": 5.0,
    }


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"num_round": "5", "max_dept": "3"}, "Extraneous hyperparameter found: max_dept"),
        ({"eta": "0.1"}, "Missing required hyperparameter: num_round"),
        ({"num_round": "ten"}, "Hyperparameter num_round: could not parse value"),
        ({"num_round": "5", "eta": "1.5"}, "Hyperparameter eta: 1.5 is not in [0, 1]"),
        ({"num_round": "5", "subsample": "0"}, "Hyperparameter subsample: 0 is not in (0, 1]"),
        ({"num_round": "5", "objective": "binary:logistik"}, "Hyperparameter objective: binary:logistik"),
        ({"num_round": "5", "objective": "reg:squarederror", "eval_metric": "auc"}, "Metric 'auc' can only"),
        ({"num_round": "5", "eval_metric": "f1"}, "local emulator does not implement it"),
        ({"num_round": 5}, "passes every hyperparameter as a string"),
    ],
)
def test_invalid_hyperparameters_are_rejected_with_the_containers_message(hyperparameters, message) -> None:
    with pytest.raises(container.UserError) as error:
        container.parse_hyperparameters(hyperparameters)
    assert message in str(error.value)


def test_every_documented_tuning_hyperparameter_reaches_xgboost(data: dict[str, Path]) -> None:
    hyperparameters = {
        "num_round": "3",
        "objective": "binary:logistic",
        "eta": "0.2",
        "max_depth": "2",
        "min_child_weight": "3",
        "subsample": "0.9",
        "colsample_bytree": "0.8",
        "gamma": "0.1",
        "alpha": "0.5",
        "lambda": "2",
        "scale_pos_weight": "4",
        "max_delta_step": "1",
        "tree_method": "hist",
        "seed": "7",
        "verbosity": "0",
        "nthread": "1",
    }
    train = container.load_channel(data["train"])
    booster = container.train(hyperparameters, train, log=lambda line: None)
    config = json.loads(booster.save_config())
    tree = config["learner"]["gradient_booster"]["tree_train_param"]
    assert (tree["eta"], tree["max_depth"], tree["min_child_weight"]) == ("0.200000003", "2", "3")
    assert (tree["subsample"], tree["colsample_bytree"], tree["gamma"]) == (
        "0.899999976",
        "0.800000012",
        "0.100000001",
    )
    assert (tree["alpha"], tree["lambda"], tree["max_delta_step"]) == ("0.5", "2", "1")
    assert config["learner"]["objective"]["reg_loss_param"]["scale_pos_weight"] == "4"
    assert booster.num_boosted_rounds() == 3


# ---------------------------------------------------------------------------------------------------
# Data channels


def test_load_channel_reads_every_file_of_the_folder_with_the_label_first(data: dict[str, Path]) -> None:
    matrix = container.load_channel(data["train"], "text/csv")
    assert (matrix.num_row(), matrix.num_col()) == (1000, 6)
    first = np.loadtxt(data["train"] / "part-1.csv", delimiter=",")
    assert np.array_equal(matrix.get_label()[:600], first[:, 0])


@pytest.mark.parametrize("content_type", ["csv", "text/csv", "text/csv; label_size=1", "TEXT/CSV"])
def test_csv_content_types_are_accepted(data: dict[str, Path], content_type: str) -> None:
    assert container.load_channel(data["validation"], content_type).num_row() == 300


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/libsvm", "the local emulator reads CSV only"),
        (None, "Set ContentType to 'text/csv'"),
        ("application/json", "is not an accepted ContentType"),
        ("text/csv;label_size=2", "label_size must be equal to 1"),
    ],
)
def test_other_content_types_are_rejected(
    data: dict[str, Path], content_type: str | None, message: str
) -> None:
    with pytest.raises(container.UserError) as error:
        container.load_channel(data["train"], content_type)
    assert message in str(error.value)


def test_a_header_row_is_reported_as_not_the_algorithms_format(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.csv").write_text("fraud,age\n0,31\n1,45\n")
    with pytest.raises(container.UserError) as error:
        container.load_channel(tmp_path / "train")
    assert "no header row" in str(error.value) and "train.csv" in str(error.value)


# ---------------------------------------------------------------------------------------------------
# The container process contract (in-process through main, as the subprocess runs it)


def test_container_writes_the_model_and_prints_metric_lines_in_cloudwatch_format(
    tmp_path: Path, data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = opt_ml(tmp_path / "opt_ml", {**BASIC, "eval_metric": "logloss,auc"}, data)
    assert container.main(["--root", str(root)]) == 0

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 10
    assert lines[0].startswith("[0]#011train-logloss:")
    assert [part.split(":")[0] for part in lines[-1].split("#011")] == [
        "[9]",
        "train-logloss",
        "train-auc",
        "validation-logloss",
        "validation-auc",
    ]
    booster = xgb.Booster(model_file=str(root / "model" / "xgboost-model"))
    validation = container.load_channel(data["validation"])
    printed_auc = float(lines[-1].split("validation-auc:")[1])
    assert roc_auc_score(validation.get_label(), booster.predict(validation)) == pytest.approx(
        printed_auc, abs=1e-5
    )
    assert not (root / "output" / "failure").exists()


def test_unknown_hyperparameter_fails_the_job_with_output_failure(
    tmp_path: Path, data: dict[str, Path]
) -> None:
    root = opt_ml(tmp_path / "opt_ml", {**BASIC, "num_rounds": "10"}, data)
    assert container.main(["--root", str(root)]) != 0
    assert (
        root / "output" / "failure"
    ).read_text() == "ClientError: Extraneous hyperparameter found: num_rounds"
    assert not (root / "model" / "xgboost-model").exists()


def test_missing_train_channel_fails_the_job(tmp_path: Path, data: dict[str, Path]) -> None:
    root = opt_ml(tmp_path / "opt_ml", BASIC, {"validation": data["validation"]})
    assert container.main(["--root", str(root)]) != 0
    assert "Missing required channel: train" in (root / "output" / "failure").read_text()


def test_early_stopping_on_validation_keeps_the_best_round(
    tmp_path: Path, data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # A fast learning rate on noisy data: validation AUC peaks early, then training would go on for 500 rounds
    hyperparameters = {
        **BASIC,
        "num_round": "500",
        "eta": "0.5",
        "max_depth": "6",
        "early_stopping_rounds": "5",
    }
    root = opt_ml(tmp_path / "opt_ml", hyperparameters, data)
    assert container.main(["--root", str(root)]) == 0

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    aucs = [float(line.split("validation-auc:")[1]) for line in lines]
    best = int(np.argmax(aucs))
    assert len(lines) == best + 1 + 5  # stopped five rounds after the best one
    booster = xgb.Booster(model_file=str(root / "model" / "xgboost-model"))
    assert booster.num_boosted_rounds() == best + 1  # the saved model is the best one, not the last


def test_early_stopping_without_validation_is_ignored_as_in_the_container(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train = container.load_channel(data["train"])
    booster = container.train({**BASIC, "num_round": "30", "early_stopping_rounds": "2"}, train)
    assert booster.num_boosted_rounds() == 30
    assert "early_stopping_rounds is ignored: there is no validation channel" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# SyncJobs.run_training: the request's channels copied in from S3, the container run as a process of the
# embedded AWS, the model archive copied out to S3, a DescribeTrainingJob-shaped result


@dataclasses.dataclass
class Training:
    aws: object  # a bare EmbeddedAWS
    services: JobServices  # the jobs' view of it, with IAM decisions of the test's choosing
    finished: list[tuple[str, str, str]]

    def run(self, job: dict, ctx: TaskContext | None = None, **services) -> dict:
        return SyncJobs(dataclasses.replace(self.services, **services)).run_training(job, ctx)

    def folder(self, job: dict) -> Path:
        return job_dir(self.services.jobs_root, RUN, job["TrainingJobName"])

    def object(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def upload(self, folder: Path, prefix: str) -> None:
        for path in sorted(folder.rglob("*.csv")):
            key = f"runs/{RUN}/{prefix}/{path.relative_to(folder).as_posix()}"
            self.aws.client("s3").upload_file(str(path), "bucket", key)


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Training]:
    """A bare embedded AWS whose bucket holds the preprocess channels (train: two files, validation)."""
    from stepwise.emulator.aws import EmbeddedAWS

    root = tmp_path_factory.mktemp("training")
    with EmbeddedAWS(root / "state", with_stack=False, enforce_iam=False) as aws:
        aws.client("s3").create_bucket(Bucket="bucket")
        finished: list[tuple[str, str, str]] = []
        services = JobServices(
            clients=aws.client,
            acting_as=aws.principals.acting_as,
            supervisor=aws.supervisor,
            may_pull=lambda role, image: None,
            may_assume=lambda role: True,
            finish=lambda kind, name, result: finished.append((kind, name, result["TrainingJobStatus"])),
            jobs_root=root / "state" / "runs",
            account_id=aws.account_id,
            region=aws.region,
        )
        found = Training(aws, services, finished)
        write_label_first_csv(root / "data" / "train" / "part-1.csv", 600, seed=1)
        write_label_first_csv(root / "data" / "train" / "part-2.csv", 400, seed=2)
        write_label_first_csv(root / "data" / "validation" / "validation.csv", 300, seed=3)
        found.upload(root / "data", "preprocess")
        yield found


def test_training_job_completes_with_a_sagemaker_model_archive(training: Training) -> None:
    job = request(f"{RUN}-train-0")
    result = training.run(job)

    assert result["TrainingJobStatus"] == "Completed", result.get("FailureReason")
    model = f"s3://bucket/runs/{RUN}/train/{RUN}-train-0/output/model.tar.gz"
    assert result["ModelArtifacts"]["S3ModelArtifacts"] == model
    assert result["HyperParameters"] == BASIC
    json.dumps(result)  # the state machine carries it as JSON
    assert training.finished[-1] == ("training", f"{RUN}-train-0", "Completed")

    with tarfile.open(fileobj=io.BytesIO(training.object(model))) as tar:
        assert tar.getnames() == ["xgboost-model"]
        booster = xgb.Booster()
        booster.load_model(bytearray(tar.extractfile("xgboost-model").read()))
    assert booster.num_boosted_rounds() == 10

    log = (training.folder(job) / "logs" / "job.log").read_text()
    last_line = [line for line in log.splitlines() if line.startswith("[9]")][0]
    metrics = {m["MetricName"]: m["Value"] for m in result["FinalMetricDataList"]}
    assert set(metrics) == {"train:auc", "validation:auc"}
    assert f"validation-auc:{metrics['validation:auc']:.5f}" in last_line
    assert result["TrainingStartTime"] <= result["TrainingEndTime"]
    config = training.folder(job) / "opt" / "ml" / "input" / "config"
    assert json.loads((config / "inputdataconfig.json").read_text())["train"]["ContentType"] == "text/csv"
    assert len(list((training.folder(job) / "opt" / "ml" / "input" / "data" / "train").iterdir())) == 2

    # SageMaker writes the container's output to CloudWatch Logs, as the job's role
    logs = training.aws.client("logs")
    (stream,) = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{RUN}-train-0/"
    )["logStreams"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
    )
    assert last_line in [event["message"] for event in events["events"]]


def test_training_job_failure_carries_the_containers_reason(training: Training) -> None:
    job = request(f"{RUN}-train-1", hyperparameters={"num_round": "5", "depth": "3"})
    result = training.run(job)
    assert result["TrainingJobStatus"] == "Failed"
    assert result["FailureReason"] == "ClientError: Extraneous hyperparameter found: depth"
    assert "ModelArtifacts" not in result and "LocalModelArtifact" not in result
    assert "Extraneous hyperparameter found: depth" in (training.folder(job) / "logs" / "job.log").read_text()
    assert training.finished[-1] == ("training", f"{RUN}-train-1", "Failed")


def test_a_container_that_exits_non_zero_fails_the_job_even_with_a_model(training: Training) -> None:
    """SageMaker fails a training job whose container exits non-zero, whatever it wrote."""

    class ExitsNonZero:
        def run(self, *args: object, **kwargs: object) -> tuple[str, int]:
            outcome, _ = training.aws.supervisor.run(*args, **kwargs)
            return outcome, 1

    job = request(f"{RUN}-train-9")
    result = training.run(job, supervisor=ExitsNonZero())
    assert (training.folder(job) / "opt" / "ml" / "model" / "xgboost-model").is_file()
    assert result["TrainingJobStatus"] == "Failed"
    assert result["FailureReason"].startswith("AlgorithmError: exit code 1: ")
    assert "ModelArtifacts" not in result


def test_a_non_xgboost_image_fails_the_job_before_anything_runs(training: Training) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:latest"
    spec = {"TrainingImage": image, "TrainingInputMode": "File"}
    job = request(f"{RUN}-train-2", AlgorithmSpecification=spec)
    result = training.run(job)
    assert result["TrainingJobStatus"] == "Failed"
    assert result["FailureReason"].startswith(
        f"ClientError: TrainingImage '{image}' is not the built-in XGBoost"
    )
    assert not (training.folder(job) / "opt" / "ml" / "input").exists()  # no channel was copied in
    assert image_repository(XGBOOST_IMAGE) == "sagemaker-xgboost"


def test_a_channel_with_no_objects_fails_the_job_as_sagemaker_does(training: Training) -> None:
    result = training.run(request(f"{RUN}-train-3", channels="nothing-here"))
    assert result["TrainingJobStatus"] == "Failed"
    assert result["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://bucket/runs/{RUN}/nothing-here/train/"'
    )


def test_the_jobs_role_must_be_assumable_and_may_pull_the_image(training: Training) -> None:
    result = training.run(request(f"{RUN}-train-4"), may_assume=lambda role: False)
    assert (result["TrainingJobStatus"], result["FailureReason"]) == (
        "Failed",
        f"ClientError: Could not assume role {ROLE}. Please ensure that the role exists and allows "
        "principal 'sagemaker.amazonaws.com' to assume the role.",
    )
    denied = training.run(request(f"{RUN}-train-5"), may_pull=lambda role, image: "AccessDenied (ecr)")
    assert denied["FailureReason"] == f"ClientError: Failed to pull image {XGBOOST_IMAGE}: AccessDenied (ecr)"


def _context(is_running) -> TaskContext:
    return TaskContext(
        state_name="Train",
        execution_name="run",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:run",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m",
        retry_count=0,
        is_running=is_running,
    )


def test_a_stopped_execution_stops_the_running_container(training: Training) -> None:
    endless = {**BASIC, "num_round": "1000000"}  # hours of training if nobody stops it
    job = request(f"{RUN}-train-6", hyperparameters=endless)
    log = training.folder(job) / "logs" / "job.log"

    def is_running() -> bool:  # the execution stops once the container printed its first round
        return not (log.exists() and "[0]#011" in log.read_text(errors="replace"))

    result = training.run(job, _context(is_running))
    assert (result["TrainingJobStatus"], result["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "ModelArtifacts" not in result
    assert not (training.folder(job) / "opt" / "ml" / "model" / "xgboost-model").exists()


def test_max_runtime_stops_the_job(training: Training) -> None:
    endless = {**BASIC, "num_round": "1000000"}
    job = request(f"{RUN}-train-7", hyperparameters=endless, StoppingCondition={"MaxRuntimeInSeconds": 1})
    result = training.run(job)
    assert (result["TrainingJobStatus"], result["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert result["FailureReason"] == "Training job reached MaxRuntimeInSeconds (1 s)"
    assert result["TrainingEndTime"] > result["TrainingStartTime"]


# ---------------------------------------------------------------------------------------------------
# Real data: preprocess -> training job -> evaluate, as the pipeline chains them


def test_real_data_trains_a_model_that_ranks_fraud(
    training: Training, tmp_path: Path, tutorial_data: Path
) -> None:
    splits = tmp_path / "preprocess"
    assert preprocess.main(["--input-dir", str(tutorial_data), "--output-dir", str(splits)]) == 0
    training.upload(splits, "tutorial")

    job = request(
        f"{RUN}-train-8", hyperparameters={**DEFAULT_HYPERPARAMETERS, "nthread": "1"}, channels="tutorial"
    )
    result = training.run(job)
    assert result["TrainingJobStatus"] == "Completed", result.get("FailureReason")

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.tar.gz").write_bytes(training.object(result["ModelArtifacts"]["S3ModelArtifacts"]))
    booster = evaluate.load_model(model_dir)
    labels, features, names = evaluate.load_test_set(splits / "test")
    assert booster.num_features() == len(names) == len(preprocess.feature_names())
    assert roc_auc_score(labels, evaluate.predict(booster, features, names)) > 0.75
