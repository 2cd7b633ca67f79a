"""stepwise.emulator.validation: what AWS rejects that botocore lets through, with AWS's error.

The expected messages are AWS's own wording, as AWS returned it in published error reports (the
module's docstring lists them). Each test asserts what a user of local mode would see: the error
code, the HTTP status, the member path and the constraint phrase. The SageMaker requests are the
state machine's own, built from statemachine/pipeline.asl.json by bench/request_validation.py.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.model
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from functions_support import load_app, sample_event

from stepwise.emulator import validation
from stepwise.emulator.validation import RequestRejected, java_regex

REPO = Path(__file__).resolve().parents[2]
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:stepwise-pipeline"
TOPIC = "arn:aws:sns:us-east-1:123456789012:stepwise-notifications"
SERVICES = ["sagemaker", "sagemaker-runtime", "s3", "stepfunctions", "events", "sns", "lambda", "logs"]


def _bench() -> Any:
    """bench/request_validation.py: builds the state machine's requests from the definition."""
    name = "stepwise_bench_request_validation"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "request_validation.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def pipeline_request(state: str, execution: str | None = None, attempt: int = 0) -> dict[str, Any]:
    bench = _bench()
    return bench.pipeline_request(state, execution or bench.EXECUTION, attempt)


def accepted(service: str, operation: str, params: dict, **options: Any) -> bool:
    return validation.check(service, operation, params, **options) is None


def rejected(service: str, operation: str, params: dict, **options: Any) -> RequestRejected:
    error = validation.check(service, operation, params, **options)
    assert error is not None, f"{service}:{operation} accepted {params}"
    return error


def request_shape(service: str, operation: str) -> botocore.model.StructureShape:
    return botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape


def botocore_report(service: str, operation: str, params: dict) -> str:
    """What botocore's client-side validation says of the request ("" when it lets it through)."""
    return ParamValidator().validate(params, request_shape(service, operation)).generate_report()


def processing_job() -> dict[str, Any]:
    return pipeline_request("Preprocess")


def training_job() -> dict[str, Any]:
    return pipeline_request("Train")


# --- SageMaker: names, ranges, enums, nested paths ------------------------------------------------


def test_a_64_character_job_name_is_rejected_with_the_length_and_the_member_path():
    """The pattern ([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}) also stops at 63: AWS reports both, as in
    "2 validation errors detected: Value '...' at 'trainingJobName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: ...; Value '...' at 'trainingJobName' failed to
    satisfy constraint: Member must have length less than or equal to 63" (AWS, 2023)."""
    name = "a" * 64
    request = {**training_job(), "TrainingJobName": name}

    error = rejected("sagemaker", "CreateTrainingJob", request)

    pattern = request_shape("sagemaker", "CreateTrainingJob").members["TrainingJobName"].metadata["pattern"]
    assert (error.code, error.status) == ("ValidationException", 400)
    assert error.message == (
        f"2 validation errors detected: Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}; Value '{name}' at 'trainingJobName' "
        "failed to satisfy constraint: Member must have length less than or equal to 63"
    )
    assert botocore_report("sagemaker", "CreateTrainingJob", request) == ""  # botocore lets it through


def test_a_63_character_job_name_is_accepted():
    assert accepted("sagemaker", "CreateTrainingJob", {**training_job(), "TrainingJobName": "a" * 63})


def test_an_underscore_in_a_job_name_breaks_the_pattern():
    request = {**processing_job(), "ProcessingJobName": "run_1-preprocess-0"}

    error = rejected("sagemaker", "CreateProcessingJob", request)

    pattern = botocore.session.get_session().get_service_model("sagemaker").shape_for("ProcessingJobName")
    assert error.message == (
        "1 validation error detected: Value 'run_1-preprocess-0' at 'processingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern.metadata['pattern']}"
    )


def test_a_pattern_must_match_the_whole_value_as_java_matches_does():
    # ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} matches a prefix of "job-1-" but AWS rejects the name
    request = {**processing_job(), "ProcessingJobName": "job-1-"}
    error = rejected("sagemaker", "CreateProcessingJob", request)
    assert (
        "at 'processingJobName' failed to satisfy constraint: Member must satisfy regular expression"
        in error.message
    )


