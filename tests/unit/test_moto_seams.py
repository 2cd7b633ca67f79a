"""Smoke test of the private moto internals the embedded AWS patches (stepwise/emulator/moto_seams.py).

If a moto upgrade moves or reshapes any of them, these tests fail and name what moved, instead of local
runs silently falling back to moto's own behaviour ("Unsupported sync callback procedure", a Lambda
that echoes its payload, a Wait that sleeps for real).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stepwise.emulator import moto_seams

ROLE = "arn:aws:iam::123456789012:role/seams"
REPO = Path(__file__).resolve().parents[2]


def test_moto_minor_version_is_the_one_the_seams_were_written_for() -> None:
    version = importlib.metadata.version("moto")
    assert version.startswith("5.2."), f"moto {version}: the emulator's seams were written for 5.2.x"


def test_moto_parts_fails_loudly_naming_what_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = moto_seams.moto_parts()
    assert callable(parts.preprocessor.state_task_for)
    monkeypatch.delattr(parts.WaitFunction, "_wait_interval")
    monkeypatch.delattr(parts.retrier_decl, "time")
    with pytest.raises(RuntimeError, match=r"moto's internals moved") as moved:
        moto_seams.moto_parts()
    assert "retrier_decl.time" in str(moved.value) and "WaitFunction._wait_interval" in str(moved.value)


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_originals_the_seams_call_take_the_arguments_they_pass() -> None:
    """The seams call moto's originals positionally or by these names: a renamed parameter would pass a
    value to the wrong one without an error."""
    from moto.s3.models import FakeBucket, S3Backend

    moto = moto_seams.moto_parts()
    sagemaker = moto.sagemaker_models.SageMakerModelBackend
    expected = {
        sagemaker.create_endpoint: ["self", "endpoint_name", "endpoint_config_name", "tags"],
        sagemaker.describe_endpoint: ["self", "endpoint_name"],
        sagemaker.delete_endpoint: ["self", "endpoint_name"],
        sagemaker.update_model_package: [
            "self",
            "model_package_arn",
            "model_approval_status",
            "approval_description",
            "customer_metadata_properties",
            "customer_metadata_properties_to_remove",
            "additional_inference_specifications_to_add",
        ],
        moto.runtime_responses.SageMakerRuntimeResponse.invoke_endpoint: ["self"],
        moto.parsing.generate_resource_name: ["resource_type", "stack_name", "logical_id"],
        moto.s3_notifications._send_event_bridge_message: ["account_id", "bucket", "event_name", "key"],
        moto.events_models.Rule.send_to_targets: ["self", "original_event", "transform_input"],
        moto.lambda_eval_utils.execute_lambda_function_integration: [
            "env",
            "parameters",
            "region",
            "state_credentials",
        ],
        moto.WaitFunction._wait_interval: ["self", "env", "wait_seconds"],
        moto.state_task_service.StateTaskService._eval_execution: ["self", "env"],
        moto.state_task_service_aws_sdk.StateTaskServiceAwsSdk._eval_service_task: [
            "self",
            "env",
            "resource_runtime_part",
            "normalised_parameters",
            "state_credentials",
        ],
        moto.boto_client.boto_client_for: ["region", "service", "state_credentials"],
    }
    logs = moto.logs_models.LogsBackend
    expected.update(
        {
            logs.put_log_events: ["self", "log_group_name", "log_stream_name", "log_events"],
            logs.delete_log_group: ["self", "log_group_name"],
            logs.delete_log_stream: ["self", "log_group_name", "log_stream_name"],
            logs.filter_log_events: [
                "self",
                "log_group_name",
                "log_stream_names",
                "start_time",
                "end_time",
                "limit",
                "next_token",
                "filter_pattern",
                "interleaved",
            ],
            moto.cloudformation_models.CloudFormationBackend.delete_stack: ["self", "name_or_stack_id"],
            moto.core_request.Request.from_primitives: ["method", "url", "headers", "body"],
        }
    )
    for function, names in expected.items():
        assert _parameters(function)[: len(names)] == names, function.__qualname__
    assert _parameters(S3Backend.put_object)[:4] == ["self", "bucket_name", "key_name", "value"]
    assert _parameters(S3Backend.delete_object)[:3] == ["self", "bucket_name", "key_name"]
    create_bucket = FakeBucket.create_from_cloudformation_json.__func__
    assert _parameters(create_bucket)[:5] == [
        "cls",
        "resource_name",
        "cloudformation_json",
        "account_id",
        "region_name",
    ]


def test_what_the_seams_read_from_moto_is_still_there() -> None:
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend import execution_worker

    # executions parse their definition with the parser the seams make parse once
    assert execution_worker.AmazonStateLanguageParser is AmazonStateLanguageParser
    # the event that wakes a Wait on StopExecution
    assert "program_state_event" in Environment.__annotations__


# ------------------------------------------------------------------------------------------------
# The seams at work
# ------------------------------------------------------------------------------------------------
ECHO = """
def handler(event, context):
    return {"seen": event, "function": context.function_name}
