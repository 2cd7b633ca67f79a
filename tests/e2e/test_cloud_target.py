"""The commands that operate a deployed stack, run against the embedded AWS served over HTTP.

One `stepwise run` (1,000 generated rows, manual approval) makes a state folder; `stepwise serve`
exposes its embedded AWS on 127.0.0.1; then the cloud-target commands (`--endpoint-url`) and plain
boto3 (and the aws CLI where it is installed) make the same requests a real account would get. The
tests of this module build on each other, in file order: read, approve and invoke, upload, then
destroy, after which nothing the pipeline created is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from e2e_support import COMMAND, REPO, cli_env

from stepwise.emulator.sagemaker.endpoints import free_port

pytestmark = pytest.mark.slow

GROUP = "stepwise-fraud-detection"


def _env() -> dict[str, str]:
    """Fake credentials and region, as a user's shell would have them (nothing checks them)."""
    return {
        **cli_env(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def stepwise(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args], cwd=REPO, env=env or _env(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """(url, state folder) of `stepwise serve` on the state one run left."""
    state = tmp_path_factory.mktemp("cloud") / ".stepwise"
    run = stepwise(
        "run", "--rows", "1000", "--state-dir", str(state), "--json",
        "--parameter-overrides", "ModelApprovalStatus=PendingManualApproval",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["endState"] == "AwaitingApproval"
    port = free_port()
    serve = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port), "--state-dir", str(state)],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = serve.stdout.readline()
        assert f"at http://127.0.0.1:{port}" in banner, serve.stderr.read()
        yield f"http://127.0.0.1:{port}", state
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=60)
    assert code == 0, serve.stderr.read()[-3000:]


def cloud(served, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    url, _ = served
    return stepwise(*args, "--endpoint-url", url, env=env)


def client(served, service: str):
    return boto3.client(service, endpoint_url=served[0], region_name="us-east-1")


def outputs(served) -> dict[str, str]:
    stack = client(served, "cloudformation").describe_stacks(StackName="stepwise")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_the_read_commands_answer_the_same_through_the_apis_as_from_the_folder(served) -> None:
    _, state = served
    status = cloud(served, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert (
        report["status"] == "CREATE_COMPLETE"
        and report["parameters"]["ModelApprovalStatus"] == "PendingManualApproval"
    )
    assert report["endpoints"] == [] and report["packages"] == 1

    for command in (["runs", "--json"], ["registry", "--json"], ["show", "last", "--json"]):
        remote, local = cloud(served, *command), stepwise(*command, "--state-dir", str(state))
        assert remote.returncode == 0 and local.returncode == 0, remote.stderr + local.stderr
        remote_doc, local_doc = json.loads(remote.stdout), json.loads(local.stdout)
        if command[0] == "runs":
            assert [r["endState"] for r in remote_doc["runs"]] == ["AwaitingApproval", "WaitingForDataset"]
            assert remote_doc == local_doc
        elif command[0] == "registry":
            assert [(p["version"], p["approval"]) for p in remote_doc["packages"]] == [
                (1, "PendingManualApproval")
            ]
            assert remote_doc == local_doc
        else:  # the same execution and history; the summary built from the APIs says what the saved one says
            assert remote_doc["execution"]["name"] == local_doc["execution"]["name"]
            assert len(remote_doc["events"]) == len(local_doc["events"])
            for key in ("status", "endState", "metrics", "gate", "modelPackage", "run"):
                assert remote_doc["summary"].get(key) == local_doc["summary"].get(key), key

    # a run is named as `runs` lists it, or by the start of that, through the APIs as from the folder
    run_id = json.loads(cloud(served, "runs", "--json").stdout)["runs"][0]["runId"]
    for name in (run_id, run_id[:15]):
        shown = cloud(served, "show", name, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["summary"]["run"]["id"] == run_id
    unknown = cloud(served, "show", "no-such-run")
    assert unknown.returncode == 2 and run_id in unknown.stderr, "the message lists runs as `runs` does"

    train = cloud(served, "logs", "last", "Train")
    assert train.returncode == 0 and "[Train]" in train.stdout and "validation-auc" in train.stdout, (
        train.stderr
    )
    gate = cloud(served, "logs", "last", "QualityGate")
    assert "quality gate decided" in gate.stdout and "Preprocess" not in gate.stdout
    assert stepwise("logs", "last", "Train", "--state-dir", str(state)).stdout == train.stdout


def test_boto3_and_the_aws_cli_see_the_local_state(served) -> None:
    found = outputs(served)
    bucket, machine = found["BucketName"], found["StateMachineArn"]
    keys = [o["Key"] for o in client(served, "s3").list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]]
    assert sorted(key.rsplit("/", 1)[1] for key in keys) == ["claims.csv", "customers.csv"]
    assert len(client(served, "stepfunctions").list_executions(stateMachineArn=machine)["executions"]) == 2
    packages = client(served, "sagemaker").list_model_packages(ModelPackageGroupName=GROUP)
    assert [p["ModelApprovalStatus"] for p in packages["ModelPackageSummaryList"]] == [
        "PendingManualApproval"
    ]
    groups = [g["logGroupName"] for g in client(served, "logs").describe_log_groups()["logGroups"]]
    assert "/stepwise/stepwise/quality-gate" in groups and "/aws/sagemaker/TrainingJobs" in groups

    # the request gate's validation applies to requests over HTTP, with AWS's message
    with pytest.raises(ClientError) as caught:
        client(served, "sagemaker").create_model_package_group(ModelPackageGroupName="-not-a-name-")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "failed to satisfy constraint" in caught.value.response["Error"]["Message"]
    with pytest.raises(urllib.request.HTTPError) as unsigned:
        urllib.request.urlopen(f"{served[0]}/{bucket}", timeout=10)
    assert unsigned.value.code == 403

    if shutil.which("aws"):
        listed = subprocess.run(
            ["aws", "--endpoint-url", served[0], "s3", "ls", f"s3://{bucket}/raw/", "--recursive"],
            env=_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0 and "claims.csv" in listed.stdout, listed.stderr


def test_approve_starts_the_deploy_run_and_invoke_reaches_the_model(served) -> None:
    approved = cloud(served, "approve", "1", "--json")
    assert approved.returncode == 0, approved.stderr[-3000:]
    summary = json.loads(approved.stdout)
    assert summary["schema"] == "stepwise.summary/1", "the same document as a local run's"
    assert summary["status"] == "SUCCEEDED" and summary["endState"] == "Succeeded"

    status = json.loads(cloud(served, "status", "--json").stdout)
    (endpoint,) = status["endpoints"]
    assert (endpoint["status"], endpoint["version"], endpoint["instanceType"]) == (
        "InService",
        1,
        "ml.m5.large",
    )

    invoked = cloud(served, "invoke", "--sample", "5")
    assert invoked.returncode == 0, invoked.stderr
    predictions = [float(line) for line in invoked.stdout.split()]
    assert len(predictions) == 5 and all(0.0 <= p <= 1.0 for p in predictions)
    row = ",".join(["0"] * 48)  # one row of the 48 features
    answer = client(served, "sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint["name"], ContentType="text/csv", Body=row
    )
    assert 0.0 <= float(answer["Body"].read()) <= 1.0
    with urllib.request.urlopen(f"{served[0]}/ping", timeout=10) as ping:
        assert ping.status == 200


def test_an_upload_through_the_endpoint_starts_a_run(served, tmp_path: Path) -> None:
    found = outputs(served)
    sfn = client(served, "stepfunctions")
    before = len(sfn.list_executions(stateMachineArn=found["StateMachineArn"])["executions"])
    client(served, "s3").put_object(
        Bucket=found["BucketName"], Key="raw/by-hand/claims.csv", Body=b"policy_id\n1\n"
    )
    executions = sfn.list_executions(stateMachineArn=found["StateMachineArn"])["executions"]
    assert len(executions) == before + 1  # S3's event, the upload rule, the state machine: as in the cloud

    data = tmp_path / "data"
    assert stepwise("data", "generate", "--rows", "1000", "--seed", "5", "--out", str(data)).returncode == 0
    uploaded = cloud(served, "upload", str(data), "--dataset-id", "second", "--json")
    assert uploaded.returncode == 0, uploaded.stderr[-3000:]
    summary = json.loads(uploaded.stdout)
    assert summary["endState"] == "AwaitingApproval" and summary["modelPackage"]["version"] == 2
    runs = json.loads(cloud(served, "runs", "--json").stdout)["runs"]
    assert runs[0]["version"] == 2 and runs[0]["endState"] == "AwaitingApproval"


def test_errors_say_what_to_fix_in_one_line(served) -> None:
    missing = cloud(served, "status", "--stack", "nope")
    assert missing.returncode == 2 and "no stack nope at http://127.0.0.1" in missing.stderr
    unreachable = stepwise("status", "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
    no_credentials = {
        **cli_env(), "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }  # fmt: skip
    anonymous = cloud(served, "registry", env=no_credentials)
    assert anonymous.returncode == 2 and "no AWS credentials found" in anonymous.stderr
    no_region = stepwise(
        "runs", "--stack", "stepwise", env={**_env(), "AWS_DEFAULT_REGION": "", "AWS_CONFIG_FILE": os.devnull}
    )
    assert no_region.returncode == 2 and "no AWS region" in no_region.stderr
    unconfirmed = cloud(served, "destroy")
    assert unconfirmed.returncode == 2 and "pass --yes" in unconfirmed.stderr
    for stderr in (
        missing.stderr,
        unreachable.stderr,
        anonymous.stderr,
        no_region.stderr,
        unconfirmed.stderr,
    ):
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr and "testing" not in stderr


def test_destroy_lists_then_deletes_everything_the_pipeline_created(served) -> None:
    found = outputs(served)
    planned = cloud(served, "destroy", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    for item in (
        "endpoint stepwise-fraud-detection",
        "model package group",
        "object version",
        "stack stepwise",
    ):
        assert item in planned.stdout, planned.stdout
    assert "nothing was deleted" in planned.stdout
    assert client(served, "sagemaker").list_endpoints()["Endpoints"]  # still there

    destroyed = cloud(served, "destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr[-3000:]

    sagemaker, s3, logs = client(served, "sagemaker"), client(served, "s3"), client(served, "logs")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []
    # what remains is SAM's artifacts bucket, outside the stack (on AWS: aws-sam-cli-managed-default)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if found["BucketName"] == b["Name"]] == []
    assert all(b["Name"].startswith("aws-sam-cli-managed-default") for b in s3.list_buckets()["Buckets"])
    assert client(served, "stepfunctions").list_state_machines()["stateMachines"] == []
    assert client(served, "lambda").list_functions()["Functions"] == []
    assert client(served, "lambda").list_layers()["Layers"] == []
    assert client(served, "iam").list_roles()["Roles"] == []
    assert client(served, "sns").list_topics()["Topics"] == []
    # the rules left are the ones Step Functions manages for .sync jobs, shared by the account (as on AWS)
    rules = client(served, "events").list_rules()["Rules"]
    assert all(rule["Name"].startswith("StepFunctionsGetEventsForSageMaker") for rule in rules)
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert not [g for g in groups if "stepwise" in g]
    for group in groups:  # SageMaker's shared groups: no stream of this stack's jobs is left
        assert logs.describe_log_streams(logGroupName=group)["logStreams"] == [], group

    again = cloud(served, "destroy", "--yes")
    assert again.returncode == 0 and "does not exist" in again.stdout and "nothing to delete" in again.stdout
    gone = cloud(served, "status")
    assert gone.returncode == 2 and "no stack stepwise" in gone.stderr
    _, state = served
    assert "no local stack" in stepwise("status", "--state-dir", str(state)).stderr


def test_destroy_empties_a_local_state_folder_and_a_later_start_deploys_afresh(tmp_path: Path) -> None:
    """The same destroy on the local target: the embedded AWS in-process, the state folder forgets the
    stack (and every object, execution and log of it)."""
    from stepwise.emulator.aws import EmbeddedAWS
    from stepwise.emulator.store import Store

    state = tmp_path / ".stepwise"
    with EmbeddedAWS(state) as aws:
        first_bucket = aws.bucket
        aws.client("s3").put_object(Bucket=first_bucket, Key="notes/a.txt", Body=b"1")
        aws.client("s3").put_object(Bucket=first_bucket, Key="notes/a.txt", Body=b"2")  # two versions
    dry = stepwise("destroy", "--dry-run", "--state-dir", str(state))
    assert dry.returncode == 0 and "object version(s)" in dry.stdout, dry.stderr
    destroyed = stepwise("destroy", "--yes", "--state-dir", str(state))
    assert destroyed.returncode == 0, destroyed.stderr[-3000:]
    store = Store(state, create=False)
    assert store.get("stack") is None and store.current_objects() == [] and store.executions() == []
    again = stepwise("destroy", "--yes", "--state-dir", str(state))
    assert again.returncode == 0 and "does not exist in" in again.stdout
    with EmbeddedAWS(state) as aws:  # `stepwise run` would deploy a new stack the same way
        assert aws.stack is not None
        assert aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="notes/").get("KeyCount") == 0
