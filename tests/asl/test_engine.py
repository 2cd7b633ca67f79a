"""The embedded Step Functions on small ASL definitions: local .sync handlers, Lambda functions run by
the function runner with Retry/Catch, Wait and Retry scaling, cancellation, and the start-time check for
Tasks local mode cannot run."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from asl_support import ROLE, entered_states, task_failures

from stepwise.emulator import moto_seams
from stepwise.emulator.stepfunctions import (
    MIN_SCALED_WAIT_SECONDS,
    Cancelled,
    MissingHandlerError,
    TaskFailed,
    scaled_seconds,
)

PROCESSING = "arn:aws:states:::sagemaker:createProcessingJob.sync"
JOB_NAME = "States.Format('{}-preprocess-{}', $$.Execution.Name, $$.State.RetryCount)"
NOTIFY = {
    "Type": "Task",
    "Resource": "arn:aws:states:::sns:publish",
    "Parameters": {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
        "Message.$": "States.JsonToString($.failure)",
    },
    "Next": "PipelineFailed",
}


def _lambda_machine(retry: list[dict], function: str = "gate") -> dict:
    return {
        "StartAt": "Gate",
        "States": {
            "Gate": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
                    "Payload.$": "$",
                },
                "Retry": retry,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}
                ],
                "OutputPath": "$.Payload",
                "End": True,
            },
            "NotifyFailure": NOTIFY,
            "PipelineFailed": {"Type": "Fail", "Error": "PipelineFailed"},
        },
    }


# A function that raises the errors named in $ERRORS (one per invocation, in order), then answers. Module
# state survives between invocations as in a warm Lambda container.
FLAKY_GATE = """
import json
import os

CALLS = []


class ThrottledError(Exception):
    pass


def handler(event, context):
    CALLS.append(event)
    errors = json.loads(os.environ["ERRORS"])
    if len(CALLS) <= len(errors):
        name, message = errors[len(CALLS) - 1]
        raise {"ThrottledError": ThrottledError, "ValueError": ValueError}[name](message)
    return {"passed": True, "attempt": len(CALLS), "function": context.function_name}
