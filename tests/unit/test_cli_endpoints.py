"""`stepwise invoke` (stepwise/console/serving.py) on the endpoint a local run recorded in the state
folder, without the embedded AWS; and `stepwise serve`, the folder's embedded AWS and endpoints on one
port, which invoke goes through when it runs."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from xgb_models import (
    REPO,
    deploy_endpoint,
    deploy_in_stack,
    sample_rows,
    served_clients,
    stack_with_endpoint,
    stepwise_serve,
    to_csv,
    train_booster,
)

from stepwise.cli import main
from stepwise.console import serving
from stepwise.emulator.sagemaker.endpoints import free_port


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    return train_booster(seed=2)


@pytest.fixture(scope="module")
def state_dir(booster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder as a finished `stepwise run` leaves it: endpoint `fraud` recorded, no server running."""
    state = tmp_path_factory.mktemp("run") / ".stepwise"
    deploy_endpoint(state, booster, "model-v1")
    return state


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


def test_invoke_starts_the_endpoint_for_the_call_and_prints_one_prediction_per_row(
    state_dir, booster, tmp_path, capsys
) -> None:
    assert model_servers_of(state_dir) == []  # the run that deployed it has ended
    rows = sample_rows(12, seed=11)
    (tmp_path / "rows.csv").write_bytes(to_csv(rows))
    assert main(["invoke", str(tmp_path / "rows.csv"), "--state-dir", str(state_dir)]) == 0
    printed = capsys.readouterr().out.split()
    np.testing.assert_array_equal(np.array(printed, dtype=np.float32), booster.predict(xgb.DMatrix(rows)))
    assert model_servers_of(state_dir) == []  # stopped after the call

    assert main(["invoke", str(tmp_path / "rows.csv"), "--json", "--state-dir", str(state_dir)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 12


def test_invoke_says_what_is_wrong(state_dir, tmp_path, capsys) -> None:
    (tmp_path / "short.csv").write_text("1,2,3\n")
    assert main(["invoke", str(tmp_path / "short.csv"), "--state-dir", str(state_dir)]) == 1
    assert "ModelError" in capsys.readouterr().err
    command = ["invoke", str(tmp_path / "short.csv"), "--endpoint", "nope", "--state-dir", str(state_dir)]
    assert main(command) == 2
    assert "no endpoint 'nope' in" in capsys.readouterr().err
    assert main(["invoke", str(tmp_path / "short.csv"), "--state-dir", str(tmp_path / "empty")]) == 2
    assert "no local stack in" in capsys.readouterr().err
    (tmp_path / "empty.csv").write_text("\n")
    assert main(["invoke", str(tmp_path / "empty.csv"), "--state-dir", str(state_dir)]) == 2
    assert "no rows in" in capsys.readouterr().err


def test_serve_answers_boto3_and_invoke_uses_it(booster, tmp_path) -> None:
    state_dir = tmp_path / ".stepwise"
    stack_with_endpoint(state_dir, booster, "model-v1")
    port = free_port()
    with stepwise_serve(state_dir, port):
        rows = sample_rows(4, seed=12)
        client = serving.runtime_client(port)
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
        assert serving.running_gateway(state_dir, "fraud") == port  # invoke goes through it
        assert len(model_servers_of(state_dir)) == 1
        started = time.monotonic()
        invoke = subprocess.run(
            [sys.executable, "-m", "stepwise.cli", "invoke", "-", "--state-dir", str(state_dir)],
            input=to_csv(rows),
            capture_output=True,
            timeout=120,
            cwd=REPO,
        )
        assert invoke.returncode == 0, invoke.stderr
        assert len(invoke.stdout.split()) == 4
        assert time.monotonic() - started < 60
        assert len(model_servers_of(state_dir)) == 1  # invoke started none of its own

        # another model deployed through the served API (as a run's Deploy does): blue/green, swapped in
        second = train_booster(seed=9, rounds=4)
        served, outputs = served_clients(port)
        assert deploy_in_stack(served, outputs, second, "model-v2") == "InService"
        answer = client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=to_csv(rows))
        served_now = np.array(answer["Body"].read().split(b","), dtype=np.float32)
        np.testing.assert_array_equal(served_now, second.predict(xgb.DMatrix(rows)))
        assert len(model_servers_of(state_dir)) == 1  # the first model's server was stopped
    assert not (state_dir / "endpoints" / serving.GATEWAY_FILE).exists()
    assert model_servers_of(state_dir) == []  # serve stopped its model servers too
    assert serving.running_gateway(state_dir, "fraud") is None
    # what serve changed was saved: the next process serves the second model
    invoked = subprocess.run(
        [sys.executable, "-m", "stepwise.cli", "invoke", "-", "--state-dir", str(state_dir)],
        input=to_csv(rows),
        capture_output=True,
        timeout=120,
        cwd=REPO,
    )
    assert invoked.returncode == 0, invoked.stderr
    np.testing.assert_array_equal(
        np.array(invoked.stdout.split(), dtype=np.float32), second.predict(xgb.DMatrix(rows))
    )


def test_serve_refuses_what_it_cannot_serve(state_dir, tmp_path, capsys) -> None:
    assert main(["serve", "--state-dir", str(tmp_path / "empty")]) == 2
    assert "no local stack in" in capsys.readouterr().err
    assert main(["serve", "--state-dir", str(state_dir)]) == 2  # endpoints recorded, but no stack
    assert "no local stack in" in capsys.readouterr().err
