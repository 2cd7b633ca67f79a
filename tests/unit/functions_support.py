"""Helpers for the Lambda function tests (tests/unit/test_functions_*.py).

- `load_app(name)`: functions/<name>/app.py imported by file path under a unique module name (every
  function's module is called app.py), with functions/shared (the layer) on sys.path.
- `mocked_aws(monkeypatch)`: moto for every AWS call, powertools configured for tests, fresh clients.
- `FakeContext`: the parts of a Lambda context that powertools reads.
- `queue_endpoint_results(...)`: moto's documented way to script sagemaker-runtime InvokeEndpoint.
- `support_update_endpoint(monkeypatch)`: moto 5.2.5 lacks UpdateEndpoint; this adds it (see below).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from moto import mock_aws
from moto.sagemaker.responses import SageMakerResponse

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO / "functions"
EVENTS = REPO / "events"
ACCOUNT = "123456789012"  # moto's default account: the sample events use it
REGION = "us-east-1"


def layer(module: str) -> ModuleType:
    """stepwise_functions.<module> from the shared layer (functions/shared, put on sys.path)."""
    shared = str(FUNCTIONS / "shared")
    if shared not in sys.path:
        sys.path.insert(0, shared)
    return importlib.import_module(f"stepwise_functions.{module}")


def load_app(name: str) -> ModuleType:
    """functions/<name>/app.py as module `stepwise_function_<name>` (imported once per session)."""
    layer("aws")  # the app imports the layer
    module_name = f"stepwise_function_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / name / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pydantic look the module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def sample_event(name: str) -> dict[str, Any]:
    """events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass
class FakeContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"


@contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS API, powertools quiet and local, and no boto3 client left from a previous test."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Stepwise")
    for variable in (
        "STEPWISE_BUCKET",
        "STEPWISE_RAW_PREFIX",
        "GATE_METRIC",
        "GATE_THRESHOLD",
        "GATE_TOLERANCE",
        "MODEL_PACKAGE_GROUP_NAME",
        "MODEL_APPROVAL_STATUS",
        "SUPPORTED_INSTANCE_TYPES",
        "ENDPOINT_NAME",
        "ENDPOINT_INSTANCE_TYPE",
        "ENDPOINT_INSTANCE_COUNT",
        "SAGEMAKER_EXECUTION_ROLE_ARN",
        "ROLLBACK_ALARMS",
        "SMOKE_TEST_ROWS",
    ):
        monkeypatch.delenv(variable, raising=False)
    reset = layer("aws").reset_clients
    reset()
    with mock_aws():
        yield
    reset()


def queue_endpoint_results(*bodies: tuple[str, str]) -> None:
    """Queue InvokeEndpoint answers as (body, content type), through moto's documented API."""
    results = [
        {"Body": body, "ContentType": content_type, "InvokedProductionVariant": "AllTraffic"}
        for body, content_type in bodies
    ]
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": ACCOUNT, "region": REGION, "results": results},
        timeout=5,
    )
    response.raise_for_status()


def support_update_endpoint(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Give moto's SageMaker an UpdateEndpoint (moto 5.2.5 raises NotImplementedError for it).

    botocore has validated the request against the SageMaker API model before it reaches here. The
    endpoint switches to the new config at once (on AWS it goes through "Updating" first). Returns the
    list of requests received, for assertions on the DeploymentConfig.
    """
    requests_received: list[dict[str, Any]] = []

    def update_endpoint(self: SageMakerResponse) -> str:
        request = json.loads(self.body)
        backend = self.sagemaker_backend
        backend.describe_endpoint(request["EndpointName"])  # moto's own "Could not find" errors
        config = backend.describe_endpoint_config(request["EndpointConfigName"])
        endpoint = backend.endpoints[request["EndpointName"]]
        endpoint.endpoint_config_name = request["EndpointConfigName"]
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        requests_received.append(request)
        return json.dumps({"EndpointArn": endpoint.arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    return requests_received