"""


def _flaky_gate(local_sfn, *errors: tuple[str, str]) -> None:
    local_sfn.deploy_function("gate", FLAKY_GATE, {"ERRORS": json.dumps(errors)})


def test_lambda_error_type_is_the_asl_error_and_retry_recovers(local_sfn) -> None:
    _flaky_gate(local_sfn, ("ThrottledError", "slow down"), ("ThrottledError", "slow down"))
    machine = _lambda_machine([{"ErrorEquals": ["ThrottledError"], "IntervalSeconds": 30, "MaxAttempts": 3}])
    started = time.monotonic()
    described, events = local_sfn.run(machine, {"x": 1})
    assert described["status"] == "SUCCEEDED"
    assert local_sfn.output(described) == {"passed": True, "attempt": 3, "function": "gate"}
    assert [f["error"] for f in task_failures(events)] == ["ThrottledError", "ThrottledError"]
    assert time.monotonic() - started < 20, "two 30 s retry intervals should be scaled to 0 locally"
    assert local_sfn.invocations("gate") == 3


def test_lambda_that_keeps_raising_is_caught_and_notification_runs(local_sfn) -> None:
    local_sfn.client("sns").create_topic(Name="alerts")
    _flaky_gate(local_sfn, *[("ValueError", "metric file missing")] * 5)
    machine = _lambda_machine([{"ErrorEquals": ["ThrottledError"], "MaxAttempts": 3}])  # not this error
    described, events = local_sfn.run(machine)
    assert described["status"] == "FAILED"
    assert entered_states(events) == ["Gate", "NotifyFailure", "PipelineFailed"]
    assert local_sfn.invocations("gate") == 1
    failure = task_failures(events)[0]
    assert failure["error"] == "ValueError"
    cause = json.loads(failure["cause"])  # Lambda's unhandled-error payload
    assert (cause["errorType"], cause["errorMessage"]) == ("ValueError", "metric file missing")
    assert any("raise" in line for line in cause["stackTrace"])
    # the function's own log says what happened, as in CloudWatch Logs
    messages = [message for *_, message in local_sfn.aws.store.log_events(log_group="/aws/lambda/gate")]
    assert "[ERROR] ValueError: metric file missing" in messages


def test_a_function_importing_what_its_package_lacks_fails_at_init_as_on_lambda(local_sfn) -> None:
    local_sfn.client("sns").create_topic(Name="alerts")
    local_sfn.deploy_function("gate", "import xgboost\n\n\ndef handler(event, context):\n    return {}\n")
    described, events = local_sfn.run(_lambda_machine([]))
    assert entered_states(events) == ["Gate", "NotifyFailure", "PipelineFailed"]
    failure = task_failures(events)[0]
    assert failure["error"] == "Runtime.ImportModuleError"
    assert json.loads(failure["cause"])["errorMessage"] == (
        "Unable to import module 'app': No module named 'xgboost'"
    )


def test_a_function_that_does_not_exist_fails_the_task_with_lambdas_error(local_sfn) -> None:
    local_sfn.client("sns").create_topic(Name="alerts")
    described, events = local_sfn.run(_lambda_machine([], function="nowhere"))
    assert entered_states(events) == ["Gate", "NotifyFailure", "PipelineFailed"]
    failure = task_failures(events)[0]
    assert failure["error"] == "Lambda.ResourceNotFoundException"
    assert failure["cause"].startswith("Function not found: arn:aws:lambda:us-east-1:123456789012:function:")


def _job_machine() -> dict:
    return {
        "StartAt": "Preprocess",
        "States": {
            "Preprocess": {
                "Type": "Task",
                "Resource": PROCESSING,
                "Parameters": {"ProcessingJobName.$": JOB_NAME},
                "ResultSelector": {"name.$": "$.ProcessingJobName", "status.$": "$.ProcessingJobStatus"},
                "ResultPath": "$.preprocess",
                "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 1}],
                "Catch": [
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "NotifyFailure"}
                ],
                "End": True,
            },
            "NotifyFailure": NOTIFY,
            "PipelineFailed": {"Type": "Fail", "Error": "PipelineFailed"},
        },
    }


def test_sync_handler_result_is_the_task_result_and_job_names_carry_the_retry_count(local_sfn) -> None:
    names = []

    def job(request: dict, ctx) -> dict:
        names.append((request["ProcessingJobName"], ctx.retry_count, ctx.state_name))
        if len(names) == 1:
            raise TaskFailed("Transient", "try again")
        return {"ProcessingJobName": request["ProcessingJobName"], "ProcessingJobStatus": "Completed"}

    local_sfn.engine.register("sagemaker:createProcessingJob.sync", job)
    described, _ = local_sfn.run(_job_machine())
    assert described["status"] == "SUCCEEDED"
    run = described["name"]
    assert names == [(f"{run}-preprocess-0", 0, "Preprocess"), (f"{run}-preprocess-1", 1, "Preprocess")]
    assert local_sfn.output(described)["preprocess"] == {"name": f"{run}-preprocess-1", "status": "Completed"}


def test_failed_sync_job_is_states_task_failed_with_its_reason(local_sfn) -> None:
    local_sfn.client("sns").create_topic(Name="alerts")

    def job(request: dict, ctx) -> dict:
        described = {
            "ProcessingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: claims.csv lacks policy_id",
        }
        raise TaskFailed("States.TaskFailed", json.dumps(described))

    local_sfn.engine.register("sagemaker:createProcessingJob.sync", job)
    described, events = local_sfn.run(_job_machine())
    assert described["status"] == "FAILED"
    assert entered_states(events) == ["Preprocess", "NotifyFailure", "PipelineFailed"]
    failure = task_failures(events)[0]
    assert failure["error"] == "States.TaskFailed"
    assert json.loads(failure["cause"])["FailureReason"] == "AlgorithmError: claims.csv lacks policy_id"
    assert failure["resource"] == "createProcessingJob.sync"


def test_handler_bug_fails_the_task_instead_of_hanging(local_sfn) -> None:
    def job(request: dict, ctx) -> dict:
        raise KeyError("ProcessingInputs")

    local_sfn.engine.register("sagemaker:createProcessingJob.sync", job)
    local_sfn.client("sns").create_topic(Name="alerts")
    described, events = local_sfn.run(_job_machine())
    assert described["status"] == "FAILED"
    failure = task_failures(events)[0]
    assert failure["error"] == "States.TaskFailed"
    assert json.loads(failure["cause"])["FailureReason"] == "KeyError: 'ProcessingInputs'"


def test_stop_execution_kills_the_running_job_process(local_sfn, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    outcomes = []

    def job(request: dict, ctx) -> dict:
        outcome, _ = local_sfn.aws.supervisor.run(
            [sys.executable, "-c", script], log_path=tmp_path / "job.log", cancelled=ctx.is_cancelled
        )
        outcomes.append(outcome)
        raise Cancelled(outcome)

    local_sfn.engine.register("sagemaker:createProcessingJob.sync", job)
    arn = local_sfn.start(_job_machine())
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    local_sfn.client("stepfunctions").stop_execution(executionArn=arn, error="Interrupted", cause="Ctrl-C")
    assert local_sfn.wait(arn, timeout=10)["status"] == "ABORTED"
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the job's process survived StopExecution"
    assert outcomes == ["stopped"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as dead
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_wait_state_is_scaled(local_sfn) -> None:
    machine = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
    described, _ = local_sfn.run(machine, timeout=20)
    assert described["status"] == "SUCCEEDED"


def test_scaled_waits_keep_fractions_and_a_floor() -> None:
    assert scaled_seconds(30, 1 / 120) == 0.25  # the endpoint poll, not rounded to whole seconds
    assert scaled_seconds(600, 1 / 120) == 5.0
    assert scaled_seconds(1, 1 / 120) == MIN_SCALED_WAIT_SECONDS  # a poll loop still gives time
    assert scaled_seconds(30, 0.0) == 0.0 and scaled_seconds(0, 1 / 120) == 0.0


def test_scaled_wait_lasts_its_fraction_of_a_second(local_sfn) -> None:
    local_sfn.aws.clock.wait_scale = 1 / 100  # 60 s -> 0.6 s
    machine = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}}
    described, events = local_sfn.run(machine, timeout=20)
    assert described["status"] == "SUCCEEDED"
    (entered,) = [e["timestamp"] for e in events if e["type"] == "WaitStateEntered"]
    (exited,) = [e["timestamp"] for e in events if e["type"] == "WaitStateExited"]
    assert (exited - entered).total_seconds() >= 0.55


def _start_long_wait(local_sfn) -> str:
    """Start a 600 s Wait scaled to 60 s (far longer than a test waits); return once it is entered."""
    local_sfn.aws.clock.wait_scale = 1 / 10
    machine = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
    arn = local_sfn.start(machine)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(e["type"] == "WaitStateEntered" for e in local_sfn.aws.history(arn)):
            return arn
        time.sleep(0.05)
    raise AssertionError("the Wait state was not entered")


def test_stop_execution_ends_a_scaled_wait(local_sfn) -> None:
    arn = _start_long_wait(local_sfn)
    local_sfn.client("stepfunctions").stop_execution(executionArn=arn, error="Interrupted", cause="Ctrl-C")
    assert local_sfn.wait(arn, timeout=10)["status"] == "ABORTED"


def test_a_change_the_embedded_aws_signals_ends_a_wait_at_once(local_sfn) -> None:
    """An endpoint leaving Creating ticks the clock: a DescribeEndpoint poll loop's Wait ends then."""
    arn = _start_long_wait(local_sfn)
    started = time.monotonic()
    local_sfn.aws.clock.tick()
    assert local_sfn.wait(arn, timeout=10)["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5


def test_tasks_local_mode_cannot_run_are_named_at_start(local_sfn) -> None:
    machine = {
        "StartAt": "Checks",
        "States": {
            "Checks": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Transform",
                        "States": {
                            "Transform": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                                "End": True,
                            }
                        },
                    },
                    {
                        "StartAt": "Register",
                        "States": {
                            "Register": {  # a Lambda Task is the function runner's: never listed
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke",
                                "Parameters": {"FunctionName": "register_model"},
                                "End": True,
                            }
                        },
                    },
                ],
                "Next": "Label",
            },
            "Label": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createLabelingJob",
                "Next": "CreateModel",
            },
            "CreateModel": {  # moto's SageMaker implements it
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createModel",
                "Next": "Train",
            },
            "Train": {  # the embedded AWS's own .sync handler
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "End": True,
            },
        },
    }
    missing = local_sfn.engine.missing_handlers(machine, moto_seams.sagemaker_implements)
    assert missing == [
        "Transform: arn:aws:states:::sagemaker:createTransformJob.sync "
        "(no local handler registered for 'sagemaker:createTransformJob.sync')",
        "Label: arn:aws:states:::sagemaker:createLabelingJob "
        "(moto's SageMaker does not implement createLabelingJob)",
    ]
    with pytest.raises(MissingHandlerError, match="Transform.*\n.*Label"):
        local_sfn.start(machine)


