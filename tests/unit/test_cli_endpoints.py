"""`stepwise serve` and `stepwise invoke` on the endpoints a local run recorded."""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
import xgboost as xgb
from moto import mock_aws
from xgb_models import BUCKET, deploy_config, model_tar_gz, sample_rows, to_csv, train_booster, wait_while

from stepwise.local import cli_endpoints, endpoints

# Until the lead wires add_commands into stepwise/cli.py, the commands run through this parser.
MAIN = (
    "import argparse, sys; from stepwise.local import cli_endpoints as c; p = argparse.ArgumentParser(); "
    "c.add_commands(p.add_subparsers(required=True)); a = p.parse_args(); sys.exit(a.handler(a))"
)


def main(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli_endpoints.add_commands(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    return train_booster(seed=2)


def deploy(state: Path, booster: xgb.Booster, model: str) -> None:
    """What a `stepwise run` that deploys `booster` as endpoint `fraud` leaves in the state folder."""
    with mock_aws():
        endpoints.install_endpoint_hooks(state)
        try:
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            sagemaker = boto3.client("sagemaker")
            config = deploy_config(sagemaker, model, model_tar_gz(booster))
            sagemaker.create_endpoint(EndpointName="fraud", EndpointConfigName=config)
            assert wait_while(sagemaker, "fraud", "Creating")["EndpointStatus"] == "InService"
        finally:
            endpoints.uninstall_endpoint_hooks()


@pytest.fixture(scope="module")
def state_dir(booster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder as a finished `stepwise run` leaves it: endpoint `fraud` recorded, no server running."""
    state = tmp_path_factory.mktemp("run") / ".stepwise"
    deploy(state, booster, "model-v1")
    return state


def test_invoke_starts_the_endpoint_for_the_call_and_prints_one_prediction_per_row(
    state_dir, booster, tmp_path, capsys
) -> None:
    rows = sample_rows(12, seed=11)
    (tmp_path / "rows.csv").write_bytes(to_csv(rows))
    assert main("invoke", str(tmp_path / "rows.csv"), "--state-dir", str(state_dir)) == 0
    printed = capsys.readouterr().out.split()
    np.testing.assert_array_equal(np.array(printed, dtype=np.float32), booster.predict(xgb.DMatrix(rows)))
    assert endpoints.running_endpoints() == {}  # stopped after the call

    assert main("invoke", str(tmp_path / "rows.csv"), "--json", "--state-dir", str(state_dir)) == 0
    assert len(json.loads(capsys.readouterr().out)) == 12


def test_invoke_says_what_is_wrong(state_dir, tmp_path, capsys) -> None:
    (tmp_path / "short.csv").write_text("1,2,3\n")
    assert main("invoke", str(tmp_path / "short.csv"), "--state-dir", str(state_dir)) == 1
    assert "ModelError" in capsys.readouterr().err
    assert (
        main("invoke", str(tmp_path / "short.csv"), "--endpoint", "nope", "--state-dir", str(state_dir)) == 1
    )
    error = capsys.readouterr().err
    assert "'nope' is not deployed" in error and "(deployed: fraud)" in error
    assert main("invoke", str(tmp_path / "short.csv"), "--state-dir", str(tmp_path / "empty")) == 1
    assert "0 endpoints are deployed" in capsys.readouterr().err


def test_serve_answers_boto3_and_invoke_uses_it(state_dir, booster, tmp_path) -> None:
    state_dir = Path(shutil.copytree(state_dir, tmp_path / ".stepwise"))  # this test deploys again
    port = endpoints._free_port()
    serve = subprocess.Popen(
        [sys.executable, "-c", MAIN, "serve", "--port", str(port), "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = serve.stdout.readline()
        assert f"http://127.0.0.1:{port}/endpoints/fraud/invocations" in banner, serve.stderr.read()
        rows = sample_rows(4, seed=12)
        client = cli_endpoints.runtime_client(port)
        answer = client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=to_csv(rows))
        np.testing.assert_array_equal(
            np.array(answer["Body"].read().split(b","), dtype=np.float32), booster.predict(xgb.DMatrix(rows))
        )
        # the container routes too: /ping, and /invocations for the one endpoint served
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/ping")
        ping = connection.getresponse()
        assert ping.status == 200 and ping.read() == b""
        connection.request("POST", "/invocations", body=to_csv(rows), headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        assert response.status == 200 and len(response.read().split(b",")) == 4
        connection.close()
        assert cli_endpoints.running_gateway(state_dir, "fraud") == port  # invoke goes through it
        assert len(model_servers_of(state_dir)) == 1
        started = time.monotonic()
        invoke = subprocess.run(
            [sys.executable, "-c", MAIN, "invoke", "-", "--state-dir", str(state_dir)],
            input=to_csv(rows),
            capture_output=True,
            timeout=120,
        )
        assert invoke.returncode == 0, invoke.stderr
        assert len(invoke.stdout.split()) == 4
        assert time.monotonic() - started < 60

        # a later run deploys another model: serve swaps it in
        second = train_booster(seed=9, rounds=4)
        deploy(state_dir, second, "model-v2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=to_csv(rows))
            served = np.array(answer["Body"].read().split(b","), dtype=np.float32)
            if np.array_equal(served, second.predict(xgb.DMatrix(rows))):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("serve still answers with the first model")
        assert len(model_servers_of(state_dir)) == 1  # the first model's server was stopped
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    assert not (state_dir / "endpoints" / cli_endpoints.GATEWAY_FILE).exists()
    assert model_servers_of(state_dir) == []  # serve stopped its model servers too
    assert cli_endpoints.running_gateway(state_dir, "fraud") is None


def model_servers_of(state_dir: Path) -> list[str]:
    """Command lines of live xgboost_serving processes serving a model under state_dir."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "xgboost_serving" in command and str(state_dir) in command:
            found.append(command)
    return found
