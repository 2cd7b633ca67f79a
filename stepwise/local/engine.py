"""Local execution of Task states on moto's in-process ASL interpreter.

moto 5.2 interprets Amazon States Language in-process (`mock_aws(config={"stepfunctions":
{"execute_state_machine": True}})`) but cannot run `sagemaker:*.sync` tasks and needs Docker for
Lambda. This module installs hooks on moto's private interpreter modules so that:

- service-integration Tasks whose resource key is registered (e.g. "sagemaker:createTrainingJob.sync")
  run a local Python handler `handler(parameters, ctx) -> dict`;
- Lambda Tasks (`lambda:invoke` or a function ARN) call the registered handler in-process, with
  Lambda's error shape so `Retry`/`Catch` on the error name behave as on AWS;
- `aws-sdk:*` results are made JSON-safe (timestamps become ISO strings, as Step Functions returns them);
- Wait states and Retry intervals can be scaled down (0 = no sleep);
- each definition is parsed once, not again for every execution.

The patch points are private to moto (see ../shared/notes/local-engine.md): pyproject.toml pins moto's
minor version and tests/asl/test_moto_hooks.py fails loudly if an upgrade moves them.
Importing this module imports moto: only local-mode code may import it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import subprocess
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ServiceResource
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse import preprocessor
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

ServiceHandler = Callable[[dict, "TaskContext"], dict]
LambdaHandler = Callable[[dict, Any], Any]

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


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
    retry_count: int
    _env: Any = field(repr=False)

    def is_cancelled(self) -> bool:
        return not self._env.is_running()


@dataclass
class LambdaContext:
    """The attributes of AWS Lambda's context object that handlers (and powertools) read."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return lambda_arn(self.function_name)

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def function_name_from(name_or_arn: str) -> str:
    """`my-fn`, `arn:aws:lambda:…:function:my-fn` or `…:function:my-fn:alias` -> `my-fn`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":")[0]
    return name_or_arn


# --------------------------------------------------------------------------------------------------
# Job processes: started by handlers, killed on cancellation and on Ctrl-C
# --------------------------------------------------------------------------------------------------
_PROCESSES: set[subprocess.Popen] = set()
_PROCESSES_LOCK = threading.Lock()


def run_job_process(
    cmd: list[str],
    ctx: TaskContext | None,
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    poll_seconds: float = 0.1,
) -> int:
    """Run a job's process with stdout+stderr to `log_path`; return its exit code.

    Kills the process (and its children) and raises Cancelled as soon as the execution stops running.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        with _PROCESSES_LOCK:
            _PROCESSES.add(process)
        try:
            while process.poll() is None:
                if ctx is not None and ctx.is_cancelled():
                    _kill(process)
                    raise Cancelled(f"{ctx.state_name}: execution stopped, killed {cmd[0]}")
                time.sleep(poll_seconds)
            return process.returncode
        finally:
            with _PROCESSES_LOCK:
                _PROCESSES.discard(process)


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def kill_all_jobs() -> int:
    """Kill every job process still running (Ctrl-C); return how many were killed."""
    with _PROCESSES_LOCK:
        running = [p for p in _PROCESSES if p.poll() is None]
    for process in running:
        _kill(process)
    return len(running)


# --------------------------------------------------------------------------------------------------
# Handler registry
# --------------------------------------------------------------------------------------------------
def resource_key(service_name: str, api_name: str, api_action: str, condition: str | None) -> str:
    """The registry key of a service resource: `sagemaker:createTrainingJob.sync`,
    `aws-sdk:sagemaker:describeEndpoint`, `sns:publish`."""
    key = (
        f"{api_name}:{api_action}" if service_name == api_name else f"{service_name}:{api_name}:{api_action}"
    )
    return f"{key}.{condition}" if condition else key


def _key_of(resource: ServiceResource) -> str:
    return resource_key(resource.service_name, resource.api_name, resource.api_action, resource.condition)


