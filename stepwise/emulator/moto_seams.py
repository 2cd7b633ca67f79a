"""Every private moto import and patch of the embedded AWS, in one place.

moto 5.2 gives the embedded AWS its services (S3, SageMaker, Step Functions with its ASL interpreter,
EventBridge, CloudFormation, IAM, Lambda, SNS, CloudWatch Logs) but not everything the pipeline needs
to run as it does on AWS. `install(owner)` patches these seams; each calls back into the owner (the
one `EmbeddedAWS` of the process, stepwise/emulator/aws.py), and `uninstall()` gives moto its own
behaviour back:

Step Functions interpreter
- `state_task_for`: Task resources with a local handler (`sagemaker:create*Job.sync`) run it;
  `aws-sdk:*` results are made JSON-safe (a datetime breaks describe_execution).
- `StateTaskService._eval_execution`: a service Task calls AWS as the state machine's role.
- `lambda_eval_utils._invoke_lambda_function`: Lambda Tasks call the owner's function runner.
- `WaitFunction._wait_interval`, `retrier_decl.time`: Wait states and Retry intervals on the
  owner's clock (scaled; a Wait also ends when a resource it may be waiting for changes).
- `AmazonStateLanguageParser.parse`: each definition is parsed once, not again per execution.
- `boto_client_for`: the interpreter's own boto3 clients are created once per service.
- CloudFormation's AWS::StepFunctions::StateMachine is created where the API (with execution on)
  finds it: moto's interpreter backend.
CloudFormation
- `CustomModel.create_from_cloudformation_json`: a custom resource runs its function through the
  owner (moto would invoke it in Docker and wait for an answer at a moto server URL);
  `update_from_cloudformation_json`: an Update request when its properties change (moto has none).
- `ResourceMap.build_resource_diff`: a resource that uses an updated custom resource is updated too.
- `LambdaFunction.update_from_cloudformation_json`: Layers as ARNs (moto hands a !Ref over as the object).
- `parsing.generate_resource_name`: physical names are stable per state folder (the stack is re-created in
  every process from its stored deployment, and the bucket must keep its name).
- `AWS::S3::BucketPolicy`, which moto's CloudFormation lacks, is added as a model.
EventBridge and S3
- `_send_event_bridge_message`: S3's "Object Created" event as AWS sends it (moto's lacks the ETag
  key's real spelling and sends to disabled rules), delivered by the owner's EventBridge.
- `Rule.send_to_targets`: a Step Functions target starts an execution through the owner.
- AWS::S3::Bucket from CloudFormation gets its versioning, EventBridge notifications, public access
  block and ownership controls (moto's applies only encryption and tags).
- PutObject with If-None-Match / If-Match is atomic (moto checks, then writes).
- moto's own bucket-policy check is off (its evaluator denies every request under the template's
  TLS-only policy); the request gate evaluates bucket policies instead.
- every S3 write and delete is journaled to the state folder as it happens.
SageMaker
- endpoints run real model servers through the owner (create, update, describe, delete, invoke);
- UpdateModelPackage merges CustomerMetadataProperties as AWS does (moto replaces them);
- DeleteModelPackage and DeleteModelPackageGroup, which moto lacks (a group that still holds packages
  is a ConflictException, as on AWS).
CloudWatch Logs
- FilterLogEvents honours logStreamNamePrefix (moto answers every stream of the group);
- every PutLogEvents, DeleteLogGroup and DeleteLogStream is journaled to the state folder, and the
  journal is put back quietly on start (`put_log_events_quietly`).
CloudFormation's DeleteStack
- a stack whose bucket still holds objects ends DELETE_FAILED with S3's reason (moto would report
  DELETE_COMPLETE and leave the bucket); the stack's Lambda layer versions are deleted (moto leaves
  them); a deleted stack is reported to the owner (`stack_deleted`).
Step Functions executions of earlier processes
- `restore_execution` puts a finished execution back from the state folder (description and history),
  so ListExecutions, DescribeExecution and GetExecutionHistory answer for it as AWS does.
The embedded AWS over HTTP (stepwise/emulator/http_api.py)
- `http_operation` finds a raw request's operation and parameters with moto's own router and parser
  (for the request gate); `dispatch_http` hands the request to moto's dispatcher, the one that answers
  the process's botocore clients, so an HTTP request reaches the same backends and seams.

pyproject.toml pins moto's minor version; tests/unit/test_moto_seams.py fails when an upgrade moves
any of these.
"""

from __future__ import annotations

import json
import re
import threading
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepwise.emulator.aws import EmbeddedAWS

_ORIGINALS: dict[tuple[Any, str], Any] = {}
_ADDED: list[tuple[Any, str]] = []
_OWNER: EmbeddedAWS | None = None
_S3_WRITE_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def owner() -> EmbeddedAWS:
    if _OWNER is None:
        raise RuntimeError("no embedded AWS is running in this process")
    return _OWNER


def _patch(target: Any, name: str, value: Any) -> None:
    key = (target, name)
    if key not in _ORIGINALS:
        if hasattr(target, name):
            _ORIGINALS[key] = getattr(target, name)
        else:
            _ADDED.append(key)
    setattr(target, name, value)


def _original(target: Any, name: str) -> Any:
    return _ORIGINALS[(target, name)]