def test_concurrent_executions_of_one_definition_keep_their_own_data(local_sfn) -> None:
    """The engine parses a definition once; executions running it at the same time still each see only
    their own input, Wait and Parallel branches included."""
    local_sfn.aws.clock.wait_scale = 1 / 100  # 30 s -> 0.3 s: the executions overlap
    machine = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "Wait",
                        "States": {
                            "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Echo"},
                            "Echo": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "End": True},
                        },
                    },
                    {
                        "StartAt": "Double",
                        "States": {
                            "Double": {
                                "Type": "Pass",
                                "Parameters": {"double.$": "States.MathAdd($.n, $.n)"},
                                "End": True,
                            }
                        },
                    },
                ],
            }
        },
    }
    sfn = local_sfn.client("stepfunctions")
    arn = sfn.create_state_machine(name="shared", definition=json.dumps(machine), roleArn=ROLE)[
        "stateMachineArn"
    ]
    runs = {
        n: sfn.start_execution(stateMachineArn=arn, name=f"run-{n}", input=json.dumps({"n": n}))[
            "executionArn"
        ]
        for n in (1, 2, 3)
    }
    for n, execution in runs.items():
        described = local_sfn.wait(execution, timeout=30)
        assert described["status"] == "SUCCEEDED"
        assert local_sfn.output(described) == [{"n": n}, {"double": 2 * n}]