@pytest.mark.parametrize("state", ["Preprocess", "Train", "Evaluate", "CheckBiasAndExplain"])
def test_an_eventbridge_named_execution_makes_job_names_that_sagemaker_accepts(state):
    """EventBridge names rule-started executions `<event id>_<id>` (about 73 characters); a job name
    built from it broke both SageMaker's pattern and its 63 characters. Names come from the run id."""
    execution = "5b4c7a30-9c2f-4a8e-8d3f-1e2d3c4b5a69_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert accepted("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "name": execution})
    operation = "CreateTrainingJob" if state == "Train" else "CreateProcessingJob"

    assert accepted("sagemaker", operation, pipeline_request(state, execution, attempt=3))


def test_a_job_name_built_from_an_execution_name_would_be_rejected():
    """Why the run id exists: `<execution>-preprocess-0`, as the definition named jobs before."""
    execution = "5b4c7a30-9c2f-4a8e-8d3f-1e2d3c4b5a69_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    request = {**pipeline_request("Preprocess", execution), "ProcessingJobName": f"{execution}-preprocess-0"}

    error = rejected("sagemaker", "CreateProcessingJob", request)

    assert error.message.startswith("2 validation errors detected: ")
    clauses = error.message.split(": ", 1)[1].split("; Value ")
    assert all(f"'{execution}-preprocess-0' at 'processingJobName'" in clause for clause in clauses)
    assert "Member must have length less than or equal to 63" in error.message
    assert "Member must satisfy regular expression pattern" in error.message


def test_an_instance_count_above_the_maximum_names_the_nested_path():
    request = processing_job()
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 101

    error = rejected("sagemaker", "CreateProcessingJob", request)

    assert error.message == (
        "1 validation error detected: Value '101' at 'processingResources.clusterConfig.instanceCount' "
        "failed to satisfy constraint: Member must have value less than or equal to 100"
    )