# ------------------------------------------------------------------------------------------------
# The private parts of moto this module touches (an upgrade that moves one fails here, by name)
# ------------------------------------------------------------------------------------------------
def moto_parts() -> types.SimpleNamespace:
    """moto's private modules and classes the seams patch or read."""
    from moto.awslambda import models as lambda_models
    from moto.cloudformation import custom_model, parsing
    from moto.cloudformation import models as cloudformation_models
    from moto.core import models as core_models
    from moto.core import parse as core_parse
    from moto.core import request as core_request
    from moto.core import routing as core_routing
    from moto.core.common_models import CloudFormationModel
    from moto.events import models as events_models
    from moto.logs import models as logs_models
    from moto.logs import responses as logs_responses
    from moto.s3 import notifications as s3_notifications
    from moto.s3 import responses as s3_responses
    from moto.sagemaker import models as sagemaker_models
    from moto.sagemaker import responses as sagemaker_responses
    from moto.sagemakerruntime import responses as runtime_responses
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_aws_sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.parse import asl_parser, preprocessor
    from moto.stepfunctions.parser.asl.utils import boto_client

    parts = types.SimpleNamespace(
        custom_model=custom_model,
        lambda_models=lambda_models,
        parsing=parsing,
        CloudFormationModel=CloudFormationModel,
        events_models=events_models,
        s3_notifications=s3_notifications,
        s3_responses=s3_responses,
        sagemaker_models=sagemaker_models,
        sagemaker_responses=sagemaker_responses,
        runtime_responses=runtime_responses,
        retrier_decl=retrier_decl,
        lambda_eval_utils=lambda_eval_utils,
        state_task_service=state_task_service,
        state_task_service_aws_sdk=state_task_service_aws_sdk,
        WaitFunction=WaitFunction,
        asl_parser=asl_parser,
        preprocessor=preprocessor,
        boto_client=boto_client,
        cloudformation_models=cloudformation_models,
        core_models=core_models,
        core_parse=core_parse,
        core_request=core_request,
        core_routing=core_routing,
        logs_models=logs_models,
        logs_responses=logs_responses,
    )
    expected = [
        (cloudformation_models.CloudFormationBackend, "delete_stack"),
        (core_models, "botocore_stubber"),
        (core_models.botocore_stubber, "process_request"),
        (core_parse, "PROTOCOL_PARSERS"),
        (core_request.Request, "from_primitives"),
        (core_request, "determine_request_protocol"),
        (core_routing, "get_service_router"),
        (logs_models.LogsBackend, "put_log_events"),
        (logs_models.LogsBackend, "filter_log_events"),
        (logs_responses.LogsResponse, "filter_log_events"),
        (logs_models.LogsBackend, "delete_log_group"),
        (logs_models.LogsBackend, "delete_log_stream"),
        (logs_models.LogsBackend, "ensure_log_group"),
        (logs_models.LogGroup, "create_log_stream"),
        (logs_models.LogStream, "put_log_events"),
        (sagemaker_models.SageMakerModelBackend, "create_model_package"),
        (sagemaker_models.SageMakerModelBackend, "describe_model_package_group"),
        (custom_model.CustomModel, "create_from_cloudformation_json"),
        (custom_model.CustomModel, "update_from_cloudformation_json"),
        (lambda_models.LambdaFunction, "update_from_cloudformation_json"),
        (parsing, "generate_resource_name"),
        (parsing.ResourceMap, "build_resource_diff"),
        (parsing, "get_model_map"),
        (events_models.Rule, "send_to_targets"),
        (s3_notifications, "_send_event_bridge_message"),
        (s3_responses.S3Response, "put_object"),
        (sagemaker_models.SageMakerModelBackend, "create_endpoint"),
        (sagemaker_models.SageMakerModelBackend, "describe_endpoint"),
        (sagemaker_models.SageMakerModelBackend, "delete_endpoint"),
        (sagemaker_models.SageMakerModelBackend, "update_model_package"),
        (sagemaker_models.FakeEndpoint, "_process_production_variants"),
        (sagemaker_models.FakeProcessingJob, "response_object"),
        (runtime_responses.SageMakerRuntimeResponse, "invoke_endpoint"),
        (retrier_decl, "time"),
        (lambda_eval_utils, "execute_lambda_function_integration"),
        (lambda_eval_utils, "LambdaFunctionErrorException"),
        (state_task_service.StateTaskService, "_eval_execution"),
        (state_task_service_aws_sdk.StateTaskServiceAwsSdk, "_eval_service_task"),
        (WaitFunction, "_wait_interval"),
        (asl_parser.AmazonStateLanguageParser, "parse"),
        (preprocessor, "state_task_for"),
        (boto_client, "boto_client_for"),
    ]
    missing = [f"{getattr(o, '__name__', o)}.{a}" for o, a in expected if not hasattr(o, a)]
    if missing:
        raise RuntimeError(
            f"moto's internals moved ({', '.join(missing)}): stepwise pins moto 5.2.x (pyproject.toml)"
        )
    return parts


# ------------------------------------------------------------------------------------------------
# Install / uninstall
# ------------------------------------------------------------------------------------------------
def install(aws: EmbeddedAWS) -> None:
    """Patch moto for `aws`, the one embedded AWS of this process."""
    global _OWNER
    if _OWNER is not None and _OWNER is not aws:
        raise RuntimeError("another embedded AWS is already running in this process: close it first")
    _OWNER = aws
    if _ORIGINALS or _ADDED:
        return
    moto = moto_parts()
    _install_stepfunctions(moto)
    _install_cloudformation(moto)
    _install_events_and_s3(moto)
    _install_sagemaker(moto)
    _install_model_package_deletes(moto)
    _install_logs(moto)
    _install_stack_deletion(moto)


def uninstall(aws: EmbeddedAWS | None = None) -> None:
    """Give moto its own behaviour back. With `aws`: only if it is the owner (an embedded AWS that failed
    to start because another one runs must leave that one's seams in place)."""
    global _OWNER
    if aws is not None and _OWNER is not None and _OWNER is not aws:
        return
    for (target, name), value in _ORIGINALS.items():
        setattr(target, name, value)
    for target, name in _ADDED:
        if hasattr(target, name):
            delattr(target, name)
    _ORIGINALS.clear()
    _ADDED.clear()
    _PROGRAMS.clear()
    _forget_bucket_policy_model()
    with _CLIENTS_LOCK:
        _CLIENTS.clear()
    _OWNER = None


# ------------------------------------------------------------------------------------------------
# Step Functions
# ------------------------------------------------------------------------------------------------
_PROGRAMS: dict[tuple[str, frozenset[str]], Any] = {}
_PROGRAMS_LOCK = threading.Lock()


def _task_classes() -> tuple[type, type, Any]:
    """LocalServiceTask and JsonSafeAwsSdkTask (subclasses of moto's Task states) and ServiceResource."""
    import json as _json

    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ServiceResource
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    from stepwise.emulator.stepfunctions import Cancelled, TaskContext, TaskFailed, resource_key, to_json_safe

    class LocalServiceTask(StateTaskService):
        """A Task whose resource has a local handler (the Engine's). The handler runs to completion (a
        .sync job included) and its result is the task's result: moto's callback machinery is unused."""

        def _get_supported_parameters(self) -> set:
            return set()  # not None: moto then accepts the resource at create_state_machine

        def _get_sfn_resource(self) -> str:
            resource = super()._get_sfn_resource()
            return f"{resource}.{self.resource.condition}" if self.resource.condition else resource

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            key = resource_key(
                self.resource.service_name,
                self.resource.api_name,
                self.resource.api_action,
                self.resource.condition,
            )
            context = env.states.context_object.context_object_data
            ctx = TaskContext(
                state_name=context["State"]["Name"],
                execution_name=context["Execution"]["Name"],
                execution_arn=context["Execution"]["Id"],
                state_machine_arn=context["StateMachine"]["Id"],
                retry_count=int(context["State"].get("RetryCount", 0)),
                is_running=env.is_running,
            )
            try:
                result = owner().engine.services[key](normalised_parameters, ctx)
            except Cancelled:
                # the interpreter already decided the outcome (ABORTED, States.Timeout): don't override it
                result = {"Cancelled": True}
            env.stack.append(_json.loads(_json.dumps(to_json_safe(result))))

        def _from_error(self, env, ex: Exception):
            if isinstance(ex, (FailureEventException, TimeoutError)):
                return super()._from_error(env=env, ex=ex)
            if isinstance(ex, TaskFailed):
                error, cause = ex.error, ex.cause
            else:  # a handler bug: report it like a failed job, with the exception's last line
                error = "States.TaskFailed"
                cause = _json.dumps({"FailureReason": f"{type(ex).__name__}: {ex}"})
            error_name = (
                StatesErrorName.from_name(error) if error.startswith("States.") else CustomErrorName(error)
            )
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

    class JsonSafeAwsSdkTask(state_task_service_aws_sdk.StateTaskServiceAwsSdk):
        """moto's aws-sdk integration, with timestamps in the result as strings (as Step Functions
        returns them; a raw datetime breaks describe_execution)."""

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
            env.stack.append(to_json_safe(env.stack.pop()))

    return LocalServiceTask, JsonSafeAwsSdkTask, ServiceResource


