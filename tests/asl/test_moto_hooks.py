"""Smoke test of the private moto internals local mode hooks into.

If a moto upgrade moves any of them, these tests fail and name what moved, instead of local runs
silently falling back to moto's own behaviour ("Unsupported sync callback procedure", Lambda echo).
"""

from __future__ import annotations

import importlib.metadata

from asl_support import entered_states


def test_moto_minor_version_is_the_one_the_hooks_were_written_for() -> None:
    version = importlib.metadata.version("moto")
    assert version.startswith("5.2."), f"moto {version}: the local engine's hooks were written for 5.2.x"


def test_patch_points_exist() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.parse import preprocessor

    assert callable(preprocessor.state_task_for), "preprocessor.state_task_for moved"
    assert callable(lambda_eval_utils._invoke_lambda_function), (
        "lambda_eval_utils._invoke_lambda_function moved"
    )
    assert callable(WaitFunction._wait_interval), "WaitFunction._wait_interval moved"
    assert hasattr(retrier_decl, "time"), "retrier_decl no longer sleeps through the time module"
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend import execution_worker

    assert callable(AmazonStateLanguageParser.parse), "AmazonStateLanguageParser.parse moved"
    assert execution_worker.AmazonStateLanguageParser is AmazonStateLanguageParser, (
        "executions no longer parse their definition with AmazonStateLanguageParser.parse"
    )
    assert "program_state_event" in Environment.__annotations__, (
        "Environment.program_state_event (which wakes a Wait on StopExecution) moved"
    )


def test_hooks_route_every_integration_locally(local_sfn) -> None:
    """One Task of each hooked kind: a .sync job, a Lambda, an aws-sdk call, and a scaled Wait."""
    local_sfn.engine.register_service(
        "sagemaker:createTrainingJob.sync",
        lambda request, ctx: {"TrainingJobName": request["TrainingJobName"]},
    )
    local_sfn.engine.register_lambda(
        "echo", lambda event, context: {"seen": event, "fn": context.function_name}
    )
    local_sfn.client("s3").create_bucket(Bucket="hooks-bucket")
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {"TrainingJobName.$": "$$.Execution.Name"},
                "ResultPath": "$.train",
                "Next": "Wait",
            },
            "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Echo"},
            "Echo": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "echo", "Payload": {"x": 1}},
                "ResultSelector": {"body.$": "$.Payload"},
                "ResultPath": "$.echo",
                "Next": "Head",
            },
            "Head": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                "Parameters": {"Bucket": "hooks-bucket"},
                "ResultPath": "$.list",
                "End": True,
            },
        },
    }
    described, events = local_sfn.run(definition, timeout=30)  # the hour-long Wait is scaled to 0
    assert described["status"] == "SUCCEEDED", events[-1]
    output = local_sfn.output(described)
    assert output["train"]["TrainingJobName"] == described["name"]
    assert output["echo"]["body"] == {"seen": {"x": 1}, "fn": "echo"}
    assert output["list"]["Name"] == "hooks-bucket"
    assert entered_states(events) == ["Train", "Wait", "Echo", "Head"]