def test_an_instance_count_of_0_is_left_to_botocore_unless_botocore_did_not_run():
    request = processing_job()
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0

    # a boto3 client rejects it before sending: not reported twice
    assert "valid min value: 1" in botocore_report("sagemaker", "CreateProcessingJob", request)
    assert accepted("sagemaker", "CreateProcessingJob", request)
    # a Step Functions Task's Parameters reach SageMaker without botocore: AWS's own message
    error = rejected("sagemaker", "CreateProcessingJob", request, botocore_checked=False)
    assert error.message == (
        "1 validation error detected: Value '0' at 'processingResources.clusterConfig.instanceCount' "
        "failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_an_instance_type_outside_the_enum_lists_the_allowed_values():
    request = training_job()
    request["ResourceConfig"]["InstanceType"] = "ml.t2.medium"

    error = rejected("sagemaker", "CreateTrainingJob", request)

    allowed = (
        botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingInstanceType").enum
    )
    assert error.message == (
        "1 validation error detected: Value 'ml.t2.medium' at 'resourceConfig.instanceType' failed to "
        f"satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
    )


def test_list_items_are_numbered_from_1_as_member():
    request = training_job()
    request["InputDataConfig"][1]["ChannelName"] = "validation data"

    error = rejected("sagemaker", "CreateTrainingJob", request)

    assert "Value 'validation data' at 'inputDataConfig.2.member.channelName'" in error.message


def test_a_deeply_nested_member_of_a_list_item():
    request = processing_job()
    request["ProcessingInputs"][1]["S3Input"]["S3Uri"] = "ftp://elsewhere/raw/"

    error = rejected("sagemaker", "CreateProcessingJob", request)

    assert "Value 'ftp://elsewhere/raw/' at 'processingInputs.2.member.s3Input.s3Uri'" in error.message
    assert "Member must satisfy regular expression pattern: (https|s3)://([^/]+)/?(.*)" in error.message


def test_map_keys_and_values_are_reported_once_each_at_the_map():
    request = training_job()
    request["Environment"] = {"1ST": "a", "2ND": "b", "OK": "v" * 513}

    violations = validation.errors("sagemaker", "CreateTrainingJob", request)

    assert [(v.path, v.message.split(": ", 1)[1]) for v in violations] == [
        (
            "environment",
            "Map keys must satisfy constraint: [Member must have length less than or equal to 512, "
            "Member must have length greater than or equal to 0, "
            "Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*]",
        ),
        (
            "environment",
            "Map value must satisfy constraint: [Member must have length less than or equal to 512, "
            "Member must have length greater than or equal to 0, "
            "Member must satisfy regular expression pattern: [\\S\\s]*]",
        ),
    ]
    assert violations[0].message.startswith(f"Value '{{1ST=a, 2ND=b, OK={'v' * 513}}}' at 'environment'")


def test_too_many_hyperparameters_is_a_map_length_botocore_does_not_check():
    request = training_job()
    request["HyperParameters"] = {f"p{i}": "1" for i in range(101)}

    error = rejected("sagemaker", "CreateTrainingJob", request)

    assert (
        "at 'hyperParameters' failed to satisfy constraint: Member must have length less than or equal to 100"
        in (error.message)
    )
    assert botocore_report("sagemaker", "CreateTrainingJob", request) == ""


def test_a_long_list_is_reported_before_its_items():
    request = processing_job()
    request["AppSpecification"]["ContainerArguments"] = ["x" * 257] + ["--flag"] * 100

    violations = validation.errors("sagemaker", "CreateProcessingJob", request)

    assert [(v.path, v.constraint) for v in violations] == [
        ("appSpecification.containerArguments", "Member must have length less than or equal to 100"),
        ("appSpecification.containerArguments.1.member", "Member must have length less than or equal to 256"),
    ]


def test_at_most_10_violations_are_listed_but_errors_returns_all():
    request = training_job()
    request["TrainingJobName"] = "bad_name"
    request["InputDataConfig"] = [
        {**copy.deepcopy(request["InputDataConfig"][0]), "ChannelName": f"channel {i}"} for i in range(12)
    ]

    error = rejected("sagemaker", "CreateTrainingJob", request)
    every = validation.errors("sagemaker", "CreateTrainingJob", request)

    assert len(every) == 13  # the name's pattern and 12 channel names
    assert error.message.startswith("10 validation errors detected: ")
    assert error.message.count("failed to satisfy constraint") == 10
    assert [v.message for v in error.violations] == [v.message for v in every[:10]]


def test_required_members_are_null_only_when_botocore_did_not_run():
    request = processing_job()
    del request["RoleArn"]

    assert accepted("sagemaker", "CreateProcessingJob", request)  # botocore's report
    error = rejected("sagemaker", "CreateProcessingJob", request, botocore_checked=False)
    assert error.message == (
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null"
    )


@pytest.mark.parametrize("state", ["Preprocess", "Evaluate", "CheckBiasAndExplain", "Train"])
def test_the_state_machines_sagemaker_jobs_are_valid_requests(state):
    operation = "CreateTrainingJob" if state == "Train" else "CreateProcessingJob"
    request = pipeline_request(state)

    assert botocore_report("sagemaker", operation, request) == ""
    assert validation.errors("sagemaker", operation, request, botocore_checked=False) == []


def test_the_state_machines_notification_is_a_valid_request():
    assert (
        validation.errors("sns", "Publish", pipeline_request("NotifyFailure"), botocore_checked=False) == []
    )


def test_register_models_create_model_package_request_is_valid():
    app = load_app("register_model")
    request = app.package_request(
        app.parse_event(sample_event("register_model"), app.RegisterModelEvent, app.FUNCTION),
        app.OperatingPoint(0.6761428713798523, "best-f1 on validation"),
    )

    assert botocore_report("sagemaker", "CreateModelPackage", request) == ""
    assert validation.errors("sagemaker", "CreateModelPackage", request) == []


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, operation: str):
        return lambda **request: self.calls.append((operation, request))