def _install_stepfunctions(moto: types.SimpleNamespace) -> None:
    from stepwise.emulator.stepfunctions import resource_key

    local_task, sdk_task, service_resource = _task_classes()
    preprocessor = moto.preprocessor
    original_task_for = preprocessor.state_task_for

    def state_task_for(resource: Any) -> Any:
        if isinstance(resource, service_resource):
            key = resource_key(
                resource.service_name, resource.api_name, resource.api_action, resource.condition
            )
            if key in owner().engine.services:
                return local_task()
            if resource.service_name == "aws-sdk":
                return sdk_task()
        return original_task_for(resource)

    _patch(preprocessor, "state_task_for", state_task_for)

    original_eval_execution = moto.state_task_service.StateTaskService._eval_execution

    def eval_execution(self: Any, env: Any) -> None:
        with owner().principals.acting_as(owner().state_machine_role(env)):
            original_eval_execution(self, env)

    _patch(moto.state_task_service.StateTaskService, "_eval_execution", eval_execution)

    lambda_eval_utils = moto.lambda_eval_utils

    def execute_lambda_function_integration(
        env: Any, parameters: dict, region: str, state_credentials: Any
    ) -> None:
        """A Lambda Task: InvokeFunction as the state machine's role, the function run by the owner."""
        from stepwise.emulator.stepfunctions import TaskFailed

        aws = owner()
        try:
            response = aws.invoke_for_state_machine(aws.state_machine_role(env), parameters)
        except TaskFailed as failure:
            raise _lambda_failure(env, failure.error, failure.cause) from None
        if response.get("FunctionError"):
            payload = json.dumps(response["Payload"], separators=(",", ":"))
            raise lambda_eval_utils.LambdaFunctionErrorException(response["FunctionError"], payload)
        env.stack.append(
            {
                "StatusCode": response["StatusCode"],
                "ExecutedVersion": "$LATEST",
                "Payload": response["Payload"],
            }
        )

    _patch(lambda_eval_utils, "execute_lambda_function_integration", execute_lambda_function_integration)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        owner().clock.wait(wait_seconds, is_running=env.is_running)

    _patch(moto.WaitFunction, "_wait_interval", wait_interval)
    _patch(
        moto.retrier_decl,
        "time",
        types.SimpleNamespace(sleep=lambda seconds: owner().clock.retry_sleep(seconds), time=_now),
    )

    original_parse = moto.asl_parser.AmazonStateLanguageParser.parse

    def parse_once(definition: str) -> Any:
        key = (definition, frozenset(owner().engine.services))
        with _PROGRAMS_LOCK:  # held while parsing: two executions starting together parse once
            if key not in _PROGRAMS:
                _PROGRAMS[key] = original_parse(definition)
            return _PROGRAMS[key]

    _patch(moto.asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse_once))

    original_client_for = moto.boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with _CLIENTS_LOCK:
            key = (region, service)
            if key not in _CLIENTS:
                _CLIENTS[key] = original_client_for(region, service, state_credentials)
            return _CLIENTS[key]

    _patch(moto.boto_client, "boto_client_for", boto_client_for)

    # moto's CloudFormation creates AWS::StepFunctions::StateMachine in the plain Step Functions backend,
    # while the API (with execution on) answers from the interpreter's: point the first at the second
    # (moto's API module imports the name: imported first, it keeps the plain backends after uninstall)
    from moto.stepfunctions import models as sfn_models
    from moto.stepfunctions import responses as _sfn_responses  # noqa: F401
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    _patch(sfn_models, "stepfunctions_backends", stepfunctions_parser_backends)
    # the aws-sdk task module imported the function by name
    _patch(moto.state_task_service_aws_sdk, "boto_client_for", boto_client_for)


def _lambda_failure(env: Any, error: str, cause: str) -> Exception:
    """A Lambda Task's failure as Step Functions reports one (LambdaFunctionFailed, the error name that
    Retry/Catch match): for a refused invocation (Lambda.AWSLambdaException...)."""
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    event = FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.LambdaFunctionFailed,
        event_details=EventDetails(
            lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)
        ),
    )
    return FailureEventException(failure_event=event)


def _now() -> float:
    import time

    return time.time()


# ------------------------------------------------------------------------------------------------
# CloudFormation
# ------------------------------------------------------------------------------------------------
def _install_cloudformation(moto: types.SimpleNamespace) -> None:
    custom_model = moto.custom_model

    def create_custom_resource(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = _json_safe_properties(cloudformation_json.get("Properties") or {})
        resource = custom_model.CustomModel(region_name, "", kwargs["LogicalId"], resource_name)
        # what an Update needs later and moto's update call does not pass
        resource.stepwise_request = {
            "resource_type": kwargs["ResourceType"],
            "stack_id": kwargs["StackId"],
            "properties": properties,
        }
        request = resource.stepwise_request
        physical_id, data = owner().run_custom_resource(logical_id=kwargs["LogicalId"], **request)
        resource.resource_name = physical_id
        resource.set_data(data)
        return resource

    def update_custom_resource(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict,
        account_id: str,
        region_name: str,
    ) -> Any:
        """A custom resource whose properties changed gets CloudFormation's Update: its function runs
        with the physical id and the old properties (moto's CustomModel cannot update: the change was
        lost and the resource left None)."""
        previous = original_resource.stepwise_request
        properties = _json_safe_properties(cloudformation_json.get("Properties") or {})
        physical_id, data = owner().run_custom_resource(
            logical_id=original_resource.logical_id,
            resource_type=previous["resource_type"],
            stack_id=previous["stack_id"],
            properties=properties,
            request_type="Update",
            physical_id=original_resource.resource_name,
            old_properties=previous["properties"],
        )
        original_resource.stepwise_request = {**previous, "properties": properties}
        original_resource.resource_name = physical_id
        original_resource.set_data(data)
        return original_resource

    _patch(custom_model.CustomModel, "create_from_cloudformation_json", classmethod(create_custom_resource))
    _patch(custom_model.CustomModel, "update_from_cloudformation_json", classmethod(update_custom_resource))

    # CloudFormation updates a resource whose properties use a custom resource that was updated (the
    # function's answer may differ: a new code prefix); moto diffs the unresolved JSON, so it would keep
    # the old values (the state machine would still read the old processing code)
    original_diff = moto.parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other_template: dict, parameters: dict | None = None) -> dict:
        actions = original_diff(self, other_template, parameters)
        new = other_template["Resources"]
        updated = {name for name in actions["Modify"] if _is_custom_resource(new[name].get("Type", ""))}
        for name, resource in new.items():
            if name in actions["Modify"] or name not in self._resource_json_map:
                continue
            if updated & _referenced_resources(resource.get("Properties") or {}):
                actions["Modify"].append(name)
        return actions

    _patch(moto.parsing.ResourceMap, "build_resource_diff", build_resource_diff)

    # moto's Lambda update applies a function's Layers, which a !Ref of a layer version hands over as
    # the object (its create ignores them): give it the ARNs CloudFormation would
    lambda_function = moto.lambda_models.LambdaFunction
    original_function_update = lambda_function.update_from_cloudformation_json.__func__

    def update_function(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict,
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        if "Layers" in properties:
            layers = _json_safe_properties(properties["Layers"])
            cloudformation_json = {**cloudformation_json, "Properties": {**properties, "Layers": layers}}
        return original_function_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )

    _patch(lambda_function, "update_from_cloudformation_json", classmethod(update_function))

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        """moto's naming of a resource without an explicit name, with a stable suffix instead of a
        random one (AWS: `<stack>-<logical id>-<random 12>`; buckets lower case, at most 63)."""
        suffix = owner().physical_suffix(stack_name, logical_id)
        if resource_type == "AWS::S3::Bucket":
            right = f"-{logical_id}-{suffix}"
            return f"{stack_name[: 63 - len(right)]}{right}".lower()
        if resource_type == "AWS::IAM::Policy":
            return f"{stack_name[:5]}-{logical_id[:4]}-{suffix}"
        return f"{stack_name}-{logical_id}-{suffix}"

    _patch(moto.parsing, "generate_resource_name", generate_resource_name)

    global _BUCKET_POLICY_MODEL
    # moto's CloudFormation finds its models among CloudFormationModel's subclasses (cached): defining
    # the class registers it; uninstall() drops the last reference to it and clears the cache again
    _BUCKET_POLICY_MODEL = _bucket_policy_model(moto)
    moto.parsing.get_model_map.cache_clear()


