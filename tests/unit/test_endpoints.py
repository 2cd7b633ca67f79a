"""Local SageMaker endpoints: moto's endpoint APIs backed by real model servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from moto import mock_aws
from xgb_models import (
    BUCKET,
    IMAGE,
    deploy_config,
    model_tar_gz,
    sample_rows,
    to_csv,
    train_booster,
    wait_while,
)

from stepwise.local import endpoints


@pytest.fixture(scope="module")
def boosters() -> tuple[xgb.Booster, xgb.Booster]:
    return train_booster(seed=0, rounds=8), train_booster(seed=5, rounds=3)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state") / ".stepwise"


@pytest.fixture(scope="module")
def aws(state_dir: Path):
    """One embedded AWS with the hooks for the module; each test uses endpoints of its own names."""
    with mock_aws():
        endpoints.install_endpoint_hooks(state_dir)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        try:
            yield boto3.client("sagemaker"), boto3.client("sagemaker-runtime")
        finally:
            endpoints.uninstall_endpoint_hooks()


@pytest.fixture(scope="module")
def fraud(aws, boosters) -> dict:
    """Endpoint `fraud` serving boosters[0], created once: its first DescribeEndpoint and its final one."""
    sagemaker, _ = aws
    config = deploy_config(sagemaker, "model-v1", model_tar_gz(boosters[0]))
    sagemaker.create_endpoint(EndpointName="fraud", EndpointConfigName=config)
    first = sagemaker.describe_endpoint(EndpointName="fraud")
    return {"config": config, "first": first, "final": wait_while(sagemaker, "fraud", "Creating")}


def predictions(runtime, endpoint: str, rows: np.ndarray) -> np.ndarray:
    response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=to_csv(rows))
    assert response["ContentType"] == "text/csv"
    return np.array(response["Body"].read().split(b","), dtype=np.float32)


def expected(booster: xgb.Booster, rows: np.ndarray) -> np.ndarray:
    return booster.predict(xgb.DMatrix(rows))


def test_create_reports_creating_then_in_service_and_serves_real_predictions(aws, boosters, fraud) -> None:
    _, runtime = aws
    assert fraud["first"]["EndpointStatus"] == "Creating"
    assert fraud["final"]["EndpointStatus"] == "InService"
    assert fraud["final"]["EndpointConfigName"] == fraud["config"]
    port = endpoints.endpoint_port("fraud")
    assert port is not None

    rows = sample_rows(20)
    np.testing.assert_array_equal(predictions(runtime, "fraud", rows), expected(boosters[0], rows))

    # a bad payload is the model's error, as on AWS
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=b"1,2\n")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400
    assert "row 1 has 2 features; the model expects 6" in error["Error"]["Message"]

    with pytest.raises(ClientError, match="not found"):
        runtime.invoke_endpoint(EndpointName="missing", ContentType="text/csv", Body=to_csv(rows))


def test_gateway_answers_a_boto3_client_pointed_at_loopback(boosters, fraud) -> None:
    assert fraud["final"]["EndpointStatus"] == "InService"
    server, port = endpoints.serve_gateway()
    try:
        # boto3 goes to the gateway over real HTTP (moto only intercepts AWS hostnames)
        client = boto3.client("sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{port}")
        rows = sample_rows(7, seed=3)
        np.testing.assert_array_equal(predictions(client, "fraud", rows), expected(boosters[0], rows))

        response = client.invoke_endpoint(
            EndpointName="fraud", ContentType="text/csv", Accept="application/json", Body=to_csv(rows)
        )
        assert response["ContentType"] == "application/json"
        assert response["InvokedProductionVariant"] == "AllTraffic"

        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName="fraud", ContentType="application/json", Body=b"{}")
        assert caught.value.response["Error"]["Code"] == "ModelError"
        assert caught.value.response["OriginalStatusCode"] == 415
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName="other", ContentType="text/csv", Body=to_csv(rows))
        assert caught.value.response["Error"]["Code"] == "ValidationError"
    finally:
        server.shutdown()
        server.server_close()


def test_update_swaps_only_after_ping_and_a_broken_update_rolls_back(aws, boosters) -> None:
    sagemaker, runtime = aws
    v1 = deploy_config(sagemaker, "update-v1", model_tar_gz(boosters[0]))
    sagemaker.create_endpoint(EndpointName="fraud-update", EndpointConfigName=v1)
    assert wait_while(sagemaker, "fraud-update", "Creating")["EndpointStatus"] == "InService"
    old_port = endpoints.endpoint_port("fraud-update")
    rows = sample_rows(10, seed=4)

    v2 = deploy_config(sagemaker, "update-v2", model_tar_gz(boosters[1]))
    sagemaker.update_endpoint(EndpointName="fraud-update", EndpointConfigName=v2)
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sagemaker.update_endpoint(EndpointName="fraud-update", EndpointConfigName=v2)
    updating = sagemaker.describe_endpoint(EndpointName="fraud-update")
    assert updating["EndpointStatus"] == "Updating"
    assert updating["EndpointConfigName"] == v1
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == v2
    # until the new server answers /ping, the old one serves
    np.testing.assert_array_equal(predictions(runtime, "fraud-update", rows), expected(boosters[0], rows))

    updated = wait_while(sagemaker, "fraud-update", "Updating")
    assert updated["EndpointStatus"] == "InService" and updated["EndpointConfigName"] == v2
    assert endpoints.endpoint_port("fraud-update") != old_port
    np.testing.assert_array_equal(predictions(runtime, "fraud-update", rows), expected(boosters[1], rows))

    broken = deploy_config(sagemaker, "update-v3", model_tar_gz(content=b"not a model"))
    serving_port = endpoints.endpoint_port("fraud-update")
    sagemaker.update_endpoint(EndpointName="fraud-update", EndpointConfigName=broken)
    rolled_back = wait_while(sagemaker, "fraud-update", "Updating")
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == v2
    assert "rolled back" in rolled_back["FailureReason"]
    assert "is not a model XGBoost can load" in rolled_back["FailureReason"]
    assert endpoints.endpoint_port("fraud-update") == serving_port
    np.testing.assert_array_equal(predictions(runtime, "fraud-update", rows), expected(boosters[1], rows))


def test_broken_artifact_on_create_fails_with_the_reason(aws) -> None:
    sagemaker, runtime = aws
    sagemaker.create_endpoint(
        EndpointName="fraud-broken",
        EndpointConfigName=deploy_config(sagemaker, "bad", model_tar_gz(content=b"junk")),
    )
    description = wait_while(sagemaker, "fraud-broken", "Creating")
    assert description["EndpointStatus"] == "Failed"
    assert "failed to start" in description["FailureReason"]
    assert "is not a model XGBoost can load" in description["FailureReason"]
    assert endpoints.endpoint_port("fraud-broken") is None
    with pytest.raises(ClientError, match="Failed, not InService"):
        runtime.invoke_endpoint(EndpointName="fraud-broken", ContentType="text/csv", Body=b"1,2,3,4,5,6\n")
    with pytest.raises(ClientError, match="Cannot update failed endpoint"):
        sagemaker.update_endpoint(EndpointName="fraud-broken", EndpointConfigName="bad-config")

    # a ModelDataUrl with nothing behind it fails the same way
    sagemaker.create_model(
        ModelName="gone",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/nothing/model.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="gone-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "gone",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="empty", EndpointConfigName="gone-config")
    description = wait_while(sagemaker, "empty", "Creating")
    assert description["EndpointStatus"] == "Failed"
    assert "could not download model data" in description["FailureReason"]


def test_a_server_that_dies_makes_the_endpoint_failed(aws, boosters) -> None:
    sagemaker, runtime = aws
    config = deploy_config(sagemaker, "crash-v1", model_tar_gz(boosters[0]))
    sagemaker.create_endpoint(EndpointName="fraud-crash", EndpointConfigName=config)
    assert wait_while(sagemaker, "fraud-crash", "Creating")["EndpointStatus"] == "InService"
    server = endpoints.running_endpoints()["fraud-crash"]
    server.process.kill()
    server.process.wait(timeout=10)

    description = sagemaker.describe_endpoint(EndpointName="fraud-crash")
    assert description["EndpointStatus"] == "Failed"
    assert "exited with code -9" in description["FailureReason"]
    with pytest.raises(ClientError, match="Failed, not InService"):
        runtime.invoke_endpoint(
            EndpointName="fraud-crash", ContentType="text/csv", Body=to_csv(sample_rows(1))
        )


def test_delete_stops_the_process_and_the_record_tracks_what_is_deployed(aws, boosters, state_dir) -> None:
    sagemaker, _ = aws
    sagemaker.create_endpoint(
        EndpointName="fraud-delete",
        EndpointConfigName=deploy_config(sagemaker, "delete-v1", model_tar_gz(boosters[0])),
    )
    assert wait_while(sagemaker, "fraud-delete", "Creating")["EndpointStatus"] == "InService"
    server = endpoints.running_endpoints()["fraud-delete"]
    record = endpoints.deployed_endpoints(state_dir)["fraud-delete"]
    assert record["EndpointConfigName"] == "delete-v1-config"
    assert (state_dir / record["ModelDir"] / "xgboost-model").is_file()

    sagemaker.delete_endpoint(EndpointName="fraud-delete")
    assert server.process.poll() is not None
    assert endpoints.endpoint_port("fraud-delete") is None
    assert "fraud-delete" not in endpoints.deployed_endpoints(state_dir)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName="fraud-delete")


def test_recorded_endpoints_start_again_from_the_state_dir(aws, boosters, fraud, state_dir) -> None:
    """What `stepwise serve` does in a later process: start the recorded models again."""
    record = endpoints.deployed_endpoints(state_dir)["fraud"]
    assert record["EndpointConfigName"] == fraud["config"]
    assert (state_dir / record["ModelDir"] / "xgboost-model").is_file()
    old = endpoints.running_endpoints()["fraud"]

    started = endpoints.start_recorded_endpoints(state_dir, ["fraud"])
    assert started["fraud"].port != old.port and old.process.poll() is not None
    rows = sample_rows(5, seed=9)
    status, headers, body = endpoints.invoke_endpoint("fraud", to_csv(rows), "text/csv", None)
    assert status == 200 and headers["Content-Type"] == "text/csv"
    np.testing.assert_array_equal(np.array(body.split(b","), dtype=np.float32), expected(boosters[0], rows))
    with pytest.raises(KeyError, match="not deployed"):
        endpoints.start_recorded_endpoints(state_dir, ["nope"])


def test_moto_internals_the_hooks_rely_on_are_still_there(fraud) -> None:
    """Smoke test: a moto upgrade that moves what the hooks patch or read fails here, loudly."""
    import inspect

    from moto.sagemaker.models import FakeEndpoint, sagemaker_backends

    backend = sagemaker_backends["123456789012"]["us-east-1"]
    endpoint = backend.endpoints["fraud"]
    assert isinstance(endpoint, FakeEndpoint)
    for attribute in ("endpoint_status", "failure_reason", "endpoint_config_name", "last_modified_time"):
        assert hasattr(endpoint, attribute), attribute
    assert callable(endpoint._process_production_variants)
    variant = backend.endpoint_configs[fraud["config"]].production_variants[0]
    assert backend._models[variant["ModelName"]].primary_container["ModelDataUrl"].startswith("s3://")
    signatures = {
        name: list(inspect.signature(method).parameters) for name, method in endpoints._originals.items()
    }
    assert signatures == {
        "create_endpoint": ["self", "endpoint_name", "endpoint_config_name", "tags"],
        "describe_endpoint": ["self", "endpoint_name"],
        "delete_endpoint": ["self", "endpoint_name"],
        "invoke_endpoint": ["self"],
    }
