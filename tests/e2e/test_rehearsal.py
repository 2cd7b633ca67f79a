"""Local mode is a dress rehearsal of the cloud: the defects a real deploy met, planted in a copy of the
project, make `stepwise run` fail at the state the cloud would fail at, with AWS's error; the unbroken
copy passes the same run.

Each case edits the copy's text: the edit asserts that the text it replaces is there, so a change to the
template or code that moves it fails the test loudly instead of testing nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_support import project_copy, summary_of

pytestmark = pytest.mark.slow

ROWS = "1000"  # generated data: enough for every job, quick to train


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer holds, once, the text this test breaks:\n{old}"
    path.write_text(text.replace(old, new))


def _run(stepwise, template: Path, state: Path) -> dict:
    result = stepwise("run", "-t", str(template), "--state-dir", str(state), "--rows", ROWS, "--json")
    summary = summary_of(result)
    summary["exitCode"] = result.returncode
    return summary


def _failed_at(summary: dict, state: str) -> dict:
    assert summary["exitCode"] == 1 and summary["status"] == "FAILED", summary
    failure = summary["failure"]
    assert failure["state"] == state, failure
    return failure


def _access_denied(cause: str, role_logical_id: str, action: str, resource: str) -> None:
    """AWS's AccessDenied sentence: the assumed role (the stack's physical name), action and resource."""
    pattern = (
        rf"User: arn:aws:sts::\d{{12}}:assumed-role/stepwise-{role_logical_id}-\w+/\S+ "
        rf"is not authorized to perform: {re.escape(action)} on resource: \"?{resource}\"? because no "
        rf"identity-based policy allows the {re.escape(action)} action"
    )
    assert re.search(pattern, cause), cause


def test_the_unbroken_copy_passes(stepwise, tmp_path: Path) -> None:
    template = project_copy(tmp_path / "project")
    summary = _run(stepwise, template, tmp_path / "state")
    assert summary["exitCode"] == 0 and summary["status"] == "SUCCEEDED", summary.get("failure")
    assert summary["endState"] == "Succeeded" and summary["endpoint"]["status"] == "InService"


def test_a_changed_processing_script_is_deployed_and_run_by_the_next_run(stepwise, tmp_path: Path) -> None:
    """As `sam deploy` after an edit: the changed code goes out in a change set (its layer is new, the
    custom resource publishes it under a new prefix, the state machine reads that prefix) and the next
    run trains again, since the code is part of what a run is fingerprinted by."""
    template = project_copy(tmp_path / "project")
    first = _run(stepwise, template, tmp_path / "state")
    assert first["exitCode"] == 0 and first["endState"] == "Succeeded", first.get("failure")

    marker = "evaluate.py as edited after the first deploy"
    evaluate = template.parent / "processing" / "evaluate.py"
    old = "from __future__ import annotations\n"
    _replace(evaluate, old, f"{old}\nprint({marker!r}, flush=True)\n")
    second = _run(stepwise, template, tmp_path / "state")
    assert second["exitCode"] == 0 and second["endState"] == "Succeeded", second.get("failure")
    assert second["modelPackage"]["version"] == 2, "new code is a new fingerprint: the run trains again"
    logs = stepwise("logs", "last", "Evaluate", "--state-dir", str(tmp_path / "state"))
    assert marker in logs.stdout, "the Evaluate job ran the code deployed by the first run"


def test_a_role_missing_an_action_fails_the_state_that_needs_it(stepwise, tmp_path: Path) -> None:
    """The state machine may not start training jobs: Train fails with SageMaker's AccessDenied."""
    template = project_copy(tmp_path / "project")
    allowed = (
        "                  - sagemaker:CreateTrainingJob\n                  - sagemaker:DescribeTrainingJob\n"
    )
    _replace(template, allowed, "                  - sagemaker:DescribeTrainingJob\n")
    failure = _failed_at(_run(stepwise, template, tmp_path / "state"), "Train")
    assert failure["error"] == "SageMaker.AmazonSageMakerException"
    assert "Error Code: AccessDeniedException" in failure["cause"]
    _access_denied(
        failure["cause"],
        "StateMachineRole",
        "sagemaker:CreateTrainingJob",
        r"arn:aws:sagemaker:[^\s\"]+:training-job/\S+",
    )
    assert failure["missingPermission"].startswith("add sagemaker:CreateTrainingJob on arn:aws:sagemaker:")


def test_a_role_missing_one_of_two_resource_types_fails_deploy(stepwise, tmp_path: Path) -> None:
    """CreateEndpoint authorizes the endpoint and the endpoint config it deploys: allowed only the
    endpoint, Deploy fails (the defect the cloud review found)."""
    template = project_copy(tmp_path / "project")
    _replace(
        template,
        "            - Effect: Allow  # CreateEndpoint and UpdateEndpoint also authorize the endpoint config "
        "they deploy\n"
        "              Action:\n"
        "                - sagemaker:CreateEndpoint\n"
        "                - sagemaker:UpdateEndpoint\n"
        '              Resource: !Sub "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:'
        'endpoint-config/${EndpointName}-*"\n',
        "",
    )
    failure = _failed_at(_run(stepwise, template, tmp_path / "state"), "Deploy")
    assert "AccessDeniedException" in failure["error"] + failure["cause"], failure
    _access_denied(
        failure["cause"],
        "DeployEndpointFunctionRole",
        "sagemaker:CreateEndpoint",
        r"arn:aws:sagemaker:[^\s\"]+:endpoint-config/\S+",
    )
    assert "endpoint-config/" in failure["missingPermission"]