_BUCKET_POLICY_MODEL: type | None = None


def _forget_bucket_policy_model() -> None:
    global _BUCKET_POLICY_MODEL
    if _BUCKET_POLICY_MODEL is None:
        return
    import gc

    from moto.cloudformation import parsing

    _BUCKET_POLICY_MODEL = None
    gc.collect()  # __subclasses__() holds weak references: the class goes once unreferenced
    parsing.get_model_map.cache_clear()


def _is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def _referenced_resources(value: Any) -> set[str]:
    """The logical ids a template fragment refers to: Ref, Fn::GetAtt and ${X} / ${X.Attr} of Fn::Sub
    (parameters and pseudo parameters come along: callers intersect with resource names)."""
    if isinstance(value, list):
        return set().union(*(_referenced_resources(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found.add(item)
        elif key == "Fn::GetAtt":
            target = item[0] if isinstance(item, list) else str(item).split(".")[0]
            found.add(str(target))
        elif key == "Fn::Sub":
            text = item[0] if isinstance(item, list) else item
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", str(text))}
            if isinstance(item, list):
                found |= _referenced_resources(item[1:])
        else:
            found |= _referenced_resources(item)
    return found


def _json_safe_properties(value: Any) -> Any:
    """A custom resource's properties as CloudFormation sends them: strings and plain JSON. moto hands
    a !Ref of some resources (a Lambda LayerVersion) over as the object: send its ARN."""
    if isinstance(value, dict):
        return {key: _json_safe_properties(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe_properties(item) for item in value]
    if isinstance(value, bool):  # CloudFormation sends every scalar property as a string
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) or value is None:
        return value
    for attribute in ("arn", "physical_resource_id"):
        if isinstance(getattr(value, attribute, None), str):
            return getattr(value, attribute)
    return str(value)


def _bucket_policy_model(moto: types.SimpleNamespace) -> type:
    """AWS::S3::BucketPolicy for moto's CloudFormation: PutBucketPolicy on the bucket."""
    base = moto.CloudFormationModel

    class BucketPolicy(base):  # type: ignore[misc, valid-type]
        def __init__(self, bucket: str, document: dict) -> None:
            self.bucket = bucket
            self.document = document

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        def delete(self, account_id: str, region_name: str) -> None:
            """DeleteStack: the policy goes (moto calls this on a created resource's model)."""
            import contextlib

            from moto.s3.models import s3_backends

            with contextlib.suppress(Exception):  # the bucket is gone already
                s3_backends[account_id]["aws"].delete_bucket_policy(self.bucket)

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.bucket

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls,
            resource_name: str,
            cloudformation_json: dict,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> BucketPolicy:
            from moto.s3.models import s3_backends

            properties = cloudformation_json["Properties"]
            bucket = properties["Bucket"]
            name = bucket if isinstance(bucket, str) else bucket.name
            document = properties["PolicyDocument"]
            s3_backends[account_id]["aws"].put_bucket_policy(name, json.dumps(document).encode())
            return cls(name, document)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict,
            account_id: str,
            region_name: str,
        ) -> BucketPolicy:
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: dict, account_id: str, region_name: str
        ) -> None:
            import contextlib

            from moto.s3.models import s3_backends

            bucket = cloudformation_json["Properties"]["Bucket"]
            name = bucket if isinstance(bucket, str) else getattr(bucket, "name", None)
            if name is None:  # an unresolved Ref: the model's delete() has done it
                return
            with contextlib.suppress(Exception):  # the bucket is gone already
                s3_backends[account_id]["aws"].delete_bucket_policy(name)

    return BucketPolicy


# ------------------------------------------------------------------------------------------------
# EventBridge and S3
# ------------------------------------------------------------------------------------------------
def _install_events_and_s3(moto: types.SimpleNamespace) -> None:
    def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        owner().eventbridge.s3_notification(bucket.name, key, event_name)

    _patch(moto.s3_notifications, "_send_event_bridge_message", send_event_bridge_message)

    original_send = moto.events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: dict, transform_input: bool = True) -> None:
        if any(str(target.get("Arn", "")).startswith("arn:aws:states:") for target in self.targets):
            owner().eventbridge.deliver_to_rule(self, original_event)
            return
        original_send(self, original_event, transform_input)

    _patch(moto.events_models.Rule, "send_to_targets", send_to_targets)

    original_put = moto.s3_responses.S3Response.put_object

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.headers.get("If-None-Match") or self.headers.get("If-Match"):
            with _S3_WRITE_LOCK:  # S3 checks and writes atomically; moto checks, then writes
                return original_put(self, *args, **kwargs)
        return original_put(self, *args, **kwargs)

    _patch(moto.s3_responses.S3Response, "put_object", put_object)

    from moto.s3.models import S3Backend

    original_backend_put = S3Backend.put_object
    original_backend_delete = S3Backend.delete_object

    def backend_put_object(
        self: Any, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any
    ) -> Any:
        key = original_backend_put(self, bucket_name, key_name, value, *args, **kwargs)
        owner().journal_object(bucket_name, key)
        return key

    def backend_delete_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        result = original_backend_delete(self, bucket_name, key_name, *args, **kwargs)
        # a versioned bucket: deleting one version (or adding a delete marker) leaves the key's current
        # version, if any, as what a GET returns: that is what the journal must say
        bucket = self.buckets.get(bucket_name)
        current = bucket.keys.get(key_name) if bucket is not None else None
        if current is not None and hasattr(current, "value"):
            owner().journal_object(bucket_name, current)
        else:
            owner().journal_object(bucket_name, key_name, deleted=True)
        return result

    _patch(S3Backend, "put_object", backend_put_object)
    _patch(S3Backend, "delete_object", backend_delete_object)

    # moto checks bucket policies itself with its own evaluator, which treats the template's
    # `Bool aws:SecureTransport "false"` Deny as always true (every object request a 403); the gate
    # (stepwise/emulator/enforcement.py) evaluates bucket policies as AWS does instead.
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    _patch(FakeBucket, "get_permission", lambda self, action, resource: PermissionResult.NEUTRAL)

    # moto's CloudFormation applies only BucketEncryption and Tags of an AWS::S3::Bucket: apply the
    # properties that change what the bucket does (versioning, EventBridge notifications, public access
    # block, object ownership) with the S3 backend's own methods.
    original_bucket_create = FakeBucket.create_from_cloudformation_json.__func__

    def create_bucket(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        bucket = original_bucket_create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        _apply_bucket_properties(bucket, cloudformation_json.get("Properties") or {}, account_id)
        return bucket

    _patch(FakeBucket, "create_from_cloudformation_json", classmethod(create_bucket))


# ------------------------------------------------------------------------------------------------
# SageMaker
# ------------------------------------------------------------------------------------------------
def _install_sagemaker(moto: types.SimpleNamespace) -> None:
    backend = moto.sagemaker_models.SageMakerModelBackend
    endpoints = lambda: owner().endpoints  # noqa: E731 (resolved per call: the owner may change)

    original_create = backend.create_endpoint
    original_describe = backend.describe_endpoint
    original_delete = backend.delete_endpoint

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            raise _validation_error(
                f'Cannot create already existing endpoint "{_endpoint_arn(self, endpoint_name)}".'
            )
        endpoint = original_create(self, endpoint_name, endpoint_config_name, tags)
        endpoint.endpoint_status = "Creating"
        endpoints().deploy(self, endpoint, endpoint_config_name, rolling_back_to=None)
        return endpoint

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, **_: Any) -> Any:
        from moto.core.utils import utcnow
        from moto.sagemaker.models import FakeEndpointConfig

        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise _validation_error(f"Could not find endpoint '{_endpoint_arn(self, endpoint_name)}'.")
        if endpoint_config_name not in self.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise _validation_error(f"Could not find endpoint configuration '{arn}'.")
        with endpoints().lock:
            if endpoint.endpoint_status == "Failed":
                raise _validation_error(
                    f'Cannot update failed endpoint "{endpoint.arn}": delete it and create it again.'
                )
            if endpoint.endpoint_status != "InService":
                raise _validation_error(
                    f'Cannot update in-progress endpoint "{endpoint.arn}" '
                    f"(status {endpoint.endpoint_status})."
                )
            endpoint.endpoint_status = "Updating"
            endpoint.failure_reason = None
            endpoint.pending_deployment_summary = {
                "EndpointConfigName": endpoint_config_name,
                "StartTime": utcnow(),
            }
            endpoint.last_modified_time = utcnow()
        endpoints().deploy(
            self, endpoint, endpoint_config_name, rolling_back_to=endpoint.endpoint_config_name
        )
        return endpoint

    def update_endpoint_response(self: Any) -> Any:
        from moto.core.responses import ActionResult

        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    def describe_endpoint(self: Any, endpoint_name: str) -> dict[str, Any]:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is not None:
            endpoints().refresh_status(endpoint)
        return original_describe(self, endpoint_name)

    def delete_endpoint(self: Any, endpoint_name: str) -> None:
        original_delete(self, endpoint_name)
        endpoints().stop(endpoint_name)

    _patch(backend, "create_endpoint", create_endpoint)
    _patch(backend, "update_endpoint", update_endpoint)
    _patch(moto.sagemaker_responses.SageMakerResponse, "update_endpoint", update_endpoint_response)
    _patch(backend, "describe_endpoint", describe_endpoint)
    _patch(backend, "delete_endpoint", delete_endpoint)

    def invoke_endpoint_response(self: Any) -> tuple[int, dict[str, str], bytes]:
        from urllib.parse import unquote

        from moto.sagemaker.models import sagemaker_backends

        name = unquote(self.path.split("/")[2])
        sagemaker = sagemaker_backends[self.current_account][self.region]
        body = self.raw_body or b""
        body = body.encode() if isinstance(body, str) else body
        status, headers, payload = endpoints().invoke(
            sagemaker.endpoints.get(name),
            name,
            body,
            self.headers.get("Content-Type"),
            self.headers.get("Accept"),
            account=self.current_account,
        )
        return status, {**headers, "status": str(status)}, payload  # moto reads the status from this header

    _patch(moto.runtime_responses.SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint_response)

    original_update_package = backend.update_model_package

    def update_model_package(self: Any, model_package_arn: str, *args: Any, **kwargs: Any) -> str:
        """AWS adds the given CustomerMetadataProperties to the package's and keeps ApprovalDescription and
        ModelApprovalStatus unless given; moto 5.2 replaces them (an approval erased the lineage
        register_model wrote; a metadata-only update, the approval status).
        SageMaker then sends a state change event when the approval status changed."""
        names = (
            "model_approval_status",
            "approval_description",
            "customer_metadata_properties",
            "customer_metadata_properties_to_remove",
            "additional_inference_specifications_to_add",
        )
        arguments = {**dict(zip(names, args, strict=False)), **kwargs}
        name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(name)
        before = getattr(package, "model_approval_status", None)
        if package is not None:
            arguments["customer_metadata_properties"] = {
                **(package.customer_metadata_properties or {}),
                **(arguments.get("customer_metadata_properties") or {}),
            } or None
            if arguments.get("approval_description") is None:
                arguments["approval_description"] = package.approval_description
            if arguments.get("model_approval_status") is None:  # moto would erase it
                arguments["model_approval_status"] = package.model_approval_status
        arn = original_update_package(self, model_package_arn, **arguments)
        status = arguments.get("model_approval_status")
        if status is not None and status != before:
            _package_changed(self, arn)
        return arn

    _patch(backend, "update_model_package", update_model_package)

    original_create_package = backend.create_model_package

    def create_model_package(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = original_create_package(self, *args, **kwargs)
        _package_changed(self, arn)
        return arn

    _patch(backend, "create_model_package", create_model_package)


def _apply_bucket_properties(bucket: Any, properties: dict, account_id: str) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["aws"]
    versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        backend.put_bucket_versioning(bucket.name, versioning)
    notifications = properties.get("NotificationConfiguration") or {}
    if "EventBridgeConfiguration" in notifications:
        enabled = notifications["EventBridgeConfiguration"].get("EventBridgeEnabled")
        if str(enabled).lower() == "true":
            bucket.set_notification_configuration({"EventBridgeConfiguration": {}})
    block = properties.get("PublicAccessBlockConfiguration")
    if block:
        backend.put_public_access_block(bucket.name, {k: str(v).lower() for k, v in block.items()})
    ownership = properties.get("OwnershipControls")
    if ownership:
        backend.put_bucket_ownership_controls(bucket.name, ownership)


def _package_changed(backend: Any, arn: str) -> None:
    """SageMaker's "Model Package State Change" event, to EventBridge (after the call's own work)."""
    from stepwise.emulator.eventbridge import model_package_event

    aws = owner()
    if aws._restoring:
        return
    name = backend.model_package_name_mapping.get(arn, arn)
    package = backend.model_packages.get(name)
    if package is None:
        return
    described = package.gen_response_object()
    described["ModelPackageArn"] = package.arn
    aws.eventbridge.publish(model_package_event(described, account=aws.account_id, region=aws.region))


def _validation_error(message: str) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)


