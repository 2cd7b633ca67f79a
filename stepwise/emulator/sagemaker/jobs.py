"""SageMaker processing and training jobs, run locally under the container's file contract.

The state machine's `sagemaker:createProcessingJob.sync` / `createTrainingJob.sync` Tasks come here
(`SyncJobs`, registered with the Step Functions engine). As Step Functions does on AWS, as the state
machine's role: it makes sure of the EventBridge managed rule `.sync` relies on (PutRule, PutTargets,
DescribeRule on `StepFunctionsGetEventsForSageMaker*JobsRule`), calls Create*Job on the emulated
SageMaker (the request is validated and authorized like any call, `iam:PassRole` of the job's role
included), waits for the job, and returns its Describe* result. SageMaker then runs the job *as the
job's role* (RoleArn): it must trust sagemaker.amazonaws.com; it pulls the image (ecr:BatchGetImage
on the image's repository), copies every S3 input in and every output out, and writes the job's log
to CloudWatch Logs (/aws/sagemaker/ProcessingJobs, /aws/sagemaker/TrainingJobs), all authorized
against that role's policies. A job that fails ends the Task with `States.TaskFailed` and the
Describe* result (its FailureReason) as the cause; a rejected Create*Job call with
`SageMaker.AmazonSageMakerException` and the AWS SDK's cause text, as the optimized integration
reports it.

Locally the container's `/opt/ml` is `<job folder>/opt/ml`: container paths in ContainerEntrypoint,
ContainerArguments and Environment are rewritten to it, `python3` is this interpreter, and
`/opt/ml/output/message` (processing) or `/opt/ml/output/failure` (training) becomes the
FailureReason. Processing jobs run their ContainerEntrypoint (the scripts of processing/, in any
image); training runs the built-in XGBoost algorithm's emulator (stepwise/containers/xgboost_algorithm).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepwise.containers import model_archive
from stepwise.emulator.stepfunctions import Cancelled, TaskContext, TaskFailed

PROCESSING_SYNC = "sagemaker:createProcessingJob.sync"
TRAINING_SYNC = "sagemaker:createTrainingJob.sync"
CONTAINER_ROOT = "/opt/ml"
XGBOOST_REPOSITORY = "sagemaker-xgboost"
TRAINING_MODULE = "stepwise.containers.xgboost_algorithm"
# The rules Step Functions manages in your account to learn when a .sync job ends
MANAGED_RULES = {
    "processing": "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
    "training": "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
}
LOG_GROUPS = {"processing": "/aws/sagemaker/ProcessingJobs", "training": "/aws/sagemaker/TrainingJobs"}
_SRC_ROOT = Path(__file__).resolve().parents[3]
_CONTAINER_PATH = re.compile(r"/opt/ml(?=/|$|\s)")
# "[12]#011train-auc:0.81234#011validation-auc:0.75000": one metric line of the XGBoost container's log
_METRIC_LINE = re.compile(r"^\[(\d+)\](.*)$")
_METRIC = re.compile(r"#011([A-Za-z0-9_]+)-([^:#]+):([-+0-9.eE]+|nan|inf)")


class JobRequestError(ValueError):
    """The request cannot run locally (SageMaker would reject it, or local mode does not support it)."""


def to_local_path(value: str, opt_ml: Path) -> str:
    """Rewrite every container path `/opt/ml/...` inside `value` to the job's local folder."""
    return _CONTAINER_PATH.sub(str(opt_ml).replace("\\", "/"), value)


def image_repository(image_uri: str) -> str:
    """'683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1' -> 'sagemaker-xgboost'."""
    path = image_uri.split("/", 1)[1] if "/" in image_uri else image_uri
    return re.split(r"[:@]", path, maxsplit=1)[0]


