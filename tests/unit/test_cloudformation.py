"""template.yaml deployed to the embedded AWS as `sam deploy` deploys it (stepwise/emulator/
cloudformation.py): the same DefinitionSubstitutions, rules, functions and parameters as in the cloud,
read back from the deployment (stepwise.emulator.describe) rather than resolved by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepwise.emulator import cloudformation

REPO = Path(__file__).resolve().parents[2]


def _rule(described: dict, logical_id: str) -> dict:
    name = described["resources"][logical_id]["physical_id"]
    (rule,) = [rule for rule in described["rules"] if rule["name"] == name]
    return rule


def test_every_token_of_the_definition_is_substituted_and_nothing_else_is_touched(deployed_stack) -> None:
    text = json.dumps(deployed_stack["definition"])
    assert "${" not in text
    assert "$$.Execution" in text  # a Fn::Sub of the whole text would have made it $.Execution
    roles = deployed_stack["roles"]
    for value in (deployed_stack["bucket"], roles["SageMakerExecutionRole"]["arn"]):
        assert value in text  # the substitutions' values are the stack's own names
    committed = (REPO / "statemachine" / "pipeline.asl.json").read_text()
    assert "States.StringToJson('${GateThreshold}')" in committed  # the token, as committed
    assert "States.StringToJson('0.7')" in text  # the parameter's default


def test_rules_keep_their_pattern_schedule_state_and_target(deployed_stack) -> None:
    machine = deployed_stack["outputs"]["StateMachineArn"]
    upload = _rule(deployed_stack, "StateMachineRawDataUploaded")
    assert upload["state"] == "ENABLED"
    assert upload["pattern"]["detail"]["bucket"] == {"name": [deployed_stack["bucket"]]}
    schedule = _rule(deployed_stack, "StateMachineRetrainSchedule")
    assert (schedule["schedule"], schedule["state"]) == ("rate(7 days)", "DISABLED")
    approval = _rule(deployed_stack, "StateMachineModelPackageApproved")
    assert approval["state"] == "DISABLED"  # ModelApprovalStatus=Approved: the pipeline deploys itself
    for rule in (upload, schedule, approval):
        (target,) = rule["targets"]
        assert target["Arn"] == machine and target["RoleArn"].startswith("arn:aws:iam::123456789012:role/")


def test_every_function_and_the_custom_resource_are_deployed(deployed_stack) -> None:
    resources = deployed_stack["resources"]
    functions = {lid for lid, r in resources.items() if r["type"] == "AWS::Lambda::Function"}
    assert functions >= {
        "ClaimRunFunction",
        "ResolveDatasetFunction",
        "QualityGateFunction",
        "RegisterModelFunction",
        "DeployEndpointFunction",
        "SmokeTestFunction",
        "PublishCodeFunction",
    }
    # the custom resource's function ran and answered: the processing code is in the bucket
    assert resources["ProcessingCode"]["physical_id"].startswith(f"s3://{deployed_stack['bucket']}/code/")
    assert deployed_stack["outputs"]["CodePrefix"].startswith("code/")


@pytest.fixture(scope="module")
def overridden() -> dict:
    """A deploy with `--parameter-overrides`, as `stepwise run --parameter-overrides` makes it."""
    from stepwise.emulator.describe import describe

    return describe(
        {
            "ModelApprovalStatus": "PendingManualApproval",
            "RetrainScheduleState": "ENABLED",
            "GateThreshold": "0.8",
        }
    )


def test_parameter_overrides_reach_the_definition_rules_and_conditions(overridden) -> None:
    assert overridden["parameters"]["GateThreshold"] == "0.8"
    assert overridden["parameters"]["GateMetric"] == "auc"  # the rest keep their defaults
    assert "States.StringToJson('0.8')" in json.dumps(overridden["definition"])
    assert _rule(overridden, "StateMachineRetrainSchedule")["state"] == "ENABLED"
    assert _rule(overridden, "StateMachineModelPackageApproved")["state"] == "ENABLED"  # a Condition


def test_a_parameter_the_template_does_not_declare_is_refused_before_anything_deploys(tmp_path: Path) -> None:
    from stepwise.emulator.aws import EmbeddedAWS

    aws = EmbeddedAWS(tmp_path / "state", parameters={"GateTreshold": "0.8"})
    with pytest.raises(
        cloudformation.DeployError, match="template.yaml has no parameter GateTreshold: it declares"
    ):
        aws.stack_parameters()
    defaults = EmbeddedAWS(tmp_path / "state", parameters={"GateThreshold": "0.9"}).stack_parameters()
    assert (defaults["GateThreshold"], defaults["RetrainSchedule"]) == ("0.9", "rate(7 days)")


def test_the_template_is_read_with_cloudformations_short_tags(tmp_path: Path) -> None:
    template = cloudformation.load_template(REPO / "template.yaml")
    assert template["Resources"]["StateMachine"]["Type"] == "AWS::Serverless::StateMachine"
    substitutions = template["Resources"]["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["GateThreshold"] == {"Ref": "GateThreshold"}  # !Ref GateThreshold
    (tmp_path / "not-a-template.yaml").write_text("just: text\n")
    with pytest.raises(cloudformation.DeployError, match="is not a CloudFormation/SAM template"):
        cloudformation.load_template(tmp_path / "not-a-template.yaml")


def test_an_unchanged_project_is_neither_built_nor_translated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second `stepwise` command on a state folder reuses the build and the SAM transform; a change
    to a function's code rebuilds that function, and a template change is translated again."""
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    for name in ("template.yaml", "statemachine", "functions", "processing"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    build = tmp_path / "build"
    first = cloudformation.package(project / "template.yaml", build, "artifacts", "us-east-1")

    translations = []
    original = cloudformation.transform
    monkeypatch.setattr(cloudformation, "transform", lambda *args: translations.append(1) or original(*args))
    gate = build / "functions" / "QualityGateFunction" / "app.py"
    copied_at = gate.stat().st_mtime_ns
    again = cloudformation.package(project / "template.yaml", build, "artifacts", "us-east-1")
    assert again.digest == first.digest and translations == []
    assert gate.stat().st_mtime_ns == copied_at, "an unchanged function was copied again"

    source = project / "functions" / "quality_gate" / "app.py"
    source.write_text(source.read_text() + "\n# changed\n")
    changed = cloudformation.package(project / "template.yaml", build, "artifacts", "us-east-1")
    assert changed.functions["QualityGateFunction"].digest != first.functions["QualityGateFunction"].digest
    assert gate.read_text().endswith("# changed\n")
    assert changed.functions["ClaimRunFunction"].digest == first.functions["ClaimRunFunction"].digest
    assert changed.digest != first.digest and translations == [1], "a new CodeUri changes the template"

    template = project / "template.yaml"
    template.write_text(template.read_text().replace("Default: 0.7", "Default: 0.75", 1))
    cloudformation.package(template, build, "artifacts", "us-east-1")
    assert translations == [1, 1]
