"""The .sync SageMaker Tasks of the embedded AWS (stepwise/emulator/sagemaker/jobs.py): real
CreateProcessingJob / CreateTrainingJob requests, sent to the emulated SageMaker as Step Functions sends
them (with its managed EventBridge rule), run locally under the container file contract, S3 in and out;
a failed job is States.TaskFailed with its Describe* result, a rejected request
SageMaker.AmazonSageMakerException with AWS's cause."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from asl_support import entered_states, task_failures

BUCKET = "jobs-bucket"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/stepwise-sagemaker"
RUN = "20261128-083001-5c7e21"  # a run id as ClaimRun makes them: the jobs' folder is runs/<run id>/

# A processing script that uses the container paths as its defaults, like processing/*.py
SCRIPT = """
import argparse, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--input-dir", default="/opt/ml/processing/input/data")
parser.add_argument("--output-dir", default="/opt/ml/processing/output")
parser.add_argument("--message-file", default="/opt/ml/output/message")
args = parser.parse_args()
rows = open(os.path.join(args.input_dir, "nested", "rows.csv")).read().splitlines()
if rows[0] != "a,b":
    open(args.message_file, "w").write(
        "rows.csv: header must be 'a,b', found " + repr(rows[0]) + "; fix the file's first line")
    sys.exit(2)
