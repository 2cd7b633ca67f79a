"""Where a command acts: the local state folder, or a deployed stack through the AWS APIs.

Every command that reads or changes the pipeline works on one `Target`, chosen once from its arguments
(`target_of(args)`), and never asks which kind it has:

- `LocalTarget`: the state folder `stepwise run` keeps (`--state-dir`, default .stepwise). Reading
  needs no moto: the store keeps each execution's DescribeExecution and GetExecutionHistory, the
  registry as DescribeModelPackage found it, what each endpoint serves, the CloudWatch Logs events and
  every S3 object. Commands that change things get the embedded AWS in-process (`changing`), holding
  the folder's lock, and call it with boto3 clients as a user would.
- `CloudTarget`: a deployed stack, found by name through CloudFormation (`--stack`, default
  `stepwise` as in samconfig.toml), with the standard credential chain, `--region` and `--profile`; or
  any AWS endpoint (`--endpoint-url`, as the aws CLI spells it), e.g. the embedded AWS `stepwise serve`
  exposes on 127.0.0.1. Nothing is hard-coded: the bucket, state machine, endpoint and model package
  group are the stack's outputs, its functions and log groups its resources.

Both answer in the shapes the AWS APIs answer in (a record per execution: `execution` =
DescribeExecution, `events` = GetExecutionHistory; a package record per DescribeModelPackage, see
records.package_record; log events as FilterLogEvents returns them). Errors a user can fix (no stack,
no credentials, no region, an endpoint that does not answer) are `UsageError`s: one line, exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepwise.console.commands import DEFAULT_STATE_DIR, UsageError

DEFAULT_STACK = "stepwise"
LOG_GROUPS = {
    "ProcessingJobName": "/aws/sagemaker/ProcessingJobs",
    "TrainingJobName": "/aws/sagemaker/TrainingJobs",
}


# ================================================================================== arguments
def add_target_arguments(parser: argparse.ArgumentParser, *, local_only: bool = False) -> None:
    """--state-dir (the local stack), and the options that choose a deployed stack instead."""
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"the folder that keeps the local stack (default {DEFAULT_STATE_DIR})",
    )
    if local_only:
        return
    cloud = parser.add_argument_group(
        "a deployed stack instead (any of these options targets it through the AWS APIs)"
    )
    cloud.add_argument("--stack", help=f"the stack's name (default {DEFAULT_STACK}, as in samconfig.toml)")
    cloud.add_argument("--region", help="its region (default: the AWS CLI's configuration)")
    cloud.add_argument("--profile", help="a named profile of the AWS CLI's configuration")
    cloud.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="send the AWS API calls to this URL (e.g. http://127.0.0.1:8080 for `stepwise serve`)",
    )


def wants_cloud(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) for name in ("stack", "region", "profile", "endpoint_url"))


def target_of(args: argparse.Namespace) -> Target:
    """The target the arguments name: a deployed stack when any cloud option is given, else the local
    state folder."""
    if wants_cloud(args):
        if getattr(args, "state_dir", None) is not None:
            raise UsageError(
                "--state-dir is the local stack: leave it out with --stack/--region/--endpoint-url"
            )
        return CloudTarget(
            args.stack or DEFAULT_STACK,
            region=args.region,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
        )
    return LocalTarget(getattr(args, "state_dir", None) or DEFAULT_STATE_DIR)


class StackMissing(UsageError):
    """The target has no such stack."""


def run_id_of(name: str, start: Any) -> str:
    """The run id ClaimRun derives for an execution (functions/claim_run/app.py): its start time and a
    hash of its name, so a run id names its execution without reading its history."""
    import datetime as dt

    from stepwise.console.progress import _as_datetime

    started = _as_datetime(start).astimezone(dt.UTC)
    return f"{started:%Y%m%d-%H%M%S}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


# ================================================================================== the interface
class Target:
    """What the console reads and changes. Subclasses answer in the AWS APIs' shapes."""

    kind = "?"
    stack_name = DEFAULT_STACK

    def where(self) -> str:  # for messages: "in .stepwise", "in us-east-1"...
        raise NotImplementedError

    # ---------------------------------------------------------------- the stack
    def describe_stack(self) -> dict:
        """DescribeStacks' Stacks[0]; StackMissing when there is none."""
        raise NotImplementedError

    def resources(self) -> list[dict]:
        """ListStackResources' summaries: LogicalResourceId, PhysicalResourceId, ResourceType."""
        raise NotImplementedError

    def template(self) -> dict:
        """The stack's processed template (after the SAM transform)."""
        raise NotImplementedError

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.describe_stack().get("Outputs") or []}

    def parameters(self) -> dict[str, str]:
        return {
            p["ParameterKey"]: p.get("ParameterValue", "")
            for p in self.describe_stack().get("Parameters") or []
        }

    def bucket(self) -> str | None:
        return self.outputs().get("BucketName")

    def function_log_group(self, function: str) -> str:
        """The log group a function of the stack logs to (its LoggingConfig), by name or ARN."""
        name = function.split(":function:", 1)[-1].split(":")[0]
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in self.resources()}
        resources = self.template().get("Resources") or {}
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::Lambda::Function" or physical.get(logical_id) != name:
                continue
            group = ((resource.get("Properties") or {}).get("LoggingConfig") or {}).get("LogGroup")
            if isinstance(group, dict) and "Ref" in group:
                return physical.get(group["Ref"]) or f"/aws/lambda/{name}"
            if isinstance(group, str):
                return group
        return f"/aws/lambda/{name}"

    # ---------------------------------------------------------------- executions
    def executions(self, limit: int | None = None) -> list[dict]:
        """Execution records {execution, events, summary, parameters}, newest first."""
        raise NotImplementedError

    def find_execution(self, name: str) -> dict | None:
        """The record of execution `name`: its full name, a unique prefix, its run id, or 'last'."""
        raise NotImplementedError

    # ---------------------------------------------------------------- SageMaker
    def packages(self) -> list[dict]:
        """Every model package of the stack's group, oldest first (records.package_record)."""
        raise NotImplementedError

    def serving(self) -> dict[str, dict]:
        """endpoint name -> {EndpointConfigName, ModelDataUrl, EndpointStatus, InstanceType} of what
        serves now."""
        raise NotImplementedError

    # ---------------------------------------------------------------- S3, logs
    def read_object(self, bucket: str, key: str) -> bytes | None:
        raise NotImplementedError

    def log_location(
        self, execution: str, *, job: str | None = None, job_key: str = "", function: str = ""
    ) -> str:
        """Where a job's (`job`, its request's name key) or a function's log of a run can be read."""
        if job:
            return (
                f"CloudWatch Logs {LOG_GROUPS.get(job_key, '/aws/sagemaker/ProcessingJobs')}, streams {job}/*"
            )
        return f"CloudWatch Logs {self.function_log_group(function)}"

    def log_events(
        self,
        group: str,
        *,
        stream_prefix: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> list[dict]:
        """FilterLogEvents' events {logStreamName, timestamp, message}, oldest first ([] when the group
        does not exist)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- changing things, invoking
    @contextlib.contextmanager
    def changing(self, command: str, args: argparse.Namespace) -> Iterator[Changes]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextlib.contextmanager
    def runtime_client(self, endpoint: str) -> Iterator[Any]:
        """A boto3 sagemaker-runtime client that reaches `endpoint`."""
        raise NotImplementedError
        yield  # pragma: no cover


class Changes:
    """The clients a changing command calls (as a user, an administrator), and what its changes start."""

    delivery_seconds = 0.0  # how long an event may take to start an execution

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def executions_now(self) -> set[str]:
        machine = self.machine_arn()
        arns: set[str] = set()
        if machine is None:
            return arns
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=machine, PaginationConfig={"MaxItems": 200}):
            arns.update(e["executionArn"] for e in page["executions"])
        return arns

    def machine_arn(self) -> str | None:
        raise NotImplementedError

    def started_since(self, before: set[str], *, expect: int, wait_seconds: float) -> list[str]:
        """Executions of the stack's state machine that were not in `before`, oldest first: waits up to
        `wait_seconds` for `expect` of them (EventBridge delivers within seconds)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            new = self.executions_now() - before
            if len(new) >= expect or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        described = [self.client("stepfunctions").describe_execution(executionArn=arn) for arn in new]
        return [d["executionArn"] for d in sorted(described, key=lambda d: (d["startDate"], d["name"]))]

    def follow(self, started: list[str], args: argparse.Namespace) -> int:
        raise NotImplementedError


# ================================================================================== the state folder
class LocalTarget(Target):
    kind = "local"

    def __init__(self, state_dir: Path, store: Any = None) -> None:
        self.state_dir = Path(state_dir)
        self._store = store

    @classmethod
    def of_store(cls, store: Any) -> LocalTarget:
        return cls(Path(store.root), store)

    def where(self) -> str:
        return f"in {self.state_dir}"

    @property
    def store(self) -> Any:
        if self._store is None:
            from stepwise.emulator.store import Store

            if not (self.state_dir / "stepwise.db").is_file():
                raise StackMissing(
                    f"no local stack in {self.state_dir}: `stepwise run` creates one (or pass --state-dir)"
                )
            self._store = Store(self.state_dir, create=False)
        return self._store

    def _stack(self) -> dict:
        stack = self.store.get("stack")
        if not stack:
            raise StackMissing(f"no local stack in {self.state_dir}: `stepwise run` creates one")
        return stack

    def describe_stack(self) -> dict:
        stack = self._stack()
        return {
            "StackName": stack.get("name", self.stack_name),
            "StackStatus": "CREATE_COMPLETE",
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v} for k, v in (stack.get("parameters") or {}).items()
            ],
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in (stack.get("outputs") or {}).items()],
        }

    def resources(self) -> list[dict]:
        return [
            {
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": resource.get("physical_id"),
                "ResourceType": resource.get("type"),
            }
            for logical_id, resource in (self._stack().get("resources") or {}).items()
        ]

    def template(self) -> dict:
        return self._stack().get("template") or {}

    def bucket(self) -> str | None:
        from stepwise.console.records import bucket_of

        return bucket_of(self.store)

    def executions(self, limit: int | None = None) -> list[dict]:
        records = list(reversed(self.store.executions()))
        return records[:limit] if limit else records

    def find_execution(self, name: str) -> dict | None:
        from stepwise.console.records import find_record

        return find_record(list(reversed(self.store.executions())), name)

    def packages(self) -> list[dict]:
        return list(self.store.get("registry") or [])

    def serving(self) -> dict[str, dict]:
        deployed = dict(self.store.get("deployed-endpoints") or {})
        configs = {
            request.get("EndpointConfigName"): request
            for _service, operation, request in self.store.calls("sagemaker")
            if operation == "CreateEndpointConfig"
        }
        for record in deployed.values():
            variants = (configs.get(record.get("EndpointConfigName")) or {}).get("ProductionVariants") or [{}]
            record.setdefault("EndpointStatus", "InService")
            record.setdefault("InstanceType", variants[0].get("InstanceType"))
        return deployed

    def read_object(self, bucket: str, key: str) -> bytes | None:
        return self.store.read_object(bucket, key)

    def log_location(
        self, execution: str, *, job: str | None = None, job_key: str = "", function: str = ""
    ) -> str:
        """The log file under the state folder (the job's, or the function's for this run)."""
        from stepwise.emulator.sagemaker.jobs import job_dir, run_of_job

        runs_dir = self.state_dir / "runs"
        if job:
            return str(job_dir(runs_dir, run_of_job(job), job) / "logs" / "job.log")
        name = function.split(":function:", 1)[-1].split(":")[0]
        return str(runs_dir / execution / "lambda" / f"{name}.log")

    def log_events(
        self,
        group: str,
        *,
        stream_prefix: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> list[dict]:
        return [
            {"logStreamName": stream, "timestamp": timestamp, "message": message}
            for _seq, _group, stream, timestamp, message in self.store.log_events(group, stream_prefix or "")
            if (start is None or timestamp >= start) and (end is None or timestamp <= end)
        ]

    @contextlib.contextmanager
    def changing(self, command: str, args: argparse.Namespace) -> Iterator[Changes]:
        from stepwise.console.commands import _locked, _terminate_as_interrupt, embedded_aws

        self.store  # noqa: B018 (a folder without state: say so before starting anything)
        with (
            _locked(self.state_dir, command, getattr(args, "no_wait", False)),
            _terminate_as_interrupt(),
            embedded_aws(self.state_dir, deploy=False) as aws,
        ):
            yield LocalChanges(aws)

    @contextlib.contextmanager
    def runtime_client(self, endpoint: str) -> Iterator[Any]:
        """Through a running `stepwise serve` of this folder, else the endpoint's recorded model served
        in-process for the call (no embedded AWS: the endpoint's model and the runtime API only)."""
        from stepwise.console import serving

        port = serving.running_gateway(self.state_dir, endpoint)
        if port is not None:
            yield serving.runtime_client(port)
            return
        with serving.serve_recorded(self.state_dir, endpoint, self.serving()[endpoint]) as port:
            yield serving.runtime_client(port)


class LocalChanges(Changes):
    def __init__(self, aws: Any) -> None:
        self.aws = aws

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def machine_arn(self) -> str | None:
        return self.aws.state_machine_arn if self.aws.stack is not None else None

    def follow(self, started: list[str], args: argparse.Namespace) -> int:
        from stepwise.console.commands import _follow

        return _follow(self.aws, started, args)


# ================================================================================== a deployed stack
class CloudTarget(Target):
    kind = "cloud"

    def __init__(
        self,
        stack: str,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        import boto3
        from botocore.exceptions import ProfileNotFound

        self.stack_name = stack
        self.endpoint_url = endpoint_url
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound:
            raise UsageError(f"--profile {profile}: no such profile in the AWS CLI's configuration") from None
        self.region = self.session.region_name
        if not self.region:
            raise UsageError(
                "no AWS region: pass --region, or set AWS_DEFAULT_REGION (or the profile's region)"
            )
        self._clients: dict[str, Any] = {}
        self._stack: dict | None = None
        self._resources: list[dict] | None = None
        self._template: dict | None = None

    def where(self) -> str:
        return f"at {self.endpoint_url}" if self.endpoint_url else f"in {self.region}"

    def client(self, service: str) -> Any:
        from botocore.config import Config

        if service not in self._clients:
            config = Config(
                retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=120
            )
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=config
            )
        return self._clients[service]

    # ---------------------------------------------------------------- the stack
    def describe_stack(self) -> dict:
        if self._stack is None:
            with aws_errors(self):
                try:
                    stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)[
                        "Stacks"
                    ]
                except self.client("cloudformation").exceptions.ClientError as error:
                    if "does not exist" in str(error):
                        raise StackMissing(
                            f"no stack {self.stack_name} {self.where()}: `sam deploy` creates it; "
                            "--stack and --region choose another"
                        ) from None
                    raise
            self._stack = stacks[0]
        return self._stack

    def resources(self) -> list[dict]:
        if self._resources is None:
            self.describe_stack()
            found: list[dict] = []
            with aws_errors(self):
                paginator = self.client("cloudformation").get_paginator("list_stack_resources")
                for page in paginator.paginate(StackName=self.stack_name):
                    found.extend(page["StackResourceSummaries"])
            self._resources = found
        return self._resources

    def template(self) -> dict:
        if self._template is None:
            with aws_errors(self):
                body = self.client("cloudformation").get_template(
                    StackName=self.stack_name, TemplateStage="Processed"
                )["TemplateBody"]
            if isinstance(body, str):
                try:
                    body = json.loads(body)
                except ValueError:
                    import yaml

                    body = yaml.safe_load(body)  # a processed template has no short-form tags
            self._template = body
        return self._template

    # ---------------------------------------------------------------- executions
    def _machine(self) -> str:
        machine = self.outputs().get("StateMachineArn")
        if not machine:
            raise UsageError(
                f"stack {self.stack_name} has no StateMachineArn output: is it a Stepwise stack?"
            )
        return machine

    def _list(self, limit: int | None = None) -> list[dict]:
        items: list[dict] = []
        with aws_errors(self):
            paginator = self.client("stepfunctions").get_paginator("list_executions")
            config = {"MaxItems": limit} if limit else {}
            for page in paginator.paginate(stateMachineArn=self._machine(), PaginationConfig=config):
                items.extend(page["executions"])
        return sorted(items, key=lambda e: (e["startDate"], e["name"]), reverse=True)

    def _record(self, arn: str) -> dict:
        from stepwise.emulator.stepfunctions import to_json_safe

        with aws_errors(self):
            sfn = self.client("stepfunctions")
            described = sfn.describe_execution(executionArn=arn)
            events: list[dict] = []
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
                events.extend(page["events"])
        described = {k: v for k, v in described.items() if k != "ResponseMetadata"}
        return {
            "execution": to_json_safe(described),
            "events": to_json_safe(events),
            "summary": None,
            "parameters": None,
        }

    def executions(self, limit: int | None = None) -> list[dict]:
        return [self._record(item["executionArn"]) for item in self._list(limit)]

    def find_execution(self, name: str) -> dict | None:
        from stepwise.console.records import AmbiguousRun, find_record, pick_run

        items = self._list(1 if name == "last" else None)
        if not items:
            return None
        if name == "last":
            return self._record(items[0]["executionArn"])

        def keys(item: dict) -> tuple[str, str]:
            # the run id ClaimRun gives it; computed from the listing, so also for an execution that
            # ended before ClaimRun, which `runs` lists by its name
            return item["name"], run_id_of(item["name"], item["startDate"])

        try:
            found = pick_run(items, name, keys)
        except AmbiguousRun:  # decide as `runs` lists them: a run id only where the history has one
            candidates = [i for i in items if any(key.startswith(name) for key in keys(i))]
            return find_record([self._record(item["executionArn"]) for item in candidates], name)
        return self._record(found["executionArn"]) if found else None

    # ---------------------------------------------------------------- SageMaker
    def packages(self) -> list[dict]:
        from stepwise.console.records import package_record

        group = self.outputs().get("ModelPackageGroupName")
        if not group:
            return []
        sagemaker = self.client("sagemaker")
        found = []
        with aws_errors(self):
            summaries: list[dict] = []
            try:
                for page in sagemaker.get_paginator("list_model_packages").paginate(
                    ModelPackageGroupName=group
                ):
                    summaries.extend(page["ModelPackageSummaryList"])
            except sagemaker.exceptions.ClientError:
                return []  # no group yet: nothing registered
            for summary in sorted(summaries, key=lambda s: s.get("ModelPackageVersion", 0)):
                found.append(
                    package_record(
                        sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
                    )
                )
        return found

    def serving(self) -> dict[str, dict]:
        name = self.outputs().get("EndpointName")
        if not name:
            return {}
        sagemaker = self.client("sagemaker")
        with aws_errors(self):
            try:
                endpoint = sagemaker.describe_endpoint(EndpointName=name)
            except sagemaker.exceptions.ClientError:
                return {}  # not deployed yet
            record: dict[str, Any] = {
                "EndpointConfigName": endpoint.get("EndpointConfigName"),
                "EndpointStatus": endpoint.get("EndpointStatus"),
            }
            try:
                config = sagemaker.describe_endpoint_config(EndpointConfigName=record["EndpointConfigName"])
                variant = (config.get("ProductionVariants") or [{}])[0]
                record["VariantName"] = variant.get("VariantName")
                record["InstanceType"] = variant.get("InstanceType")
                model = sagemaker.describe_model(ModelName=variant["ModelName"])
                container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
                record["ModelDataUrl"] = container.get("ModelDataUrl")
            except (sagemaker.exceptions.ClientError, KeyError):
                pass
        return {name: record}

    # ---------------------------------------------------------------- S3, logs
    def read_object(self, bucket: str, key: str) -> bytes | None:
        s3 = self.client("s3")
        with aws_errors(self):
            try:
                return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.ClientError:
                return None

    def log_events(
        self,
        group: str,
        *,
        stream_prefix: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> list[dict]:
        logs = self.client("logs")
        arguments: dict[str, Any] = {"logGroupName": group}
        if stream_prefix:
            arguments["logStreamNamePrefix"] = stream_prefix
        if start is not None:
            arguments["startTime"] = int(start)
        if end is not None:
            arguments["endTime"] = int(end)
        events: list[dict] = []
        with aws_errors(self):
            try:
                for page in logs.get_paginator("filter_log_events").paginate(**arguments):
                    events.extend(page.get("events", []))
            except logs.exceptions.ResourceNotFoundException:
                return []
        return sorted(events, key=lambda e: e["timestamp"])  # stable: a stream's order within a millisecond

    # ---------------------------------------------------------------- changing things, invoking
    @contextlib.contextmanager
    def changing(self, command: str, args: argparse.Namespace) -> Iterator[Changes]:
        with aws_errors(self):
            yield CloudChanges(self)

    @contextlib.contextmanager
    def runtime_client(self, endpoint: str) -> Iterator[Any]:
        yield self.client("sagemaker-runtime")


class CloudChanges(Changes):
    delivery_seconds = 30.0  # EventBridge delivers within seconds

    def __init__(self, target: CloudTarget) -> None:
        self.target = target

    def client(self, service: str) -> Any:
        return self.target.client(service)

    def machine_arn(self) -> str | None:
        try:
            return self.target.outputs().get("StateMachineArn")
        except StackMissing:
            return None

    def follow(self, started: list[str], args: argparse.Namespace) -> int:
        """Watch the executions as they run (their histories, polled), then print the last one's
        summary. Ctrl-C stops watching; the run goes on."""
        from stepwise.console.commands import _err, _out, _say, print_run_summary
        from stepwise.console.progress import ProgressPrinter
        from stepwise.console.summary import build_summary

        if not started:
            _say(args, "No execution started: nothing to follow (`stepwise runs` lists them)")
            return 1
        summary: dict = {}
        out = _err(args) if getattr(args, "json", False) else _out(args)
        try:
            for arn in started:
                print(f"Execution {arn.rsplit(':', 1)[1]}", file=out, flush=True)
                printer = ProgressPrinter(stream=out)
                seen = 0
                while True:
                    record = self.target._record(arn)  # described before its history is read
                    printer(record["events"][seen:])
                    seen = len(record["events"])
                    if record["execution"]["status"] != "RUNNING":
                        break
                    time.sleep(2.0)
                printer.finish()
                summary = build_summary(self.target, record["execution"], record["events"])
        except KeyboardInterrupt:
            print(
                "\nStopped watching; the run goes on (`stepwise show last` shows it).",
                file=_err(args),
                flush=True,
            )
            return 130
        print_run_summary(summary, args)
        return 0 if summary.get("status") == "SUCCEEDED" else 1


@contextlib.contextmanager
def aws_errors(target: CloudTarget) -> Iterator[None]:
    """The AWS SDK's errors a user fixes, as one line (UsageError); others pass."""
    try:
        yield
    except Exception as error:
        usage = usage_error_of(error)
        if usage is not None:
            raise usage from None
        raise


def usage_error_of(error: Exception) -> UsageError | None:
    """The UsageError (one line saying what to fix) for an AWS SDK error a user fixes, else None. No
    credential is ever printed."""
    from botocore import exceptions

    if isinstance(error, (exceptions.NoCredentialsError, exceptions.PartialCredentialsError)):
        return UsageError(
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or --profile)"
        )
    if isinstance(error, exceptions.ProfileNotFound):
        return UsageError(f"{error}: check --profile")
    if isinstance(error, exceptions.NoRegionError):
        return UsageError("no AWS region: pass --region, or set AWS_DEFAULT_REGION")
    if isinstance(error, exceptions.EndpointConnectionError):
        where = error.kwargs.get("endpoint_url", "AWS")
        return UsageError(
            f"cannot reach {where}: check --endpoint-url (is `stepwise serve` running?) and --region"
        )
    if isinstance(error, exceptions.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in (
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
        ):
            return UsageError(
                f"AWS refused the credentials ({code}): refresh them, or choose another --profile"
            )
    return None
