"""The SageMaker runtime API on loopback (stepwise.emulator.sagemaker.runtime): boto3 unchanged, with
SageMaker's payload limit, deadlines for slow or lying clients, and bursts of new connections.

Most tests serve a stand-in `invoke`; the `deployed` ones go through `stepwise serve` to a real model
server, the one a bare embedded AWS deployed (which answers the same requests through moto too).
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from http_probes import burst, check_stalled_clients_are_closed, chunked, exchange, post
from xgb_models import sample_rows, stack_with_endpoint, stepwise_serve, to_csv, train_booster

from stepwise.console.serving import runtime_client
from stepwise.emulator.sagemaker import runtime
from stepwise.emulator.sagemaker.endpoints import free_port
from stepwise.emulator.server import Limits

QUICK = Limits(request_timeout=1.0, idle_timeout=1.5)  # the deadlines, short enough for a test
LIMIT = 6 * 1024 * 1024
ROW = b"1.0,2.0,3.0,4.0,5.0,6.0\n"


class StandIn:
    """An `invoke` that records its calls and answers like a model (or as told)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, str | None, str | None]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, body: bytes, content_type: str | None, accept: str | None):
        with self.lock:
            self.calls.append((name, body, content_type, accept))
        if name == "broken":
            return runtime.error_response(424, "ModelError", "the model failed", OriginalStatusCode=400)
        if name != "fraud":
            return runtime.error_response(400, "ValidationError", f"Endpoint {name} not found")
        answer = ",".join(["0.5"] * (body.decode().strip().count("\n") + 1)).encode()
        return 200, {"Content-Type": "text/csv", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, answer


@pytest.fixture
def stand_in():
    invoke = StandIn()
    server = runtime.serve_runtime(invoke, lambda: ["fraud"], limits=QUICK)
    yield server.port, invoke
    server.shutdown()
    server.server_close()


def test_boto3_gets_the_model_answer_and_the_runtime_error_shapes(stand_in) -> None:
    port, invoke = stand_in
    client = runtime_client(port)
    answer = client.invoke_endpoint(
        EndpointName="fraud", ContentType="text/csv", Accept="text/csv", Body=ROW * 3
    )
    assert answer["Body"].read() == b"0.5,0.5,0.5" and answer["ContentType"] == "text/csv"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert invoke.calls == [("fraud", ROW * 3, "text/csv", "text/csv")]

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName="broken", ContentType="text/csv", Body=ROW)
    assert caught.value.response["Error"]["Code"] == "ModelError"
    assert caught.value.response["OriginalStatusCode"] == 400
    with pytest.raises(client.exceptions.ValidationError):
        client.invoke_endpoint(EndpointName="other", ContentType="text/csv", Body=ROW)


def test_payload_over_6_mb_gets_sagemakers_413_and_the_client_goes_on(stand_in) -> None:
    port, invoke = stand_in
    client = runtime_client(port)
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=b"1" * (LIMIT + 1))
    # as against AWS: "An error occurred (413) when calling the InvokeEndpoint operation: HTTP content
    # length exceeded 6291456 bytes."
    assert caught.value.response["Error"]["Code"] == "413"
    assert caught.value.response["Error"]["Message"] == "HTTP content length exceeded 6291456 bytes."
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert invoke.calls == []  # refused before any model sees it
    answer = client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=b"1" * LIMIT)
    assert answer["Body"].read() == b"0.5"  # exactly the limit is fine, on the same client


def test_a_content_length_larger_than_the_body_is_answered_within_the_timeout(stand_in) -> None:
    port, invoke = stand_in
    answer = exchange(port, post("/endpoints/fraud/invocations", ROW, content_length="1000"), wait=5)
    assert answer.status == 408 and answer.closed
    assert 0.9 < answer.seconds < 3
    assert answer.header("x-amzn-ErrorType") == "RequestTimeoutException"
    assert "24 bytes of the 1000 announced by Content-Length arrived" in json.loads(answer.body)["message"]
    assert invoke.calls == []


@pytest.mark.parametrize("length", ["-1", "abc", "12, 13", "1e3"])
def test_a_negative_or_garbage_content_length_gets_400(stand_in, length) -> None:
    port, invoke = stand_in
    answer = exchange(port, post("/endpoints/fraud/invocations", ROW, content_length=length), wait=5)
    assert answer.status == 400 and answer.closed and answer.seconds < 1
    assert invoke.calls == []


