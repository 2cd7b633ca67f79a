"""`stepwise serve` and `stepwise invoke`.

`serve` exposes the whole embedded AWS of a state folder on 127.0.0.1 (stepwise/emulator/http_api.py):
every AWS API the stack uses and the SageMaker runtime, on one port, until Ctrl-C or SIGTERM. The aws
CLI and boto3 work against it unchanged (`--endpoint-url http://127.0.0.1:PORT`), and so do the
stepwise commands (`stepwise status --endpoint-url ...`). It is the same embedded AWS `stepwise run`
starts (restored from the folder, not redeployed): an upload through it starts a run that runs the
real jobs, an approval deploys, InvokeEndpoint reaches the real model server. It holds the folder's
lock while it serves and saves as it goes (objects, SageMaker calls, logs, and each execution's
history and summary, polled every second); on stop it stops the executions still running.

`invoke` sends CSV rows through a boto3 `sagemaker-runtime` client, the same call an application makes
against AWS: to a deployed stack's endpoint (`--stack`/`--endpoint-url`), or locally through a running
`serve` of the folder, else to the endpoint's recorded model served in-process for the call (no
embedded AWS needed: the model server and the runtime API only).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepwise.console.commands import DEFAULT_STATE_DIR, UsageError, _locked
from stepwise.console.target import add_target_arguments, target_of

DEFAULT_PORT = 8080
GATEWAY_FILE = "gateway.json"  # under <state dir>/endpoints/: where a running `serve` listens
SAVE_SECONDS = 1.0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the local stack's embedded AWS (every API, and the SageMaker runtime) on 127.0.0.1",
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})"
    )
    serve.add_argument("--no-wait", action="store_true", help="fail at once when the state folder is in use")
    add_target_arguments(serve, local_only=True)
    serve.set_defaults(handler=serve_command)

    invoke = subparsers.add_parser(
        "invoke", help="send feature rows (CSV, no header) to an endpoint; print one prediction per row"
    )
    invoke.add_argument(
        "input", nargs="?", default="-", help="CSV file of feature rows, or - for stdin (default)"
    )
    invoke.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="send the first N rows of the serving model's test split instead (label dropped)",
    )
    invoke.add_argument("--endpoint", help="endpoint name (default: the only deployed one)")
    invoke.add_argument("--content-type", default="text/csv", help="request content type (default text/csv)")
    invoke.add_argument("--json", action="store_true", help="ask the endpoint for JSON and print its answer")
    add_target_arguments(invoke)
    invoke.set_defaults(handler=invoke_command)


def _gateway_file(state_dir: Path) -> Path:
    return state_dir / "endpoints" / GATEWAY_FILE


# ================================================================================== serve
def serve_command(args: argparse.Namespace) -> int:
    from stepwise.console.commands import embedded_aws
    from stepwise.emulator.http_api import ServedAWS

    state_dir = args.state_dir or DEFAULT_STATE_DIR
    target = target_of(args)
    target.describe_stack()  # a folder with a stack (`stepwise run` makes it): else one line, exit 2
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with _locked(state_dir, "serve", args.no_wait), embedded_aws(state_dir, deploy=False) as aws:
            served = ServedAWS(aws)
            try:
                server = served.serve(port=args.port)
            except OSError as error:
                raise UsageError(
                    f"cannot listen on 127.0.0.1:{args.port} ({error.strerror}): choose another --port"
                ) from None
            recorder = ExecutionRecorder(aws)
            try:
                _serve(aws, served, server.port, recorder, stop, state_dir)
            finally:
                served.close()
                _gateway_file(state_dir).unlink(missing_ok=True)
                recorder.stop_running()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(
    aws: Any, served: Any, port: int, recorder: ExecutionRecorder, stop: threading.Event, state_dir: Path
) -> None:
    url = f"http://127.0.0.1:{port}"
    names = served.endpoint_names()
    for name in names:  # start the model servers now: the first call is fast, a broken model says so now
        try:
            aws.endpoints.server_for(name)
        except Exception as error:  # noqa: BLE001
            print(f"stepwise: endpoint {name} cannot serve: {error}", file=sys.stderr, flush=True)
    path = _gateway_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "port": port, "endpoints": names}))
    print(
        f"Serving the embedded AWS of {state_dir} (stack {aws.stack_name}, {aws.region}) at {url}", flush=True
    )
    for name in names:
        print(f"Serving endpoint {name} at {url}/endpoints/{name}/invocations")
    print(
        f'Clients: aws --endpoint-url {url} ..., boto3 clients with endpoint_url="{url}", or stepwise '
        f"commands with --endpoint-url {url} (any credentials). Ctrl-C stops.",
        flush=True,
    )
    try:
        while not stop.wait(SAVE_SECONDS):
            recorder.save()
            latest = served.endpoint_names()
            if latest != names:
                names = latest
                path.write_text(json.dumps({"pid": os.getpid(), "port": port, "endpoints": names}))
                for name in names:
                    print(f"Serving endpoint {name} at {url}/endpoints/{name}/invocations", flush=True)
    except KeyboardInterrupt:
        pass
    recorder.save()


class ExecutionRecorder:
    """Saves the executions a served embedded AWS runs (an upload over HTTP starts them): description
    and history as they grow, and the summary (and report.html) once each ends."""

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.finished = {d["name"] for d in aws.store.execution_descriptions() if d["status"] != "RUNNING"}

    def _running_and_new(self) -> list[str]:
        if self.aws.stack is None:
            return []
        sfn = self.aws.client("stepfunctions")
        arns = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=self.aws.state_machine_arn):
            arns += [e["executionArn"] for e in page["executions"] if e["name"] not in self.finished]
        return arns

    def save(self) -> None:
        from stepwise.console.report import write_run_report
        from stepwise.console.summary import build_summary

        try:
            arns = self._running_and_new()
        except Exception:  # noqa: BLE001 (the stack was just deleted: nothing to save)
            return
        for arn in arns:
            described = self.aws.describe(arn)
            events = self.aws.history(arn)
            parameters = self.aws.stack.parameters if self.aws.stack is not None else None
            self.aws.store.save_execution(described, events, parameters=parameters)
            if described["status"] == "RUNNING":
                continue
            self.finished.add(described["name"])
            summary = build_summary(self.aws.store, described, events)
            self.aws.store.save_execution(described, events, summary=summary)
            with contextlib.suppress(Exception):
                summary["report"] = str(write_run_report(self.aws.state_dir, described["name"]))
            status = described["status"]
            print(f"Execution {described['name']}: {status} (ended in {summary.get('endState')})", flush=True)

    def stop_running(self) -> None:
        """Serving stops: executions still running are stopped (StopExecution) and saved."""
        with contextlib.suppress(Exception):
            for arn in self._running_and_new():
                if self.aws.describe(arn)["status"] == "RUNNING":
                    self.aws.stop(arn, cause="Stopped: stepwise serve ended")
            self.save()


def running_gateway(state_dir: Path, endpoint: str) -> int | None:
    """The port of a `stepwise serve` of this state folder that serves `endpoint` and answers, or None."""
    try:
        info = json.loads(_gateway_file(state_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if endpoint not in info.get("endpoints", []):
        return None
    try:
        connection = http.client.HTTPConnection("127.0.0.1", int(info["port"]), timeout=2)
        connection.request("GET", "/ping")
        healthy = connection.getresponse().status == 200
        connection.close()
    except OSError:
        return None
    return int(info["port"]) if healthy else None


# ================================================================================== a recorded model
class _Servers:
    """Model servers of recorded endpoints, in this process (a supervisor of their own)."""

    def __init__(self, state_dir: Path) -> None:
        from stepwise.emulator.processes import Supervisor

        self.state_dir = state_dir
        self.supervisor = Supervisor()
        self.servers: dict[str, Any] = {}
        self.lock = threading.Lock()

    def start(self, name: str, record: dict) -> Any:
        from stepwise.emulator.sagemaker.endpoints import recorded_model_dir, start_model_server

        server = start_model_server(
            self.supervisor,
            name,
            recorded_model_dir(self.state_dir / "endpoints", record),
            endpoint_config_name=record["EndpointConfigName"],
            variant_name=record.get("VariantName", "AllTraffic"),
            model_data_url=record.get("ModelDataUrl", ""),
        )
        with self.lock:
            self.servers[name] = server
        return server

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> tuple:
        from stepwise.emulator.sagemaker.endpoints import MAX_PAYLOAD_BYTES, error_reply, forward

        if len(body) > MAX_PAYLOAD_BYTES:
            return error_reply(413, None, f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes.")
        with self.lock:
            server = self.servers.get(name)
        if server is None:
            return error_reply(400, "ValidationError", f"Endpoint {name} is not served here")
        return forward(server, name, body, content_type, accept)

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self.servers)

    def healthy(self) -> bool:
        with self.lock:
            servers = list(self.servers.values())
        return bool(servers) and all(server.ping() for server in servers)

    def close(self) -> None:
        self.supervisor.close()


@contextlib.contextmanager
def serve_recorded(state_dir: Path, name: str, record: dict) -> Iterator[int]:
    """The recorded model of endpoint `name` and the runtime API in this process; yields the port."""
    from stepwise.emulator.sagemaker.endpoints import EndpointStartError
    from stepwise.emulator.sagemaker.runtime import serve_runtime

    servers = _Servers(state_dir)
    gateway = None
    try:
        try:
            servers.start(name, record)
        except EndpointStartError as error:
            raise UsageError(f"endpoint {name} could not start: {error}") from None
        gateway = serve_runtime(servers.invoke, servers.names, healthy=servers.healthy)
        yield gateway.port
    finally:
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
        servers.close()


# ================================================================================== invoke
def _sample_rows(target: Any, record: dict, count: int) -> bytes:
    """The first `count` rows of the serving model's test split, label dropped (from its package)."""
    url = record.get("ModelDataUrl")
    package = next(
        (p for p in target.packages() if (p.get("container") or {}).get("ModelDataUrl") == url), None
    )
    test_uri = ((package or {}).get("metadata") or {}).get("testDataUri")
    if not test_uri:
        raise UsageError("the serving model's package records no test data (testDataUri)")
    bucket, _, key = test_uri.removeprefix("s3://").partition("/")
    data = target.read_object(bucket, key)
    if data is None:
        raise UsageError(f"{test_uri} does not exist any more")
    rows = list(csv.reader(io.StringIO(data.decode())))[1 : count + 1]
    return ("\n".join(",".join(row[1:]) for row in rows) + "\n").encode()


