"""`stepwise serve` and `stepwise invoke`: the endpoints local runs deployed, outside a run.

`serve` starts every endpoint recorded under the state folder (see stepwise.local.endpoints) and the
SageMaker-runtime-shaped gateway on 127.0.0.1 in the foreground, until Ctrl-C; when a later run
redeploys an endpoint, it swaps the new model in once that answers /ping. `invoke` sends CSV rows
through a boto3 `sagemaker-runtime` client pointed at that gateway, the same call an application makes
against AWS; when no `serve` is running it starts the endpoint and a gateway in-process for the call.

`add_commands(subparsers)` adds both to the `stepwise` parser; nothing heavy is imported until a
command runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from stepwise.local.cli_run import add_state_dir_argument

DEFAULT_PORT = 8080
GATEWAY_FILE = "gateway.json"  # under <state dir>/endpoints/: where a running `serve` listens


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="serve the deployed endpoints on 127.0.0.1 (SageMaker runtime API) until Ctrl-C"
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
        "invoke", help="send CSV rows (features only, no header) to an endpoint; print one prediction per row"
    )
    invoke.add_argument(
        "input", nargs="?", default="-", help="CSV file of feature rows, or - for stdin (default)"
    )
    invoke.add_argument("--endpoint", help="endpoint name (default: the only deployed one)")
    invoke.add_argument("--content-type", default="text/csv", help="request content type (default text/csv)")
    invoke.add_argument(
        "--json", action="store_true", help="ask the endpoint for JSON (a list of predictions) and print it"
    )
    add_state_dir_argument(invoke)
    invoke.set_defaults(handler=invoke_command)


def _fail(message: str) -> int:
    print(f"stepwise: {message}", file=sys.stderr)
    return 1


def _gateway_file(state_dir: Path) -> Path:
    from stepwise.local.endpoints import ENDPOINTS_DIR

    return state_dir / ENDPOINTS_DIR / GATEWAY_FILE


# ---------------------------------------------------------------------------------------------- serve
def serve_command(args: argparse.Namespace) -> int:
    from stepwise.local.endpoints import (
        EndpointStartError,
        deployed_endpoints,
        serve_gateway,
        shutdown_endpoints,
        start_recorded_endpoints,
    )

    records = deployed_endpoints(args.state_dir)
    if not records:
        return _fail(f"no endpoint is deployed under {args.state_dir}: run `stepwise run` first")
    stop = threading.Event()
    previous_handler = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gateway = None
    try:
        try:
            servers = start_recorded_endpoints(args.state_dir, args.endpoint)
        except (KeyError, EndpointStartError) as error:
            return _fail(str(error).strip("'\""))
        try:
            gateway, port = serve_gateway(port=args.port)
        except OSError as error:
            return _fail(f"cannot listen on 127.0.0.1:{args.port} ({error.strerror}): choose another --port")
        _write_gateway_file(args.state_dir, port, sorted(servers))
        for name, server in sorted(servers.items()):
            print(
                f"Serving endpoint {name} ({server.endpoint_config_name}, {server.model_data_url}) at "
                f"http://127.0.0.1:{port}/endpoints/{name}/invocations"
            )
        print(
            f'Clients: boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:{port}"), '
            "or `stepwise invoke FILE`. Ctrl-C stops.",
            flush=True,
        )
        failed: set[Path] = set()  # redeployed models that could not start: not retried
        try:
            while not stop.wait(1.0):
                dead = [name for name, server in servers.items() if not server.is_running()]
                if dead:
                    return _fail(
                        f"the model server of {', '.join(dead)} exited; see {servers[dead[0]].log_path}"
                    )
                servers.update(_follow_deployments(args.state_dir, servers, failed))
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
            _gateway_file(args.state_dir).unlink(missing_ok=True)
        shutdown_endpoints()


def _follow_deployments(state_dir: Path, servers: dict, failed: set[Path]) -> dict:
    """Servers for the endpoints a run has redeployed since: each new model is started and swapped in
    once it answers /ping (the one serving keeps serving until then, and if the new one cannot start)."""
    from stepwise.local.endpoints import EndpointStartError, deployed_endpoints, start_recorded_endpoints

    records = deployed_endpoints(state_dir)
    changed = [
        name
        for name, server in servers.items()
        if name in records and state_dir / records[name]["ModelDir"] not in (server.model_dir, *failed)
    ]
    swapped = {}
    for name in changed:
        try:
            swapped.update(start_recorded_endpoints(state_dir, [name]))
        except (EndpointStartError, KeyError) as error:
            failed.add(state_dir / records[name]["ModelDir"])
            print(
                f"stepwise: keeps serving the previous model of {name}: {error}", file=sys.stderr, flush=True
            )
            continue
        print(f"Now serving {name} ({swapped[name].endpoint_config_name})", flush=True)
    return swapped


def _write_gateway_file(state_dir: Path, port: int, endpoints: list[str]) -> None:
    path = _gateway_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "port": port, "endpoints": endpoints}))


def running_gateway(state_dir: Path, endpoint: str) -> int | None:
    """The port of a `stepwise serve` of this state folder that serves `endpoint` and answers, or None."""
    path = _gateway_file(state_dir)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)  # is that process still there?
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


# --------------------------------------------------------------------------------------------- invoke
def invoke_command(args: argparse.Namespace) -> int:
    from stepwise.local.endpoints import deployed_endpoints

    records = deployed_endpoints(args.state_dir)
    name = args.endpoint
    if name is None:
        if len(records) != 1:
            known = ", ".join(sorted(records)) or "none"
            return _fail(
                f"{len(records)} endpoints are deployed under {args.state_dir} ({known}): pass --endpoint"
            )
        name = next(iter(records))
    elif name not in records:
        known = ", ".join(sorted(records)) or "none"
        return _fail(f"endpoint {name!r} is not deployed under {args.state_dir} (deployed: {known})")
    try:
        body = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
    except OSError as error:
        return _fail(f"cannot read {args.input}: {error.strerror}")
    if not body.strip():
        return _fail(f"no rows in {'stdin' if args.input == '-' else args.input}: send CSV rows of features")

    port = running_gateway(args.state_dir, name)
    if port is not None:
        return _invoke_and_print(port, name, body, args)
    return _invoke_in_process(name, body, args)


def _invoke_in_process(name: str, body: bytes, args: argparse.Namespace) -> int:
    from stepwise.local.endpoints import (
        EndpointStartError,
        serve_gateway,
        shutdown_endpoints,
        start_recorded_endpoints,
    )

    gateway = None
    try:
        try:
            start_recorded_endpoints(args.state_dir, [name])
        except EndpointStartError as error:
            return _fail(f"endpoint {name} could not start: {error}")
        gateway, port = serve_gateway()
        return _invoke_and_print(port, name, body, args)
    finally:
        if gateway is not None:
            gateway.shutdown()
            gateway.server_close()
        shutdown_endpoints()


def runtime_client(port: int) -> Any:
    """A boto3 sagemaker-runtime client for the local gateway (placeholder credentials: nothing real)."""
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
        return _fail(f"{details.get('Code')}: {details.get('Message')}")
    answer = response["Body"].read().decode()
    if args.json:
        print(answer, flush=True)  # the endpoint's own JSON, unchanged
    else:  # the container joins values with commas on one line; print one per line
        print(
            "\n".join(value.strip() for value in answer.replace("\n", ",").split(",") if value.strip()),
            flush=True,
        )
    return 0