"""


def _echo_function(folder: Path):
    from stepwise.emulator.lambda_ import DeployedFunction, build_function

    (folder / "echo").mkdir(parents=True)
    (folder / "echo" / "app.py").write_text(ECHO)
    package = build_function("Echo", folder / "echo", "app.handler", [], folder / "build")
    return DeployedFunction(
        name="echo",
        arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
        role_arn=ROLE,
        environment={},
        package=package,
        log_group="/aws/lambda/echo",
    )


DEFINITION = {
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
            "Next": "List",
        },
        "List": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
            "Parameters": {"Bucket": "seams-bucket"},
            "ResultPath": "$.list",
            "End": True,
        },
    },
}


def test_the_seams_route_every_integration_locally_and_uninstall_gives_moto_back(tmp_path: Path) -> None:
    """One Task of each patched kind: a .sync job, a Lambda, an aws-sdk call whose result holds a
    timestamp, and an hour-long Wait."""
    from stepwise.emulator.aws import EmbeddedAWS

    original_task_for = moto_seams.moto_parts().preprocessor.state_task_for
    with EmbeddedAWS(tmp_path / "state", with_stack=False, enforce_iam=False, wait_scale=0.0) as aws:
        with pytest.raises(RuntimeError, match="another embedded AWS is already running"):
            EmbeddedAWS(tmp_path / "other", with_stack=False).start()
        roles = []

        def train(request: dict, ctx) -> dict:
            roles.append(aws.principals.current())
            return {"TrainingJobName": request["TrainingJobName"], "TrainingJobStatus": "Completed"}

        aws.engine.register("sagemaker:createTrainingJob.sync", train)
        aws.lambdas.deploy([_echo_function(tmp_path / "functions")])
        aws.client("s3").create_bucket(Bucket="seams-bucket")
        aws.client("s3").put_object(Bucket="seams-bucket", Key="a.csv", Body=b"1")
        sfn = aws.client("stepfunctions")
        machine = sfn.create_state_machine(name="seams", definition=json.dumps(DEFINITION), roleArn=ROLE)
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="seams-run", input="{}")[
            "executionArn"
        ]
        started = time.monotonic()
        described = aws.wait(arn)
        events = aws.history(arn)
        # what `wait` polls: the interpreter's own record of the execution
        assert moto_seams.execution_status(aws.account_id, aws.region, arn) == "SUCCEEDED"
        assert moto_seams.execution_status(aws.account_id, aws.region, arn + "-unknown") is None

    assert described["status"] == "SUCCEEDED", events[-1]
    assert time.monotonic() - started < 20, "the hour-long Wait is scaled to 0"
    output = json.loads(described["output"])
    assert output["train"] == {"TrainingJobName": "seams-run", "TrainingJobStatus": "Completed"}
    assert roles == [ROLE], "a Task calls AWS as the state machine's role"
    assert output["echo"]["body"] == {"seen": {"x": 1}, "function": "echo"}
    (listed,) = output["list"]["Contents"]
    assert listed["Key"] == "a.csv" and isinstance(listed["LastModified"], str)
    assert [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e] == [
        "Train",
        "Wait",
        "Echo",
        "List",
    ]
    assert moto_seams.moto_parts().preprocessor.state_task_for is original_task_for


def test_model_package_updates_merge_metadata_and_send_sagemakers_event(tmp_path: Path) -> None:
    """UpdateModelPackage adds to CustomerMetadataProperties and keeps ApprovalDescription, as AWS does
    (moto replaces both); an approval sends "SageMaker Model Package State Change" to EventBridge,
    whose rule (the template's approval rule) starts the state machine with it."""
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(tmp_path / "state", with_stack=False, enforce_iam=False) as aws:
        sfn, events, sagemaker = aws.client("stepfunctions"), aws.client("events"), aws.client("sagemaker")
        machine = sfn.create_state_machine(
            name="deploy",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn=ROLE,
        )["stateMachineArn"]
        pattern = {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelApprovalStatus": ["Approved"]},
        }
        events.put_rule(Name="approved", EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule="approved", Targets=[{"Id": "1", "Arn": machine, "RoleArn": ROLE}])
        sagemaker.create_model_package_group(ModelPackageGroupName="fraud")
        arn = sagemaker.create_model_package(
            ModelPackageGroupName="fraud",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "xgboost:1.7-1", "ModelDataUrl": "s3://b/runs/r2/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties={"executionName": "r2", "fingerprint": "f0"},
        )["ModelPackageArn"]
        assert aws.started_executions == []  # a pending package matches no rule
        sagemaker.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
        )
        sagemaker.update_model_package(
            ModelPackageArn=arn, CustomerMetadataProperties={"deployedBy": "run-3"}
        )
        package = sagemaker.describe_model_package(ModelPackageName=arn)
        (started,) = aws.started_executions
        event = json.loads(aws.describe(started)["input"])

    assert package["CustomerMetadataProperties"] == {
        "executionName": "r2",
        "fingerprint": "f0",
        "deployedBy": "run-3",
    }
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == ("Approved", "looks good")
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert (event["detail"]["ModelPackageArn"], event["resources"]) == (arn, [arn])
    assert started.split(":")[-1].startswith(event["id"] + "_")  # named as EventBridge names it


