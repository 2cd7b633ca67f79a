"""LocalAWS: the embedded AWS that `stepwise run` executes the pipeline in.

Inside one process: moto (S3, SageMaker, Step Functions with its ASL interpreter, SNS, IAM), restored
from the state folder; the bucket, topic and state machine of template.yaml, with the definition's
${Token}s resolved to local values; the hooks that run SageMaker jobs, Lambda functions and endpoints
locally. Runs start the way the cloud starts them: an upload makes an S3 "Object Created" event, the
event is matched against the template's EventBridge rule, and a match starts an execution with the
event as its input.

`mock_aws` patches botocore for the whole process: only local-mode commands may use this module.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepwise.local.template import ACCOUNT_ID, REGION, LocalStack, resolve_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = Path(".stepwise")
DATASET_FILES = ("claims.csv", "customers.csv")
PARAMETERS_FILE = "parameters.json"
# Wait states run 120x faster locally: the endpoint poll every 30 s becomes 0.25 s, so the definition's
# budget of 60 polls still gives a model server 15 s to start, against the ~0.5 s one takes. Retry
# intervals do not wait at all: local failures are not throttling that waiting would cure.
WAIT_SCALE = 1 / 120
RETRY_SCALE = 0.0
_FAKE_CREDENTIALS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _eventbridge_event(detail_type: str, source: str, resources: list[str], detail: dict) -> dict:
    """An event in the envelope EventBridge delivers to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": _iso(utc_now()),
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_matches(pattern: dict, event: dict) -> bool:
    """Does the EventBridge `pattern` match `event`? (stepwise.eventpattern, shared with the tests)"""
    from stepwise.eventpattern import matches

    return matches(pattern, event)


