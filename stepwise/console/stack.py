"""`stepwise status`, `upload` and `destroy`: a stack as a whole, local or deployed (console/target.py).

- `status`: the stack, its parameters, the endpoint (status, the version it serves, instance type) and
  the last runs.
- `upload DIR`: the dataset's claims.csv and customers.csv under `raw/<id>/` of the stack's bucket,
  then the run the upload starts, followed as `stepwise run` follows it.
- `destroy`: everything the pipeline created outside the stack (running executions are stopped; the
  endpoint, its endpoint configs and models, the model packages and their group, every object version
  and delete marker of the bucket, the log streams of the stack's SageMaker jobs, log groups of its
  functions), then the stack. Names come from the stack's outputs and its executions' histories: only
  this stack's resources. `--dry-run` lists them; it asks for confirmation unless `--yes`; a second
  destroy finds no stack and says so. Locally the state folder then records no stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepwise.console.commands import (
    DATASET_FILES,
    UsageError,
    _check_data_dir,
    _dataset_id,
    _print_json,
    _say,
)
from stepwise.console.target import LOG_GROUPS, StackMissing, add_target_arguments, target_of

DELETE_BATCH = 1000  # DeleteObjects' limit


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser(
        "status", help="the stack: its parameters, the endpoint (what serves) and the last runs"
    )
    status.add_argument("--runs", type=int, default=5, help="how many recent runs to show (default 5)")
    status.add_argument("--json", action="store_true", help="print it as JSON")
    add_target_arguments(status)
    status.set_defaults(handler=status_command)

    upload = subparsers.add_parser(
        "upload",
        help="upload a dataset under raw/<id>/ of the stack's bucket; follow the run it starts",
        description="Uploads DIR/claims.csv and DIR/customers.csv to s3://<bucket>/raw/<id>/ (the second "
        "file's upload starts the run, as the bucket's EventBridge rule does) and follows that run.",
    )
    upload.add_argument("data", type=Path, help="folder holding claims.csv and customers.csv")
    upload.add_argument("--dataset-id", help="upload under raw/<ID>/ (default: the time and a random suffix)")
    upload.add_argument(
        "--no-follow",
        action="store_true",
        help="return once the run has started (a deployed stack only: a local run lives in this process)",
    )
    upload.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    upload.add_argument("--no-wait", action="store_true", help=argparse.SUPPRESS)
    add_target_arguments(upload)
    upload.set_defaults(handler=upload_command)

    destroy = subparsers.add_parser(
        "destroy",
        help="delete what the pipeline created (endpoint, models, packages, objects, logs), then the stack",
    )
    destroy.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    destroy.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    destroy.add_argument("--no-wait", action="store_true", help=argparse.SUPPRESS)
    add_target_arguments(destroy)
    destroy.set_defaults(handler=destroy_command)


# ================================================================================== status
def status_command(args: argparse.Namespace) -> int:
    from stepwise.console.commands import print_run_rows, run_row

    target = target_of(args)
    stack = target.describe_stack()
    parameters, outputs = target.parameters(), target.outputs()
    packages = target.packages()
    endpoints = []
    for name, record in target.serving().items():
        package = next(
            (
                p
                for p in packages
                if (p.get("container") or {}).get("ModelDataUrl") == record.get("ModelDataUrl")
            ),
            None,
        )
        endpoints.append(
            {
                "name": name,
                "status": record.get("EndpointStatus"),
                "config": record.get("EndpointConfigName"),
                "instanceType": record.get("InstanceType"),
                "version": (package or {}).get("version"),
                "approval": (package or {}).get("status"),
            }
        )
    runs = [run_row(target, record) for record in target.executions(args.runs or None)]
    if args.json:
        _print_json(
            {
                "schema": "stepwise.status/1",
                "stack": stack.get("StackName"),
                "status": stack.get("StackStatus"),
                "where": target.where(),
                "parameters": parameters,
                "outputs": outputs,
                "endpoints": endpoints,
                "packages": len(packages),
                "runs": runs,
            }
        )
        return 0
    print(f"Stack {stack.get('StackName')} {target.where()}: {stack.get('StackStatus')}")
    for key in ("BucketName", "StateMachineArn", "ModelPackageGroupName"):
        if outputs.get(key):
            print(f"  {key:<22}: {outputs[key]}")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(parameters.items()))
    print(f"  {'parameters':<22}: {shown}")
    if not endpoints:
        print(f"  {'endpoint':<22}: {outputs.get('EndpointName', '-')} not deployed yet")
    for endpoint in endpoints:
        version = f"version {endpoint['version']}" if endpoint["version"] else "an unregistered model"
        print(
            f"  {'endpoint':<22}: {endpoint['name']} {endpoint['status']}, serves {version} "
            f"({endpoint['instanceType'] or '?'}, {endpoint['config']})"
        )
    print(f"  {'model packages':<22}: {len(packages)}")
    if runs:
        print("\nLast runs:")
        print_run_rows(runs)
    else:
        print("\nNo runs yet: `stepwise upload DIR` starts one")
    return 0


# ================================================================================== upload
def upload_command(args: argparse.Namespace) -> int:
    _check_data_dir(args.data)
    if args.dataset_id is not None and (not args.dataset_id or "/" in args.dataset_id):
        raise UsageError(f"--dataset-id {args.dataset_id!r}: one path segment, without '/'")
    target = target_of(args)
    if args.no_follow and target.kind == "local":
        raise UsageError("--no-follow: a local run lives in this process; leave it out (or `stepwise serve`)")
    bucket = target.bucket()
    if not bucket:
        raise UsageError(f"stack {target.stack_name} has no BucketName output: is it a Stepwise stack?")
    dataset = args.dataset_id or _dataset_id()
    with target.changing("upload", args) as change:
        before = change.executions_now()
        s3 = change.client("s3")
        for name in DATASET_FILES:
            s3.upload_file(str(args.data / name), bucket, f"raw/{dataset}/{name}")
        _say(args, f"Uploaded {args.data} to s3://{bucket}/raw/{dataset}/")
        started = change.started_since(
            before, expect=len(DATASET_FILES), wait_seconds=change.delivery_seconds
        )
        if args.no_follow:
            for arn in started:
                _say(args, f"Started execution {arn.rsplit(':', 1)[1]} (`stepwise show last` follows it)")
            return 0 if started else 1
        return change.follow(started, args)


# ================================================================================== destroy
@dataclass
class Plan:
    """What destroy deletes, found through the AWS APIs."""

    stack: str
    where: str
    running: list[str] = field(default_factory=list)  # execution ARNs
    endpoint: str | None = None
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)  # ARNs
    group: str | None = None
    bucket: str | None = None
    versions: list[dict] = field(default_factory=list)  # {Key, VersionId}
    markers: int = 0
    job_streams: list[tuple[str, str]] = field(default_factory=list)  # (group, stream)
    stack_log_groups: list[str] = field(default_factory=list)  # the functions' own: go with the stack
    log_groups: list[str] = field(default_factory=list)  # functions' groups outside the stack

    def lines(self) -> list[str]:
        found = []
        if self.running:
            found.append(f"stop {len(self.running)} running execution(s) of the state machine")
        if self.endpoint:
            found.append(f"endpoint {self.endpoint}")
        for name in self.endpoint_configs:
            found.append(f"endpoint config {name}")
        for name in self.models:
            found.append(f"model {name}")
        for arn in self.packages:
            found.append(f"model package {arn.split('/', 1)[-1]}")
        if self.group:
            found.append(f"model package group {self.group}")
        if self.bucket:
            kept = len(self.versions) - self.markers
            found.append(
                f"bucket {self.bucket}: {kept} object version(s), {self.markers} delete marker(s)"
                + (" (empty)" if not self.versions else "")
            )
        if self.job_streams:
            found.append(f"{len(self.job_streams)} log stream(s) of this stack's SageMaker jobs")
        for group in self.log_groups:
            found.append(f"log group {group}")
        groups = len(self.stack_log_groups)
        found.append(
            f"stack {self.stack}: its bucket, state machine, functions and their {groups} log group(s), "
            "rules, roles, topic"
        )
        return found


def _all(client: Any, method: str, key: str, **arguments: Any) -> list:
    items: list = []
    for page in client.get_paginator(method).paginate(**arguments):
        items.extend(page.get(key, []))
    return items


def destroy_plan(target: Any, change: Any) -> Plan:
    outputs = target.outputs()
    plan = Plan(stack=target.stack_name, where=target.where())
    sagemaker, sfn, logs = change.client("sagemaker"), change.client("stepfunctions"), change.client("logs")
    machine = outputs.get("StateMachineArn")
    executions = _all(sfn, "list_executions", "executions", stateMachineArn=machine) if machine else []
    plan.running = [e["executionArn"] for e in executions if e["status"] == "RUNNING"]
    endpoint = outputs.get("EndpointName")
    if endpoint:
        with contextlib.suppress(sagemaker.exceptions.ClientError):
            plan.endpoint = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointName"]
        mine = lambda name: name == endpoint or name.startswith(f"{endpoint}-")  # noqa: E731 (deploy_endpoint's names)
        configs = _all(sagemaker, "list_endpoint_configs", "EndpointConfigs", NameContains=endpoint)
        plan.endpoint_configs = sorted(
            c["EndpointConfigName"] for c in configs if mine(c["EndpointConfigName"])
        )
        models = _all(sagemaker, "list_models", "Models", NameContains=endpoint)
        plan.models = sorted(m["ModelName"] for m in models if mine(m["ModelName"]))
    group = outputs.get("ModelPackageGroupName")
    if group:
        with contextlib.suppress(sagemaker.exceptions.ClientError):
            plan.group = sagemaker.describe_model_package_group(ModelPackageGroupName=group)[
                "ModelPackageGroupName"
            ]
        if plan.group:
            summaries = _all(
                sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=group
            )
            plan.packages = [s["ModelPackageArn"] for s in summaries]
    bucket = outputs.get("BucketName")
    if bucket:
        s3 = change.client("s3")
        with contextlib.suppress(s3.exceptions.ClientError):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                plan.versions += [
                    {"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])
                ]
                markers = page.get("DeleteMarkers", [])
                plan.markers += len(markers)
                plan.versions += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in markers]
            plan.bucket = bucket
    for execution in executions:
        for job_key, job in _jobs(sfn, execution["executionArn"]):
            with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
                streams = _all(
                    logs,
                    "describe_log_streams",
                    "logStreams",
                    logGroupName=LOG_GROUPS[job_key],
                    logStreamNamePrefix=f"{job}/",
                )
                plan.job_streams += [(LOG_GROUPS[job_key], s["logStreamName"]) for s in streams]
    plan.stack_log_groups, plan.log_groups = _function_log_groups(target, logs)
    return plan


def _jobs(sfn: Any, arn: str) -> list[tuple[str, str]]:
    """(name key, job name) of every SageMaker job an execution started."""
    jobs = []
    for event in _all(sfn, "get_execution_history", "events", executionArn=arn):
        details = event.get("taskScheduledEventDetails") or {}
        try:
            parameters = json.loads(details.get("parameters") or "{}")
        except ValueError:
            continue
        jobs += [(key, parameters[key]) for key in LOG_GROUPS if isinstance(parameters.get(key), str)]
    return jobs


def _function_log_groups(target: Any, logs: Any) -> tuple[list[str], list[str]]:
    """The existing log groups the stack's functions log to (their LoggingConfig): the stack's own
    groups, which CloudFormation deletes with it, and others (Lambda's default /aws/lambda/<function>),
    which destroy deletes itself."""
    groups = set()
    resources = target.resources()
    for resource in resources:
        if resource.get("ResourceType") == "AWS::Lambda::Function" and resource.get("PhysicalResourceId"):
            groups.add(target.function_log_group(resource["PhysicalResourceId"]))
    owned = {r.get("PhysicalResourceId") for r in resources if r.get("ResourceType") == "AWS::Logs::LogGroup"}
    existing = []
    for group in sorted(groups):
        found = _all(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=group)
        if any(g["logGroupName"] == group for g in found):
            existing.append(group)
    return [g for g in existing if g in owned], [g for g in existing if g not in owned]


def destroy_command(args: argparse.Namespace) -> int:
    target = target_of(args)
    try:
        target.describe_stack()
    except StackMissing:
        print(f"Stack {target.stack_name} does not exist {target.where()}: nothing to delete.")
        return 0
    with target.changing("destroy", args) as change:
        plan = destroy_plan(target, change)
        print(f"stepwise destroy {target.stack_name} {target.where()} deletes:")
        for line in plan.lines():
            print(f"  - {line}")
        if args.dry_run:
            print("Dry run: nothing was deleted.")
            return 0
        if not args.yes:
            _confirm(target.stack_name)
        _execute(plan, target, change)
    print(f"Deleted stack {target.stack_name} and everything its runs created {target.where()}.")
    return 0


def _confirm(stack: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError(
            "destroy asks for confirmation: pass --yes to delete without asking (--dry-run lists)"
        )
    answer = input(f"Type the stack's name ({stack}) to delete all of this: ").strip()
    if answer != stack:
        raise UsageError("not confirmed: nothing was deleted")


def _step(text: str) -> None:
    print(f"  {text}", flush=True)


def _execute(plan: Plan, target: Any, change: Any) -> None:
    sagemaker, sfn, logs = change.client("sagemaker"), change.client("stepfunctions"), change.client("logs")
    for arn in plan.running:
        with contextlib.suppress(sfn.exceptions.ClientError):
            sfn.stop_execution(
                executionArn=arn, error="Destroyed", cause="stepwise destroy deletes the stack"
            )
    _wait(
        lambda: all(sfn.describe_execution(executionArn=a)["status"] != "RUNNING" for a in plan.running), 120
    )
    if plan.running:
        _step(f"stopped {len(plan.running)} execution(s)")
    if plan.endpoint:
        sagemaker.delete_endpoint(EndpointName=plan.endpoint)
        _step(f"deleted endpoint {plan.endpoint}")
    for name in plan.endpoint_configs:
        sagemaker.delete_endpoint_config(EndpointConfigName=name)
    for name in plan.models:
        sagemaker.delete_model(ModelName=name)
    for arn in plan.packages:
        sagemaker.delete_model_package(ModelPackageName=arn)
    if plan.group:
        sagemaker.delete_model_package_group(ModelPackageGroupName=plan.group)
    if plan.endpoint_configs or plan.models or plan.packages or plan.group:
        _step(
            f"deleted {len(plan.endpoint_configs)} endpoint config(s), {len(plan.models)} model(s), "
            f"{len(plan.packages)} model package(s)" + (f" and group {plan.group}" if plan.group else "")
        )
    if plan.bucket and plan.versions:
        s3 = change.client("s3")
        for start in range(0, len(plan.versions), DELETE_BATCH):
            answer = s3.delete_objects(
                Bucket=plan.bucket,
                Delete={"Objects": plan.versions[start : start + DELETE_BATCH], "Quiet": True},
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise UsageError(
                    f"could not empty {plan.bucket}: {first.get('Code')}: {first.get('Message')}"
                )
        _step(f"emptied bucket {plan.bucket} ({len(plan.versions)} versions and delete markers)")
    for group, stream in plan.job_streams:
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_stream(logGroupName=group, logStreamName=stream)
    if plan.job_streams:
        _step(f"deleted {len(plan.job_streams)} log stream(s) of the SageMaker jobs")
    cloudformation = change.client("cloudformation")
    cloudformation.delete_stack(StackName=plan.stack)
    _step(f"deleting stack {plan.stack}…")
    status, reason = _wait_for_stack_deletion(cloudformation, plan.stack)
    if status != "DELETE_COMPLETE":
        raise UsageError(
            f"stack {plan.stack} is {status}: {reason or 'see its events'} (destroy again to retry)"
        )
    for group in plan.log_groups:  # the stack's own groups went with it; Lambda's default ones stay
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=group)


def _wait(done: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(1.0)


def _wait_for_stack_deletion(cloudformation: Any, stack: str) -> tuple[str, str | None]:
    """DELETE_COMPLETE once DescribeStacks no longer finds it by name; else the status it stopped in."""
    deadline = time.monotonic() + 3600
    while True:
        try:
            found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        except cloudformation.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return "DELETE_COMPLETE", None
            raise
        status = found.get("StackStatus", "")
        if status == "DELETE_COMPLETE":
            return status, None
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status, found.get("StackStatusReason")
        time.sleep(5.0)
