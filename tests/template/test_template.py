"""template.yaml: what a deployment gets (bucket, rules, functions, logs) and IAM least privilege."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from template_support import REPO

from stepwise.emulator.cloudformation import load_template

# Actions that IAM cannot scope to a resource: the only ones allowed on Resource "*"
UNSCOPABLE = {
    "sagemaker:ListModelPackages",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
# every function the template declares (a hand-kept list missed one that was added later)
FUNCTIONS = sorted(
    logical_id
    for logical_id, resource in load_template(REPO / "template.yaml")["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
)


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource, statement) of every IAM policy statement in the template (roles and SAM functions)."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        policies = properties.get("Policies", [])
        for policy in policies if isinstance(policies, list) else [policies]:
            document = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
            for statement in document.get("Statement", []):
                yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_resource_where_iam_can_scope(template: dict[str, Any]) -> None:
    found = list(statements(template))
    assert len(found) > 20
    for logical_id, statement in found:
        if "*" in as_list(statement["Resource"]):
            broad = set(as_list(statement["Action"])) - UNSCOPABLE
            assert not broad, f"{logical_id} grants {sorted(broad)} on every resource"
        assert not any(action.split(":")[-1] == "*" for action in as_list(statement["Action"])), logical_id


def test_roles_can_pass_only_the_sagemaker_role_to_sagemaker(template: dict[str, Any]) -> None:
    passes = [(owner, s) for owner, s in statements(template) if "iam:PassRole" in as_list(s["Action"])]
    assert {owner for owner, _ in passes} == {"StateMachineRole", "DeployEndpointFunction"}
    for owner, statement in passes:
        assert statement["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}, owner
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }, owner


def test_the_state_machine_may_manage_the_rules_sync_jobs_need(template: dict[str, Any]) -> None:
    (rules,) = [
        s
        for owner, s in statements(template)
        if owner == "StateMachineRole" and "events:PutRule" in s["Action"]
    ]
    assert set(rules["Action"]) == {"events:PutTargets", "events:PutRule", "events:DescribeRule"}
    names = {resource["Fn::Sub"].rsplit("/", 1)[1] for resource in rules["Resource"]}
    assert names == {
        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
        "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
    }


def test_sagemaker_jobs_reach_only_the_pipeline_bucket(template: dict[str, Any]) -> None:
    s3 = [
        s
        for owner, s in statements(template)
        if owner == "SageMakerExecutionRole" and "s3:" in str(s["Action"])
    ]
    for statement in s3:
        for resource in as_list(statement["Resource"]):
            text = str(resource)
            assert "Bucket.Arn" in text or resource == {"Fn::GetAtt": ["Bucket", "Arn"]}, resource
    writes = [s for s in s3 if "s3:PutObject" in as_list(s["Action"])]
    assert [s["Resource"] for s in writes] == [{"Fn::Sub": "${Bucket.Arn}/runs/*"}]


def test_the_bucket_is_private_encrypted_versioned_and_tls_only(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    bucket = resources["Bucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert (
        all(bucket["PublicAccessBlockConfiguration"].values())
        and len(bucket["PublicAccessBlockConfiguration"]) == 4
    )
    (deny,) = resources["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any(isinstance(rule, dict) and rule.get("Prefix") == "runs/" for rule in rules)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_logs_to_its_own_group_with_retention(function: str, template: dict[str, Any]) -> None:
    properties = template["Resources"][function]["Properties"]
    log_group = template["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "Runtime" not in properties, "the runtime is set once, in Globals"


def test_python_runtime_set_once_and_supported(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"  # supported by Lambda until 2028-10
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            assert resource["Properties"]["CompatibleRuntimes"] == ["python3.12"]


def test_checkov_suppressions_give_reasons(template: dict[str, Any]) -> None:
    skips = [
        (logical_id, skip)
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for logical_id, skip in skips:
        assert skip["id"].startswith("CKV_") and len(skip.get("comment", "")) > 40, (logical_id, skip)