class LocalAWS:
    """The embedded AWS. Use as a context manager: state is restored on entry and saved on exit."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        *,
        repo_root: Path = REPO_ROOT,
        wait_scale: float = WAIT_SCALE,
        retry_scale: float = RETRY_SCALE,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.repo_root = Path(repo_root).resolve()
        self.wait_scale = wait_scale
        self.retry_scale = retry_scale
        self.parameters = parameters or {}
        self.stack: LocalStack | None = None
        self._mock = None
        self._clients: dict[str, Any] = {}
        self._saved_environment: dict[str, str | None] = {}
        self.executions: list[str] = []

    # ------------------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalAWS:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        from moto import mock_aws

        from stepwise.local.endpoints import install_endpoint_hooks
        from stepwise.local.moto_fixes import install_sagemaker_fixes
        from stepwise.local.state import StateStore

        # Nothing here may reach a real account: fake credentials, and no profile or endpoint override
        # (boto3 would send a call to AWS_ENDPOINT_URL past moto's interception).
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL") or n == "AWS_PROFILE"]:
            self._saved_environment[name] = os.environ.pop(name)
        for name, value in _FAKE_CREDENTIALS.items():
            self._saved_environment[name] = os.environ.get(name)
            os.environ[name] = value
        self.parameters = self._stack_parameters()
        self.stack = resolve_stack(
            self.repo_root / "template.yaml", self.parameters, custom_attributes=self._custom_attributes()
        )
        self.definition = self.stack.definition()
        self.store = StateStore(self.state_dir)
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self._mock.start()
        _quiet_moto_logs()
        try:
            install_sagemaker_fixes()
            self._install_engine()
            install_endpoint_hooks(self.state_dir)
            self._create_resources()
            self.store.restore_s3(self.client("s3"))
            self.store.restore_sagemaker(self.client("sagemaker"))
            self._publish_code()
        except BaseException:
            self.close(save=False)
            raise

    def close(self, save: bool = True) -> None:
        """Kill running jobs, save the state, stop the model servers and moto, undo every hook."""
        from stepwise.local.endpoints import uninstall_endpoint_hooks
        from stepwise.local.engine import kill_all_jobs, uninstall_hooks
        from stepwise.local.moto_fixes import uninstall_sagemaker_fixes

        try:
            kill_all_jobs()
            if save and self._mock is not None:
                self.save()
        finally:
            uninstall_endpoint_hooks()
            uninstall_hooks()
            uninstall_sagemaker_fixes()
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            for name, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_environment.clear()

    def save(self) -> None:
        """Write the embedded AWS's state (S3, SageMaker, this session's executions) to the state folder."""
        self.store.save_s3(self.client("s3"), self.stack.buckets)
        self.store.save_sagemaker(self.client("sagemaker"))
        for arn in self.executions:
            self.store.save_execution(self.client("stepfunctions"), arn)

    def client(self, service: str):
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    # ------------------------------------------------------------------------------ setup
    def _stack_parameters(self) -> dict[str, str]:
        """Template parameters, as a deployed stack keeps them: those given now are saved in the state
        folder and apply to later commands too (`run --approval-status PendingManualApproval`, then
        `approve` finds the approval rule enabled), like `sam deploy --parameter-overrides`."""
        path = self.state_dir / PARAMETERS_FILE
        saved = json.loads(path.read_text()) if path.is_file() else {}
        merged = {**saved, **self.parameters}
        if merged != saved:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(merged, indent=2, sort_keys=True))
        return merged

    def _custom_attributes(self) -> dict[str, str]:
        """What the template's custom resources would return when deployed: ProcessingCode.Prefix is
        the content address of processing/, computed by the PublishCode function's own code."""
        return {
            "ProcessingCode.Prefix": self._publish_code_module("code_bundle").code_prefix(self.processing_dir)
        }

    @property
    def processing_dir(self) -> Path:
        return self.repo_root / "processing"

    def _publish_code_module(self, name: str):
        """A module of functions/publish_code (the custom resource that publishes processing/)."""
        import importlib.util
        import sys

        folder = self.repo_root / "functions" / "publish_code"
        if str(folder) not in sys.path:
            sys.path.append(str(folder))  # app.py imports code_bundle by name, as in Lambda
        spec = importlib.util.spec_from_file_location(f"stepwise_publish_code_{name}", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def _publish_code(self) -> None:
        """Upload processing/ to code/<sha256-12>/ with PublishCode's own `publish`, as deploying does."""
        expected = self.stack.substitutions.get("CodePrefix")
        published = self._publish_code_module("app").publish(self.stack.buckets[0], self.processing_dir)
        if expected and published != expected:
            raise RuntimeError(f"processing/ was published to {published}, the definition expects {expected}")

    def _install_engine(self) -> None:
        from stepwise.local.engine import Engine
        from stepwise.local.lambdas import InProcessFunction
        from stepwise.local.services import SageMakerJobs

        self.engine = Engine(wait_scale=self.wait_scale, retry_scale=self.retry_scale)
        SageMakerJobs(jobs_root=self.runs_dir, clients=self.client).register(self.engine)
        for name, function in self.stack.functions.items():
            self.engine.register_lambda(name, InProcessFunction(function, self.runs_dir, {}))
        self.engine.check_definition(self.definition)
        self.engine.install()

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    def _create_resources(self) -> None:
        s3 = self.client("s3")
        for bucket, properties in self.stack.bucket_properties.items():
            s3.create_bucket(Bucket=bucket)
            if (properties.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for topic_arn in self.stack.topics:
            self.client("sns").create_topic(Name=topic_arn.rsplit(":", 1)[1])
        iam = self.client("iam")
        role_name = self.stack.role_arn.rsplit("/", 1)[1]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "states.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
        self.client("stepfunctions").create_state_machine(
            name=self.stack.state_machine_name,
            definition=json.dumps(self.definition),
            roleArn=self.stack.role_arn,
        )

    # ------------------------------------------------------------------------------ starting runs
    def upload_dataset(self, data_dir: Path, dataset_id: str | None = None) -> list[dict]:
        """Upload claims.csv and customers.csv to raw/<dataset>/; return the "Object Created" events."""
        data_dir = Path(data_dir)
        missing = [name for name in DATASET_FILES if not (data_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{data_dir} lacks {', '.join(missing)}: a dataset is claims.csv + customers.csv"
            )
        dataset_id = dataset_id or utc_now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        bucket = self.stack.buckets[0]
        events = []
        for name in DATASET_FILES:
            key = f"{self.raw_prefix()}{dataset_id}/{name}"
            self.client("s3").upload_file(str(data_dir / name), bucket, key)
            events.append(self.object_created_event(bucket, key))
        return events

    def raw_prefix(self) -> str:
        prefixes = _key_prefixes(self.stack.rule("Object Created").pattern or {})
        return prefixes[0] if prefixes else "raw/"

    def object_created_event(self, bucket: str, key: str) -> dict:
        """The EventBridge event S3 sends for a new object (events/s3_object_created.json's shape)."""
        head = self.client("s3").head_object(Bucket=bucket, Key=key)
        obj: dict[str, Any] = {
            "key": key,
            "size": head["ContentLength"],
            "etag": head["ETag"].strip('"'),
            "sequencer": f"{time.time_ns():X}",
        }
        if head.get("VersionId"):
            obj["version-id"] = head["VersionId"]
        detail = {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        }
        return _eventbridge_event("Object Created", "aws.s3", [f"arn:aws:s3:::{bucket}"], detail)

    def scheduled_event(self) -> dict:
        """The event the template's schedule rule delivers."""
        rule = self.stack.schedule_rule()
        resources = [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule.name}"]
        return _eventbridge_event("Scheduled Event", "aws.events", resources, {})

    def model_package_state_change_event(self, package_arn: str) -> dict:
        """The event SageMaker sends when a model package's approval status changes (the shape of
        events/model_package_approved.json: DescribeModelPackage's fields, times in epoch milliseconds)."""
        from stepwise.local.engine import to_json_safe

        package = self.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
        package.pop("ResponseMetadata", None)
        for key, value in package.items():
            if isinstance(value, dt.datetime):
                package[key] = int(value.timestamp() * 1000)
        return _eventbridge_event(
            "SageMaker Model Package State Change", "aws.sagemaker", [package_arn], to_json_safe(package)
        )

    def deliver(self, event: dict, *, force: bool = False) -> str | None:
        """EventBridge: start an execution with `event` as input if one of the template's rules matches.

        Returns the execution ARN, or None when no rule matches (the cloud would do nothing either).
        `force` adds `"force": true` to the input, as a manual StartExecution would, to retrain inputs
        that were trained before (ClaimRun).
        """
        if event.get("detail-type") == "Scheduled Event":
            matched = True  # asked for explicitly (`--schedule`), even while the template's schedule is off
        else:
            matched = any(
                rule.enabled and rule.pattern and event_matches(rule.pattern, event)
                for rule in self.stack.rules
            )
        if not matched:
            return None
        name = f"{utc_now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        payload = {**event, "force": True} if force else event
        arn = self.client("stepfunctions").start_execution(
            stateMachineArn=self.stack.state_machine_arn, name=name, input=json.dumps(payload)
        )["executionArn"]
        self.executions.append(arn)
        return arn

    # ------------------------------------------------------------------------------ following runs
    def describe(self, execution_arn: str) -> dict:
        return self.client("stepfunctions").describe_execution(executionArn=execution_arn)

    def history(self, execution_arn: str) -> list[dict]:
        events: list[dict] = []
        paginator = self.client("stepfunctions").get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def wait(
        self,
        execution_arn: str,
        on_events: Callable[[list[dict]], None] | None = None,
        poll_seconds: float = 0.2,
        history_seconds: float = 1.0,
    ) -> dict:
        """Poll until the execution ends; pass each batch of new history events to `on_events`.

        The status is polled every `poll_seconds`, the history every `history_seconds` and once more at
        the end: moto returns the whole history on every call (~70 ms for a run's 100 events), so polling
        it as often as the status would take a third of a core from the running jobs. `on_events([])`
        between fetches lets a live display redraw its running times."""
        seen = 0
        next_history = 0.0
        while True:
            described = self.describe(execution_arn)
            finished = described["status"] != "RUNNING"
            if on_events is not None:
                new_events: list[dict] = []
                if finished or time.monotonic() >= next_history:
                    events = self.history(execution_arn)
                    new_events, seen = events[seen:], len(events)
                    next_history = time.monotonic() + history_seconds
                on_events(new_events)
            if finished:
                return described
            time.sleep(poll_seconds)

    def stop(self, execution_arn: str, cause: str = "Stopped by the user (Ctrl-C)") -> None:
        """StopExecution, then wait until the running job processes have been killed."""
        from stepwise.local.engine import kill_all_jobs

        self.client("stepfunctions").stop_execution(
            executionArn=execution_arn, error="Interrupted", cause=cause
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.describe(execution_arn)["status"] == "RUNNING":
            time.sleep(0.1)
        kill_all_jobs()


def _quiet_moto_logs() -> None:
    """moto logs every caught Task failure as an ERROR and every sagemaker Task as "unsupported"; the
    progress display and the execution history already say what happened."""
    import logging

    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)


def _key_prefixes(pattern: dict) -> list[str]:
    """The key prefixes an S3 event pattern allows on detail.object.key: `{"prefix": "raw/"}`, or the
    text before the first `*` of `{"wildcard": "raw/*/claims.csv"}`."""
    keys = ((pattern.get("detail") or {}).get("object") or {}).get("key") or []
    prefixes = []
    for item in keys:
        if isinstance(item, dict) and "prefix" in item:
            prefixes.append(item["prefix"])
        elif isinstance(item, dict) and "*" in item.get("wildcard", ""):
            prefixes.append(item["wildcard"].split("*", 1)[0])
    return prefixes
