"""Real model servers behind SageMaker endpoints, locally.

Inside a running `mock_aws`, `install_endpoint_hooks(work_dir)` makes moto's SageMaker endpoints real:

- CreateEndpoint reads the endpoint config's model → its container's ModelDataUrl from the embedded S3,
  extracts model.tar.gz under `<work_dir>/endpoints/<name>/`, starts
  `python -m stepwise.containers.xgboost_serving` on a free 127.0.0.1 port and answers at once with the
  endpoint `Creating`; a background thread turns it `InService` when the server answers `/ping`, or
  `Failed` with a FailureReason (the server's own message) when it cannot start.
- UpdateEndpoint (which moto 5.2 lacks) reports `Updating` (the new config in PendingDeploymentSummary),
  starts the new server and swaps only once it answers `/ping`: the old one serves until then. When
  the new one fails, the old one stays: `InService` on the old EndpointConfigName, with a FailureReason
  saying the update was rolled back.
- DescribeEndpoint therefore reports what is really running (an endpoint whose server process died is
  `Failed`, with the server's last output); DeleteEndpoint stops the server.
- sagemaker-runtime InvokeEndpoint forwards Body / ContentType / Accept to the endpoint's server and
  returns its answer; a 4xx/5xx from the model becomes `ModelError` (HTTP 424) as on AWS.

`serve_gateway()` answers the SageMaker runtime API itself (`POST /endpoints/{name}/invocations`), so a
boto3 `sagemaker-runtime` client with `endpoint_url` pointed at it works unchanged; it also answers
`POST /invocations` and `GET /ping` for the single endpoint it serves, as a container does.

What is deployed is recorded in `<work_dir>/endpoints/endpoints.json` (see `deployed_endpoints`), so
`stepwise serve` / `stepwise invoke` can start the same models in another process
(`start_recorded_endpoints`). Only the first production variant of an endpoint config is served.
Every process started here binds 127.0.0.1 and is stopped at exit.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from stepwise.containers import model_archive
from stepwise.emulator.sagemaker.runtime import RuntimeServer, payload_too_large, serve_runtime
from stepwise.emulator.server import Limits

MAX_PAYLOAD_BYTES = Limits.max_body_bytes  # InvokeEndpoint's 6 MB

ENDPOINTS_DIR = "endpoints"
RECORDS_FILE = "endpoints.json"
STARTUP_TIMEOUT_SECONDS = 60.0
DEFAULT_VARIANT = "AllTraffic"
LOG_TAIL_LINES = 5


class EndpointStartError(Exception):
    """A model server that could not start; the message is the endpoint's FailureReason."""


