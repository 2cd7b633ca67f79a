"""The .sync SageMaker handlers: real CreateProcessingJob / CreateTrainingJob requests run locally
under the container file contract, S3 in and out, failures as States.TaskFailed with the reason."""

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
            "ProcessingJobName.$": "States.Format('{}-count-{}', $$.Execution.Name, $$.State.RetryCount)",
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
                            "S3Uri.$": "States.Format('s3://jobs-bucket/runs/{}/count', $$.Execution.Name)",
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
def jobs(local_sfn, tmp_path: Path):
    from stepwise.local.services import SageMakerJobs

    s3 = local_sfn.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/abc/count.py", Body=SCRIPT.encode())
    SageMakerJobs(jobs_root=tmp_path / "runs", clients=local_sfn.client).register(local_sfn.engine)
    return tmp_path / "runs"


def _machine(state: dict) -> dict:
    return {"StartAt": "Job", "States": {"Job": state, "Failed": {"Type": "Fail", "Error": "PipelineFailed"}}}


def test_processing_job_runs_under_the_container_contract(local_sfn, jobs: Path) -> None:
    s3 = local_sfn.client("s3")
    s3.put_object(Bucket=BUCKET, Key="raw/d1/nested/rows.csv", Body=b"a,b\n1,2\n3,4\n")
    arguments = ["--input-dir", "/opt/ml/processing/input/data", "--output-dir", "/opt/ml/processing/output"]
    described, events = local_sfn.run(_machine(_processing_state(arguments)))
    assert described["status"] == "SUCCEEDED", task_failures(events)
    run = described["name"]
    assert local_sfn.output(described)["count"] == {"status": "Completed", "name": f"{run}-count-0"}
    body = s3.get_object(Bucket=BUCKET, Key=f"runs/{run}/count/count.txt")["Body"].read()
    assert body == b"2 local"
    assert (jobs / run / "jobs" / f"{run}-count-0" / "logs" / "job.log").is_file()


def test_processing_job_message_becomes_the_failure_reason_and_outputs_stay_unwritten(
    local_sfn, jobs: Path
) -> None:
    s3 = local_sfn.client("s3")
    s3.put_object(Bucket=BUCKET, Key="raw/d1/nested/rows.csv", Body=b"x,y\n1,2\n")
    arguments = ["--input-dir", "/opt/ml/processing/input/data", "--message-file", "/opt/ml/output/message"]
    described, events = local_sfn.run(_machine(_processing_state(arguments)))
    assert described["status"] == "FAILED"
    assert entered_states(events) == ["Job", "Failed"]
    failure = task_failures(events)[0]
    assert failure["error"] == "States.TaskFailed"
    cause = json.loads(failure["cause"])
    assert cause["ProcessingJobStatus"] == "Failed"
    assert cause["FailureReason"] == (
        "AlgorithmError: rows.csv: header must be 'a,b', found 'x,y'; fix the file's first line"
    )
    assert "LocalLogFile" not in cause
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/").get("KeyCount") == 0


def test_processing_input_with_no_objects_fails_like_sagemaker(local_sfn, jobs: Path) -> None:
    described, events = local_sfn.run(_machine(_processing_state([])))
    assert described["status"] == "FAILED"
    failure = task_failures(events)[0]
    assert failure["error"] == "SageMaker.AmazonSageMakerException"
    assert f"s3://{BUCKET}/raw/d1" in failure["cause"]


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

    def channel(name: str) -> dict:
        return {
            "ChannelName": name,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/prep/{name}/"}
            },
        }

    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName.$": "States.Format('{}-train-{}', $$.Execution.Name, $$.State.RetryCount)",
            "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
            "HyperParameters": {"objective": "binary:logistic", "num_round": "5", "eval_metric": "auc"},
            "InputDataConfig": [channel("train"), channel("validation")],
            "OutputDataConfig": {
                "S3OutputPath.$": "States.Format('s3://jobs-bucket/runs/{}/train', $$.Execution.Name)"
            },
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
        "ResultSelector": {
            "model.$": "$.ModelArtifacts.S3ModelArtifacts",
            "metrics.$": "$.FinalMetricDataList",
        },
        "ResultPath": "$.train",
        "End": True,
    }
    described, events = local_sfn.run(_machine(state), timeout=120)
    assert described["status"] == "SUCCEEDED", task_failures(events)
    run = described["name"]
    train = local_sfn.output(described)["train"]
    assert train["model"] == f"s3://{BUCKET}/runs/{run}/train/{run}-train-0/output/model.tar.gz"
    assert {m["MetricName"] for m in train["metrics"]} >= {"validation:auc"}
    archive = s3.get_object(Bucket=BUCKET, Key=f"runs/{run}/train/{run}-train-0/output/model.tar.gz")[
        "Body"
    ].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "xgboost-model" in tar.getnames()
