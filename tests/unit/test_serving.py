"""The local XGBoost serving container: /ping, /invocations equal xgboost's own predict, bad payloads."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from http_probes import burst, check_stalled_clients_are_closed, chunked, exchange, post
from xgb_models import NUM_FEATURES, sample_rows, save_model_dir, to_csv, train_booster

from stepwise.containers import xgboost_serving
from stepwise.emulator.server import Limits

CSV_HEADERS = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    return train_booster()


@pytest.fixture(scope="module")
def server(booster: xgb.Booster, tmp_path_factory: pytest.TempPathFactory):
    model_dir = save_model_dir(booster, tmp_path_factory.mktemp("model"))
    server = xgboost_serving.serve(model_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    return request_port(server.server_address[1], method, path, body, headers)


def request_port(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    result = response.status, response.getheader("Content-Type"), response.read()
    connection.close()
    return result


def expected(booster: xgb.Booster, rows: np.ndarray) -> np.ndarray:
    return booster.predict(xgb.DMatrix(rows))


def test_ping_answers_once_the_model_is_loaded(server) -> None:
    status, _, _ = request(server, "GET", "/ping")
    assert status == 200


def test_csv_predictions_equal_xgboost_predict(server, booster) -> None:
    rows = sample_rows(25)
    status, content_type, body = request(
        server, "POST", "/invocations", to_csv(rows), {"Content-Type": "text/csv"}
    )
    assert status == 200 and content_type == "text/csv"
    values = body.decode().split(",")  # one line, as the real container answers a real-time request
    assert len(values) == 25 and b"\n" not in body
    np.testing.assert_array_equal(np.array(values, dtype=np.float32), expected(booster, rows))
    assert len(set(values)) > 1  # a real model separates these rows


def test_batch_transform_gets_one_prediction_per_line(booster, monkeypatch) -> None:
    rows = sample_rows(4)
    _, body = xgboost_serving.predict(booster, to_csv(rows), "text/csv", None)
    assert body.count(b",") == 3
    monkeypatch.setenv("SAGEMAKER_BATCH", "true")
    _, body = xgboost_serving.predict(booster, to_csv(rows), "text/csv", None)
    assert body.decode().splitlines() == [repr(float(p)) for p in expected(booster, rows)]


def test_json_predictions_are_a_list_as_the_builtin_algorithm_answers(server, booster) -> None:
    rows = sample_rows(3, seed=7)
    status, content_type, body = request(
        server,
        "POST",
        "/invocations",
        to_csv(rows),
        {"Content-Type": "text/csv; charset=utf-8", "Accept": "application/json"},
    )
    assert status == 200 and content_type == "application/json"
    scores = json.loads(body)  # a JSON list, as sagemaker_inference's encoder writes it
    np.testing.assert_array_equal(np.array(scores, dtype=np.float32), expected(booster, rows))


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"1,2,3\n", {"Content-Type": "text/csv"}, 400, f"has 3 features; the model expects {NUM_FEATURES}"),
        (b"1,2,3,x,5,6\n", {"Content-Type": "text/csv"}, 400, "non-numeric value 'x'"),
        (b"", {"Content-Type": "text/csv"}, 400, "empty body"),
        (b'{"a": 1}', {"Content-Type": "application/json"}, 415, "not supported: send text/csv"),
        (b"1,2,3,4,5,6\n", {"Content-Type": "text/csv", "Accept": "image/png"}, 406, "image/png"),
    ],
    ids=["wrong-feature-count", "non-numeric", "empty", "json-body", "bad-accept"],
)
def test_bad_payloads_get_a_clear_4xx(server, body, headers, status, message) -> None:
    got_status, _, got_body = request(server, "POST", "/invocations", body, headers)
    assert got_status == status
    assert message in got_body.decode()


def test_an_empty_cell_is_a_missing_value_as_in_training(server, booster) -> None:
    rows = sample_rows(2, seed=8)
    rows[1, 3] = np.nan
    body = to_csv(rows).replace(b"nan", b"")
    status, _, got = request(server, "POST", "/invocations", body, {"Content-Type": "text/csv"})
    assert status == 200
    np.testing.assert_array_equal(np.array(got.split(b","), dtype=np.float32), expected(booster, rows))


def test_second_row_error_names_the_row(server) -> None:
    body = b"1,2,3,4,5,6\n1,2,3,4,5\n"
    status, _, got = request(server, "POST", "/invocations", body, {"Content-Type": "text/csv"})
    assert status == 400 and got.decode().startswith("row 2 has 5 features")


def test_refuses_a_non_loopback_host(tmp_path: Path, booster) -> None:
    with pytest.raises(ValueError, match="loopback"):
        xgboost_serving.serve(save_model_dir(booster, tmp_path), port=0, host="0.0.0.0")


def test_module_serves_and_exits_nonzero_when_the_model_cannot_load(tmp_path: Path, booster) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "xgboost-model").write_bytes(b"this is not a model")
    command = [sys.executable, "-m", "stepwise.containers.xgboost_serving", "--port", "0", "--model-dir"]
    failed = subprocess.run([*command, str(broken)], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "is not a model XGBoost can load" in failed.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    failed = subprocess.run([*command, str(empty)], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "must contain 'xgboost-model'" in failed.stderr

    good = save_model_dir(booster, tmp_path / "good")
    process = subprocess.Popen([*command, str(good)], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_exits_with_its_parent_even_when_the_parent_is_killed(tmp_path: Path, booster) -> None:
    model_dir = save_model_dir(booster, tmp_path / "model")
    server_command = [
        sys.executable, "-m", "stepwise.containers.xgboost_serving",
        "--model-dir", str(model_dir), "--port", "0", "--exit-with-parent",
    ]  # fmt: skip
    parent_code = (
        "import subprocess, sys, time; "
        f"child = subprocess.Popen({server_command!r}, stdout=subprocess.PIPE, text=True); "
        "print(child.pid, child.stdout.readline(), flush=True); time.sleep(120)"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline().split()[0])  # printed once the server listens
    assert alive(pid)
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the model server outlived the process that started it"


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# ------------------------------------------------------------------- HTTP limits and deadlines

QUICK = Limits(request_timeout=1.0, idle_timeout=1.5)  # the deadlines, short enough for a test


@pytest.fixture(scope="module")
def quick(booster: xgb.Booster, tmp_path_factory: pytest.TempPathFactory):
    """A model server whose request and idle deadlines are about a second."""
    server = xgboost_serving.serve(save_model_dir(booster, tmp_path_factory.mktemp("quick")), 0, limits=QUICK)
    server.start()
    yield server.port
    server.shutdown()
    server.server_close()


def test_payload_over_6_mb_gets_413_and_the_connection_stays_usable(server) -> None:
    """The body is refused before it is read, then discarded as it arrives: the client, which sends it
    all before it reads, gets the 413 instead of a broken pipe, and may go on using the connection."""
    row = b"1.0,2.0,3.0,4.0,5.0,6.0\n"
    body = row * (6 * 1024 * 1024 // len(row) + 1)
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
    response = connection.getresponse()
    assert response.status == 413
    assert f"{len(body)} bytes: the limit is 6291456" in response.read().decode()
    connection.request("POST", "/invocations", body=row, headers={"Content-Type": "text/csv"})
    assert connection.getresponse().status == 200
    connection.close()


def test_a_content_length_larger_than_the_body_is_answered_within_the_timeout(quick) -> None:
    answer = exchange(quick, post("/invocations", b"1,2,3,4,5,6\n", content_length="100"), wait=5)
    assert answer.status == 408 and answer.closed
    assert 0.9 < answer.seconds < 3
    assert b"12 bytes of the 100 announced by Content-Length arrived" in answer.body


@pytest.mark.parametrize("length", ["-1", "abc", "12, 13", "0x10"])
def test_a_negative_or_garbage_content_length_gets_400(quick, length) -> None:
    answer = exchange(quick, post("/invocations", b"1,2,3,4,5,6\n", content_length=length), wait=5)
    assert answer.status == 400 and answer.closed and answer.seconds < 1


def test_a_chunked_body_is_read_and_scored(quick, booster) -> None:
    rows = sample_rows(9, seed=21)
    answer = exchange(quick, chunked("/invocations", to_csv(rows)), wait=5, then_close=True)
    assert answer.status == 200
    np.testing.assert_array_equal(
        np.array(answer.body.split(b","), dtype=np.float32), expected(booster, rows)
    )


def test_a_chunked_body_over_the_limit_gets_413(quick) -> None:
    row = b"1.0,2.0,3.0,4.0,5.0,6.0\n"
    answer = exchange(quick, chunked("/invocations", row * 270_000, pieces=8), wait=10, then_close=True)
    assert answer.status == 413


def test_slow_or_silent_clients_are_closed_and_do_not_block_others(quick) -> None:
    def serve_one() -> None:
        status, _, _ = request_port(quick, "POST", "/invocations", b"1,2,3,4,5,6\n", CSV_HEADERS)
        assert status == 200

    check_stalled_clients_are_closed(quick, serve_one)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/invocations", "POST"), ("DELETE", "/invocations", "POST"), ("PATCH", "/invocations", "POST"),
     ("GET", "/invocations", "POST"), ("POST", "/ping", "GET, HEAD")],
)  # fmt: skip
def test_other_methods_get_405(quick, method, path, allow) -> None:
    request_line = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode()
    answer = exchange(quick, request_line, wait=5, then_close=True)
    assert answer.status == 405 and answer.header("allow") == allow


def test_2000_new_connections_over_20_threads_get_no_reset(quick) -> None:
    outcomes, latencies = burst(quick, "/invocations", b"1,2,3,4,5,6\n", requests=2000, threads=20)
    assert outcomes == {200: 2000}
    assert latencies[int(0.99 * len(latencies))] < 0.9  # no SYN retransmit (1 s): none was dropped


# ------------------------------------------------------------------- CSV as the real container reads it


def real_container(body: bytes, num_features: int) -> np.ndarray:
    """What sagemaker-xgboost-container 1.7-1 scores for a text/csv body, or ValueError where it answers
    4xx: algorithm_mode/serve_utils.parse_content_data → encoder.csv_to_dmatrix (strip, split at
    newlines and commas, an empty cell becomes "nan", numpy's astype(float)), then xgboost's DMatrix
    (refuses inf: "Input data contains `inf` or a value too large") and predict (refuses more columns
    than the model has). Its delimiter is sniffed from the first line: a comma for these bodies."""
    text = body.strip().decode("utf-8")
    cells = [["nan" if cell == "" else cell for cell in line.split(",")] for line in text.split("\n")]
    matrix = np.array(cells).astype(float)  # ragged rows (numpy >= 1.24) or a non-number: ValueError
    with np.errstate(over="ignore"):
        too_large = np.isinf(matrix.astype(np.float32)).any()
    if too_large:
        raise ValueError("DMatrix: Input data contains `inf` or a value too large")
    if matrix.shape[1] > num_features:
        raise ValueError("predict: Number of columns does not match number of features in booster")
    return matrix


ACCEPTED = {
    "plain": b"1,2,3,4,5,6\n",
    "spaces-around-numbers": b" 1 , 2,3 ,4,5,\t6 \n",
    "crlf-lines": b"1,2,3,4,5,6\r\n6,5,4,3,2,1\r\n",
    "empty-cells": b"1,,3,4,,6\n,2,3,4,5,\n",
    "nan-spellings": b"nan,NaN,NAN,-nan,5,+nan\n",
    "signs-and-exponents": b"1e3,+2,-3.5,.5,5.,6E-2\n",
    "underscores": b"1_000,2,3,4,5,6\n",
    "blank-lines-around": b"\n\n1,2,3,4,5,6\n\n",
    "largest-float32": b"3.4e38,-3.4e38,0,0,0,0\n",
}
REJECTED = {
    "non-numeric": b"1,2,3,x,5,6\n",
    "blank-cell": b"1, ,3,4,5,6\n",
    "inf": b"inf,2,3,4,5,6\n",
    "minus-infinity": b"1,2,3,4,5,-Infinity\n",
    "beyond-float32": b"1e39,2,3,4,5,6\n",
    "too-many-features": b"1,2,3,4,5,6,7\n",
    "trailing-comma": b"1,2,3,4,5,6,\n",
    "blank-line-between-rows": b"1,2,3,4,5,6\n\n1,2,3,4,5,6\n",
    "ragged-second-row": b"1,2,3,4,5,6\n1,2,3\n",
    "quoted": b'"1",2,3,4,5,6\n',
    "hexadecimal": b"0x10,2,3,4,5,6\n",
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_rows_the_real_container_scores_are_scored_the_same(server, booster, body) -> None:
    reference = real_container(body, NUM_FEATURES)  # the oracle accepts it
    parsed = xgboost_serving.parse_csv(body, NUM_FEATURES)
    np.testing.assert_array_equal(parsed, reference.astype(np.float32))  # NaN where it has NaN
    status, _, got = request(server, "POST", "/invocations", body, CSV_HEADERS)
    assert status == 200
    scores = booster.predict(xgb.DMatrix(reference))  # NaN is xgboost's missing value
    np.testing.assert_array_equal(np.array(got.split(b","), dtype=np.float32), scores)


@pytest.mark.parametrize("body", REJECTED.values(), ids=REJECTED.keys())
def test_rows_the_real_container_rejects_get_a_4xx(server, body) -> None:
    with pytest.raises(ValueError):
        real_container(body, NUM_FEATURES)
    status, _, got = request(server, "POST", "/invocations", body, CSV_HEADERS)
    assert status == 400
    assert got.decode().startswith("row ")  # which row, and what to fix


def test_missing_values_get_the_same_prediction_as_xgboost_with_nan(server, booster) -> None:
    rows = sample_rows(4, seed=8)
    rows[0, 1] = rows[2, 5] = rows[3, 0] = np.nan
    lines = to_csv(rows).decode().splitlines()
    lines[0] = lines[0].replace("nan", "")  # an empty cell
    lines[3] = lines[3].replace("nan", "NaN")
    body = "\n".join(lines).encode()
    assert b",," in body and b"nan" in body and b"NaN" in body
    status, _, got = request(server, "POST", "/invocations", body, CSV_HEADERS)
    assert status == 200
    np.testing.assert_array_equal(np.array(got.split(b","), dtype=np.float32), expected(booster, rows))


def test_fewer_features_than_the_model_are_refused_where_the_real_container_scores_them(server) -> None:
    """A deliberate difference: xgboost would treat the missing trailing columns as missing values
    (its predict accepts fewer columns than the model has); a short row is almost always a client bug
    (a dropped column), so the local server names it instead."""
    body = b"1,2,3\n"
    assert real_container(body, NUM_FEATURES).shape == (1, 3)
    status, _, got = request(server, "POST", "/invocations", body, CSV_HEADERS)
    assert status == 400 and "has 3 features; the model expects 6" in got.decode()