@dataclass
class Engine:
    """The local handlers for one process. `install()` makes it the one moto's interpreter uses."""

    wait_scale: float = 0.0
    retry_scale: float = 0.0
    services: dict[str, ServiceHandler] = field(default_factory=dict)
    functions: dict[str, LambdaHandler] = field(default_factory=dict)

    def register_service(self, key: str, handler: ServiceHandler) -> None:
        self.services[key] = handler

    def register_lambda(self, name: str, handler: LambdaHandler) -> None:
        self.functions[name] = handler

    def install(self) -> None:
        global _ACTIVE
        _ACTIVE = self
        _install_hooks()

    def missing_handlers(self, definition: dict) -> list[str]:
        """Every sagemaker and Lambda Task of `definition` that local mode could not run, as
        `"<state>: <resource> (<why>)"`."""
        missing = []
        for state_name, state in iter_task_states(definition):
            problem = self._problem(state)
            if problem:
                missing.append(f"{state_name}: {state['Resource']} ({problem})")
        return missing

    def check_definition(self, definition: dict) -> None:
        missing = self.missing_handlers(definition)
        if missing:
            raise MissingHandlerError(
                "local mode has no handler for these Tasks of the state machine:\n  "
                + "\n  ".join(missing)
                + "\nRegister one (stepwise/local/services.py) or use an integration moto runs natively."
            )

    def _problem(self, state: dict) -> str | None:
        resource: str = state["Resource"]
        if resource.startswith("arn:aws:lambda:"):
            return self._lambda_problem(resource)
        if not resource.startswith("arn:aws:states:::"):
            return None
        parts = resource[len("arn:aws:states:::") :].split(":")
        action, _, condition = parts[-1].partition(".")
        if parts[0] == "lambda":
            name = state.get("Parameters", {}).get("FunctionName")
            if name is None:
                return "FunctionName is computed at run time (FunctionName.$); local mode needs a literal"
            return self._lambda_problem(name)
        if parts[0] == "aws-sdk":
            service, api = parts[1], parts[1]
            key = resource_key("aws-sdk", service, action, condition or None)
        else:
            service, api = parts[0], parts[0]
            key = resource_key(service, api, action, condition or None)
        if service != "sagemaker" or key in self.services:
            return None
        if condition:
            return f"no local handler registered for '{key}'"
        if not _moto_sagemaker_implements(action):
            return f"moto's SageMaker does not implement {action}"
        return None

    def _lambda_problem(self, name_or_arn: str) -> str | None:
        name = function_name_from(name_or_arn)
        if name not in self.functions:
            known = ", ".join(sorted(self.functions)) or "none"
            return f"no local Lambda function '{name}' (known: {known})"
        return None


_ACTIVE: Engine | None = None


def active_engine() -> Engine:
    if _ACTIVE is None:
        raise RuntimeError("no local engine installed: call Engine(...).install() after moto starts")
    return _ACTIVE


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


def _moto_sagemaker_implements(action: str) -> bool:
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    return callable(getattr(SageMakerResponse, camel_to_snake_case(action), None))


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


# --------------------------------------------------------------------------------------------------
# The moto hooks
# --------------------------------------------------------------------------------------------------
class LocalServiceTask(StateTaskService):
    """A Task whose resource has a registered local handler. The handler runs to completion (a .sync
    job included) and its result is the task's result, so moto's callback machinery is not needed."""

    def _get_supported_parameters(self) -> set:
        return set()  # not None: moto then accepts the resource at create_state_machine

    def _get_sfn_resource(self) -> str:
        resource = super()._get_sfn_resource()
        return f"{resource}.{self.resource.condition}" if self.resource.condition else resource

    def _eval_service_task(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    ) -> None:
        handler = active_engine().services[_key_of(self.resource)]
        context = env.states.context_object.context_object_data
        ctx = TaskContext(
            state_name=context["State"]["Name"],
            execution_name=context["Execution"]["Name"],
            execution_arn=context["Execution"]["Id"],
            retry_count=int(context["State"].get("RetryCount", 0)),
            _env=env,
        )
        try:
            result = handler(normalised_parameters, ctx)
        except Cancelled:
            # the interpreter already decided the outcome (ABORTED, States.Timeout): don't override it
            result = {"Cancelled": True}
        env.stack.append(json.loads(json.dumps(to_json_safe(result))))

    def _from_error(self, env, ex: Exception) -> FailureEvent:
        if isinstance(ex, (FailureEventException, TimeoutError)):
            return super()._from_error(env=env, ex=ex)
        if isinstance(ex, TaskFailed):
            error, cause = ex.error, ex.cause
        else:  # a handler bug: report it like a failed job, with the traceback's last line
            error, cause = "States.TaskFailed", json.dumps({"FailureReason": f"{type(ex).__name__}: {ex}"})
        if error.startswith("States."):
            error_name = StatesErrorName.from_name(error)
        else:
            error_name = CustomErrorName(error)
        details = TaskFailedEventDetails(
            error=error,
            cause=cause,
            resource=self._get_sfn_resource(),
            resourceType=self._get_sfn_resource_type(),
        )
        return FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details),
        )


class JsonSafeAwsSdkTask(StateTaskServiceAwsSdk):
    """moto's aws-sdk integration, with timestamps in the result turned into strings (a raw datetime
    breaks describe_execution)."""

    def _eval_service_task(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    ) -> None:
        super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
        env.stack.append(to_json_safe(env.stack.pop()))


_ORIGINALS: dict[str, Any] = {}


def _state_task_for(resource):
    if isinstance(resource, ServiceResource):
        if _ACTIVE is not None and _key_of(resource) in _ACTIVE.services:
            return LocalServiceTask()
        if resource.service_name == "aws-sdk":
            return JsonSafeAwsSdkTask()
    return _ORIGINALS["state_task_for"](resource)


