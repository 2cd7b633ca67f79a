"""The functions' shared layer (functions/shared/stepwise_functions) and the layout every function follows."""

from __future__ import annotations

import ast
import json

import boto3
import pytest
from functions_support import EVENTS, FUNCTIONS, FakeContext, layer, load_app, mocked_aws

s3 = layer("s3")
registry = layer("registry")
events = layer("events")
NAMES = ["resolve_dataset", "quality_gate", "register_model", "deploy_endpoint", "smoke_test"]
HEAVY = {"xgboost", "pandas", "numpy", "sklearn", "scikit-learn", "scipy", "smclarify", "shap"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    with mocked_aws(monkeypatch):
        boto3.client("s3").create_bucket(Bucket="bucket")
        yield


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://bucket/runs/x/evaluation.json", "bucket", "runs/x/evaluation.json"),
        ("s3://bucket/raw/", "bucket", "raw/"),
        ("s3://bucket", "bucket", ""),
    ],
)
def test_parse_s3_uri(uri, bucket, key):
    location = s3.parse_s3_uri(uri)

    assert (location.bucket, location.key) == (bucket, key)
    assert location.uri == f"s3://{bucket}/{key}"


@pytest.mark.parametrize("uri", ["bucket/key", "https://bucket/key", "s3:///key", ""])
def test_parse_s3_uri_rejects_other_strings(uri):
    with pytest.raises(ValueError, match="is not an S3 URI"):
        s3.parse_s3_uri(uri)


def test_read_csv_rows_stops_after_the_rows_asked_for(aws):
    body = "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(10_000))
    boto3.client("s3").put_object(Bucket="bucket", Key="t.csv", Body=body.encode())

    assert s3.read_csv_rows("s3://bucket/t.csv", 3) == [["a", "b"], ["0", "0"], ["1", "2"]]


def test_read_json_names_the_object_that_is_not_json(aws):
    boto3.client("s3").put_object(Bucket="bucket", Key="bad.json", Body=b"{nope")

    with pytest.raises(ValueError, match="s3://bucket/bad.json is not valid JSON"):
        s3.read_json("s3://bucket/bad.json")


def test_registry_without_a_group_has_no_serving_package(aws):
    assert registry.latest_approved_package("no-such-group") is None
    assert registry.find_package("no-such-group", registry.EXECUTION_ARN, "arn") is None


def test_ensure_group_creates_it_once(aws):
    assert registry.ensure_group("group", "models") is True
    assert registry.ensure_group("group", "models") is False
    assert boto3.client("sagemaker").describe_model_package_group(ModelPackageGroupName="group")


def test_an_event_that_is_not_an_object_is_rejected(aws):
    with pytest.raises(
        events.InvalidEventError, match="smoke_test expects a JSON object as its event, got list"
    ):
        load_app("smoke_test").lambda_handler([1, 2], FakeContext("smoke_test"))


@pytest.mark.parametrize("name", NAMES)
def test_every_function_has_its_handler_requirements_and_sample_event(name):
    assert callable(load_app(name).lambda_handler)
    assert (FUNCTIONS / name / "requirements.txt").is_file()
    assert isinstance(json.loads((EVENTS / f"{name}.json").read_text()), dict)


def test_no_heavy_dependency_in_functions():
    """Lambda zips stay small: functions/ imports and requires none of the data-science stack."""
    found = []
    for path in FUNCTIONS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            found += [f"{path}: {m}" for m in modules if m.split(".")[0] in HEAVY]
    for path in FUNCTIONS.rglob("requirements.txt"):
        for line in path.read_text().splitlines():
            requirement = line.split("#")[0].strip().split("[")[0].split(">")[0].split("=")[0].strip().lower()
            if requirement in HEAVY:
                found.append(f"{path}: {line}")
    assert found == []
