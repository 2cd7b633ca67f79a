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


@contextlib.contextmanager
def stepwise_serve(state_dir: Path, port: int, endpoint: str = "fraud") -> Iterator[subprocess.Popen]:
    """`stepwise serve --port PORT` on the state folder, in a process of its own, until the block ends
    (SIGTERM, as a supervisor stops it; it must exit with 0)."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "stepwise.cli", "serve", "--port", str(port), "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        banner = serve.stdout.readline()
        assert f"http://127.0.0.1:{port}/endpoints/{endpoint}/invocations" in banner, serve.stderr.read()
        yield serve
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=30)
    assert code == 0, serve.stderr.read()
