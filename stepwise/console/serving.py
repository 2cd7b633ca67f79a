"""`stepwise serve` and `stepwise invoke`: the endpoints local runs deployed, outside a run.

`serve` starts every endpoint recorded in the state folder (what each serves: stepwise/emulator/
sagemaker/endpoints.py) and the SageMaker runtime API on 127.0.0.1, in the foreground until Ctrl-C;
when a later run redeploys an endpoint, it swaps the new model in once that answers /ping. `invoke`
sends CSV rows through a boto3 `sagemaker-runtime` client pointed at it, the same call an application
makes against AWS; when no `serve` runs it starts the endpoint and the API in-process for the call.
Neither starts the embedded AWS, nor changes the state folder.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from stepwise.console.commands import UsageError, _store, add_state_dir_argument

DEFAULT_PORT = 8080
GATEWAY_FILE = "gateway.json"  # under <state dir>/endpoints/: where a running `serve` listens


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="serve the deployed endpoints on 127.0.0.1 (the SageMaker runtime API) until Ctrl-C"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--endpoint", action="append", help="serve only this endpoint (repeatable; default all)"
    )
    add_state_dir_argument(serve)
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
    add_state_dir_argument(invoke)
    invoke.set_defaults(handler=invoke_command)


def _deployed(state_dir: Path) -> dict[str, dict]:
    from stepwise.console.records import serving_versions

    return serving_versions(_store(state_dir))


def _gateway_file(state_dir: Path) -> Path:
    return state_dir / "endpoints" / GATEWAY_FILE


class _Servers:
    """Model servers of recorded endpoints, in this process (a supervisor of their own)."""

    def __init__(self, state_dir: Path) -> None:
        from stepwise.emulator.processes import Supervisor

        self.state_dir = state_dir
        self.supervisor = Supervisor()
        self.servers: dict[str, Any] = {}
        self.lock = threading.Lock()

    def start(self, name: str, record: dict) -> Any:
        from stepwise.emulator.sagemaker.endpoints import start_model_server

        server = start_model_server(
            self.supervisor,
            name,
            self.state_dir / "endpoints" / record["ModelDir"],
            endpoint_config_name=record["EndpointConfigName"],
            variant_name=record.get("VariantName", "AllTraffic"),
            model_data_url=record.get("ModelDataUrl", ""),
        )
        with self.lock:
            previous = self.servers.get(name)
            self.servers[name] = server
        if previous is not None:
            self.supervisor.stop(previous.process, grace=5)
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


def serve_command(args: argparse.Namespace) -> int:
    from stepwise.emulator.sagemaker.endpoints import EndpointStartError
    from stepwise.emulator.sagemaker.runtime import serve_runtime

    records = _deployed(args.state_dir)
    if not records:
        raise UsageError(f"no endpoint is deployed in {args.state_dir}: `stepwise run` deploys one")
    wanted = args.endpoint or sorted(records)
    unknown = [name for name in wanted if name not in records]
    if unknown:
        raise UsageError(
            f"no endpoint {', '.join(unknown)} in {args.state_dir} (deployed: {', '.join(sorted(records))})"
        )
    servers = _Servers(args.state_dir)
    stop = threading.Event()
    previous_handler = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gateway = None
    try:
        try:
            for name in wanted:
                servers.start(name, records[name])
        except EndpointStartError as error:
            raise UsageError(f"the model server could not start: {error}") from None
        try:
            gateway = serve_runtime(servers.invoke, servers.names, healthy=servers.healthy, port=args.port)
        except OSError as error:
            raise UsageError(
                f"cannot listen on 127.0.0.1:{args.port} ({error.strerror}): choose another --port"
            ) from None
        path = _gateway_file(args.state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": os.getpid(), "port": gateway.port, "endpoints": wanted}))
        for name in wanted:
            print(f"Serving endpoint {name} at http://127.0.0.1:{gateway.port}/endpoints/{name}/invocations")
        print(
            f'Clients: boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:{gateway.port}"), '
            "or `stepwise invoke`. Ctrl-C stops.",
            flush=True,
        )
        current = {name: records[name].get("ModelDir") for name in wanted}
        try:
            while not stop.wait(1.0):
                latest = _deployed(args.state_dir)
                for name in wanted:
                    record = latest.get(name)
                    if record and record.get("ModelDir") != current[name]:
                        try:
                            servers.start(name, record)
                            current[name] = record.get("ModelDir")
                            print(f"Now serving {name} ({record['EndpointConfigName']})", flush=True)
                        except EndpointStartError as error:
                            current[name] = record.get("ModelDir")
                            print(
                                f"stepwise: keeps serving the previous model of {name}: {error}",
                                file=sys.stderr,
                            )
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
            _gateway_file(args.state_dir).unlink(missing_ok=True)
        servers.close()


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


def _sample_rows(state_dir: Path, record: dict, count: int) -> bytes:
    """The first `count` rows of the serving model's test split, label dropped (from its package)."""
    from stepwise.console.records import packages

    store = _store(state_dir)
    url = record.get("ModelDataUrl")
    package = next(
        (p for p in packages(store) if (p.get("container") or {}).get("ModelDataUrl") == url), None
    )
    test_uri = ((package or {}).get("metadata") or {}).get("testDataUri")
    if not test_uri:
        raise UsageError("the serving model's package records no test data (testDataUri)")
    bucket, _, key = test_uri.removeprefix("s3://").partition("/")
    data = store.read_object(bucket, key)
    if data is None:
        raise UsageError(f"{test_uri} is not in the state folder any more")
    rows = list(csv.reader(io.StringIO(data.decode())))[1 : count + 1]
    return ("\n".join(",".join(row[1:]) for row in rows) + "\n").encode()


def invoke_command(args: argparse.Namespace) -> int:
    records = _deployed(args.state_dir)
    name = args.endpoint
    if name is None:
        if len(records) != 1:
            raise UsageError(
                f"{len(records)} endpoints are deployed in {args.state_dir} "
                f"({', '.join(sorted(records)) or 'none: `stepwise run` deploys one'}); pass --endpoint"
                if records
                else f"no endpoint is deployed in {args.state_dir}: `stepwise run` deploys one"
            )
        name = next(iter(records))
    elif name not in records:
        raise UsageError(
            f"no endpoint {name!r} in {args.state_dir} (deployed: {', '.join(sorted(records)) or 'none'})"
        )
    if args.sample is not None:
        if args.sample < 1:
            raise UsageError(f"--sample {args.sample}: send at least 1 row")
        body = _sample_rows(args.state_dir, records[name], args.sample)
    else:
        try:
            body = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {args.input}: {error.strerror}") from None
    if not body.strip():
        raise UsageError(
            f"no rows in {'stdin' if args.input == '-' else args.input}: send CSV rows of features"
        )
    port = running_gateway(args.state_dir, name)
    if port is not None:
        return _invoke_and_print(port, name, body, args)
    from stepwise.emulator.sagemaker.endpoints import EndpointStartError
    from stepwise.emulator.sagemaker.runtime import serve_runtime

    servers = _Servers(args.state_dir)
    gateway = None
    try:
        try:
            servers.start(name, records[name])
        except EndpointStartError as error:
            raise UsageError(f"endpoint {name} could not start: {error}") from None
        gateway = serve_runtime(servers.invoke, servers.names, healthy=servers.healthy)
        return _invoke_and_print(gateway.port, name, body, args)
    finally:
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
        servers.close()


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


def _invoke_and_print(port: int, name: str, body: bytes, args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    accept = "application/json" if args.json else "text/csv"
    try:
        response = runtime_client(port).invoke_endpoint(
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