@dataclass
class ModelServer:
    """One running `xgboost_serving` process for one endpoint."""

    endpoint_name: str
    endpoint_config_name: str
    variant_name: str
    model_data_url: str
    model_dir: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def is_running(self) -> bool:
        return self.process.poll() is None

    def ping(self, timeout: float = 2.0) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            connection.request("GET", "/ping")
            ok = connection.getresponse().status == HTTPStatus.OK
            connection.close()
            return ok
        except OSError:
            return False

    def invocations(
        self, body: bytes, content_type: str | None, accept: str | None
    ) -> tuple[int, str, bytes]:
        """POST /invocations on this server: (status, content type, body). Reuses a connection per thread."""
        headers = {"Content-Type": content_type or "text/csv"}
        if accept:
            headers["Accept"] = accept
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self._local.connection = connection
            try:
                connection.request("POST", "/invocations", body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheader("Content-Type") or "", response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                if attempt == 2 or not self.is_running():
                    raise
        raise AssertionError("unreachable")

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-LOG_TAIL_LINES:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        _forget_process(self.process)


# --------------------------------------------------------------------------- servers


_lock = threading.RLock()
_servers: dict[str, ModelServer] = {}  # endpoint name -> the server answering for it
_processes: set[subprocess.Popen] = set()  # every server process started, until stopped
_work_dir: Path | None = None


def _forget_process(process: subprocess.Popen) -> None:
    with _lock:
        _processes.discard(process)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def extract_model(artifact: bytes | Path, folder: Path) -> Path:
    """Extract model.tar.gz (bytes or a file) into `folder/model`, as SageMaker does into /opt/ml/model."""
    model_dir = folder / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    archive_path = folder / "model.tar.gz"
    if isinstance(artifact, bytes):
        archive_path.write_bytes(artifact)
    else:
        shutil.copyfile(artifact, archive_path)
    try:
        return model_archive.extract(archive_path, model_dir)
    except ValueError as error:
        raise EndpointStartError(str(error)) from error


def start_model_server(
    endpoint_name: str,
    model_dir: Path,
    *,
    endpoint_config_name: str = "",
    variant_name: str = DEFAULT_VARIANT,
    model_data_url: str = "",
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> ModelServer:
    """Start the serving container on a free loopback port; return once it answers /ping.

    Raises EndpointStartError with the server's own message when it exits or does not answer in time.
    """
    port = _free_port()
    log_path = model_dir.parent / f"server-{os.getpid()}.log"  # `stepwise serve` may run the same model
    command = [
        sys.executable,
        "-m",
        "stepwise.containers.xgboost_serving",
        "--model-dir",
        str(model_dir),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--exit-with-parent",  # no orphan server if this process is killed before it can stop them
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    with _lock:
        _processes.add(process)
    server = ModelServer(
        endpoint_name=endpoint_name,
        endpoint_config_name=endpoint_config_name,
        variant_name=variant_name,
        model_data_url=model_data_url,
        model_dir=model_dir,
        port=port,
        process=process,
        log_path=log_path,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise EndpointStartError(
                f"the model server exited with code {process.returncode} before answering /ping: "
                f"{server.log_tail() or 'no output'} (log: {log_path})"
            )
        if server.ping(timeout=1.0):
            return server
        time.sleep(0.05)
    server.stop()
    raise EndpointStartError(
        f"the model server did not answer /ping within {timeout:.0f} s (log: {log_path})"
    )


def wait_for_endpoints(sagemaker: Any, timeout: float = STARTUP_TIMEOUT_SECONDS) -> dict[str, str]:
    """Poll DescribeEndpoint until no endpoint is Creating or Updating: {name: final status}.

    For a run that restores endpoints before it starts: UpdateEndpoint refuses a Creating endpoint.
    """
    deadline = time.monotonic() + timeout
    while True:
        statuses = {
            item["EndpointName"]: item["EndpointStatus"]
            for page in sagemaker.get_paginator("list_endpoints").paginate()
            for item in page["Endpoints"]
        }
        if not any(status in ("Creating", "Updating") for status in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)


def endpoint_port(name: str) -> int | None:
    """The loopback port of the server answering for endpoint `name`, or None if none is running."""
    with _lock:
        server = _servers.get(name)
    return server.port if server is not None and server.is_running() else None


def running_endpoints() -> dict[str, ModelServer]:
    with _lock:
        return dict(_servers)


def _swap_in(server: ModelServer) -> ModelServer | None:
    """Make `server` answer for its endpoint; return the server it replaced."""
    with _lock:
        previous = _servers.get(server.endpoint_name)
        _servers[server.endpoint_name] = server
        recorded = deployed_endpoints(_work_dir).get(server.endpoint_name) if _work_dir else None
        _save_records()
    if (
        recorded
        and _work_dir is not None
        and (previous is None or previous.model_dir != _work_dir / recorded["ModelDir"])
    ):
        # the model an earlier process recorded: its server (if any) has it in memory already
        shutil.rmtree((_work_dir / recorded["ModelDir"]).parent, ignore_errors=True)
    return previous


def stop_endpoint(name: str) -> None:
    """Stop the server of endpoint `name` (if any) and drop it from the deployed record."""
    with _lock:
        server = _servers.pop(name, None)
    if server is not None:
        server.stop()
    _save_records(removed=name)


def shutdown_endpoints() -> None:
    """Stop every model server this process started (also runs at exit)."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
        stragglers = list(_processes)
    for server in servers:
        server.stop()
    for process in stragglers:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        _forget_process(process)


atexit.register(shutdown_endpoints)


# --------------------------------------------------------------------------- deployed record


def _records_path(work_dir: Path) -> Path:
    return work_dir / ENDPOINTS_DIR / RECORDS_FILE


def deployed_endpoints(work_dir: Path) -> dict[str, dict[str, str]]:
    """What the last process deployed: {endpoint name: {EndpointConfigName, VariantName, ModelDataUrl,
    ModelDir}} (ModelDir: the extracted model.tar.gz, relative to work_dir). Empty when nothing is."""
    path = _records_path(work_dir)
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _save_records(removed: str | None = None) -> None:
    """Write the running endpoints to the record, keeping entries this process has not touched."""
    if _work_dir is None:
        return
    with _lock:
        records = deployed_endpoints(_work_dir)
        if removed is not None:
            records.pop(removed, None)
        for name, server in _servers.items():
            records[name] = {
                "EndpointConfigName": server.endpoint_config_name,
                "VariantName": server.variant_name,
                "ModelDataUrl": server.model_data_url,
                "ModelDir": str(server.model_dir.relative_to(_work_dir)),
            }
        path = _records_path(_work_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(records, indent=2, sort_keys=True))
        temporary.replace(path)


def start_recorded_endpoints(work_dir: Path, names: list[str] | None = None) -> dict[str, ModelServer]:
    """Start the recorded endpoints (all, or `names`) in this process, from their extracted models."""
    records = deployed_endpoints(work_dir)
    wanted = names if names is not None else sorted(records)
    started = {}
    for name in wanted:
        if name not in records:
            known = ", ".join(sorted(records)) or "none"
            raise KeyError(f"endpoint {name!r} is not deployed under {work_dir} (deployed: {known})")
        record = records[name]
        server = start_model_server(
            name,
            work_dir / record["ModelDir"],
            endpoint_config_name=record["EndpointConfigName"],
            variant_name=record.get("VariantName", DEFAULT_VARIANT),
            model_data_url=record.get("ModelDataUrl", ""),
        )
        with _lock:
            previous = _servers.get(name)
            _servers[name] = server
        if previous is not None:
            previous.stop()
        started[name] = server
    return started


# --------------------------------------------------------------------------- invocation


def _error(status: int, code: str, message: str, **members: Any) -> tuple[int, dict[str, str], bytes]:
    """An error in the shape botocore's rest-json parser reads (code header, Message in the body)."""
    body = json.dumps({"Message": message, **members}).encode()
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body


def invoke_endpoint(
    name: str, body: bytes, content_type: str | None, accept: str | None
) -> tuple[int, dict[str, str], bytes]:
    """InvokeEndpoint on the local server: (HTTP status, headers, body) as SageMaker runtime answers."""
    if len(body) > MAX_PAYLOAD_BYTES:  # refused by the runtime API itself, before any model sees it
        return payload_too_large(MAX_PAYLOAD_BYTES)
    with _lock:
        server = _servers.get(name)
    if server is None:
        return _error(
            400, "ValidationError", f"Endpoint {name} not found: no model server is running for it locally"
        )
    try:
        status, response_type, payload = server.invocations(body, content_type, accept)
    except (OSError, http.client.HTTPException) as error:
        return _error(
            503,
            "ServiceUnavailable",
            f"the model server of endpoint {name} is not answering ({error}); "
            f"its log: {server.log_path}: {server.log_tail()}",
        )
    if status >= 400:
        text = payload.decode(errors="replace").strip()
        kind = "client" if status < 500 else "server"
        return _error(
            424,
            "ModelError",
            f'Received {kind} error ({status}) from primary with message "{text}". '
            f"See {server.log_path} for more information.",
            OriginalStatusCode=status,
            OriginalMessage=text,
        )
    headers = {"Content-Type": response_type, "x-Amzn-Invoked-Production-Variant": server.variant_name}
    return status, headers, payload


# --------------------------------------------------------------------------- gateway


def serve_gateway(host: str = "127.0.0.1", port: int = 0) -> tuple[RuntimeServer, int]:
    """Start the SageMaker runtime API for the running endpoints in a daemon thread: (server, bound port).

    Stop it with `server.shutdown(); server.server_close()`.
    """
    server = serve_runtime(invoke_endpoint, running_endpoints, healthy=_all_healthy, host=host, port=port)
    return server, server.port


def _all_healthy() -> bool:
    servers = running_endpoints()
    return bool(servers) and all(server.ping() for server in servers.values())


# --------------------------------------------------------------------------- moto hooks

_originals: dict[str, Any] = {}


def _moto_parts() -> tuple[Any, Any, Any, Any]:
    """moto's classes this module patches; fail loudly if an upgrade moved them."""
    try:
        from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
    except ImportError as error:
        raise RuntimeError(f"moto's SageMaker internals moved ({error}): stepwise pins moto 5.2.x") from error
    for owner, attribute in [
        (SageMakerModelBackend, "create_endpoint"),
        (SageMakerModelBackend, "delete_endpoint"),
        (SageMakerModelBackend, "describe_endpoint"),
        (SageMakerRuntimeResponse, "invoke_endpoint"),
        (FakeEndpoint, "response_object"),
    ]:
        if not hasattr(owner, attribute):
            raise RuntimeError(f"moto's {owner.__name__}.{attribute} is gone: stepwise pins moto 5.2.x")
    return SageMakerModelBackend, SageMakerResponse, SageMakerRuntimeResponse, FakeEndpoint


def install_endpoint_hooks(work_dir: Path) -> None:
    """Patch moto's SageMaker endpoints so they run real model servers (idempotent)."""
    global _work_dir
    backend_class, response_class, runtime_class, _ = _moto_parts()
    _work_dir = Path(work_dir).resolve()
    (_work_dir / ENDPOINTS_DIR).mkdir(parents=True, exist_ok=True)
    if _originals:
        return
    _originals.update(
        create_endpoint=backend_class.create_endpoint,
        describe_endpoint=backend_class.describe_endpoint,
        delete_endpoint=backend_class.delete_endpoint,
        invoke_endpoint=runtime_class.invoke_endpoint,
    )
    backend_class.create_endpoint = _create_endpoint
    backend_class.describe_endpoint = _describe_endpoint
    backend_class.delete_endpoint = _delete_endpoint
    backend_class.update_endpoint = _update_endpoint
    response_class.update_endpoint = _update_endpoint_response
    runtime_class.invoke_endpoint = _invoke_endpoint_response


def uninstall_endpoint_hooks() -> None:
    """Stop every server and give moto its own endpoint behaviour back."""
    global _work_dir
    shutdown_endpoints()
    if not _originals:
        return
    backend_class, response_class, runtime_class, _ = _moto_parts()
    backend_class.create_endpoint = _originals["create_endpoint"]
    backend_class.describe_endpoint = _originals["describe_endpoint"]
    backend_class.delete_endpoint = _originals["delete_endpoint"]
    runtime_class.invoke_endpoint = _originals["invoke_endpoint"]
    del backend_class.update_endpoint
    del response_class.update_endpoint
    _originals.clear()
    _work_dir = None


def _validation_error(message: str) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)


def _model_data_url(backend: Any, endpoint_config_name: str) -> tuple[str, str]:
    """(variant name, ModelDataUrl) of the endpoint config's first variant's model."""
    config = backend.endpoint_configs[endpoint_config_name]
    variant = config.production_variants[0]
    model = backend._models.get(variant["ModelName"])
    if model is None:
        raise EndpointStartError(
            f"model {variant['ModelName']} of endpoint config {endpoint_config_name} is gone"
        )
    container = model.primary_container or (model.containers[0] if model.containers else {})
    url = (container or {}).get("ModelDataUrl")
    if not url:
        raise EndpointStartError(f"model {variant['ModelName']} has no ModelDataUrl: nothing to serve")
    return variant.get("VariantName", DEFAULT_VARIANT), url


def _read_s3(backend: Any, url: str) -> bytes:
    from moto.s3.models import s3_backends

    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise EndpointStartError(f"ModelDataUrl {url} is not an s3:// URL")
    try:
        key = s3_backends[backend.account_id][backend.partition].get_object(
            parsed.netloc, parsed.path.lstrip("/")
        )
    except Exception as error:  # moto raises its own MissingBucket etc.
        raise EndpointStartError(f"could not download model data from {url}: {error}") from error
    if key is None:
        raise EndpointStartError(f"could not download model data from {url}: no such object")
    return key.value


def _deploy_in_background(backend: Any, endpoint: Any, config_name: str, rolling_back_to: str | None) -> None:
    """Start the server for `config_name`; then mark the endpoint InService, Failed, or rolled back."""
    from moto.core.utils import utcnow

    name, work_dir = endpoint.endpoint_name, _work_dir
    if work_dir is None:  # the hooks were uninstalled meanwhile
        return
    try:
        variant, url = _model_data_url(backend, config_name)
        folder = work_dir / ENDPOINTS_DIR / name / f"{config_name}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        model_dir = extract_model(_read_s3(backend, url), folder)
        server = start_model_server(
            name, model_dir, endpoint_config_name=config_name, variant_name=variant, model_data_url=url
        )
    except Exception as error:  # whatever it is, the endpoint must leave Creating/Updating and say why
        if not isinstance(error, EndpointStartError):
            error = EndpointStartError(f"{type(error).__name__}: {error}")
        with _lock:
            endpoint.last_modified_time = utcnow()
            endpoint.pending_deployment_summary = None
            if rolling_back_to is None:
                endpoint.endpoint_status = "Failed"
                endpoint.failure_reason = f"The model server for endpoint {name} failed to start: {error}"
            else:
                endpoint.endpoint_status = "InService"
                endpoint.failure_reason = (
                    f"Update to endpoint config {config_name} was rolled back; the endpoint still serves "
                    f"{rolling_back_to}: {error}"
                )
        return
    with _lock:
        if backend.endpoints.get(name) is not endpoint or _work_dir is None:  # deleted meanwhile
            server.stop()
            return
        previous = _swap_in(server)
        config = backend.endpoint_configs[config_name]
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
        endpoint.pending_deployment_summary = None
        endpoint.failure_reason = None
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = utcnow()
    if previous is not None:
        previous.stop()
        shutil.rmtree(previous.model_dir.parent, ignore_errors=True)


def _start_deploy(backend: Any, endpoint: Any, config_name: str, rolling_back_to: str | None) -> None:
    threading.Thread(
        target=_deploy_in_background,
        args=(backend, endpoint, config_name, rolling_back_to),
        name=f"stepwise-endpoint-{endpoint.endpoint_name}",
        daemon=True,
    ).start()


def _endpoint_arn(backend: Any, name: str) -> str:
    from moto.sagemaker.models import FakeEndpoint

    return FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)


def _create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
    if endpoint_name in self.endpoints:
        raise _validation_error(
            f'Cannot create already existing endpoint "{_endpoint_arn(self, endpoint_name)}".'
        )
    endpoint = _originals["create_endpoint"](self, endpoint_name, endpoint_config_name, tags)
    endpoint.endpoint_status = "Creating"
    _start_deploy(self, endpoint, endpoint_config_name, rolling_back_to=None)
    return endpoint


def _update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, **_: Any) -> Any:
    from moto.core.utils import utcnow
    from moto.sagemaker.models import FakeEndpointConfig

    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        raise _validation_error(f"Could not find endpoint '{_endpoint_arn(self, endpoint_name)}'.")
    if endpoint_config_name not in self.endpoint_configs:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
        raise _validation_error(f"Could not find endpoint configuration '{arn}'.")
    with _lock:
        if endpoint.endpoint_status == "Failed":
            raise _validation_error(
                f'Cannot update failed endpoint "{endpoint.arn}": delete it and create it again.'
            )
        if endpoint.endpoint_status != "InService":
            raise _validation_error(
                f'Cannot update in-progress endpoint "{endpoint.arn}" (status {endpoint.endpoint_status}).'
            )
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        endpoint.pending_deployment_summary = {
            "EndpointConfigName": endpoint_config_name,
            "StartTime": utcnow(),
        }
        endpoint.last_modified_time = utcnow()
    _start_deploy(self, endpoint, endpoint_config_name, rolling_back_to=endpoint.endpoint_config_name)
    return endpoint


def _update_endpoint_response(self: Any) -> Any:
    from moto.core.responses import ActionResult

    endpoint = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def _describe_endpoint(self: Any, endpoint_name: str) -> dict[str, Any]:
    """What is really running: an InService endpoint whose server process died is Failed."""
    from moto.core.utils import utcnow

    endpoint = self.endpoints.get(endpoint_name)
    with _lock:
        server = _servers.get(endpoint_name)
        died = server is not None and not server.is_running()
        if died and endpoint is not None and endpoint.endpoint_status in ("InService", "Updating"):
            endpoint.endpoint_status = "Failed"
            endpoint.pending_deployment_summary = None
            endpoint.last_modified_time = utcnow()
            endpoint.failure_reason = (
                f"The model server of endpoint {endpoint_name} exited with code {server.process.returncode}: "
                f"{server.log_tail() or 'no output'} (log: {server.log_path})"
            )
    return _originals["describe_endpoint"](self, endpoint_name)


def _delete_endpoint(self: Any, endpoint_name: str) -> None:
    _originals["delete_endpoint"](self, endpoint_name)
    stop_endpoint(endpoint_name)


def _invoke_endpoint_response(self: Any) -> tuple[int, dict[str, str], bytes]:
    from moto.sagemaker.models import sagemaker_backends

    name = unquote(self.path.split("/")[2])
    backend = sagemaker_backends[self.current_account][self.region]
    endpoint = backend.endpoints.get(name)
    refusal = None
    if endpoint is None:
        refusal = f"Endpoint {name} of account {self.current_account} not found."
    elif endpoint.endpoint_status not in ("InService", "Updating"):
        refusal = (
            f"Endpoint {name} is {endpoint.endpoint_status}, not InService: "
            "wait until DescribeEndpoint reports InService"
        )
    if refusal is not None:
        status, headers, payload = _error(400, "ValidationError", refusal)
        return status, {**headers, "status": str(status)}, payload
    body = self.raw_body or b""
    body = body.encode() if isinstance(body, str) else body
    status, headers, payload = invoke_endpoint(
        name, body, self.headers.get("Content-Type"), self.headers.get("Accept")
    )
    return status, {**headers, "status": str(status)}, payload  # moto reads the status from this header