def test_deploy_endpoints_create_model_and_create_endpoint_config_requests_are_valid(monkeypatch):
    app = load_app("deploy_endpoint")
    register = load_app("register_model")
    request = app.parse_event(sample_event("deploy_endpoint"), app.DeployEndpointEvent, app.FUNCTION)
    package_request = register.package_request(
        register.parse_event(sample_event("register_model"), register.RegisterModelEvent, register.FUNCTION),
        register.OperatingPoint(0.6761428713798523, "best-f1 on validation"),
    )
    package = {**package_request, "ModelPackageArn": request.model_package_arn}
    recorder = _Recorder()
    monkeypatch.setattr(app, "client", lambda service: recorder)
    monkeypatch.setattr(app, "_describe", lambda *args, **kwargs: None)

    model = app.sagemaker_name(request.endpoint_name, "v1")
    app.ensure_model(model, package, request.execution_role_arn)
    config = app.sagemaker_name(request.endpoint_name, "v1", app.deploy_suffix(request.execution_name))
    app.ensure_endpoint_config(config, model, request, request.model_package_arn)

    operations = {"create_model": "CreateModel", "create_endpoint_config": "CreateEndpointConfig"}
    assert [operation for operation, _ in recorder.calls] == list(operations)
    for operation, sent in recorder.calls:
        assert botocore_report("sagemaker", operations[operation], sent) == ""
        assert validation.errors("sagemaker", operations[operation], sent) == []


# --- Step Functions ---------------------------------------------------------------------------------

SFN_FORBIDDEN = [" ", "<", ">", "{", "}", "[", "]", "?", "*", '"', "#", "%", "\\", "^", "|", "~", "`"]
SFN_FORBIDDEN += ["$", "&", ",", ";", ":", "/", "\t", "\n", "\x00", "\x1f", "\x7f", "\x85", "\x9f"]