def test_a_chunked_body_is_read_whole_and_one_over_the_limit_gets_413(stand_in) -> None:
    port, invoke = stand_in
    answer = exchange(port, chunked("/endpoints/fraud/invocations", ROW * 5), wait=5, then_close=True)
    assert answer.status == 200 and answer.body == b"0.5,0.5,0.5,0.5,0.5"
    assert invoke.calls[0][1] == ROW * 5

    too_big = chunked("/endpoints/fraud/invocations", ROW * (LIMIT // len(ROW) + 1), pieces=8)
    answer = exchange(port, too_big, wait=10, then_close=True)
    assert answer.status == 413
    assert json.loads(answer.body) == {"message": "HTTP content length exceeded 6291456 bytes."}
    assert len(invoke.calls) == 1


def test_slow_or_silent_clients_are_closed_and_do_not_block_others(stand_in) -> None:
    port, _ = stand_in
    client = runtime_client(port)
    check_stalled_clients_are_closed(
        port, lambda: client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=ROW)
    )


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/endpoints/fraud/invocations", "POST"), ("DELETE", "/endpoints/fraud/invocations", "POST"),
     ("PATCH", "/endpoints/fraud/invocations", "POST"), ("GET", "/endpoints/fraud/invocations", "POST"),
     ("PUT", "/invocations", "POST"), ("POST", "/ping", "GET, HEAD")],
)  # fmt: skip
def test_other_methods_get_405(stand_in, method, path, allow) -> None:
    port, invoke = stand_in
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode()
    answer = exchange(port, request, wait=5, then_close=True)
    assert answer.status == 405 and answer.header("allow") == allow
    assert answer.header("x-amzn-ErrorType") == "UnknownOperationException"
    assert invoke.calls == []


def test_ping_and_the_containers_route(stand_in) -> None:
    port, invoke = stand_in
    ping = exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", wait=5, then_close=True)
    assert ping.status == 200
    answer = exchange(port, post("/invocations", ROW), wait=5, then_close=True)
    assert answer.status == 200 and invoke.calls[0][0] == "fraud"  # the one endpoint served
    missing = exchange(port, post("/nowhere", ROW), wait=5, then_close=True)
    assert missing.status == 404


def test_the_uvicorn_internals_the_deadlines_rely_on_are_still_there() -> None:
    """Smoke test: a uvicorn upgrade that renames what stepwise.emulator.server extends fails here."""
    import inspect

    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

    for method in ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete",
                   "on_body", "timeout_keep_alive_handler"):  # fmt: skip
        assert callable(getattr(HttpToolsProtocol, method)), method
    source = inspect.getsource(HttpToolsProtocol.__init__)
    for attribute in ("self.transport", "self.loop", "self.flow", "self.cycle", "self.timeout_keep_alive"):
        assert attribute in source, attribute
    cycle = inspect.getsource(RequestResponseCycle.__init__)
    for attribute in ("self.body", "self.message_event", "self.response_complete"):
        assert attribute in cycle, attribute


# ------------------------------------------------------------------- through a deployed endpoint


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    return train_booster(seed=4)


@pytest.fixture(scope="module")
def deployed(booster, tmp_path_factory: pytest.TempPathFactory):
    """Endpoint `fraud` of a local stack (a real model server), and `stepwise serve` on its state folder:
    the port, which answers the runtime's routes and the SageMaker runtime API."""
    state = tmp_path_factory.mktemp("state") / ".stepwise"
    stack_with_endpoint(state, booster, "gateway-v1")
    port = free_port()
    with stepwise_serve(state, port):
        yield port


def test_payload_over_6_mb_gets_413_through_the_runtime_route_and_the_api(deployed, booster) -> None:
    """The same answer on the runtime's own route (no signature, as a container's client sends it) and
    through botocore's signed InvokeEndpoint."""
    port = deployed
    body = ROW * (LIMIT // len(ROW) + 1)
    unsigned = exchange(port, post("/endpoints/fraud/invocations", body), then_close=True)
    assert unsigned.status == 413 and b"HTTP content length exceeded 6291456 bytes." in unsigned.body
    client = runtime_client(port)
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=body)
    assert caught.value.response["Error"]["Code"] == "413"
    assert caught.value.response["Error"]["Message"] == "HTTP content length exceeded 6291456 bytes."
    rows = sample_rows(3, seed=5)
    answer = client.invoke_endpoint(EndpointName="fraud", ContentType="text/csv", Body=to_csv(rows))
    served = np.array(answer["Body"].read().split(b","), dtype=np.float32)
    np.testing.assert_array_equal(served, booster.predict(xgb.DMatrix(rows)))


def test_2000_new_connections_over_20_threads_get_no_reset(deployed) -> None:
    """Each request on a new connection to the served port, which forwards it to the model server."""
    port = deployed
    outcomes, latencies = burst(port, "/endpoints/fraud/invocations", to_csv(sample_rows(1)), requests=2000)
    assert outcomes == {200: 2000}
    assert latencies[int(0.99 * len(latencies))] < 0.9  # no SYN retransmit (1 s): none was dropped