def test_list_bucket_conditioned_on_a_prefix_fails_the_first_file_of_a_dataset(tmp_path: Path) -> None:
    """HeadObject of a missing key answers 404 only to a caller allowed s3:ListBucket, and carries no
    s3:prefix: with the permission conditioned on one, the execution the first file starts gets 403
    and fails instead of waiting for the second file."""
    from stepwise.console.summary import build_summary
    from stepwise.emulator.aws import EmbeddedAWS

    def first_file_only(template: Path, state: Path) -> dict:
        """Upload claims.csv of a new dataset, as a user's first `aws s3 cp` does; the summary of the
        execution its event starts."""
        with EmbeddedAWS(state, template=template) as aws:
            before = len(aws.started_executions)
            aws.client("s3").put_object(Bucket=aws.bucket, Key="raw/d1/claims.csv", Body=b"policy_id\n1\n")
            (arn,) = aws.started_executions[before:]
            return build_summary(aws.store, aws.wait(arn), aws.history(arn))

    unbroken = first_file_only(project_copy(tmp_path / "project"), tmp_path / "state")
    assert unbroken["status"] == "SUCCEEDED" and unbroken["endState"] == "WaitingForDataset", unbroken

    template = project_copy(tmp_path / "broken")
    _replace(
        template,
        "            - Effect: Allow\n"
        "              Action: s3:ListBucket\n"
        "              Resource: !GetAtt Bucket.Arn\n"
        "            - Effect: Allow\n"
        "              Action: s3:GetObject\n"
        '              Resource: !Sub "${Bucket.Arn}/raw/*"\n',
        "            - Effect: Allow\n"
        "              Action: s3:ListBucket\n"
        "              Resource: !GetAtt Bucket.Arn\n"
        "              Condition:\n"
        "                StringLike:\n"
        "                  s3:prefix: raw/*\n"
        "            - Effect: Allow\n"
        "              Action: s3:GetObject\n"
        '              Resource: !Sub "${Bucket.Arn}/raw/*"\n',
    )
    broken = first_file_only(template, tmp_path / "broken-state")
    assert broken["status"] == "FAILED", (broken["endState"], broken.get("dataset"))
    failure = broken["failure"]
    assert failure["state"] == "ResolveDataset", failure
    assert "(403) when calling the HeadObject operation: Forbidden" in failure["cause"], failure


def test_a_missing_pass_role_fails_the_first_job(stepwise, tmp_path: Path) -> None:
    """Starting a job passes the SageMaker execution role: without iam:PassRole, Preprocess fails."""
    template = project_copy(tmp_path / "project")
    _replace(
        template,
        "              - Effect: Allow\n"
        "                Action: iam:PassRole\n"
        "                Resource: !GetAtt SageMakerExecutionRole.Arn\n"
        "                Condition:\n"
        "                  StringEquals:\n"
        "                    iam:PassedToService: sagemaker.amazonaws.com\n",
        "",
    )
    failure = _failed_at(_run(stepwise, template, tmp_path / "state"), "Preprocess")
    assert failure["error"] == "SageMaker.AmazonSageMakerException"
    _access_denied(
        failure["cause"],
        "StateMachineRole",
        "iam:PassRole",
        r"arn:aws:iam::\d{12}:role/stepwise-SageMakerExecutionRole-\w+",
    )


def test_a_function_importing_outside_its_package_fails_with_import_module_error(
    stepwise, tmp_path: Path
) -> None:
    """A function's package is its folder and its layers: `stepwise` (this repository's package, on the
    developer's path) is not in it, as on Lambda."""
    template = project_copy(tmp_path / "project")
    _replace(
        template.parent / "functions" / "quality_gate" / "app.py",
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nfrom stepwise import config  # noqa: F401\n",
    )
    failure = _failed_at(_run(stepwise, template, tmp_path / "state"), "QualityGate")
    assert failure["error"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app': No module named 'stepwise'" in failure["cause"]


def test_a_job_name_over_63_characters_fails_with_validation_exception(stepwise, tmp_path: Path) -> None:
    """Jobs named after the execution: an upload-started execution is named `<event id>_<uuid>` (73
    characters), over SageMaker's 63."""
    template = project_copy(tmp_path / "project")
    _replace(
        template.parent / "statemachine" / "pipeline.asl.json",
        '"ProcessingJobName.$": "States.Format(\'{}-preprocess-{}\', $.run.id, $.attempts.preprocess)"',
        '"ProcessingJobName.$": "$$.Execution.Name"',
    )
    failure = _failed_at(_run(stepwise, template, tmp_path / "state"), "Preprocess")
    assert failure["error"] == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ValidationException" in failure["cause"]
    assert re.search(
        r"Value '[0-9a-f-]{36}_[0-9a-f-]{36}' at 'processingJobName' failed to satisfy constraint: "
        r"Member must have length less than or equal to 63",
        failure["cause"],
    ), failure["cause"]
