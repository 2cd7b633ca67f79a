"""What the embedded Step Functions runs locally, and its clock.

moto interprets the state machine (stepwise/emulator/moto_seams.py routes its Task states here):
- `Engine` holds the local handlers of service integrations moto cannot run itself
  (`sagemaker:createProcessingJob.sync`, `sagemaker:createTrainingJob.sync`): `handler(parameters,
  ctx) -> result`, which raises `TaskFailed(error, cause)` to fail the Task with an ASL error name that
  Retry/Catch match, as the integration on AWS does.
- `Clock` scales Wait states and Retry intervals, and ends a Wait early when the embedded AWS changes
  a resource a poll loop may be waiting for (an endpoint leaving Creating): local time jumps to the
  next event instead of sleeping through a 30-second Wait.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

ServiceHandler = Callable[[dict, "TaskContext"], dict]


class TaskFailed(Exception):
    """Raise from a service handler to fail its Task with a named ASL error (matched by Retry/Catch)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class Cancelled(Exception):
    """The execution stopped (StopExecution, TimeoutSeconds, a failed Parallel sibling) while a job ran."""


class MissingHandlerError(Exception):
    """The definition has Tasks that local mode cannot run."""


@dataclass
class TaskContext:
    """What a service handler knows about the Task it runs."""

    state_name: str
    execution_name: str
    execution_arn: str
    state_machine_arn: str
    retry_count: int
    is_running: Callable[[], bool] = field(repr=False)

    def is_cancelled(self) -> bool:
        return not self.is_running()


def resource_key(service_name: str, api_name: str, api_action: str, condition: str | None) -> str:
    """The registry key of a service resource: `sagemaker:createTrainingJob.sync`,
    `aws-sdk:sagemaker:describeEndpoint`, `sns:publish`."""
    key = (
        f"{api_name}:{api_action}" if service_name == api_name else f"{service_name}:{api_name}:{api_action}"
    )
    return f"{key}.{condition}" if condition else key


@dataclass
class Engine:
    """The local handlers of service integrations, by resource key."""

    services: dict[str, ServiceHandler] = field(default_factory=dict)

    def register(self, key: str, handler: ServiceHandler) -> None:
        self.services[key] = handler

    def missing_handlers(self, definition: dict, implemented: Callable[[str], bool]) -> list[str]:
        """Every `.sync`/`.waitForTaskToken` Task of `definition` that nothing can run, and every
        SageMaker action moto does not implement (`implemented(action)`), as `"<state>: <resource>
        (<why>)"`. Lambda Tasks are the function runner's."""
        missing = []
        for state_name, state in iter_task_states(definition):
            resource: str = state["Resource"]
            if not resource.startswith("arn:aws:states:::"):
                continue
            parts = resource[len("arn:aws:states:::") :].split(":")
            action, _, condition = parts[-1].partition(".")
            if parts[0] == "lambda":
                continue
            sdk = parts[0] == "aws-sdk"
            service = parts[1] if sdk else parts[0]
            key = resource_key("aws-sdk" if sdk else service, service, action, condition or None)
            if key in self.services:
                continue
            if condition:
                missing.append(f"{state_name}: {resource} (no local handler registered for '{key}')")
            elif service == "sagemaker" and not implemented(action):
                missing.append(f"{state_name}: {resource} (moto's SageMaker does not implement {action})")
        return missing

    def check_definition(self, definition: dict, implemented: Callable[[str], bool]) -> None:
        missing = self.missing_handlers(definition, implemented)
        if missing:
            raise MissingHandlerError(
                "local mode cannot run these Tasks of the state machine:\n  "
                + "\n  ".join(missing)
                + "\nRegister a handler (stepwise/emulator/sagemaker/jobs.py) or use an integration moto "
                "runs."
            )


def iter_task_states(definition: dict) -> Iterator[tuple[str, dict]]:
    """(name, state) of every Task, including those inside Parallel branches and Map processors."""
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from iter_task_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from iter_task_states(state[key])


def to_json_safe(value: Any) -> Any:
    """Timestamps -> ISO 8601 strings, bytes -> text, recursively (Step Functions' JSON output)."""
    if isinstance(value, dict):
        return {k: to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


# ------------------------------------------------------------------------------------------------
# Time
# ------------------------------------------------------------------------------------------------
# The shortest a scaled Wait lasts (unless the Wait or the scale is 0): a poll loop still gives what it
# polls time to happen when nothing signals a change.
MIN_SCALED_WAIT_SECONDS = 0.25


def scaled_seconds(seconds: float, scale: float) -> float:
    """A Wait of `seconds` scaled locally: `seconds * scale`, at least MIN_SCALED_WAIT_SECONDS when
    neither the Wait nor the scale is 0."""
    if seconds <= 0 or scale <= 0:
        return 0.0
    return max(MIN_SCALED_WAIT_SECONDS, seconds * scale)


class Clock:
    """Wait states and Retry intervals of the embedded Step Functions.

    A Wait lasts `seconds * wait_scale` (at least MIN_SCALED_WAIT_SECONDS), or until the execution
    stops, or until `tick()` says something changed that a poll loop may be waiting for (the
    endpoint a DescribeEndpoint loop polls became InService): the loop then polls at once, as it
    would after its 30 s on AWS, without the empty wait. Retry intervals last `seconds * retry_scale`.
    """

    def __init__(self, wait_scale: float, retry_scale: float) -> None:
        self.wait_scale = wait_scale
        self.retry_scale = retry_scale
        self._changed = threading.Condition()
        self._generation = 0

    def tick(self) -> None:
        """Something changed: wake every Wait state now."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait(self, seconds: float, *, is_running: Callable[[], bool]) -> None:
        deadline = time.monotonic() + scaled_seconds(seconds, self.wait_scale)
        with self._changed:
            generation = self._generation
        while is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with self._changed:
                if self._generation != generation:
                    return
                self._changed.wait(min(remaining, 0.05))

    def retry_sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.retry_scale)
