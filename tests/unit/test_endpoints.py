"""SageMaker endpoints of the embedded AWS (stepwise/emulator/sagemaker/endpoints.py): the emulated
SageMaker's endpoint calls backed by real model servers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
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


@pytest.fixture(scope="module")
def boosters() -> tuple[xgb.Booster, xgb.Booster]:
    return train_booster(seed=0, rounds=8), train_booster(seed=5, rounds=3)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state") / ".stepwise"


@pytest.fixture(scope="module")
def aws(state_dir: Path) -> Iterator:
    """One bare embedded AWS for the module; each test uses endpoints of its own names."""
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(state_dir, with_stack=False, enforce_iam=False) as embedded:
        embedded.client("s3").create_bucket(Bucket=BUCKET)
        yield embedded


@pytest.fixture(scope="module")
def clients(aws) -> tuple:
    return aws.client("sagemaker"), aws.client("sagemaker-runtime")


@pytest.fixture(scope="module")
def fraud(clients, boosters) -> dict:
    """Endpoint `fraud` serving boosters[0], created once: its first DescribeEndpoint and its final one."""
    sagemaker, _ = clients
    config = deploy_config(sagemaker, "model-v1", model_tar_gz(boosters[0]))
    sagemaker.create_endpoint(EndpointName="fraud", EndpointConfigName=config)
    first = sagemaker.describe_endpoint(EndpointName="fraud")
    return {"config": config, "first": first, "final": wait_while(sagemaker, "fraud", "Creating")}


def port_of(aws, endpoint: str) -> int | None:
    """The loopback port of the model server behind `endpoint`, None when none runs."""
    server = aws.endpoints.servers.get(endpoint)
    return server.port if server is not None else None


def predictions(runtime, endpoint: str, rows: np.ndarray) -> np.ndarray:
    response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=to_csv(rows))
    assert response["ContentType"] == "text/csv"
    return np.array(response["Body"].read().split(b","), dtype=np.float32)


def expected(booster: xgb.Booster, rows: np.ndarray) -> np.ndarray:
    return booster.predict(xgb.DMatrix(rows))


def test_create_reports_creating_then_in_service_and_serves_real_predictions(
    aws, clients, boosters, fraud
) -> None:
    _, runtime = clients
    assert fraud["first"]["EndpointStatus"] == "Creating"
    assert fraud["final"]["EndpointStatus"] == "InService"
    assert fraud["final"]["EndpointConfigName"] == fraud["config"]
    assert port_of(aws, "fraud") is not None

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


def test_invoke_answers_json_when_asked_names_the_variant_and_passes_the_models_415(
    clients, boosters, fraud
) -> None:
    _, runtime = clients
    rows = sample_rows(7, seed=3)
    response = runtime.invoke_endpoint(
        EndpointName="fraud", ContentType="text/csv", Accept="application/json", Body=to_csv(rows)
    )
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    scores = json.loads(response["Body"].read())  # a JSON list, one score per row
    np.testing.assert_array_equal(np.array(scores, dtype=np.float32), expected(boosters[0], rows))
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="fraud", ContentType="application/json", Body=b"{}")
    assert caught.value.response["Error"]["Code"] == "ModelError"
    assert caught.value.response["OriginalStatusCode"] == 415


def test_update_swaps_only_after_ping_and_a_broken_update_rolls_back(aws, clients, boosters) -> None:
    sagemaker, runtime = clients
    v1 = deploy_config(sagemaker, "update-v1", model_tar_gz(boosters[0]))
    sagemaker.create_endpoint(EndpointName="fraud-update", EndpointConfigName=v1)
    assert wait_while(sagemaker, "fraud-update", "Creating")["EndpointStatus"] == "InService"
    old_port = port_of(aws, "fraud-update")
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
    assert "PendingDeploymentSummary" not in updated
    assert port_of(aws, "fraud-update") != old_port
    np.testing.assert_array_equal(predictions(runtime, "fraud-update", rows), expected(boosters[1], rows))

    broken = deploy_config(sagemaker, "update-v3", model_tar_gz(content=b"not a model"))
    serving_port = port_of(aws, "fraud-update")
    sagemaker.update_endpoint(EndpointName="fraud-update", EndpointConfigName=broken)
    rolled_back = wait_while(sagemaker, "fraud-update", "Updating")
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == v2
    assert "rolled back" in rolled_back["FailureReason"]
    assert "is not a model XGBoost can load" in rolled_back["FailureReason"]
    assert port_of(aws, "fraud-update") == serving_port
    np.testing.assert_array_equal(predictions(runtime, "fraud-update", rows), expected(boosters[1], rows))


def test_broken_artifact_on_create_fails_with_the_reason(aws, clients) -> None:
    sagemaker, runtime = clients
    sagemaker.create_endpoint(
        EndpointName="fraud-broken",
        EndpointConfigName=deploy_config(sagemaker, "bad", model_tar_gz(content=b"junk")),
    )
    description = wait_while(sagemaker, "fraud-broken", "Creating")
    assert description["EndpointStatus"] == "Failed"
    assert "failed to start" in description["FailureReason"]
    assert "is not a model XGBoost can load" in description["FailureReason"]
    assert port_of(aws, "fraud-broken") is None
    with pytest.raises(ClientError, match="Failed, not InService"):
        runtime.invoke_endpoint(EndpointName="fraud-broken", ContentType="text/csv", Body=b"1,2,3,4,5,6\n")
    with pytest.raises(ClientError, match="Cannot update failed endpoint"):
        sagemaker.update_endpoint(EndpointName="fraud-broken", EndpointConfigName="bad-config")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sagemaker.create_endpoint(EndpointName="fraud-broken", EndpointConfigName="bad-config")

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


def test_a_server_that_dies_makes_the_endpoint_failed(aws, clients, boosters) -> None:
    sagemaker, runtime = clients
    config = deploy_config(sagemaker, "crash-v1", model_tar_gz(boosters[0]))
    sagemaker.create_endpoint(EndpointName="fraud-crash", EndpointConfigName=config)
    assert wait_while(sagemaker, "fraud-crash", "Creating")["EndpointStatus"] == "InService"
    server = aws.endpoints.servers["fraud-crash"]
    server.process.kill()
    server.process.wait(timeout=10)

    description = sagemaker.describe_endpoint(EndpointName="fraud-crash")
    assert description["EndpointStatus"] == "Failed"
    assert "exited with code -9" in description["FailureReason"]
    with pytest.raises(ClientError, match="Failed, not InService"):
        runtime.invoke_endpoint(
            EndpointName="fraud-crash", ContentType="text/csv", Body=to_csv(sample_rows(1))
        )


def test_delete_stops_the_process_and_the_record_tracks_what_is_deployed(
    aws, clients, boosters, state_dir
) -> None:
    sagemaker, _ = clients
    sagemaker.create_endpoint(
        EndpointName="fraud-delete",
        EndpointConfigName=deploy_config(sagemaker, "delete-v1", model_tar_gz(boosters[0])),
    )
    assert wait_while(sagemaker, "fraud-delete", "Creating")["EndpointStatus"] == "InService"
    server = aws.endpoints.servers["fraud-delete"]
    record = aws.store.get("deployed-endpoints")["fraud-delete"]
    assert record["EndpointConfigName"] == "delete-v1-config"
    model_dir = state_dir / "endpoints" / record["ModelDir"]
    assert (model_dir / "xgboost-model").is_file()

    sagemaker.delete_endpoint(EndpointName="fraud-delete")
    assert server.process.poll() is not None
    assert port_of(aws, "fraud-delete") is None
    assert "fraud-delete" not in aws.store.get("deployed-endpoints")
    assert not model_dir.exists()
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName="fraud-delete")


def test_the_state_folder_records_what_each_endpoint_serves(aws, fraud, state_dir) -> None:
    """What `stepwise serve` and `invoke` start later, without the embedded AWS (test_cli_endpoints)."""
    record = aws.store.get("deployed-endpoints")["fraud"]
    assert record == {
        "EndpointConfigName": fraud["config"],
        "VariantName": "AllTraffic",
        "ModelDataUrl": f"s3://{BUCKET}/runs/model-v1/model.tar.gz",
        "ModelDir": record["ModelDir"],
    }
    assert (state_dir / "endpoints" / record["ModelDir"] / "xgboost-model").is_file()
    assert aws.endpoints.servers["fraud"].model_dir == state_dir / "endpoints" / record["ModelDir"]