def _endpoint_arn(backend: Any, name: str) -> str:
    from moto.sagemaker.models import FakeEndpoint

    return FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)


# ------------------------------------------------------------------------------------------------
# Reading and writing moto's records directly (no API exists for these)
# ------------------------------------------------------------------------------------------------
def sagemaker_backend(account_id: str, region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id][region]


def finish_processing_job(account_id: str, region: str, name: str, result: dict[str, Any]) -> None:
    """Give moto's record of a processing job the outcome the local run had (moto marks every job
    Completed at creation)."""
    from moto.core.utils import utcnow

    job = sagemaker_backend(account_id, region).processing_jobs.get(name)
    if job is None:
        return
    job.processing_job_status = result.get("ProcessingJobStatus", "Completed")
    job.processing_end_time = utcnow()
    job.last_modified_time = job.processing_end_time
    for key, attribute in (("FailureReason", "failure_reason"), ("ExitMessage", "exit_message")):
        if result.get(key):
            setattr(job, attribute, result[key])


def finish_training_job(account_id: str, region: str, name: str, result: dict[str, Any]) -> None:
    """Give moto's record of a training job the outcome (status, model artifact, metrics)."""
    from moto.core.utils import utcnow

    job = sagemaker_backend(account_id, region).training_jobs.get(name)
    if job is None:
        return
    job.training_job_status = result.get("TrainingJobStatus", "Completed")
    job.secondary_status = result.get("SecondaryStatus", job.training_job_status)
    job.training_end_time = utcnow()
    job.last_modified_time = job.training_end_time
    if result.get("ModelArtifacts"):
        job.model_artifacts = result["ModelArtifacts"]
    if result.get("FailureReason"):
        job.failure_reason = result["FailureReason"]
    if result.get("FinalMetricDataList"):
        job.final_metric_data_list = result["FinalMetricDataList"]


