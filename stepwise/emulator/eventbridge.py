"""EventBridge of the embedded AWS: the events AWS services send, delivered to rules as AWS delivers them.

- S3 sends "Object Created" (and "Object Deleted") events for a bucket with EventBridge notifications
  on, in AWS's shape (`s3_object_event`): moto's own lacks fields and spells `etag` otherwise.
- SageMaker sends "SageMaker Model Package State Change" when a package is created or its approval
  changes (`model_package_event`), with DescribeModelPackage's fields as its detail.
- The scheduler sends "Scheduled Event" for a schedule rule (`scheduled_event`).
An event goes to every ENABLED rule of the default bus whose pattern matches (moto's matcher); a rule
whose target is a state machine starts an execution *as the target's role* (states:StartExecution is
authorized against it), with the event as input (the target's Input or InputPath when set;
InputTransformer is not emulated and refused) and named as EventBridge names it:
`<event id>_<random id>`. A delivery that fails (the role may not start the state machine) is
recorded as a failed invocation, as EventBridge counts it; nothing starts. `duplicates` > 0 delivers
every event that many extra times, whichever way it came (EventBridge delivers at least once: a
rehearsal of duplicate deliveries).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Delivery:
    """One delivery of an event to a rule's target."""

    rule: str
    target: str
    event_id: str
    execution_arn: str | None
    error: str | None = None


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    detail_type: str, source: str, resources: list[str], detail: dict, *, account: str, region: str
) -> dict:
    """An event in the envelope EventBridge delivers to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": iso_now(),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def s3_object_event(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str,
    version_id: str | None,
    reason: str,
    account: str,
    region: str,
    deleted: bool = False,
) -> dict:
    """The event S3 sends to EventBridge for a new (or deleted) object (events/s3_object_created.json)."""
    obj: dict[str, Any] = {
        "key": key,
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": f"{time.time_ns():018X}",
    }
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    if deleted:
        obj.pop("size", None)
        obj.pop("etag", None)
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account,
        "source-ip-address": "127.0.0.1",
        "reason": reason,
    }
    detail_type = "Object Deleted" if deleted else "Object Created"
    return envelope(detail_type, "aws.s3", [f"arn:aws:s3:::{bucket}"], detail, account=account, region=region)


def model_package_event(package: dict, *, account: str, region: str) -> dict:
    """The event SageMaker sends when a model package is created or its approval status changes
    (events/model_package_approved.json: DescribeModelPackage's fields, times in epoch milliseconds)."""
    from stepwise.emulator.stepfunctions import to_json_safe

    detail = {key: value for key, value in package.items() if key != "ResponseMetadata"}
    for key, value in list(detail.items()):
        if isinstance(value, dt.datetime):
            detail[key] = int(value.timestamp() * 1000)
    return envelope(
        "SageMaker Model Package State Change",
        "aws.sagemaker",
        [package["ModelPackageArn"]],
        to_json_safe(detail),
        account=account,
        region=region,
    )


def scheduled_event(rule_arn: str, *, account: str, region: str) -> dict:
    return envelope("Scheduled Event", "aws.events", [rule_arn], {}, account=account, region=region)


class EventBridge:
    """Delivers events to the rules of the emulated EventBridge."""

    def __init__(
        self,
        *,
        account: str,
        region: str,
        rules: Callable[[], list[Any]],
        start_execution: Callable[[str, str, str, str], str],
        on_started: Callable[[str], None],
    ) -> None:
        self.account = account
        self.region = region
        self._rules = rules  # -> moto's Rule objects of the default bus
        self._start = start_execution  # (role arn, state machine arn, name, input) -> execution arn
        self._on_started = on_started
        self.deliveries: list[Delivery] = []
        self.duplicates = 0
        self.muted = False  # restoring a state folder: objects re-written are not new events
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- events AWS services send
    def s3_notification(self, bucket: str, key: Any, event_name: str) -> None:
        """From S3 (moto's notification path): a write or delete in a bucket with EventBridge on."""
        if self.muted:
            return
        deleted = "ObjectRemoved" in event_name
        if not deleted and "ObjectCreated" not in event_name:
            return
        reason = event_name.split(":")[-1] if ":" in event_name else event_name
        event = s3_object_event(
            bucket,
            key.name,
            # a deleted object's bytes may be gone already (moto disposes of a deleted version's buffer);
            # S3's Object Deleted event carries neither its size nor its ETag
            size=0 if deleted else int(getattr(key, "size", 0) or 0),
            etag="" if deleted else str(getattr(key, "etag", "")),
            version_id=getattr(key, "version_id", None),
            reason={"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject"}.get(reason, reason),
            account=self.account,
            region=self.region,
            deleted=deleted,
        )
        self.publish(event)

    def publish(self, event: dict) -> list[str]:
        """Deliver `event` to every enabled rule whose pattern matches; the executions started."""
        started = []
        for rule in self._rules():
            if getattr(rule, "state", "ENABLED") != "ENABLED":
                continue
            if not rule.event_pattern.matches_event(event):
                continue
            started += self.deliver_to_rule(rule, event)
        return started

    def deliver_to_rule(self, rule: Any, event: dict) -> list[str]:
        """Deliver `event` to `rule`'s Step Functions targets (moto delivers to the others), once and
        `duplicates` times more, whichever way the event came (at-least-once delivery)."""
        started = []
        for target in [t for t in rule.targets for _ in range(1 + self.duplicates)]:
            arn = str(target.get("Arn", ""))
            if not arn.startswith("arn:aws:states:"):
                continue
            payload = _target_input(target, event)
            name = f"{event.get('id', uuid.uuid4())}_{uuid.uuid4()}"
            try:
                execution = self._start(target.get("RoleArn", ""), arn, name, payload)
            except Exception as error:  # noqa: BLE001 (EventBridge records a failed invocation)
                message = getattr(error, "response", {}).get("Error", {}).get("Message") or str(error)
                with self._lock:
                    self.deliveries.append(Delivery(rule.name, arn, str(event.get("id")), None, message))
                continue
            with self._lock:
                self.deliveries.append(Delivery(rule.name, arn, str(event.get("id")), execution))
            self._on_started(execution)
            started.append(execution)
        return started


def _target_input(target: dict, event: dict) -> str:
    """What a target receives: Input (constant), InputPath (a part of the event), or the event."""
    if target.get("Input") is not None:
        return str(target["Input"])
    path = target.get("InputPath")
    if path and path != "$":
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return json.dumps(value)
    if target.get("InputTransformer"):
        raise NotImplementedError("local EventBridge: InputTransformer targets are not supported")
    return json.dumps(event)