def invoke_command(args: argparse.Namespace) -> int:
    target = target_of(args)
    records = target.serving()
    name = args.endpoint
    if name is None:
        if len(records) != 1:
            raise UsageError(
                f"{len(records)} endpoints are deployed {target.where()} "
                f"({', '.join(sorted(records))}); pass --endpoint"
                if records
                else f"no endpoint is deployed {target.where()}: a run that passes the gate deploys one"
            )
        name = next(iter(records))
    elif name not in records:
        raise UsageError(
            f"no endpoint {name!r} {target.where()} (deployed: {', '.join(sorted(records)) or 'none'})"
        )
    if args.sample is not None:
        if args.sample < 1:
            raise UsageError(f"--sample {args.sample}: send at least 1 row")
        body = _sample_rows(target, records[name], args.sample)
    else:
        try:
            body = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {args.input}: {error.strerror}") from None
    if not body.strip():
        raise UsageError(
            f"no rows in {'stdin' if args.input == '-' else args.input}: send CSV rows of features"
        )
    with target.runtime_client(name) as client:
        return _invoke_and_print(client, name, body, args)


def runtime_client(port: int) -> Any:
    """A boto3 sagemaker-runtime client for the local API (placeholder credentials: nothing real)."""
    import boto3

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id="stepwise-local",
        aws_secret_access_key="stepwise-local",
    )


def _invoke_and_print(client: Any, name: str, body: bytes, args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    accept = "application/json" if args.json else "text/csv"
    try:
        response = client.invoke_endpoint(
            EndpointName=name, ContentType=args.content_type, Accept=accept, Body=body
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"stepwise: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    answer = response["Body"].read().decode()
    if args.json:
        print(answer, flush=True)
    else:  # the container joins values with commas; print one per line
        print("\n".join(v.strip() for v in answer.replace("\n", ",").split(",") if v.strip()), flush=True)
    return 0