def endpoint_model_data(backend: Any, endpoint_config_name: str) -> tuple[str, str, str, str]:
    """(variant name, ModelDataUrl, model's ExecutionRoleArn, image) of an endpoint config's first variant."""
    config = backend.endpoint_configs[endpoint_config_name]
    variant = config.production_variants[0]
    model = backend._models.get(variant["ModelName"])
    if model is None:
        raise LookupError(f"model {variant['ModelName']} of endpoint config {endpoint_config_name} is gone")
    container = model.primary_container or (model.containers[0] if model.containers else {})
    url = (container or {}).get("ModelDataUrl")
    if not url:
        raise LookupError(f"model {variant['ModelName']} has no ModelDataUrl: nothing to serve")
    return variant.get("VariantName", "AllTraffic"), url, model.execution_role_arn, container.get("Image", "")


def set_endpoint_serving(backend: Any, endpoint: Any, config_name: str) -> None:
    """Mark `endpoint` InService on `config_name` (its variants from that config)."""
    from moto.core.utils import utcnow

    config = backend.endpoint_configs[config_name]
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.pending_deployment_summary = None
    endpoint.failure_reason = None
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()


def execution_status(account_id: str, region: str, execution_arn: str) -> str | None:
    """The status moto's interpreter holds for an execution (RUNNING, SUCCEEDED...), None when it
    knows no such execution: a cheap look, without DescribeExecution's serialization."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account_id][region]
    for execution in backend._get_executions():
        if execution.exec_arn == execution_arn:
            return getattr(execution.exec_status, "value", None) or "RUNNING"
    return None


def set_endpoint_deploying(endpoint: Any, config_name: str, *, updating: bool) -> None:
    """Mark `endpoint` Creating, or Updating towards `config_name`, as CreateEndpoint/UpdateEndpoint do."""
    from moto.core.utils import utcnow

    endpoint.endpoint_status = "Updating" if updating else "Creating"
    endpoint.failure_reason = None
    endpoint.pending_deployment_summary = (
        {"EndpointConfigName": config_name, "StartTime": utcnow()} if updating else None
    )
    endpoint.last_modified_time = utcnow()


def set_endpoint_failed(endpoint: Any, reason: str, *, rolled_back: bool) -> None:
    """An endpoint whose model server could not start: Failed, or InService on its old config with the
    reason when an update rolled back."""
    from moto.core.utils import utcnow

    endpoint.last_modified_time = utcnow()
    endpoint.pending_deployment_summary = None
    endpoint.endpoint_status = "InService" if rolled_back else "Failed"
    endpoint.failure_reason = reason


def endpoint_backend_is(backend: Any, name: str, endpoint: Any) -> bool:
    return backend.endpoints.get(name) is endpoint


def sagemaker_implements(action: str) -> bool:
    """Does moto's SageMaker implement this API action (createModel -> create_model)?"""
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    return callable(getattr(SageMakerResponse, camel_to_snake_case(action), None))


def role_policies(account_id: str) -> list[tuple[str, list[dict], dict]]:
    """(role ARN, identity policy documents, trust policy) of every role of the emulated IAM. AWS managed
    policies attached to a role (AWSLambdaBasicExecutionRole) are read from moto's copy of them."""
    from urllib.parse import unquote

    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["global"]
    managed = _aws_managed_documents()
    roles = []
    for role in backend.roles.values():
        documents = [_as_document(document) for document in role.policies.values()]
        for arn, policy in role.managed_policies.items():
            document = getattr(policy, "document", None)
            if document is None and arn in managed:
                document = managed[arn]
            elif document is None:
                versions = [v for v in getattr(policy, "versions", []) if v.is_default]
                document = versions[0].document if versions else None
            if document is not None:
                documents.append(_as_document(document))
        trust = _as_document(
            unquote(role.assume_role_policy_document)
            if isinstance(role.assume_role_policy_document, str)
            else role.assume_role_policy_document
        )
        roles.append((role.arn, documents, trust))
    return roles


_MANAGED: dict[str, dict] | None = None