def _invoke_in_process(parameters: dict, region: str, state_credentials=None) -> dict:
    """Lambda Invoke, in this process: the response shape of lambda.invoke after moto parsed Payload."""
    name = function_name_from(parameters["FunctionName"])
    handler = active_engine().functions.get(name)
    if handler is None:
        raise TaskFailed("Lambda.ResourceNotFoundException", f"Function not found: {lambda_arn(name)}")
    raw = parameters.get("Payload") or b"{}"
    event = json.loads(raw.decode() if isinstance(raw, (bytes, bytearray)) else raw)
    try:
        result = handler(event, LambdaContext(function_name=name))
        payload = json.loads(json.dumps(result))  # what crosses Lambda's wire is JSON
    except Exception as error:  # Lambda's unhandled-error shape: the ASL error name is errorType
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "ExecutedVersion": "$LATEST",
            "Payload": {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error),
            },
        }
    return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload}


# The shortest a scaled Wait lasts (unless the Wait or the scale is 0): a poll loop still gives what it
# polls time to happen
MIN_SCALED_WAIT_SECONDS = 0.25


def scaled_seconds(seconds: float, scale: float) -> float:
    """A Wait of `seconds` scaled locally: `seconds * scale`, at least MIN_SCALED_WAIT_SECONDS when
    neither the Wait nor the scale is 0."""
    if seconds <= 0 or scale <= 0:
        return 0.0
    return max(MIN_SCALED_WAIT_SECONDS, seconds * scale)


def _scaled_wait(self, env, wait_seconds: int) -> None:
    """moto's WaitFunction._wait_interval for a scaled, fractional Wait (moto's own counts whole seconds):
    sleep until the time is up, or until the execution stops (StopExecution, a failed Parallel sibling:
    moto pulses program_state_event then)."""
    scale = _ACTIVE.wait_scale if _ACTIVE is not None else 1.0
    deadline = time.monotonic() + scaled_seconds(wait_seconds, scale)
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        env.program_state_event.wait(remaining)


def _scaled_retry_sleep(seconds: float) -> None:
    scale = _ACTIVE.retry_scale if _ACTIVE is not None else 1.0
    time.sleep(seconds * scale)


_PROGRAMS: dict[tuple[str, frozenset[str]], tuple] = {}
_PROGRAMS_LOCK = threading.Lock()


def _parse_once(definition: str) -> tuple:
    """AmazonStateLanguageParser.parse, once per definition: moto parses a definition when the state
    machine is created and again for every execution (~0.3 s each). The parsed program only declares
    states; an execution's data lives in its own Environment, so executions can share one program. The
    key holds the registered services too: they decide which Task classes the parse builds."""
    key = (definition, frozenset(_ACTIVE.services) if _ACTIVE is not None else frozenset())
    with _PROGRAMS_LOCK:  # held while parsing: two executions starting together parse once
        if key not in _PROGRAMS:
            _PROGRAMS[key] = _ORIGINALS["parse"](definition)
        return _PROGRAMS[key]


def _install_hooks() -> None:
    _PROGRAMS.clear()  # parsed with another engine's services
    if _ORIGINALS:
        return
    _ORIGINALS["state_task_for"] = preprocessor.state_task_for
    _ORIGINALS["invoke_lambda"] = lambda_eval_utils._invoke_lambda_function
    _ORIGINALS["wait_interval"] = WaitFunction._wait_interval
    _ORIGINALS["retrier_time"] = retrier_decl.time
    _ORIGINALS["parse"] = AmazonStateLanguageParser.parse
    preprocessor.state_task_for = _state_task_for
    AmazonStateLanguageParser.parse = staticmethod(_parse_once)
    lambda_eval_utils._invoke_lambda_function = _invoke_in_process
    WaitFunction._wait_interval = _scaled_wait
    # RetrierDecl sleeps with `time.sleep(interval)`: give that module a `time` whose sleep is scaled
    retrier_decl.time = types.SimpleNamespace(sleep=_scaled_retry_sleep, time=time.time)


def uninstall_hooks() -> None:
    """Restore moto's own behaviour (tests)."""
    global _ACTIVE
    if not _ORIGINALS:
        return
    preprocessor.state_task_for = _ORIGINALS.pop("state_task_for")
    lambda_eval_utils._invoke_lambda_function = _ORIGINALS.pop("invoke_lambda")
    WaitFunction._wait_interval = _ORIGINALS.pop("wait_interval")
    retrier_decl.time = _ORIGINALS.pop("retrier_time")
    AmazonStateLanguageParser.parse = staticmethod(_ORIGINALS.pop("parse"))
    _PROGRAMS.clear()
    _ACTIVE = None