def image_repository_arn(image_uri: str, partition: str = "aws") -> str | None:
    """The ECR repository ARN of an image URI (what ecr:BatchGetImage is authorized on)."""
    match = re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com[^/]*/([^:@]+)", image_uri)
    if not match:
        return None
    account, region, repository = match.groups()
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise JobRequestError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def parse_final_metrics(log_text: str, timestamp: str) -> list[dict]:
    """FinalMetricDataList from the container's log: the last value of every "<channel>:<metric>"."""
    final: dict[str, float] = {}
    for line in log_text.splitlines():
        match = _METRIC_LINE.match(line.strip())
        if match:
            for channel, metric, value in _METRIC.findall(match.group(2)):
                final[f"{channel}:{metric}"] = float(value)
    return [{"MetricName": name, "Value": value, "Timestamp": timestamp} for name, value in final.items()]


@dataclass
class JobServices:
    """What jobs need from the embedded AWS."""

    clients: Callable[[str], Any]  # service -> boto3 client (its calls carry the current principal)
    acting_as: Callable[[str | None], Any]  # context manager: calls made as a role
    supervisor: Any  # stepwise.emulator.processes.Supervisor
    may_pull: Callable[[str, str], str | None]  # (role, image) -> why the role may not pull it, or None
    may_assume: Callable[[str], bool]  # role ARN -> does it trust sagemaker.amazonaws.com?
    finish: Callable[[str, str, dict], None]  # (kind, job name, result): update the emulated record
    jobs_root: Path  # <state>/runs: <jobs_root>/<run>/jobs/<job name>/
    account_id: str
    region: str


def job_dir(jobs_root: Path, run_id: str, job_name: str) -> Path:
    return Path(jobs_root) / run_id / "jobs" / job_name


def run_of_job(job_name: str) -> str:
    """The run id a job name carries (`<run id>-<stage>-<attempt>`), else the job name itself."""
    match = re.match(r"^(\d{8}-\d{6}-[0-9a-f]{6})-", job_name)
    return match.group(1) if match else job_name