def _aws_managed_documents() -> dict[str, dict]:
    """AWS managed policies by ARN (moto's copy: arn:aws:iam::aws:policy/<path><name>)."""
    global _MANAGED
    if _MANAGED is None:
        from moto.iam.aws_managed_policies import aws_managed_policies_data

        data = json.loads(aws_managed_policies_data)
        _MANAGED = {f"arn:aws:iam::aws:policy{p['Path']}{name}": p["Document"] for name, p in data.items()}
    return _MANAGED


def _as_document(document: Any) -> dict:
    if isinstance(document, dict):
        return document
    return json.loads(document)


def bucket_policies(account_id: str) -> list[tuple[str, dict]]:
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["aws"]
    return [(name, json.loads(bucket.policy)) for name, bucket in backend.buckets.items() if bucket.policy]


def object_exists(account_id: str, bucket: str, key: str) -> bool:
    from moto.s3.models import s3_backends

    found = s3_backends[account_id]["aws"].buckets.get(bucket)
    return found is not None and key in found.keys


def put_object_quietly(
    account_id: str, bucket: str, key: str, data: bytes, content_type: str | None, metadata: dict
) -> None:
    """Put an object back as it was (restoring a state folder): no notification, no new event."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["aws"]
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, "us-east-1")
    stored = _original(type(backend), "put_object")(backend, bucket, key, data, disable_notification=True)
    if content_type:
        stored.set_metadata({"Content-Type": content_type})
    if metadata:
        stored.set_metadata(metadata)


def restore_endpoint(account_id: str, region: str, request: dict) -> None:
    """CreateEndpoint / UpdateEndpoint replayed: the endpoint InService on that config, no deploy."""
    backend = sagemaker_backend(account_id, region)
    name, config = request["EndpointName"], request["EndpointConfigName"]
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        endpoint = _original(type(backend), "create_endpoint")(backend, name, config, request.get("Tags", []))
    if config in backend.endpoint_configs:
        set_endpoint_serving(backend, endpoint, config)


# ------------------------------------------------------------------------------------------------
# SageMaker: DeleteModelPackage, DeleteModelPackageGroup
# ------------------------------------------------------------------------------------------------
def _install_model_package_deletes(moto: types.SimpleNamespace) -> None:
    """The two calls moto 5.2 lacks, with AWS's answers: an unknown package or group is a
    ValidationException, a group that still holds packages a ConflictException. moto numbers a new
    version by counting the group's packages: Stepwise deletes packages only to delete their group."""
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import ConflictException

    backend = moto.sagemaker_models.SageMakerModelBackend
    responses = moto.sagemaker_responses.SageMakerResponse

    def delete_model_package(self: Any, model_package_name: str) -> None:
        key = self.model_package_name_mapping.get(model_package_name, model_package_name)
        package = self.model_packages.get(key)
        if package is None:
            raise _validation_error(f"ModelPackage {model_package_name} does not exist.")
        del self.model_packages[key]
        for name, target in list(self.model_package_name_mapping.items()):
            if target == key:
                del self.model_package_name_mapping[name]

    def delete_model_package_group(self: Any, model_package_group_name: str) -> None:
        name = model_package_group_name.rsplit("/", 1)[-1]
        group = self.describe_model_package_group(name)  # ValidationError when it does not exist
        if any(p.model_package_group_name == name for p in self.model_packages.values()):
            raise ConflictException(
                f"Model Package Group {group.arn} still contains model packages: delete them first."
            )
        del self.model_package_groups[name]

    def delete_model_package_response(self: Any) -> Any:
        self.sagemaker_backend.delete_model_package(self._get_param("ModelPackageName"))
        return EmptyResult()

    def delete_model_package_group_response(self: Any) -> Any:
        self.sagemaker_backend.delete_model_package_group(self._get_param("ModelPackageGroupName"))
        return EmptyResult()

    _patch(backend, "delete_model_package", delete_model_package)
    _patch(backend, "delete_model_package_group", delete_model_package_group)
    _patch(responses, "delete_model_package", delete_model_package_response)
    _patch(responses, "delete_model_package_group", delete_model_package_group_response)


# ------------------------------------------------------------------------------------------------
# CloudWatch Logs: journaled, restored
# ------------------------------------------------------------------------------------------------
def _install_logs(moto: types.SimpleNamespace) -> None:
    backend = moto.logs_models.LogsBackend
    original_put = backend.put_log_events
    original_delete_group = backend.delete_log_group
    original_delete_stream = backend.delete_log_stream

    def put_log_events(self: Any, log_group_name: str, log_stream_name: str, log_events: list) -> Any:
        result = original_put(self, log_group_name, log_stream_name, log_events)
        owner().journal_logs(
            log_group_name, log_stream_name, [(e["timestamp"], e["message"]) for e in log_events]
        )
        return result

    def delete_log_group(self: Any, log_group_name: str) -> None:
        original_delete_group(self, log_group_name)
        owner().journal_logs_deleted(log_group_name, None)

    def delete_log_stream(self: Any, log_group_name: str, log_stream_name: str) -> None:
        original_delete_stream(self, log_group_name, log_stream_name)
        owner().journal_logs_deleted(log_group_name, log_stream_name)

    _patch(backend, "put_log_events", put_log_events)
    _patch(backend, "delete_log_group", delete_log_group)
    _patch(backend, "delete_log_stream", delete_log_stream)

    def filter_log_events_response(self: Any) -> str:
        """FilterLogEvents with logStreamNamePrefix, which moto ignores (it answers every stream)."""
        group_name = self._get_param("logGroupName")
        names = self._get_param("logStreamNames", [])
        prefix = self._get_param("logStreamNamePrefix")
        if prefix and not names:
            group = self.logs_backend.groups.get(group_name)
            names = [name for name in (group.streams if group else {}) if name.startswith(prefix)]
            if not names:
                return json.dumps({"events": [], "searchedLogStreams": []})
        events, next_token, searched = self.logs_backend.filter_log_events(
            group_name,
            names,
            self._get_param("startTime"),
            self._get_param("endTime"),
            self._get_param("limit"),
            self._get_param("nextToken"),
            self._get_param("filterPattern"),
            self._get_param("interleaved", False),
        )
        return json.dumps({"events": events, "nextToken": next_token, "searchedLogStreams": searched})

    _patch(moto.logs_responses.LogsResponse, "filter_log_events", filter_log_events_response)


def put_log_events_quietly(account_id: str, region: str, group: str, stream: str, events: list) -> None:
    """Put log events back as they were (`(timestamp, message)`, any age: CloudWatch Logs' PutLogEvents
    refuses events older than 14 days), without journaling them again."""
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region]
    backend.ensure_log_group(group)
    log_group = backend.groups[group]
    if stream not in log_group.streams:
        log_group.create_log_stream(stream)
    log_group.streams[stream].put_log_events(
        [{"timestamp": timestamp, "message": message} for timestamp, message in events]
    )


