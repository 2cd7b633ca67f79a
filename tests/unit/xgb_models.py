"""Small real XGBoost models for the serving and endpoint tests (a helper module, not a test file)."""

from __future__ import annotations

import contextlib
import io
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import xgboost as xgb

REPO = Path(__file__).resolve().parents[2]
NUM_FEATURES = 6
BUCKET = "stepwise-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def train_booster(seed: int = 0, rounds: int = 8) -> xgb.Booster:
    """A binary:logistic model on synthetic data whose label depends on the first two features."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(400, NUM_FEATURES)).astype(np.float32)
    labels = (features[:, 0] + 0.5 * features[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": seed}
    return xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=rounds)


def save_model_dir(booster: xgb.Booster, folder: Path) -> Path:
    """The extracted model.tar.gz: a folder holding `xgboost-model`, as the training container writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "xgboost-model").write_bytes(bytes(booster.save_raw(raw_format="ubj")))
    return folder


def model_tar_gz(booster: xgb.Booster | None = None, *, content: bytes | None = None) -> bytes:
    """model.tar.gz bytes holding `xgboost-model`: the booster's, or raw `content` (to build broken ones)."""
    if content is None:
        assert booster is not None
        content = bytes(booster.save_raw(raw_format="ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def sample_rows(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, NUM_FEATURES)).astype(np.float32)


def to_csv(rows: np.ndarray) -> bytes:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()


def deploy_config(sagemaker, name: str, artifact: bytes) -> str:
    """Upload model.tar.gz, CreateModel, CreateEndpointConfig (as the Deploy Lambda does): the config name."""
    key = f"runs/{name}/model.tar.gz"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=artifact)
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{key}"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    return f"{name}-config"


def wait_while(sagemaker, endpoint: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        description = sagemaker.describe_endpoint(EndpointName=endpoint)
        if description["EndpointStatus"] != status or time.monotonic() > deadline:
            return description
        time.sleep(0.05)


def deploy_endpoint(state_dir: Path, booster: xgb.Booster, model: str, endpoint: str = "fraud") -> None:
    """What a `stepwise run` that deploys `booster` as `endpoint` leaves in the state folder: the record of
    what the endpoint serves. The embedded AWS is closed again: no model server keeps running."""
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(state_dir, with_stack=False, enforce_iam=False) as aws:
        aws.client("s3").create_bucket(Bucket=BUCKET)
        sagemaker = aws.client("sagemaker")
        config = deploy_config(sagemaker, model, model_tar_gz(booster))
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        assert wait_while(sagemaker, endpoint, "Creating")["EndpointStatus"] == "InService"


def deploy_in_stack(client, outputs: dict, booster: xgb.Booster, model: str, endpoint: str = "fraud") -> str:
    """Deploy `booster` to endpoint `endpoint` of a stack as the Deploy Lambda does: model.tar.gz in the
    stack's bucket, CreateModel as the stack's SageMaker role, CreateEndpointConfig, then CreateEndpoint
    (or UpdateEndpoint when it exists); `client(service)` gives the clients (in-process or served).
    Returns the endpoint's status once it has settled."""
    key = f"runs/{model}/model.tar.gz"
    client("s3").put_object(Bucket=outputs["BucketName"], Key=key, Body=model_tar_gz(booster))
    sagemaker = client("sagemaker")
    sagemaker.create_model(
        ModelName=model,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{outputs['BucketName']}/{key}"},
        ExecutionRoleArn=outputs["SageMakerExecutionRoleArn"],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{model}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    existing = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    if endpoint in existing:
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"{model}-config")
        return wait_while(sagemaker, endpoint, "Updating")["EndpointStatus"]
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{model}-config")
    return wait_while(sagemaker, endpoint, "Creating")["EndpointStatus"]


def stack_with_endpoint(state_dir: Path, booster: xgb.Booster, model: str, endpoint: str = "fraud") -> None:
    """A state folder as `stepwise run` leaves one that deployed `booster`: the local stack, and the
    endpoint serving it. The embedded AWS is closed again: no model server keeps running."""
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(state_dir) as aws:
        assert deploy_in_stack(aws.client, aws.stack.outputs, booster, model, endpoint) == "InService"


def served_clients(port: int):
    """`client(service)` for the embedded AWS `stepwise serve` exposes on `port`; the stack's outputs."""

    def client(service: str):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")

    stack = client("cloudformation").describe_stacks(StackName="stepwise")["Stacks"][0]
    return client, {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@contextlib.contextmanager
def stepwise_serve(state_dir: Path, port: int, endpoint: str = "fraud") -> Iterator[subprocess.Popen]:
    """`stepwise serve --port PORT` on the state folder (its embedded AWS and endpoints on one port), in
    a process of its own, until the block ends (SIGTERM, as a supervisor stops it; it must exit with 0)."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "stepwise.cli", "serve", "--port", str(port), "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        lines = [serve.stdout.readline() for _ in range(2)]  # the API's line, then the endpoint's
        assert f"http://127.0.0.1:{port}/endpoints/{endpoint}/invocations" in lines[1], lines + [
            serve.stderr.read()
        ]
        yield serve
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=30)
    assert code == 0, serve.stderr.read()
