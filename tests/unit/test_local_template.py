"""Local mode reads template.yaml like CloudFormation: short tags, intrinsic functions, SAM events."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from stepwise.local.template import TemplateError, load_template, resolve_stack

TEMPLATE = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Stage: {Type: String, Default: dev}
      Threshold: {Type: Number, Default: 0.7}
    Conditions:
      IsProd: !Equals [!Ref Stage, prod]
    Mappings:
      Images:
        us-east-1: {Xgboost: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1}
    Globals:
      Function:
        Environment:
          Variables: {SHARED: "yes"}
    Resources:
      Data:
        Type: AWS::S3::Bucket
        Properties:
          VersioningConfiguration: {Status: Enabled}
      Topic:
        Type: AWS::SNS::Topic
      Layer:
        Type: AWS::Serverless::LayerVersion
        Properties: {ContentUri: shared/}
      Gate:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: gate/
          Handler: app.lambda_handler
          Layers: [!Ref Layer]
          Environment:
            Variables:
              BUCKET: !Ref Data
              MODE: !If [IsProd, strict, lenient]
      Code:
        Type: Custom::Code
        Properties: {ServiceToken: !GetAtt Gate.Arn}
      Machine:
        Type: AWS::Serverless::StateMachine
        Properties:
          DefinitionUri: machine.asl.json
          DefinitionSubstitutions:
            BucketArn: !GetAtt Data.Arn
            Image: !FindInMap [Images, !Ref "AWS::Region", Xgboost]
            Threshold: !Ref Threshold
            GateArn: !GetAtt Gate.Arn
            TopicArn: !Ref Topic
            Prefix: !Sub "${Data}/${Stage}/${Code.Prefix}"
            First: !Select [0, !Split [",", "a,b"]]
            Joined: !Join ["-", [x, !Ref Stage]]
          Events:
            Upload:
              Type: EventBridgeRule
              Properties:
                Pattern:
                  source: [aws.s3]
                  detail-type: [Object Created]
                  detail: {bucket: {name: [!Ref Data]}}
            Nightly:
              Type: Schedule
              Properties: {Schedule: rate(1 day), State: DISABLED}
    """
)


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "machine.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "Result": "${Prefix} ${Threshold}", "End": True}},
            }
        )
    )
    return tmp_path


def test_substitutions_resolve_to_local_names(stack_dir: Path) -> None:
    stack = resolve_stack(stack_dir / "template.yaml", custom_attributes={"Code.Prefix": "code/0123456789ab"})
    bucket = "stepwise-data-123456789012"
    assert stack.buckets == [bucket]
    assert stack.substitutions == {
        "BucketArn": f"arn:aws:s3:::{bucket}",
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "Threshold": "0.7",
        "GateArn": "arn:aws:lambda:us-east-1:123456789012:function:Gate",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:Topic",
        "Prefix": f"{bucket}/dev/code/0123456789ab",
        "First": "a",
        "Joined": "x-dev",
    }
    assert stack.definition()["States"]["A"]["Result"] == f"{bucket}/dev/code/0123456789ab 0.7"
    assert stack.bucket_properties[bucket]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_parameters_override_defaults_and_conditions_follow(stack_dir: Path) -> None:
    stack = resolve_stack(
        stack_dir / "template.yaml", {"Stage": "prod"}, custom_attributes={"Code.Prefix": "code/x"}
    )
    gate = stack.functions["Gate"]
    assert gate.environment == {"SHARED": "yes", "BUCKET": "stepwise-data-123456789012", "MODE": "strict"}
    assert gate.code_dir == stack_dir / "gate" and gate.handler == "app.lambda_handler"
    assert gate.layer_dirs == [stack_dir / "shared"]


def test_rules_keep_pattern_schedule_and_state(stack_dir: Path) -> None:
    stack = resolve_stack(stack_dir / "template.yaml", custom_attributes={"Code.Prefix": "code/x"})
    upload = stack.rule("Object Created")
    assert upload.enabled and upload.pattern["detail"] == {"bucket": {"name": ["stepwise-data-123456789012"]}}
    schedule = stack.schedule_rule()
    assert schedule.schedule == "rate(1 day)" and schedule.enabled is False


def test_unresolvable_values_say_what_is_missing(stack_dir: Path) -> None:
    with pytest.raises(TemplateError, match="custom resource attribute Code.Prefix"):
        resolve_stack(stack_dir / "template.yaml")
    (stack_dir / "machine.asl.json").write_text('{"Comment": "${Nope}", "StartAt": "A", "States": {}}')
    stack = resolve_stack(stack_dir / "template.yaml", custom_attributes={"Code.Prefix": "code/x"})
    with pytest.raises(TemplateError, match=r"\$\{Nope\}"):
        stack.definition()


def test_the_projects_template_resolves_every_token(repo: Path) -> None:
    stack = resolve_stack(
        repo / "template.yaml", custom_attributes={"ProcessingCode.Prefix": "code/0123456789ab"}
    )
    definition = stack.definition()  # raises on any ${Token} without a substitution
    assert "${" not in json.dumps(definition)
    assert stack.rule("Object Created").enabled
    assert set(stack.functions) >= {
        "ResolveDatasetFunction",
        "QualityGateFunction",
        "RegisterModelFunction",
        "DeployEndpointFunction",
        "SmokeTestFunction",
    }
    assert (
        load_template(repo / "template.yaml")["Resources"]["StateMachine"]["Type"]
        == "AWS::Serverless::StateMachine"
    )