def test_an_81_character_execution_name_is_a_validation_exception():
    """AWS checks the model's 80 characters before its own name rules: the error is
    ValidationException, as AWS answers it (moto issue #6438, 2023), not InvalidName."""
    name = "r" * 81

    error = rejected("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "name": name})

    assert (error.code, error.status) == ("ValidationException", 400)
    assert error.message == (
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80"
    )
    assert accepted("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "name": "r" * 80})


@pytest.mark.parametrize("char", SFN_FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in SFN_FORBIDDEN])
def test_each_forbidden_character_in_an_execution_name_is_invalid_name(char):
    name = f"run{char}1"

    error = rejected("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "name": name})

    assert (error.code, error.status, error.message) == ("InvalidName", 400, f"Invalid Name: '{name}'")
    with pytest.raises(boto3.client("stepfunctions").exceptions.InvalidName) as raised:
        raise error.client_error(boto3.client("stepfunctions"))
    assert str(raised.value) == (
        f"An error occurred (InvalidName) when calling the StartExecution operation: Invalid Name: '{name}'"
    )


def test_an_execution_name_with_every_allowed_special_character_and_non_ascii_passes():
    name = "run-1_2.3(4)!5'6@7=8+9-éß日本"
    assert accepted("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "name": name})
    assert accepted("stepfunctions", "CreateActivity", {"name": name})


def test_state_machine_and_activity_names_follow_the_same_rules():
    error = rejected("stepfunctions", "CreateActivity", {"name": "my activity"})
    assert (error.code, error.message) == ("InvalidName", "Invalid Name: 'my activity'")


def test_a_state_machine_arn_without_the_arn_prefix_is_invalid_arn():
    for operation in ("StartExecution", "DescribeStateMachine", "ListExecutions"):
        error = rejected("stepfunctions", operation, {"stateMachineArn": "stepwise-pipeline"})
        assert (error.code, error.message) == (
            "InvalidArn",
            "Invalid Arn: 'Invalid ARN prefix: stepwise-pipeline'",
        )


def test_execution_input_must_be_json():
    error = rejected("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "input": "{'a': 1}"})
    assert error.code == "InvalidExecutionInput"
    assert error.message.startswith("Invalid State Machine Execution Input: '")
    assert accepted("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "input": '{"a": 1}'})


def test_execution_input_is_limited_in_utf8_bytes_and_its_value_is_not_shown():
    document = '"' + "é" * 131_072 + '"'  # 131,074 characters, 262,146 bytes

    error = rejected("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "input": document})

    assert error.message == (
        "1 validation error detected: Value at 'input' failed to satisfy constraint: "
        "Member must have size less than or equal to 262144 bytes in UTF-8 encoding"
    )


def test_operation_names_as_step_functions_resources_spell_them():
    assert validation.check("sagemaker", "createTrainingJob", {**training_job(), "TrainingJobName": "a" * 64})
    assert validation.check(
        "sagemaker", "create_training_job", {**training_job(), "TrainingJobName": "a" * 64}
    )
    assert validation.check("states", "StartExecution", {"stateMachineArn": "x"}).code == "InvalidArn"


# --- S3 --------------------------------------------------------------------------------------------


def test_an_s3_key_of_1025_bytes_is_key_too_long():
    key = "runs/" + "€" * 340  # 345 characters, 1,025 bytes of UTF-8

    error = rejected("s3", "PutObject", {"Bucket": "stepwise-data", "Key": key, "Body": b"x"})

    assert (error.code, error.status, error.message) == ("KeyTooLongError", 400, "Your key is too long.")
    assert error.response["Error"] == {
        "Code": "KeyTooLongError",
        "Message": "Your key is too long.",
        "Size": "1025",
        "MaxSizeAllowed": "1024",
    }
    assert (
        validation.check("s3", "GetObject", {"Bucket": "stepwise-data", "Key": key}).code == "KeyTooLongError"
    )
    assert accepted("s3", "PutObject", {"Bucket": "stepwise-data", "Key": "k" * 1024})


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Stepwise-Data", "stepwise_data", "-stepwise", "stepwise.", "step..wise", "192.168.5.4"]
    + ["xn--stepwise", "sthree-data", "amzn-s3-demo-data", "data-s3alias", "data--ol-s3", "data.mrap"],
)
def test_invalid_bucket_names_are_rejected_by_create_bucket(name):
    error = rejected("s3", "CreateBucket", {"Bucket": name})
    assert (error.code, error.status, error.message) == (
        "InvalidBucketName",
        400,
        "The specified bucket is not valid.",
    )
    assert error.response["Error"]["BucketName"] == name


@pytest.mark.parametrize("name", ["abc", "a" * 63, "stepwise-data-123456789012", "my.bucket.v2", "1-2-3"])
def test_valid_bucket_names_are_accepted(name):
    assert accepted("s3", "CreateBucket", {"Bucket": name})


def test_user_metadata_over_2_kb_is_too_large():
    error = rejected("s3", "PutObject", {"Bucket": "b-1", "Key": "k", "Metadata": {"a": "x" * 2048}})
    assert (error.code, error.message) == (
        "MetadataTooLarge",
        "Your metadata headers exceed the maximum allowed metadata size.",
    )
    assert accepted("s3", "PutObject", {"Bucket": "b-1", "Key": "k", "Metadata": {"a": "x" * 2047}})


def test_an_unknown_storage_class_is_invalid_storage_class():
    error = rejected("s3", "PutObject", {"Bucket": "b-1", "Key": "k", "StorageClass": "COLD"})
    assert error.code == "InvalidStorageClass"


# --- SNS -------------------------------------------------------------------------------------------


def test_sns_subject_of_100_characters_passes_and_101_is_invalid_parameter():
    assert accepted("sns", "Publish", {"TopicArn": TOPIC, "Message": "m", "Subject": "s" * 100})

    error = rejected("sns", "Publish", {"TopicArn": TOPIC, "Message": "m", "Subject": "s" * 101})

    assert (error.code, error.status, error.message) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Subject",
    )
    assert error.response["Error"]["Type"] == "Sender"  # a query-protocol error, as botocore parses it


@pytest.mark.parametrize("subject", ["", "line\nbreak", "tab\there", "caf\u00e9"])
def test_sns_subjects_must_be_printable_ascii_on_one_line(subject):
    error = rejected("sns", "Publish", {"TopicArn": TOPIC, "Message": "m", "Subject": subject})
    assert error.message == "Invalid parameter: Subject"


def test_sns_messages_are_limited_to_256_kb_with_their_attributes():
    attribute = {"run": {"DataType": "String", "StringValue": "abcd"}}  # 3 + 6 + 4 bytes
    fits = {"TopicArn": TOPIC, "Message": "m" * (262_144 - 13), "MessageAttributes": attribute}
    assert accepted("sns", "Publish", fits)

    error = rejected("sns", "Publish", {**fits, "Message": fits["Message"] + "m"})
    assert (error.code, error.message) == ("InvalidParameter", "Invalid parameter: Message too long")
    empty = rejected("sns", "Publish", {"TopicArn": TOPIC, "Message": ""})
    assert empty.message == "Invalid parameter: Empty message"


@pytest.mark.parametrize(
    ("name", "attribute", "message"),
    [
        (
            "run",
            {"DataType": "Text", "StringValue": "x"},
            "The message attribute 'run' has an invalid message attribute type, "
            "the set of supported type prefixes is Binary, Number, and String.",
        ),
        (
            "retries",
            {"DataType": "Number", "StringValue": "two"},
            "Could not cast message attribute 'retries' value to number.",
        ),
        (
            "run",
            {"DataType": "String", "StringValue": ""},
            "The message attribute 'run' must contain non-empty message attribute value "
            "for message attribute type 'String'.",
        ),
        (
            "a..b",
            {"DataType": "String", "StringValue": "x"},
            "Message attribute name can not have successive '.' character.",
        ),
        (
            ".run",
            {"DataType": "String", "StringValue": "x"},
            "Invalid message attribute name starting with character '.' was found.",
        ),
        (
            "run id",
            {"DataType": "String", "StringValue": "x"},
            "Invalid non-alphanumeric character '#x20' was found in the message attribute name. "
            "Can only include alphanumeric characters, hyphens, underscores, or dots.",
        ),
    ],
)
def test_sns_message_attribute_limits(name, attribute, message):
    request = {"TopicArn": TOPIC, "Message": "m", "MessageAttributes": {name: attribute}}

    error = rejected("sns", "Publish", request)

    assert (error.code, error.status, error.message) == ("ParameterValueInvalid", 400, message)


def test_valid_sns_message_attributes_pass():
    attributes = {
        "run.id": {"DataType": "String", "StringValue": "7b1f"},
        "retries": {"DataType": "Number", "StringValue": "-1.5e3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        "stages": {"DataType": "String.Array", "StringValue": '["train"]'},
    }
    assert accepted("sns", "Publish", {"TopicArn": TOPIC, "Message": "m", "MessageAttributes": attributes})


# --- Other services: codes per service -------------------------------------------------------------


def test_logs_answers_model_violations_with_invalid_parameter_exception():
    error = rejected("logs", "CreateLogGroup", {"logGroupName": "stepwise:latest"})
    assert error.code == "InvalidParameterException"
    assert error.message == (
        "1 validation error detected: Value 'stepwise:latest' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
    )
    reserved = rejected("logs", "CreateLogGroup", {"logGroupName": "aws/stepwise"})
    assert reserved.message == "Log groups starting with AWS/ are reserved for AWS."


def test_lambda_checks_the_function_name_and_refuses_payloads_over_6_mb_first():
    error = rejected("lambda", "Invoke", {"FunctionName": "register model"})
    assert (error.code, error.status) == ("ValidationException", 400)
    assert "Value 'register model' at 'functionName' failed to satisfy constraint" in error.message

    too_large = rejected("lambda", "Invoke", {"FunctionName": "register model", "Payload": b"x" * 6_291_457})
    assert (too_large.code, too_large.status) == ("RequestEntityTooLargeException", 413)
    assert too_large.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_invoke_endpoint_refuses_a_body_over_6_mb_at_the_front_door_as_sagemaker_does():
    """HTTP 413 without an error code (boto3 then says "An error occurred (413)"), not ValidationError."""
    too_large = rejected(
        "sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "e", "Body": b"1" * 6_291_457}
    )
    assert (too_large.code, too_large.status) == ("413", 413)
    assert too_large.message == "HTTP content length exceeded 6291456 bytes."
    assert (
        validation.check(
            "sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "e", "Body": b"1" * 6_291_456}
        )
        is None
    )


def test_lambda_alias_weights_render_as_java_doubles():
    request = {"FunctionName": "f", "Name": "live", "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}}

    error = rejected("lambda", "UpdateAlias", request)

    assert error.message == (
        "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal "
        "to 1.0, Member must have value greater than or equal to 0.0]"
    )


def test_sagemaker_runtime_and_sns_use_validation_error():
    runtime = rejected(
        "sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "fraud_detector", "Body": b"1,2"}
    )
    assert runtime.code == "ValidationError"
    assert "at 'endpointName' failed to satisfy constraint" in runtime.message
    sns = rejected("sns", "TagResource", {"ResourceArn": TOPIC, "Tags": [{"Key": "k" * 129, "Value": "v"}]})
    assert sns.code == "ValidationError"
    assert "at 'tags.1.member.key' failed to satisfy constraint" in sns.message


def test_eventbridge_rule_names():
    error = rejected("events", "PutRule", {"Name": "stepwise raw upload", "EventPattern": "{}"})
    assert error.code == "ValidationException"
    assert "Value 'stepwise raw upload' at 'name'" in error.message


def test_blobs_are_measured_in_bytes_and_shown_as_java_shows_them():
    empty = rejected("kms", "Decrypt", {"CiphertextBlob": b""})  # botocore checks no blob
    assert empty.message == (
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]' at 'ciphertextBlob' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1"
    )
    assert rejected("kms", "Decrypt", {"CiphertextBlob": "é" * 3073}).violations[0].constraint == (
        "Member must have length less than or equal to 6144"  # 6,146 bytes
    )


def test_a_sensitive_members_value_is_left_out():
    request = {"EndpointName": "e", "InputLocation": "s3://b/k", "CustomAttributes": "x" * 1025}
    error = rejected("sagemaker-runtime", "InvokeEndpointAsync", request)
    assert error.message == (
        "1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: "
        "Member must have length less than or equal to 1024"
    )


def test_string_lengths_count_code_points_not_utf16_units():
    """Smithy's length trait counts Unicode scalar values: an emoji is one character."""
    description = "\U0001f600" * 512  # 512 code points, 1,024 UTF-16 units
    assert accepted("events", "PutRule", {"Name": "r", "Description": description})
    assert (
        rejected("events", "PutRule", {"Name": "r", "Description": description + "x"}).code
        == "ValidationException"
    )


def test_a_rejection_becomes_the_client_error_botocore_raises():
    error = rejected("sagemaker", "CreateTrainingJob", {**training_job(), "TrainingJobName": "a" * 64})

    client_error = error.client_error()

    assert isinstance(client_error, ClientError)
    assert client_error.response["Error"]["Code"] == "ValidationException"
    assert client_error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert str(client_error).startswith(
        "An error occurred (ValidationException) when calling the CreateTrainingJob operation: "
        "2 validation errors detected: "
    )
    with pytest.raises(RequestRejected):
        validation.validate("sagemaker", "CreateTrainingJob", {**training_job(), "TrainingJobName": "a" * 64})


def test_any_botocore_service_is_validated_from_its_model():
    table = rejected("dynamodb", "DescribeTable", {"TableName": "t" * 1025})
    assert table.code == "ValidationException"  # a JSON service
    assert f"Value '{'t' * 1025}' at 'tableName' failed to satisfy constraint" in table.message
    role = rejected("iam", "CreateRole", {"RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"})
    assert role.code == "ValidationError"  # a query service
    assert role.response["Error"]["Type"] == "Sender"


# --- Java regular expressions ----------------------------------------------------------------------


def _patterns(services: list[str] | None = None) -> dict[str, str]:
    loader = botocore.session.get_session().get_component("data_loader")
    found = {}
    for service in services or loader.list_available_services("service-2"):
        for name, shape in loader.load_service_model(service, "service-2")["shapes"].items():
            if "pattern" in shape:
                found.setdefault(shape["pattern"], f"{service}:{name}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_pattern_of_the_pipelines_services_compiles(service):
    patterns = _patterns([service])
    assert patterns
    failures = []
    for pattern, where in patterns.items():
        try:
            re.compile(java_regex(pattern))
        except (ValueError, re.error) as error:
            failures.append(f"{where}: {pattern!r}: {error}")
    assert failures == []


@pytest.mark.slow  # reads the models of every botocore service: about 9 s
def test_every_pattern_of_every_botocore_service_compiles():
    failures = []
    for pattern, where in _patterns().items():
        try:
            re.compile(java_regex(pattern))
        except (ValueError, re.error) as error:
            failures.append(f"{where}: {pattern!r}: {error}")
    assert failures == []


@pytest.mark.parametrize(
    ("pattern", "accepted", "refused"),
    [
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", ["héllo wörld 42", "日本"], ["a#b"]),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", ["emoji \U0001f600"], ["\x01"]),
        (r"[\p{Print}&&[^|:/]]+", ["abc"], ["a|b", "é"]),
        (r"[\w-_]*", ["a-b_c"], ["a.b", "é"]),
        (r"^(?i)(true|false)$", ["TRUE", "False"], ["yes"]),
        (r"(?!(?i)AWS_)[a-zA-Z_][a-zA-Z0-9_]*", ["MY_VAR"], ["aws_var"]),
        (r"\A\S[\p{Print}]*\z", ["abc def"], [" abc", "abc\n"]),
        (r"[-_a-zA-Z0-9]*${2,64}$", ["abc"], ["a b"]),
        (r".*", ["ab"], ["a\nb", "a\u2028b"]),
        (r"([\w!$&()*+,./:;=?@\x{60}-]|%[\dA-Fa-f]{2})+", ["a`b%2F"], ["a b"]),
        (r"^(\p{LD}|\p{Punct}| )+$", ["ab1!", "é1"], ["\t"]),
        (r"[\P{C}\n\r\t]*", ["ok\n"], ["\x00"]),
        (r"[^/:|\000-\037]+", ["abc"], ["a\x1fb"]),
        (r"\d+\s\w+", ["12 ab"], ["١٢ ab", "12\u00a0ab"]),  # Java's \d \s \w are ASCII
        (r"[a-z]{11}{0,2}", ["", "a" * 22], ["a" * 5]),
    ],
)
def test_java_constructs_match_as_in_java(pattern, accepted, refused):
    compiled = re.compile(java_regex(pattern))
    assert [value for value in accepted if not compiled.fullmatch(value)] == []
    assert [value for value in refused if compiled.fullmatch(value)] == []


# --- What botocore checks, and the model layout this module reads ------------------------------------


def test_botocore_checks_minimums_but_no_maximum_pattern_or_enum():
    """If botocore starts checking more, this module reports it twice: drop those checks here."""
    request = {
        **processing_job(),
        "ProcessingJobName": "p" * 64 + "_",  # max and pattern
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 101, "InstanceType": "ml.x", "VolumeSizeInGB": 1}
        },
        "Environment": {f"K{i}": "v" for i in range(101)},  # map max
    }
    assert botocore_report("sagemaker", "CreateProcessingJob", request) == ""
    assert len(validation.errors("sagemaker", "CreateProcessingJob", request)) == 5

    too_small = processing_job()
    too_small["AppSpecification"]["ContainerArguments"] = []
    too_small["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0
    too_small["Tags"] = [{"Key": "", "Value": "v"}]  # the Key's pattern accepts ""; its min does not
    report = botocore_report("sagemaker", "CreateProcessingJob", too_small)
    assert "Invalid length for parameter AppSpecification.ContainerArguments" in report
    assert "Invalid value for parameter ProcessingResources.ClusterConfig.InstanceCount" in report
    assert "Invalid length for parameter Tags[0].Key" in report
    assert validation.errors("sagemaker", "CreateProcessingJob", too_small) == []


def test_the_botocore_model_layout_this_module_reads():
    for attribute in ("min", "max", "pattern", "enum", "sensitive"):
        assert attribute in botocore.model.Shape.METADATA_ATTRS
    model = botocore.session.get_session().get_service_model("sagemaker")
    operation = model.operation_model("CreateTrainingJob")
    shape = operation.input_shape
    assert isinstance(shape, botocore.model.StructureShape)
    assert "TrainingJobName" in shape.required_members
    name = shape.members["TrainingJobName"]
    assert (name.type_name, name.metadata["max"], name.metadata["min"]) == ("string", 63, 1)
    assert name.metadata["pattern"].startswith("^") or name.metadata["pattern"].startswith("[")
    instance_type = shape.members["ResourceConfig"].members["InstanceType"]
    assert "ml.m5.xlarge" in instance_type.enum
    channels = shape.members["InputDataConfig"]
    assert isinstance(channels, botocore.model.ListShape)
    assert channels.member.members["ChannelName"].metadata["pattern"]
    hyperparameters = shape.members["HyperParameters"]
    assert isinstance(hyperparameters, botocore.model.MapShape)
    assert (hyperparameters.key.type_name, hyperparameters.value.metadata["max"]) == ("string", 2500)
    assert model.metadata["protocol"] == "json"
    assert botocore.session.get_session().get_service_model("sns").metadata["protocol"] == "query"
    sfn = botocore.session.get_session().get_service_model("stepfunctions")
    assert sfn.operation_model("StartExecution").input_shape.members["input"].metadata["sensitive"] is True
