"""functions/publish_code: the deploy-time custom resource that puts processing/ under code/<sha256-12>/."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from template_support import REPO, load_module

BUCKET = "stepwise-bucket-123456789012"


@pytest.fixture(scope="module")
def code_bundle() -> Any:
    return load_module("stepwise_code_bundle", REPO / "functions" / "publish_code" / "code_bundle.py")


@pytest.fixture(scope="module")
def app(code_bundle: Any) -> Any:
    # app.py imports code_bundle by its plain name, as it does in the Lambda package
    sys.modules.setdefault("code_bundle", code_bundle)
    return load_module("stepwise_function_publish_code", REPO / "functions" / "publish_code" / "app.py")


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    root = tmp_path / "processing"
    (root / "sub").mkdir(parents=True)
    (root / "preprocess.py").write_text("print('preprocess')\n")
    (root / "evaluate.py").write_text("print('evaluate')\n")
    (root / "sub" / "helpers.py").write_text("X = 1\n")
    return root


def test_the_prefix_is_a_content_hash(code_bundle: Any, scripts: Path) -> None:
    prefix = code_bundle.code_prefix(scripts)
    assert prefix.startswith("code/") and len(prefix) == len("code/") + 12
    # byte-for-byte copies elsewhere hash the same; build litter does not count
    copy = scripts.parent / "copy"
    shutil.copytree(scripts, copy)
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "preprocess.cpython-311.pyc").write_bytes(b"\x00")
    (copy / ".DS_Store").write_bytes(b"\x00")
    assert code_bundle.code_prefix(copy) == prefix
    # any change to a script, or a renamed file, gives a new prefix
    (copy / "evaluate.py").write_text("print('evaluate v2')\n")
    assert code_bundle.code_prefix(copy) != prefix
    (copy / "evaluate.py").write_text("print('evaluate')\n")
    (copy / "sub" / "helpers.py").rename(copy / "sub" / "helper.py")
    assert code_bundle.code_prefix(copy) != prefix


def test_the_repository_processing_folder_hashes(code_bundle: Any) -> None:
    names = [name for name, _ in code_bundle.bundle_files(REPO / "processing")]
    assert {"preprocess.py", "evaluate.py"} <= set(names)
    assert not any("__pycache__" in name for name in names)


def test_an_empty_or_missing_folder_is_an_error(code_bundle: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        code_bundle.code_prefix(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no files"):
        code_bundle.code_prefix(tmp_path)


class _CloudFormation(BaseHTTPRequestHandler):
    """Stands in for the pre-signed S3 URL CloudFormation gives a custom resource."""

    received: list[dict[str, Any]] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _CloudFormation.received = []
    server = HTTPServer(("127.0.0.1", 0), _CloudFormation)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response", _CloudFormation.received
    server.shutdown()
    server.server_close()


def request(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/stepwise/1",
        "RequestId": "req-1",
        "LogicalResourceId": "ProcessingCode",
        "ResourceType": "Custom::ProcessingCode",
        "ResourceProperties": {"ServiceToken": "arn", "Bucket": BUCKET, "CodeLayer": "arn:layer:1"},
        **extra,
    }


def test_create_uploads_every_script_and_returns_the_prefix(
    app: Any, code_bundle: Any, scripts: Path, response_url: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = response_url
    monkeypatch.setenv("CODE_ROOT", str(scripts))
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        app.lambda_handler(request("Create", url), None)
        keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
        prefix = code_bundle.code_prefix(scripts)
        assert keys == [f"{prefix}/evaluate.py", f"{prefix}/preprocess.py", f"{prefix}/sub/helpers.py"]
        body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/preprocess.py")["Body"].read()
        assert body == (scripts / "preprocess.py").read_bytes()
    (answer,) = received
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Prefix": prefix}
    assert answer["PhysicalResourceId"] == f"s3://{BUCKET}/{prefix}"
    assert (answer["RequestId"], answer["LogicalResourceId"]) == ("req-1", "ProcessingCode")


def test_a_failure_is_reported_to_cloudformation(
    app: Any, scripts: Path, response_url: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = response_url
    monkeypatch.setenv("CODE_ROOT", str(scripts))
    with mock_aws():  # no bucket: the upload fails
        app.lambda_handler(request("Update", url, PhysicalResourceId="s3://old/code/000000000000"), None)
    (answer,) = received
    assert answer["Status"] == "FAILED"
    assert "NoSuchBucket" in answer["Reason"]
    assert answer["PhysicalResourceId"] == "s3://old/code/000000000000"


def test_delete_keeps_the_code_and_succeeds(app: Any, response_url: tuple[str, list]) -> None:
    url, received = response_url
    app.lambda_handler(request("Delete", url, PhysicalResourceId="s3://b/code/0123456789ab"), None)
    (answer,) = received
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", "s3://b/code/0123456789ab")


def test_the_template_publishes_processing_and_feeds_the_prefix_to_the_state_machine(template: dict) -> None:
    resources = template["Resources"]
    assert resources["ProcessingCodeLayer"]["Properties"]["ContentUri"] == "processing/"
    publisher = resources["PublishCodeFunction"]["Properties"]
    assert publisher["Layers"] == [{"Ref": "ProcessingCodeLayer"}]
    assert publisher["Environment"]["Variables"]["CODE_ROOT"] == "/opt"
    custom = resources["ProcessingCode"]["Properties"]
    assert custom["ServiceToken"] == {"Fn::GetAtt": ["PublishCodeFunction", "Arn"]}
    assert custom["CodeLayer"] == {"Ref": "ProcessingCodeLayer"}  # new code -> new layer version -> Update
    substitutions = resources["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["CodePrefix"] == {"Fn::GetAtt": ["ProcessingCode", "Prefix"]}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"LogicalResourceId": None}, "no LogicalResourceId"),
        ({"RequestId": None}, "no RequestId"),
        ({"StackId": None}, "no StackId"),
        ({"RequestType": "Rename"}, "RequestType 'Rename' is not one of Create, Update, Delete"),
        ({"ResourceProperties": {"ServiceToken": "arn"}}, "no ResourceProperties.Bucket"),
        ({"ResourceProperties": None}, "no ResourceProperties.Bucket"),
    ],
)
def test_a_malformed_request_is_answered_failed_with_the_reason(
    app: Any, response_url: tuple[str, list], change: dict[str, Any], reason: str
) -> None:
    url, received = response_url
    event = {key: value for key, value in {**request("Create", url), **change}.items() if value is not None}
    app.lambda_handler(event, None)  # never raises: CloudFormation would wait for its timeout
    (answer,) = received
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]


def test_an_event_without_a_response_url_is_logged_not_raised(
    app: Any, response_url: tuple[str, list], caplog: pytest.LogCaptureFixture
) -> None:
    _, received = response_url
    event = request("Create", "unused")
    del event["ResponseURL"]
    app.lambda_handler(event, None)
    app.lambda_handler("not even an object", None)
    assert received == []
    assert "no ResponseURL" in caplog.text


def test_an_unreachable_response_url_does_not_raise(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    app.lambda_handler(request("Delete", "http://127.0.0.1:9/unreachable"), None)
    assert "could not answer CloudFormation" in caplog.text
