"""Local handlers for the state machine's SageMaker `.sync` Tasks.

Each handler takes the Task's Parameters (a real CreateProcessingJob / CreateTrainingJob request) and
runs the job locally to completion, as `.sync` waits for it on AWS. It returns the Describe*-shaped
result (JSON-serialisable) that Step Functions returns for a completed job. A job that fails raises
`States.TaskFailed` with the Describe* JSON as the cause (its FailureReason says why), as AWS reports
a failed `.sync` job. Jobs run in `<jobs_root>/<execution name>/<job name>/`, logs in `logs/` there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepwise.local.engine import Cancelled, Engine, TaskContext, TaskFailed
from stepwise.local.processing import ProcessingRequestError, run_processing_job
from stepwise.local.s3files import download_prefix, parse_s3_uri
from stepwise.local.training import TrainingRequestError, run_training_job

PROCESSING_SYNC = "sagemaker:createProcessingJob.sync"
TRAINING_SYNC = "sagemaker:createTrainingJob.sync"

# Keys of a local result that point at this machine's files: kept out of what the state machine sees
_LOCAL_KEYS = ("LocalModelArtifact", "LocalLogFile")


def job_dir(jobs_root: Path, execution_name: str, job_name: str) -> Path:
    """Where a job of an execution runs and leaves its logs."""
    return Path(jobs_root) / execution_name / "jobs" / job_name


@dataclass
class SageMakerJobs:
    """The `.sync` job handlers, sharing the embedded AWS clients and the folder jobs run in."""

    jobs_root: Path
    clients: Callable[[str], Any]  # service name -> boto3 client (the embedded AWS)

    def register(self, engine: Engine) -> None:
        engine.register_service(PROCESSING_SYNC, self.processing_job)
        engine.register_service(TRAINING_SYNC, self.training_job)

    def processing_job(self, request: dict, ctx: TaskContext) -> dict:
        workdir = job_dir(self.jobs_root, ctx.execution_name, request.get("ProcessingJobName", "unnamed"))
        try:
            result = run_processing_job(
                request, workdir, s3=self.clients("s3"), sagemaker=self.clients("sagemaker"), ctx=ctx
            )
        except ProcessingRequestError as error:
            raise TaskFailed("SageMaker.AmazonSageMakerException", str(error)) from None
        return _finish(result, "ProcessingJobStatus", ctx)

    def training_job(self, request: dict, ctx: TaskContext) -> dict:
        name = request.get("TrainingJobName", "unnamed")
        workdir = job_dir(self.jobs_root, ctx.execution_name, name)
        s3 = self.clients("s3")
        channels: dict[str, Path] = {}
        for channel in request.get("InputDataConfig", []):
            local = workdir / "channels" / channel["ChannelName"]
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            if download_prefix(s3, uri, local) == 0:
                raise TaskFailed(
                    "SageMaker.AmazonSageMakerException",
                    f"Channel {channel['ChannelName']!r}: no S3 objects found under {uri}",
                )
            channels[channel["ChannelName"]] = local
        try:
            result = run_training_job(request, channels, workdir / "opt" / "ml", should_stop=ctx.is_cancelled)
        except TrainingRequestError as error:
            raise TaskFailed("SageMaker.AmazonSageMakerException", str(error)) from None
        if result.get("TrainingJobStatus") == "Completed":
            bucket, key = parse_s3_uri(result["ModelArtifacts"]["S3ModelArtifacts"])
            s3.upload_file(result["LocalModelArtifact"], bucket, key)
        log = Path(result.get("LocalLogFile", ""))
        if log.is_file():  # the training log sits beside the processing jobs' logs
            (workdir / "logs").mkdir(parents=True, exist_ok=True)
            (workdir / "logs" / "job.log").write_text(log.read_text(errors="replace"))
        return _finish(result, "TrainingJobStatus", ctx)


def _finish(result: dict, status_key: str, ctx: TaskContext) -> dict:
    result = {k: v for k, v in result.items() if k not in _LOCAL_KEYS}
    status = result.get(status_key)
    if status == "Completed":
        return result
    if ctx.is_cancelled():
        raise Cancelled(f"{ctx.state_name} stopped")
    # Step Functions puts the failed job's Describe* result in the cause, as compact JSON
    raise TaskFailed("States.TaskFailed", json.dumps(result, separators=(",", ":")))