class SyncJobs:
    """The `.sync` SageMaker Tasks of the state machine."""

    def __init__(self, services: JobServices) -> None:
        self.services = services

    def register(self, engine: Any) -> None:
        engine.register(PROCESSING_SYNC, self.processing_task)
        engine.register(TRAINING_SYNC, self.training_task)

    # ---------------------------------------------------------------- Step Functions' side
    def processing_task(self, request: dict, ctx: TaskContext) -> dict:
        self._managed_rule("processing")
        self._sagemaker_call("create_processing_job", request)
        result = self.run_processing(request, ctx)
        self._sagemaker_call("describe_processing_job", {"ProcessingJobName": request["ProcessingJobName"]})
        return _finish(result, "ProcessingJobStatus", ctx)

    def training_task(self, request: dict, ctx: TaskContext) -> dict:
        self._managed_rule("training")
        self._sagemaker_call("create_training_job", request)
        result = self.run_training(request, ctx)
        self._sagemaker_call("describe_training_job", {"TrainingJobName": request["TrainingJobName"]})
        return _finish(result, "TrainingJobStatus", ctx)

    def _managed_rule(self, kind: str) -> None:
        """What Step Functions does in your account for a .sync SageMaker task (as the state machine's
        role): the managed rule that tells it when the job's status changes."""
        events = self.services.clients("events")
        name = MANAGED_RULES[kind]
        try:
            events.put_rule(
                Name=name,
                EventPattern=json.dumps(
                    {
                        "source": ["aws.sagemaker"],
                        "detail-type": [f"SageMaker {kind.capitalize()} Job State Change"],
                    }
                ),
                State="ENABLED",
                Description="Rule managed by AWS Step Functions for SageMaker .sync tasks",
            )
            events.put_targets(
                Rule=name,
                Targets=[
                    {
                        "Id": "StepFunctions",
                        "Arn": f"arn:aws:events:{self.services.region}::event-bus/default",
                    }
                ],
            )
            events.describe_rule(Name=name)
        except Exception as error:  # noqa: BLE001 (reported as the integration reports it)
            raise _sdk_failure(error, "AmazonSageMaker") from None

    def _sagemaker_call(self, method: str, request: dict) -> dict:
        try:
            return getattr(self.services.clients("sagemaker"), method)(**request)
        except Exception as error:  # noqa: BLE001 (reported as the integration reports it)
            raise _sdk_failure(error, "AmazonSageMaker") from None

    # ---------------------------------------------------------------- SageMaker's side
    def run_processing(self, request: dict, ctx: TaskContext | None = None) -> dict[str, Any]:
        """Run one CreateProcessingJob request; its DescribeProcessingJob-shaped result."""
        name = request["ProcessingJobName"]
        workdir = job_dir(self.services.jobs_root, run_of_job(name), name)
        if workdir.exists():
            shutil.rmtree(workdir)  # a job name is never reused (SageMaker refused it): a stale folder
        opt_ml = workdir / "opt" / "ml"
        log_path = workdir / "logs" / "job.log"
        started = datetime.now(UTC)
        result: dict[str, Any] = {
            "ProcessingJobName": name,
            "ProcessingJobArn": f"arn:aws:sagemaker:{self.services.region}:{self.services.account_id}:"
            f"processing-job/{name.lower()}",
            "ProcessingInputs": request.get("ProcessingInputs", []),
            "ProcessingOutputConfig": request.get("ProcessingOutputConfig", {"Outputs": []}),
            "ProcessingResources": request.get("ProcessingResources"),
            "StoppingCondition": request.get("StoppingCondition"),
            "AppSpecification": request["AppSpecification"],
            "Environment": request.get("Environment", {}),
            "RoleArn": request.get("RoleArn"),
            "CreationTime": started.isoformat(),
            "ProcessingStartTime": started.isoformat(),
        }
        role = request.get("RoleArn")
        try:
            self._assume(role)
            with self.services.acting_as(role):
                self._pull(role, request["AppSpecification"].get("ImageUri", ""))
                outputs = self._processing_inputs(request, opt_ml)
                command = self._processing_command(request, opt_ml)
                env = dict(os.environ)
                env.update(
                    {k: to_local_path(str(v), opt_ml) for k, v in (request.get("Environment") or {}).items()}
                )
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(_SRC_ROOT), os.environ.get("PYTHONPATH")])
                )
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(f"$ {' '.join(command)}\n")
                max_seconds = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
                outcome, exit_code = self.services.supervisor.run(
                    command,
                    log_path=log_path,
                    cwd=workdir,
                    env=env,
                    cancelled=ctx.is_cancelled if ctx else None,
                    max_seconds=max_seconds,
                )
                ended = datetime.now(UTC)
                result.update(ProcessingEndTime=ended.isoformat(), LastModifiedTime=ended.isoformat())
                message_file = opt_ml / "output" / "message"
                message = message_file.read_text().strip() if message_file.is_file() else ""
                if outcome == "stopped":
                    result.update(ProcessingJobStatus="Stopped", ExitMessage=message)
                elif outcome == "timeout":
                    result.update(
                        ProcessingJobStatus="Stopped",
                        FailureReason=f"Processing job reached MaxRuntimeInSeconds ({max_seconds} s)",
                    )
                elif exit_code != 0:
                    reason = message or f"exit code {exit_code}: {_last_line(log_path)} (see {log_path})"
                    result.update(
                        ProcessingJobStatus="Failed",
                        ExitMessage=message,
                        FailureReason=f"AlgorithmError: {reason}",
                    )
                else:
                    for item in outputs:
                        self._upload_dir(item["local"], item["uri"])
                    result["ProcessingJobStatus"] = "Completed"
                    if message:
                        result["ExitMessage"] = message
        except _JobFailure as failure:
            ended = datetime.now(UTC)
            result.update(
                ProcessingJobStatus="Failed",
                FailureReason=failure.reason,
                ProcessingEndTime=ended.isoformat(),
                LastModifiedTime=ended.isoformat(),
            )
        self._logs("processing", name, role, log_path)
        self.services.finish("processing", name, result)
        return result

    def run_training(self, request: dict, ctx: TaskContext | None = None) -> dict[str, Any]:
        """Run one CreateTrainingJob request with the built-in XGBoost emulator."""
        name = request["TrainingJobName"]
        workdir = job_dir(self.services.jobs_root, run_of_job(name), name)
        if workdir.exists():
            shutil.rmtree(workdir)
        root = workdir / "opt" / "ml"
        log_path = workdir / "logs" / "job.log"
        started = datetime.now(UTC)
        output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        result: dict[str, Any] = {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:{self.services.region}:{self.services.account_id}:"
            f"training-job/{name.lower()}",
            "AlgorithmSpecification": request["AlgorithmSpecification"],
            "RoleArn": request.get("RoleArn"),
            "HyperParameters": request.get("HyperParameters", {}),
            "InputDataConfig": request["InputDataConfig"],
            "OutputDataConfig": request["OutputDataConfig"],
            "ResourceConfig": request.get("ResourceConfig"),
            "StoppingCondition": request.get("StoppingCondition"),
            "CreationTime": started.isoformat(),
            "TrainingStartTime": started.isoformat(),
        }
        role = request.get("RoleArn")
        try:
            self._assume(role)
            with self.services.acting_as(role):
                image = request["AlgorithmSpecification"].get("TrainingImage", "")
                self._check_training(request)
                self._pull(role, image)
                self._lay_out_training(request, root)
                log_path.parent.mkdir(parents=True, exist_ok=True)
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(_SRC_ROOT), os.environ.get("PYTHONPATH")])
                )
                max_seconds = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
                outcome, exit_code = self.services.supervisor.run(
                    [sys.executable, "-m", TRAINING_MODULE, "--root", str(root)],
                    log_path=log_path,
                    cwd=workdir,
                    env=env,
                    cancelled=ctx.is_cancelled if ctx else None,
                    max_seconds=max_seconds,
                )
                ended = datetime.now(UTC)
                result.update(
                    TrainingEndTime=ended.isoformat(),
                    LastModifiedTime=ended.isoformat(),
                    TrainingTimeInSeconds=max(1, round((ended - started).total_seconds())),
                    FinalMetricDataList=parse_final_metrics(
                        log_path.read_text(errors="replace"), ended.isoformat()
                    ),
                )
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
                elif exit_code != 0 or failure_file.is_file() or not model_file.is_file():
                    # SageMaker fails a job whose container exits non-zero, whatever it wrote
                    reason = failure_file.read_text().strip() if failure_file.is_file() else ""
                    if not reason and exit_code != 0:
                        reason = (
                            f"AlgorithmError: exit code {exit_code}: {_last_line(log_path)} (see {log_path})"
                        )
                    result.update(
                        TrainingJobStatus="Failed",
                        SecondaryStatus="Failed",
                        FailureReason=reason
                        or f"AlgorithmError: the container exited without a model; see {log_path}",
                    )
                else:
                    archive = model_archive.pack(root / "model", root / "output" / "model.tar.gz")
                    uri = f"{output_path}/{name}/output/model.tar.gz"
                    bucket, key = parse_s3_uri(uri)
                    self.services.clients("s3").upload_file(str(archive), bucket, key)
                    result.update(
                        TrainingJobStatus="Completed",
                        SecondaryStatus="Completed",
                        ModelArtifacts={"S3ModelArtifacts": uri},
                    )
        except _JobFailure as failure:
            ended = datetime.now(UTC)
            result.update(
                TrainingJobStatus="Failed",
                SecondaryStatus="Failed",
                FailureReason=failure.reason,
                TrainingEndTime=ended.isoformat(),
                LastModifiedTime=ended.isoformat(),
            )
        self._logs("training", name, role, log_path)
        self.services.finish("training", name, result)
        return result

    # ---------------------------------------------------------------- what SageMaker does for a job
    def _assume(self, role: str | None) -> None:
        if not role or not self.services.may_assume(role):
            raise _JobFailure(
                f"ClientError: Could not assume role {role}. Please ensure that the role exists and allows "
                "principal 'sagemaker.amazonaws.com' to assume the role."
            )

    def _pull(self, role: str, image: str) -> None:
        why_not = self.services.may_pull(role, image)
        if why_not:
            raise _JobFailure(f"ClientError: Failed to pull image {image}: {why_not}")

    def _processing_inputs(self, request: dict, opt_ml: Path) -> list[dict]:
        for item in request.get("ProcessingInputs", []):
            source = item.get("S3Input")
            if source is None:
                raise _JobFailure(
                    f"ClientError: ProcessingInput {item.get('InputName')!r}: only S3Input is supported "
                    "locally"
                )
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise _JobFailure(
                    f"ClientError: ProcessingInput {item.get('InputName')!r}: S3DataType "
                    f"{source['S3DataType']} is not supported locally; use S3Prefix"
                )
            target = _local_dir(source["LocalPath"], opt_ml)
            if self._download_prefix(source["S3Uri"], target) == 0:
                raise _JobFailure(
                    f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data '
                    f"source {item.get('InputName')!r}. Please ensure that the bucket exists in the selected "
                    "region, that objects exist under that S3 prefix, and that the role has access to them."
                )
        outputs = []
        for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs", []):
            local = _local_dir(item["S3Output"]["LocalPath"], opt_ml)
            local.mkdir(parents=True, exist_ok=True)
            outputs.append({"local": local, "uri": item["S3Output"]["S3Uri"]})
        (opt_ml / "output").mkdir(parents=True, exist_ok=True)
        (opt_ml / "config").mkdir(parents=True, exist_ok=True)
        (opt_ml / "config" / "processingjobconfig.json").write_text(
            json.dumps(request, indent=2, default=str)
        )
        return outputs

    def _processing_command(self, request: dict, opt_ml: Path) -> list[str]:
        app = request["AppSpecification"]
        entrypoint = list(app.get("ContainerEntrypoint") or [])
        if not entrypoint:
            raise _JobFailure(
                "ClientError: AppSpecification has no ContainerEntrypoint: local mode cannot know what "
                f"image {app.get('ImageUri')!r} runs by default; give the entrypoint explicitly "
                "(e.g. ['python3', '/opt/ml/processing/input/code/preprocess.py'])"
            )
        if Path(entrypoint[0]).name in ("python", "python3"):
            entrypoint[0] = sys.executable
        return [
            to_local_path(part, opt_ml) for part in entrypoint + list(app.get("ContainerArguments") or [])
        ]

    def _check_training(self, request: dict) -> None:
        algorithm = request["AlgorithmSpecification"]
        image = algorithm.get("TrainingImage", "")
        if image_repository(image) != XGBOOST_REPOSITORY:
            raise _JobFailure(
                f"ClientError: TrainingImage {image!r} is not the built-in XGBoost algorithm: local mode "
                f"runs only images of the '{XGBOOST_REPOSITORY}' repository"
            )
        if algorithm.get("TrainingInputMode", "File") != "File":
            raise _JobFailure(
                f"ClientError: TrainingInputMode {algorithm['TrainingInputMode']!r} is not supported locally"
            )

    def _lay_out_training(self, request: dict, root: Path) -> None:
        config = root / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {}), indent=2))
        data_config = {}
        for channel in request["InputDataConfig"]:
            source = channel["DataSource"]["S3DataSource"]
            entry = {
                "TrainingInputMode": channel.get(
                    "InputMode", request["AlgorithmSpecification"]["TrainingInputMode"]
                ),
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            if "ContentType" in channel:
                entry["ContentType"] = channel["ContentType"]
            data_config[channel["ChannelName"]] = entry
            target = root / "input" / "data" / channel["ChannelName"]
            if self._download_prefix(source["S3Uri"], target) == 0:
                raise _JobFailure(
                    f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data '
                    "source. Please ensure that the bucket exists in the selected region, that objects "
                    "exist under that S3 prefix, and that the role has access to them."
                )
        (config / "inputdataconfig.json").write_text(json.dumps(data_config, indent=2))
        resources = {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
        (config / "resourceconfig.json").write_text(json.dumps(resources, indent=2))
        (root / "model").mkdir()
        (root / "output").mkdir()

    def _download_prefix(self, uri: str, target: Path) -> int:
        """Copy every object under the S3 prefix `uri` into `target` (as the job's role)."""
        s3 = self.services.clients("s3")
        bucket, prefix = parse_s3_uri(uri)
        target.mkdir(parents=True, exist_ok=True)
        count = 0
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith("/"):
                        continue
                    relative = key[len(prefix) :].lstrip("/") or Path(key).name
                    destination = target / relative
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, key, str(destination))
                    count += 1
        except Exception as error:  # noqa: BLE001 (AccessDenied etc. fail the job as on SageMaker)
            raise _JobFailure(f"ClientError: {_client_message(error)}") from None
        return count

    def _upload_dir(self, source: Path, uri: str) -> None:
        s3 = self.services.clients("s3")
        bucket, prefix = parse_s3_uri(uri)
        prefix = prefix.rstrip("/")
        try:
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                relative = path.relative_to(source).as_posix()
                s3.upload_file(str(path), bucket, f"{prefix}/{relative}" if prefix else relative)
        except Exception as error:  # noqa: BLE001
            raise _JobFailure(f"ClientError: {_client_message(error)}") from None

    def _logs(self, kind: str, job: str, role: str | None, log_path: Path) -> None:
        """The job's log in CloudWatch Logs, written as SageMaker writes it: as the job's role. A role
        that may not write logs loses them, as on AWS (the job itself is not affected)."""
        if not log_path.is_file():
            return
        logs = self.services.clients("logs")
        group, stream = LOG_GROUPS[kind], f"{job}/algo-1-{int(time.time())}"
        lines = log_path.read_text(errors="replace").splitlines() or [""]
        now = int(time.time() * 1000)
        with self.services.acting_as(role):
            try:
                with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                    logs.create_log_group(logGroupName=group)
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
                for start in range(0, len(lines), 5000):
                    logs.put_log_events(
                        logGroupName=group,
                        logStreamName=stream,
                        logEvents=[
                            {"timestamp": now, "message": line or " "} for line in lines[start : start + 5000]
                        ],
                    )
            except Exception:  # noqa: BLE001,S110 (a role without logs permissions loses its logs)
                pass


class _JobFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _local_dir(container_path: str, opt_ml: Path) -> Path:
    if not container_path.startswith(CONTAINER_ROOT + "/"):
        raise _JobFailure(
            f"ClientError: LocalPath {container_path!r} is outside {CONTAINER_ROOT}/: SageMaker requires "
            f"processing inputs and outputs under {CONTAINER_ROOT}/processing/"
        )
    return Path(to_local_path(container_path, opt_ml))


def _last_line(log_path: Path) -> str:
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _client_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(error).__name__}: {error}"


def _sdk_failure(error: Exception, service: str) -> TaskFailed:
    """A rejected call as the optimized SageMaker integration reports it: the error name
    SageMaker.AmazonSageMakerException and the AWS SDK for Java's message as the cause."""
    response = getattr(error, "response", None) or {}
    details = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode", 400)
    code = details.get("Code") or type(error).__name__
    message = details.get("Message") or str(error)
    cause = (
        f"{message} (Service: {service}; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return TaskFailed(f"SageMaker.{service}Exception", cause)


def _finish(result: dict, status_key: str, ctx: TaskContext) -> dict:
    status = result.get(status_key)
    if status == "Completed":
        return result
    if ctx.is_cancelled():
        raise Cancelled(f"{ctx.state_name} stopped")
    # Step Functions puts the failed job's Describe* result in the cause, as compact JSON
    raise TaskFailed("States.TaskFailed", json.dumps(result, separators=(",", ":")))
