"""Run a CreateProcessingJob request locally, under the container's file contract.

As SageMaker does on the processing instance: every ProcessingInput's S3 data is copied into the
job's `/opt/ml/processing/...` folder, the container's entrypoint runs, and every ProcessingOutput's
folder is copied back to S3 when the job succeeds. Locally `/opt/ml` is `<workdir>/opt/ml`: the
container paths in ContainerEntrypoint, ContainerArguments and Environment are rewritten to it, and
`python3` is this interpreter. A job that fails leaves its reason in `/opt/ml/output/message`
(SageMaker's ExitMessage), which becomes the FailureReason.

Every job of the pipeline runs a script of processing/ through its ContainerEntrypoint, whatever the
image (the very same script runs in the SageMaker image in the cloud); a request without an
entrypoint is refused, since local mode cannot know what an image runs by default.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepwise.local.engine import ACCOUNT_ID, REGION, Cancelled, TaskContext, run_job_process
from stepwise.local.s3files import download_prefix, upload_dir

CONTAINER_ROOT = "/opt/ml"
_SRC_ROOT = Path(__file__).resolve().parents[2]
_CONTAINER_PATH = re.compile(r"/opt/ml(?=/|$|\s)")


class ProcessingRequestError(ValueError):
    """The request cannot run locally (SageMaker would reject it, or local mode does not support it)."""


def to_local_path(value: str, opt_ml: Path) -> str:
    """Rewrite every container path `/opt/ml/...` inside `value` to the job's local folder."""
    return _CONTAINER_PATH.sub(str(opt_ml).replace("\\", "/"), value)


def _local_dir(container_path: str, opt_ml: Path) -> Path:
    if not container_path.startswith(CONTAINER_ROOT + "/"):
        raise ProcessingRequestError(
            f"LocalPath {container_path!r} is outside {CONTAINER_ROOT}/: SageMaker requires processing "
            f"inputs and outputs under {CONTAINER_ROOT}/processing/"
        )
    return Path(to_local_path(container_path, opt_ml))


def _command(request: dict, opt_ml: Path) -> list[str]:
    app = request["AppSpecification"]
    entrypoint = list(app.get("ContainerEntrypoint") or [])
    if not entrypoint:
        raise ProcessingRequestError(
            f"AppSpecification has no ContainerEntrypoint: local mode cannot know what image "
            f"{app.get('ImageUri')!r} runs by default; give the entrypoint explicitly (e.g. ['python3', "
            "'/opt/ml/processing/input/code/preprocess.py'])"
        )
    if Path(entrypoint[0]).name in ("python", "python3"):
        entrypoint[0] = sys.executable
    return [to_local_path(part, opt_ml) for part in entrypoint + list(app.get("ContainerArguments") or [])]


def run_processing_job(
    request: dict, workdir: Path, *, s3, sagemaker, ctx: TaskContext | None = None
) -> dict[str, Any]:
    """Run one CreateProcessingJob request; return its DescribeProcessingJob-shaped result.

    `workdir` (new or empty) holds `opt/ml/` (the container's /opt/ml) and `logs/job.log`. `s3` and
    `sagemaker` are boto3 clients (the embedded AWS locally). Raises Cancelled when `ctx` reports the
    execution stopped (the process is killed) and ProcessingRequestError when the request cannot run.
    """
    name = request.get("ProcessingJobName")
    if not name or "AppSpecification" not in request:
        raise ProcessingRequestError(
            "CreateProcessingJob request needs ProcessingJobName and AppSpecification"
        )
    workdir = Path(workdir)
    if workdir.exists() and any(workdir.iterdir()):
        raise ProcessingRequestError(f"{workdir} is not empty: SageMaker rejects a reused job name ({name})")
    opt_ml = workdir / "opt" / "ml"
    log_path = workdir / "logs" / "job.log"
    started = datetime.now(UTC)

    for item in request.get("ProcessingInputs", []):
        source = item.get("S3Input")
        if source is None:
            raise ProcessingRequestError(
                f"ProcessingInput {item.get('InputName')!r}: only S3Input is supported locally"
            )
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise ProcessingRequestError(
                f"ProcessingInput {item.get('InputName')!r}: S3DataType {source['S3DataType']} is not "
                "supported locally; use S3Prefix"
            )
        target = _local_dir(source["LocalPath"], opt_ml)
        if download_prefix(s3, source["S3Uri"], target) == 0:
            raise ProcessingRequestError(
                f"ProcessingInput {item.get('InputName')!r}: no object under {source['S3Uri']} (ClientError: "
                "no S3 objects found under the S3 URL, as SageMaker reports)"
            )
    outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs", [])
    for item in outputs:
        _local_dir(item["S3Output"]["LocalPath"], opt_ml).mkdir(parents=True, exist_ok=True)
    (opt_ml / "output").mkdir(parents=True, exist_ok=True)
    (opt_ml / "config").mkdir(parents=True, exist_ok=True)
    (opt_ml / "config" / "processingjobconfig.json").write_text(json.dumps(request, indent=2, default=str))

    command = _command(request, opt_ml)
    env = dict(os.environ)
    env.update({k: to_local_path(str(v), opt_ml) for k, v in (request.get("Environment") or {}).items()})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SRC_ROOT), os.environ.get("PYTHONPATH")]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(f"$ {' '.join(command)}\n")

    exit_code = run_job_process(command, ctx, log_path=log_path, cwd=workdir, env=env)
    ended = datetime.now(UTC)

    result: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:processing-job/{name.lower()}",
        "ProcessingInputs": request.get("ProcessingInputs", []),
        "ProcessingOutputConfig": request.get("ProcessingOutputConfig", {"Outputs": []}),
        "ProcessingResources": request.get("ProcessingResources"),
        "StoppingCondition": request.get("StoppingCondition"),
        "AppSpecification": request["AppSpecification"],
        "Environment": request.get("Environment", {}),
        "RoleArn": request.get("RoleArn"),
        "CreationTime": started.isoformat(),
        "ProcessingStartTime": started.isoformat(),
        "ProcessingEndTime": ended.isoformat(),
        "LastModifiedTime": ended.isoformat(),
    }
    message_file = opt_ml / "output" / "message"
    message = message_file.read_text().strip() if message_file.is_file() else ""
    if exit_code != 0:
        last_line = _last_line(log_path)
        reason = message or f"exit code {exit_code}: {last_line} (see {log_path})"
        result.update(
            ProcessingJobStatus="Failed", ExitMessage=message, FailureReason=f"AlgorithmError: {reason}"
        )
        return result
    for item in outputs:
        upload_dir(s3, _local_dir(item["S3Output"]["LocalPath"], opt_ml), item["S3Output"]["S3Uri"])
    result["ProcessingJobStatus"] = "Completed"
    if message:
        result["ExitMessage"] = message
    return result


def _last_line(log_path: Path) -> str:
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


__all__ = ["Cancelled", "ProcessingRequestError", "run_processing_job", "to_local_path"]