def test_after_the_embedded_aws_closes_plain_moto_does_not_run_state_machines(tmp_path: Path) -> None:
    """In a fresh process (moto's modules first imported while the seams are in place): a later
    `mock_aws()` without execution on must leave executions RUNNING, as the function tests expect."""
    code = f"""
import json, time, boto3
from moto import mock_aws
from stepwise.emulator.aws import EmbeddedAWS
DEFINITION = json.dumps({{"StartAt": "W", "States": {{"W": {{"Type": "Succeed"}}}}}})
ROLE = {ROLE!r}
with EmbeddedAWS({str(tmp_path / "state")!r}, with_stack=False) as aws:
    aws.client("stepfunctions").create_state_machine(name="m", definition=DEFINITION, roleArn=ROLE)
with mock_aws():
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(name="m", definition=DEFINITION, roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="x")["executionArn"]
    time.sleep(0.2)
    print(sfn.describe_execution(executionArn=execution)["status"])
"""
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split()[-1] == "RUNNING"


def test_event_pattern_matches_with_moto_eventbridges_matcher() -> None:
    from moto.events.exceptions import InvalidEventPatternException

    pattern = {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "raw/"}]}}}
    event = {"source": "aws.s3", "detail": {"object": {"key": "raw/d1/claims.csv"}}}
    assert moto_seams.event_pattern_matches(pattern, event)
    assert not moto_seams.event_pattern_matches(pattern, {**event, "detail": {"object": {"key": "runs/x"}}})
    with pytest.raises(InvalidEventPatternException):
        moto_seams.event_pattern_matches({"source": "aws.s3"}, event)  # values must be lists