# ------------------------------------------------------------------------------------------------
# CloudFormation: DeleteStack
# ------------------------------------------------------------------------------------------------
def _install_stack_deletion(moto: types.SimpleNamespace) -> None:
    backend = moto.cloudformation_models.CloudFormationBackend
    original_delete = backend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        stack = next((s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)), None)
        if stack is None:
            return original_delete(self, name_or_stack_id)
        not_empty = [name for name in _stack_buckets(stack) if _bucket_holds_versions(self.account_id, name)]
        if not_empty:  # AWS deletes what it can and fails on the bucket; the stack stays
            stack.status = "DELETE_FAILED"
            stack.status_reason = (
                f"The following resource(s) failed to delete: [{', '.join(not_empty)}]. The bucket you "
                "tried to delete is not empty. You must delete all versions in the bucket."
            )
            return None
        layers = [r for r in stack.resource_map.values() if type(r).__name__ == "LayerVersion"]
        original_delete(self, stack.stack_id)  # by id: moto's delete by name calls itself by id
        _delete_layer_versions(self.account_id, self.region_name, layers)
        aws = _OWNER
        if aws is not None:
            aws.stack_deleted(stack.name)
        return None

    _patch(backend, "delete_stack", delete_stack)


def _delete_layer_versions(account_id: str, region: str, layers: list) -> None:
    """moto's DeleteStack leaves AWS::Lambda::LayerVersion resources; CloudFormation deletes them."""
    import contextlib

    from moto.awslambda.utils import get_backend  # moto's Lambda without Docker is another backend

    backend = get_backend(account_id, region)
    for layer in layers:
        with contextlib.suppress(Exception):  # deleted already
            backend.delete_layer_version(layer.name, str(layer.version))


def _stack_buckets(stack: Any) -> list[str]:
    buckets = []
    for resource in stack.resource_map.values():
        if type(resource).__name__ == "FakeBucket":
            buckets.append(resource.name)
    return buckets


def _bucket_holds_versions(account_id: str, name: str) -> bool:
    from moto.s3.models import s3_backends

    bucket = s3_backends[account_id]["aws"].buckets.get(name)
    return bucket is not None and bool(list(bucket.keys.iterlists()))


# ------------------------------------------------------------------------------------------------
# Step Functions: executions of earlier processes
# ------------------------------------------------------------------------------------------------
class RestoredExecution:
    """A finished execution put back from the state folder: what moto's Step Functions API reads of an
    execution (ListExecutions, DescribeExecution, GetExecutionHistory), from the stored description;
    the history is read from the store when asked for."""

    def __init__(self, described: dict, history: Any) -> None:
        from datetime import datetime

        def when(value: Any) -> Any:
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        self.name = described["name"]
        self.execution_arn = self.exec_arn = described["executionArn"]
        self.state_machine_arn = described["stateMachineArn"]
        self.start_date = when(described["startDate"])
        self.stop_date = when(described.get("stopDate"))
        status = described["status"]
        self.exec_status = status
        self.status = status if status != "RUNNING" else "ABORTED"  # its process ended
        if self.stop_date is None and self.status != "RUNNING":
            self.stop_date = self.start_date
        self.execution_input = described.get("input", "{}")
        self.output = described.get("output")
        self.output_details = described.get("outputDetails") or {"included": True}
        self.error = described.get("error")
        self.cause = described.get("cause")
        if status == "RUNNING":
            self.error, self.cause = "States.Runtime", "The stepwise process that ran this execution ended."
        self._history = history

    def to_history_output(self) -> dict:
        from datetime import datetime

        events = []
        for event in self._history():
            event = dict(event)
            if isinstance(event.get("timestamp"), str):
                event["timestamp"] = datetime.fromisoformat(event["timestamp"])
            events.append(event)
        return {"events": events}

    def get_execution_history(self, role_arn: str) -> list:
        return self.to_history_output()["events"]

    def stop(self, *args: Any, **kwargs: Any) -> None:
        return None


def restore_execution(account_id: str, region: str, described: dict, history: Any) -> bool:
    """Put a stored execution back into its state machine (when that exists and lacks it)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account_id][region]
    machine = next((m for m in backend.state_machines if m.arn == described["stateMachineArn"]), None)
    if machine is None or any(e.execution_arn == described["executionArn"] for e in machine.executions):
        return False
    machine.executions.append(RestoredExecution(described, history))
    return True


def delete_endpoint_quietly(account_id: str, region: str, name: str) -> None:
    """DeleteEndpoint replayed: moto's record goes, whatever serves now stays (a later CreateEndpoint
    of the same name, replayed after it, is what serves)."""
    backend = sagemaker_backend(account_id, region)
    if name in backend.endpoints:
        _original(type(backend), "delete_endpoint")(backend, name)


def sagemaker_resources_left(account_id: str, region: str) -> list[str]:
    """What the emulated SageMaker still holds of what the journal rebuilds (names), [] when nothing."""
    backend = sagemaker_backend(account_id, region)
    return [
        *backend.model_package_groups,
        *backend.model_packages,
        *backend._models,
        *backend.endpoint_configs,
        *backend.endpoints,
    ]


def invoke_endpoint(
    account_id: str, region: str, name: str, body: bytes, content_type: Any, accept: Any
) -> Any:
    """InvokeEndpoint as the emulated SageMaker runtime answers it: (status, headers, body)."""
    backend = sagemaker_backend(account_id, region)
    return owner().endpoints.invoke(
        backend.endpoints.get(name), name, body, content_type, accept, account=account_id
    )


# ------------------------------------------------------------------------------------------------
# Requests arriving over HTTP
# ------------------------------------------------------------------------------------------------
def http_operation(
    service: str, method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[str, dict] | None:
    """(operation name, parameters as a botocore client passes them) of a raw request to `service`
    (a botocore service name), found by moto's router and parser; None when moto cannot tell."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import Request, determine_request_protocol
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    try:
        request = Request.from_primitives(method, url, headers, body)
        service_model = get_service_model(service)
        operation, uri_params = get_service_router(service).match(request)
        protocol = determine_request_protocol(service_model, request.content_type)
        parser = PROTOCOL_PARSERS[protocol](service_model.operation_model(operation.name))
        params = parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": request.data,
                "url_path": request.path,
                "url_params": uri_params,
            }
        )
    except Exception:  # noqa: BLE001 (a request moto cannot route: moto answers it as it can)
        return None
    return str(operation.name), dict(params)


def dispatch_http(method: str, url: str, headers: dict[str, str], body: bytes) -> Any:
    """A raw request (its URL on AWS's domain) answered by moto's dispatcher, the one the process's
    botocore clients reach: (status, headers, body), or None when no service matches."""
    from botocore.awsrequest import AWSPreparedRequest
    from moto.core.models import botocore_stubber

    request = AWSPreparedRequest(method=method, url=url, headers=headers, body=body, stream_output=False)
    return botocore_stubber.process_request(request)


# ------------------------------------------------------------------------------------------------
# EventBridge's matcher, for code that decides without a rule (the template tests' sample events)
# ------------------------------------------------------------------------------------------------
def event_pattern_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Does `event` match the EventBridge `pattern`? moto's matcher, the one its EventBridge applies to
    rules (prefix, suffix, wildcard, anything-but, exists, numeric, $or...). A pattern PutRule would
    refuse raises moto's InvalidEventPatternException."""
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)