os.makedirs(args.output_dir, exist_ok=True)
open(os.path.join(args.output_dir, "count.txt"), "w").write(str(len(rows) - 1) + " " + os.environ["MODE"])
"""


def _processing_state(arguments: list[str]) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {
            "ProcessingJobName.$": "States.Format('{}-count-{}', $.run.id, $$.State.RetryCount)",
            "RoleArn": ROLE,
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/count.py"],
                "ContainerArguments": arguments,
            },
            "Environment": {"MODE": "local"},
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
            },
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{BUCKET}/code/abc/",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                },
                {
                    "InputName": "data",
                    "S3Input": {
                        "S3Uri": f"s3://{BUCKET}/raw/d1",
                        "LocalPath": "/opt/ml/processing/input/data",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                },
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "count",
                        "S3Output": {
                            "S3Uri.$": "States.Format('s3://jobs-bucket/runs/{}/count', $.run.id)",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
        "ResultSelector": {"status.$": "$.ProcessingJobStatus", "name.$": "$.ProcessingJobName"},
        "ResultPath": "$.count",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed"}],
        "End": True,
    }


@pytest.fixture
def jobs(local_sfn) -> Path:
    """The bucket with the processing script; the folder jobs run in (<state>/runs/<run id>/jobs/)."""
    s3 = local_sfn.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/abc/count.py", Body=SCRIPT.encode())
    return local_sfn.aws.state_dir / "runs" / RUN / "jobs"


def _machine(state: dict) -> dict:
    return {"StartAt": "Job", "States": {"Job": state, "Failed": {"Type": "Fail", "Error": "PipelineFailed"}}}


def _run(local_sfn, state: dict, timeout: float = 60) -> tuple[dict, list[dict]]:
    return local_sfn.run(_machine(state), {"run": {"id": RUN}}, timeout=timeout)


def test_processing_job_runs_under_the_container_contract(local_sfn, jobs: Path) -> None:
    s3 = local_sfn.client("s3")
    s3.put_object(Bucket=BUCKET, Key="raw/d1/nested/rows.csv", Body=b"a,b\n1,2\n3,4\n")
    arguments = ["--input-dir", "/opt/ml/processing/input/data", "--output-dir", "/opt/ml/processing/output"]
    described, events = _run(local_sfn, _processing_state(arguments))
    assert described["status"] == "SUCCEEDED", task_failures(events)
    job = f"{RUN}-count-0"
    assert local_sfn.output(described)["count"] == {"status": "Completed", "name": job}
    body = s3.get_object(Bucket=BUCKET, Key=f"runs/{RUN}/count/count.txt")["Body"].read()
    assert body == b"2 local"
    command = (jobs / job / "logs" / "job.log").read_text().splitlines()[0]
    # the entrypoint's container paths point into the job's folder
    assert command.endswith(f"--output-dir {jobs / job / 'opt' / 'ml' / 'processing' / 'output'}")

    # what Step Functions and SageMaker leave in the account, as on AWS
    sagemaker = local_sfn.client("sagemaker")
    assert sagemaker.describe_processing_job(ProcessingJobName=job)["ProcessingJobStatus"] == "Completed"
    eventbridge = local_sfn.client("events")
    rule = eventbridge.describe_rule(Name="StepFunctionsGetEventsForSageMakerProcessingJobsRule")
    assert json.loads(rule["EventPattern"])["detail-type"] == ["SageMaker Processing Job State Change"]
    logs = local_sfn.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs")["logStreams"]
    assert stream["logStreamName"].startswith(f"{job}/algo-1-")


def test_processing_job_message_becomes_the_failure_reason_and_outputs_stay_unwritten(
    local_sfn, jobs: Path
) -> None:
    s3 = local_sfn.client("s3")
    s3.put_object(Bucket=BUCKET, Key="raw/d1/nested/rows.csv", Body=b"x,y\n1,2\n")
    arguments = ["--input-dir", "/opt/ml/processing/input/data", "--message-file", "/opt/ml/output/message"]
    described, events = _run(local_sfn, _processing_state(arguments))
    assert described["status"] == "FAILED"
    assert entered_states(events) == ["Job", "Failed"]
    failure = task_failures(events)[0]
    assert failure["error"] == "States.TaskFailed"
    cause = json.loads(failure["cause"])
    reason = "AlgorithmError: rows.csv: header must be 'a,b', found 'x,y'; fix the file's first line"
    assert (cause["ProcessingJobStatus"], cause["FailureReason"]) == ("Failed", reason)
    assert "LocalLogFile" not in cause
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/").get("KeyCount") == 0
    described_job = local_sfn.client("sagemaker").describe_processing_job(ProcessingJobName=f"{RUN}-count-0")
    assert (described_job["ProcessingJobStatus"], described_job["FailureReason"]) == ("Failed", reason)


def test_processing_input_with_no_objects_fails_the_job_like_sagemaker(local_sfn, jobs: Path) -> None:
    described, events = _run(local_sfn, _processing_state(["--input-dir", "/opt/ml/processing/input/data"]))
    assert described["status"] == "FAILED"
    failure = task_failures(events)[0]
    assert failure["error"] == "States.TaskFailed"
    reason = json.loads(failure["cause"])["FailureReason"]
    assert reason.startswith(f'ClientError: No S3 objects found under S3 URL "s3://{BUCKET}/raw/d1"')
    assert "'data'" in reason


def test_a_request_sagemaker_rejects_fails_the_task_with_awss_cause_and_runs_nothing(
    local_sfn, jobs: Path
) -> None:
    state = _processing_state(["--input-dir", "/opt/ml/processing/input/data"])
    state["Parameters"]["ProcessingJobName.$"] = "States.Format('{}_count', $.run.id)"  # "_": not a name
    described, events = _run(local_sfn, state)
    assert described["status"] == "FAILED"
    failure = task_failures(events)[0]
    assert failure["error"] == "SageMaker.AmazonSageMakerException"
    assert f"'{RUN}_count' at 'processingJobName' failed to satisfy constraint" in failure["cause"]
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException;" in failure["cause"]
    assert not jobs.exists()


def _training_state(hyperparameters: dict) -> dict:
    def channel(name: str) -> dict:
        return {
            "ChannelName": name,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/prep/{name}/"}
            },
        }

    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName.$": "States.Format('{}-train-{}', $.run.id, $$.State.RetryCount)",
            "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
            "HyperParameters": hyperparameters,
            "InputDataConfig": [channel("train"), channel("validation")],
            "OutputDataConfig": {
                "S3OutputPath.$": "States.Format('s3://jobs-bucket/runs/{}/train', $.run.id)"
            },
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
        "ResultSelector": {
            "model.$": "$.ModelArtifacts.S3ModelArtifacts",
            "metrics.$": "$.FinalMetricDataList",
        },
        "ResultPath": "$.train",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed"}],
        "End": True,
    }


def test_training_job_uses_the_xgboost_emulator_and_uploads_the_model(local_sfn, jobs: Path) -> None:
    s3 = local_sfn.client("s3")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    labels = (features[:, 0] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    rows = "\n".join(
        ",".join([str(label), *map(str, row)]) for label, row in zip(labels, features, strict=True)
    )
    s3.put_object(Bucket=BUCKET, Key="prep/train/train.csv", Body=rows.encode())
    s3.put_object(Bucket=BUCKET, Key="prep/validation/validation.csv", Body=rows.encode())

    hyperparameters = {"objective": "binary:logistic", "num_round": "5", "eval_metric": "auc", "nthread": "1"}
    described, events = _run(local_sfn, _training_state(hyperparameters), timeout=120)
    assert described["status"] == "SUCCEEDED", task_failures(events)
    job = f"{RUN}-train-0"
    train = local_sfn.output(described)["train"]
    model = f"s3://{BUCKET}/runs/{RUN}/train/{job}/output/model.tar.gz"
    assert train["model"] == model
    assert {m["MetricName"] for m in train["metrics"]} >= {"validation:auc"}
    archive = s3.get_object(Bucket=BUCKET, Key=model.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "xgboost-model" in tar.getnames()
    described_job = local_sfn.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert described_job["TrainingJobStatus"] == "Completed"
    assert described_job["ModelArtifacts"] == {"S3ModelArtifacts": model}
    local_sfn.client("events").describe_rule(Name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")


def test_hyperparameters_that_are_not_strings_are_refused_before_any_job_runs(local_sfn, jobs: Path) -> None:
    """CreateTrainingJob takes hyperparameters as strings only: a number is a rejected request."""
    described, events = _run(local_sfn, _training_state({"num_round": 5}))
    assert described["status"] == "FAILED"
    failure = task_failures(events)[0]
    assert failure["error"] == "SageMaker.AmazonSageMakerException"
    assert "num_round" in failure["cause"]
    assert not jobs.exists()