# ------------------------------------------------------------------------------------------------
# Deletes, logs, executions and DeleteStack, across a restart of the embedded AWS
# ------------------------------------------------------------------------------------------------
PACKAGE = {
    "InferenceSpecification": {
        "Containers": [{"Image": "xgboost:1.7-1", "ModelDataUrl": "s3://b/runs/r1/model.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
}


def test_deletes_logs_and_executions_survive_a_restart_and_delete_stack_forgets_the_stack(
    tmp_path: Path,
) -> None:
    """DeleteModelPackage(Group) as AWS answers them; CloudWatch Logs (FilterLogEvents by stream prefix)
    and executions come back in the next process; DeleteStack fails on a bucket that holds versions,
    then deletes the stack with its layers, and the state folder forgets it."""
    from stepwise.emulator.aws import EmbeddedAWS

    state = tmp_path / "state"
    with EmbeddedAWS(state) as aws:
        sagemaker, logs, sfn = aws.client("sagemaker"), aws.client("logs"), aws.client("stepfunctions")
        sagemaker.create_model_package_group(ModelPackageGroupName="fraud")
        first = sagemaker.create_model_package(ModelPackageGroupName="fraud", **PACKAGE)["ModelPackageArn"]
        second = sagemaker.create_model_package(ModelPackageGroupName="fraud", **PACKAGE)["ModelPackageArn"]
        with pytest.raises(sagemaker.exceptions.ConflictException):
            sagemaker.delete_model_package_group(ModelPackageGroupName="fraud")
        sagemaker.delete_model_package(ModelPackageName=first)
        with pytest.raises(sagemaker.exceptions.ClientError, match="ValidationException"):
            sagemaker.delete_model_package(ModelPackageName=first)
        logs.create_log_group(logGroupName="/aws/sagemaker/ProcessingJobs")
        for stream in ("run-1-evaluate-0/algo-1", "run-1-evaluate-10/algo-1"):
            logs.create_log_stream(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream)
            logs.put_log_events(
                logGroupName="/aws/sagemaker/ProcessingJobs",
                logStreamName=stream,
                logEvents=[{"timestamp": 1_800_000_000_000, "message": stream}],
            )
        machine = aws.state_machine_arn
        arn = sfn.start_execution(stateMachineArn=machine, name="kept", input="{}")["executionArn"]
        ended = aws.wait(arn)["status"]
        events = [e["type"] for e in aws.history(arn)]
    with EmbeddedAWS(state, deploy=False) as aws:
        sagemaker, logs, sfn = aws.client("sagemaker"), aws.client("logs"), aws.client("stepfunctions")
        listed = sagemaker.list_model_packages(ModelPackageGroupName="fraud")["ModelPackageSummaryList"]
        assert [p["ModelPackageArn"] for p in listed] == [second]
        assert [p["version"] for p in aws.store.get("registry")] == [2]
        found = logs.filter_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix="run-1-evaluate-0/"
        )["events"]
        assert [e["message"] for e in found] == ["run-1-evaluate-0/algo-1"]
        (execution,) = sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
        assert (execution["name"], execution["status"]) == ("kept", ended)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        assert [e["type"] for e in history] == events and events[0] == "ExecutionStarted"

        cloudformation, s3 = aws.client("cloudformation"), aws.client("s3")
        cloudformation.delete_stack(StackName="stepwise")
        stack = cloudformation.describe_stacks(StackName="stepwise")["Stacks"][0]
        assert stack["StackStatus"] == "DELETE_FAILED" and "is not empty" in stack["StackStatusReason"]
        versions = s3.list_object_versions(Bucket=aws.bucket)
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions.get("Versions", [])]
        s3.delete_objects(Bucket=aws.bucket, Delete={"Objects": objects})
        sagemaker.delete_model_package(ModelPackageName=second)
        sagemaker.delete_model_package_group(ModelPackageGroupName="fraud")
        cloudformation.delete_stack(StackName="stepwise")
        with pytest.raises(cloudformation.exceptions.ClientError, match="does not exist"):
            cloudformation.describe_stacks(StackName="stepwise")
        assert aws.client("lambda").list_layers()["Layers"] == []
        assert aws.store.get("stack") is None and aws.store.executions() == []
        assert aws.store.calls("sagemaker") == [] and aws.store.current_objects() == []


def test_a_raw_http_request_finds_its_operation_and_reaches_the_backends(tmp_path: Path) -> None:
    """What http_api.py does with a request: moto's router and parser name the operation and give the
    parameters as botocore passes them; moto's dispatcher answers it from the embedded AWS's backends."""
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(tmp_path / "state", with_stack=False, enforce_iam=False) as aws:
        aws.client("s3").create_bucket(Bucket="raw-requests")
        url = "https://s3.amazonaws.com/raw-requests/raw/d1/claims.csv"
        headers = {"Host": "s3.amazonaws.com", "Content-Type": "text/csv"}
        name, params = moto_seams.http_operation("s3", "PUT", url, headers, b"policy_id\n1\n")
        assert (name, params["Bucket"], params["Key"], params["Body"]) == (
            "PutObject",
            "raw-requests",
            "raw/d1/claims.csv",
            b"policy_id\n1\n",
        )
        status, _, _ = moto_seams.dispatch_http("PUT", url, headers, b"policy_id\n1\n")
        assert status == 200
        assert aws.client("s3").get_object(Bucket="raw-requests", Key="raw/d1/claims.csv")["Body"].read() == (
            b"policy_id\n1\n"
        )
        body = json.dumps({"ModelPackageGroupName": "fraud"}).encode()
        json_headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.CreateModelPackageGroup",
        }
        sagemaker_url = "https://api.sagemaker.us-east-1.amazonaws.com/"
        assert moto_seams.http_operation("sagemaker", "POST", sagemaker_url, json_headers, body) == (
            "CreateModelPackageGroup",
            {"ModelPackageGroupName": "fraud"},
        )
        assert moto_seams.dispatch_http("POST", sagemaker_url, json_headers, body)[0] == 200
        groups = aws.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert [g["ModelPackageGroupName"] for g in groups] == ["fraud"]
        assert moto_seams.http_operation("sagemaker", "POST", sagemaker_url, {}, b"junk") is None
