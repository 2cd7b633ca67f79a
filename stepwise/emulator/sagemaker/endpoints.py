"""SageMaker real-time endpoints served by real model servers on 127.0.0.1.

`Endpoints` is what the emulated SageMaker's endpoint calls do (stepwise/emulator/moto_seams.py routes
CreateEndpoint, UpdateEndpoint, DescribeEndpoint, DeleteEndpoint and the runtime's InvokeEndpoint
here):
- CreateEndpoint answers at once with the endpoint `Creating`; in the background SageMaker, *as the
  model's execution role* (it must trust sagemaker.amazonaws.com; s3:GetObject on the ModelDataUrl and
  the image pull are authorized against its policies), downloads model.tar.gz, extracts it under
  `<state>/endpoints/<name>/<config>-<id>/model/` and starts the built-in XGBoost serving container's
  emulator (`python -m stepwise.containers.xgboost_serving`) on a free loopback port; the endpoint
  turns `InService` once the server answers /ping, or `Failed` with the server's own message.
- UpdateEndpoint (blue/green) reports `Updating` and swaps only once the new server answers /ping: the
  old one serves until then; when the new one cannot start, the update rolls back (InService on the
  old config, the reason in FailureReason).
- DescribeEndpoint reports what really runs: an endpoint whose server died is `Failed`.
- InvokeEndpoint forwards to the server; a 4xx/5xx from the model becomes `ModelError` (424).
Every change of an endpoint's status ticks the Step Functions clock, so a Wait in a DescribeEndpoint
poll loop ends then. What serves is recorded in the state folder (`deployed` in the store's meta), so
`stepwise serve` and `invoke` start the same model without the embedded AWS. An endpoint restored in a
later process is InService at once; its server starts on first use. Only the first production variant
of an endpoint config is served.
"""

from __future__ import annotations

import http.client
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from stepwise.containers import model_archive

STARTUP_TIMEOUT_SECONDS = 60.0
LOG_TAIL_LINES = 5
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit
DEPLOYED_KEY = "deployed-endpoints"


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
    process: Any
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
        """POST /invocations: (status, content type, body). Reuses one connection per thread."""
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


def recorded_model_dir(endpoints_dir: Path, record: dict) -> Path:
    """The model folder an endpoint record names, inside the endpoints folder; EndpointStartError
    otherwise (a state folder edited by hand must not make a command read or delete anything outside
    it)."""
    root = Path(endpoints_dir).resolve()
    folder = (root / str(record.get("ModelDir", ""))).resolve()
    if not folder.is_relative_to(root) or folder == root:
        raise EndpointStartError(
            f"its recorded model folder {record.get('ModelDir')!r} is not inside {root}: refused"
        )
    return folder


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def extract_model(artifact: bytes, folder: Path) -> Path:
    """Extract model.tar.gz into `folder/model`, as SageMaker does into /opt/ml/model."""
    model_dir = folder / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    archive_path = folder / "model.tar.gz"
    archive_path.write_bytes(artifact)
    try:
        return model_archive.extract(archive_path, model_dir)
    except ValueError as error:
        raise EndpointStartError(str(error)) from error


def start_model_server(
    supervisor: Any,
    endpoint_name: str,
    model_dir: Path,
    *,
    endpoint_config_name: str = "",
    variant_name: str = "AllTraffic",
    model_data_url: str = "",
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> ModelServer:
    """Start the serving container on a free loopback port; return once it answers /ping.

    Raises EndpointStartError with the server's own message when it exits or does not answer in time.
    """
    import os

    port = free_port()
    log_path = model_dir.parent / f"server-{os.getpid()}.log"
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
        "--exit-with-parent",
    ]
    process = supervisor.start(command, log_path=log_path)
    server = ModelServer(
        endpoint_name, endpoint_config_name, variant_name, model_data_url, model_dir, port, process, log_path
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            supervisor.stop(process, grace=0)
            raise EndpointStartError(
                f"the model server exited with code {process.returncode} before answering /ping: "
                f"{server.log_tail() or 'no output'} (log: {log_path})"
            )
        if server.ping(timeout=1.0):
            return server
        time.sleep(0.02)
    supervisor.stop(process, grace=0)
    raise EndpointStartError(
        f"the model server did not answer /ping within {timeout:.0f} s (log: {log_path})"
    )


def error_reply(
    status: int, code: str | None, message: str, **members: Any
) -> tuple[int, dict[str, str], bytes]:
    """An error in the runtime's rest-json shape (code in x-amzn-ErrorType, text in the body)."""
    import json

    body = json.dumps({"message": message, "Message": message, **members}).encode()
    headers = {"Content-Type": "application/json"}
    if code is not None:
        headers["x-amzn-ErrorType"] = code
    return status, headers, body


@dataclass
class EndpointServices:
    """What the endpoints need from the embedded AWS."""

    supervisor: Any
    work_dir: Path  # <state>/endpoints
    read_model: Callable[[str, str], bytes]  # (execution role, s3 uri) -> bytes, as that role
    may_run: Callable[[str, str], str | None]  # (execution role, image) -> why SageMaker cannot, or None
    changed: Callable[[], None]  # tick: an endpoint's status changed
    record: Callable[[dict[str, dict]], None]  # persist {name: {config, variant, url, model_dir}}
    seams: Any  # stepwise.emulator.moto_seams (moto's endpoint records)


class Endpoints:
    """The model servers behind the emulated SageMaker's endpoints."""

    def __init__(self, services: EndpointServices, restored: dict[str, dict] | None = None) -> None:
        self.services = services
        self.lock = threading.RLock()
        self.servers: dict[str, ModelServer] = {}
        self.deployed: dict[str, dict] = dict(restored or {})  # what serves, per endpoint

    # ---------------------------------------------------------------- calls from SageMaker
    def deploy(self, backend: Any, endpoint: Any, config_name: str, rolling_back_to: str | None) -> None:
        threading.Thread(
            target=self._deploy,
            args=(backend, endpoint, config_name, rolling_back_to),
            name=f"stepwise-endpoint-{endpoint.endpoint_name}",
            daemon=True,
        ).start()

    def _deploy(self, backend: Any, endpoint: Any, config_name: str, rolling_back_to: str | None) -> None:
        seams, name = self.services.seams, endpoint.endpoint_name
        try:
            try:
                variant, url, role, image = seams.endpoint_model_data(backend, config_name)
            except LookupError as error:
                raise EndpointStartError(str(error)) from None
            why_not = self.services.may_run(role, image)
            if why_not:
                raise EndpointStartError(why_not)
            artifact = self.services.read_model(role, url)
            folder = self.services.work_dir / name / f"{config_name}-{uuid.uuid4().hex[:8]}"
            folder.mkdir(parents=True)
            model_dir = extract_model(artifact, folder)
            server = start_model_server(
                self.services.supervisor,
                name,
                model_dir,
                endpoint_config_name=config_name,
                variant_name=variant,
                model_data_url=url,
            )
        except Exception as error:  # whatever it is, the endpoint must leave Creating/Updating and say why
            reason = (
                str(error) if isinstance(error, EndpointStartError) else f"{type(error).__name__}: {error}"
            )
            with self.lock:
                if rolling_back_to is None:
                    message = f"The model server for endpoint {name} failed to start: {reason}"
                else:
                    message = (
                        f"Update to endpoint config {config_name} was rolled back; the endpoint still serves "
                        f"{rolling_back_to}: {reason}"
                    )
                seams.set_endpoint_failed(endpoint, message, rolled_back=rolling_back_to is not None)
            self.services.changed()
            return
        with self.lock:
            if not seams.endpoint_backend_is(backend, name, endpoint):  # deleted meanwhile
                self.services.supervisor.stop(server.process, grace=0)
                return
            previous = self.servers.get(name)
            old_record = self.deployed.get(name)
            self.servers[name] = server
            self.deployed[name] = {
                "EndpointConfigName": config_name,
                "VariantName": variant,
                "ModelDataUrl": url,
                "ModelDir": str(model_dir.relative_to(self.services.work_dir)),
            }
            self.services.record(dict(self.deployed))
            seams.set_endpoint_serving(backend, endpoint, config_name)
        self.services.changed()
        if previous is not None:
            self.services.supervisor.stop(previous.process, grace=5)
        if old_record and old_record.get("ModelDir") != self.deployed[name]["ModelDir"]:
            self._remove_model_dir(old_record)

    def model_dir(self, record: dict) -> Path:
        return recorded_model_dir(self.services.work_dir, record)

    def _remove_model_dir(self, record: dict) -> None:
        try:
            folder = self.model_dir(record)
        except EndpointStartError:
            return
        shutil.rmtree(folder.parent, ignore_errors=True)

    def check_restored(self, read_artifact: Callable[[str], bytes | None]) -> list[tuple[str, str, bool]]:
        """Each restored endpoint's record checked: its model folder inside the endpoints folder and
        present (extracted again from its artifact when it is not), its artifact present. Returns
        (endpoint, what was found, whether the endpoint can no longer serve) for each problem; an
        endpoint that cannot serve loses its record."""
        found: list[tuple[str, str, bool]] = []
        with self.lock:
            for name, record in list(self.deployed.items()):
                url = record.get("ModelDataUrl", "")
                try:
                    folder = self.model_dir(record)
                    if folder.is_dir() and any(folder.iterdir()):
                        continue
                    problem = "its model folder is missing"
                except EndpointStartError as error:
                    problem = str(error)
                artifact = read_artifact(url) if url else None
                if artifact is None:
                    del self.deployed[name]
                    found.append((name, f"{problem}, and so is its model artifact {url or '(none)'}", True))
                    continue
                target = (
                    self.services.work_dir / name / f"{record['EndpointConfigName']}-{uuid.uuid4().hex[:8]}"
                )
                target.mkdir(parents=True)
                model_dir = extract_model(artifact, target)
                record["ModelDir"] = str(model_dir.relative_to(self.services.work_dir))
                found.append((name, f"{problem}: extracted the model again from {url}", False))
            if found:
                self.services.record(dict(self.deployed))
        return found

    def refresh_status(self, endpoint: Any) -> None:
        """An InService endpoint whose server process died is Failed, with the server's last output."""
        with self.lock:
            server = self.servers.get(endpoint.endpoint_name)
            if (
                server is not None
                and not server.is_running()
                and endpoint.endpoint_status in ("InService", "Updating")
            ):
                self.services.seams.set_endpoint_failed(
                    endpoint,
                    f"The model server of endpoint {endpoint.endpoint_name} exited with code "
                    f"{server.process.returncode}: {server.log_tail() or 'no output'} "
                    f"(log: {server.log_path})",
                    rolled_back=False,
                )

    def stop(self, name: str) -> None:
        with self.lock:
            server = self.servers.pop(name, None)
            record = self.deployed.pop(name, None)
            self.services.record(dict(self.deployed))
        if server is not None:
            self.services.supervisor.stop(server.process, grace=5)
        if record:
            self._remove_model_dir(record)

    def invoke(
        self,
        endpoint: Any,
        name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        *,
        account: str = "",
    ) -> tuple[int, dict[str, str], bytes]:
        """InvokeEndpoint as SageMaker runtime answers it: (HTTP status, headers, body)."""
        if len(body) > MAX_PAYLOAD_BYTES:
            return error_reply(413, None, f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes.")
        if endpoint is None:
            return error_reply(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        if endpoint.endpoint_status not in ("InService", "Updating"):
            return error_reply(
                400,
                "ValidationError",
                f"Endpoint {name} is {endpoint.endpoint_status}, not InService: wait until DescribeEndpoint "
                "reports InService",
            )
        try:
            server = self.server_for(name)
        except EndpointStartError as error:
            return error_reply(
                503, "ServiceUnavailable", f"the model server of endpoint {name} cannot start: {error}"
            )
        return forward(server, name, body, content_type, accept)

    def server_for(self, name: str) -> ModelServer:
        """The running server of endpoint `name`, started from its recorded model (a restored endpoint)."""
        with self.lock:
            server = self.servers.get(name)
            if server is not None:
                return server
            record = self.deployed.get(name)
            if record is None:
                raise EndpointStartError(f"no model is recorded for endpoint {name}")
            server = start_model_server(
                self.services.supervisor,
                name,
                self.model_dir(record),
                endpoint_config_name=record["EndpointConfigName"],
                variant_name=record.get("VariantName", "AllTraffic"),
                model_data_url=record.get("ModelDataUrl", ""),
            )
            self.servers[name] = server
            return server

    def close(self) -> None:
        with self.lock:
            servers = list(self.servers.values())
            self.servers.clear()
        for server in servers:
            self.services.supervisor.stop(server.process, grace=2)


def forward(
    server: ModelServer, name: str, body: bytes, content_type: str | None, accept: str | None
) -> tuple[int, dict[str, str], bytes]:
    """POST the body to the endpoint's model server; its answer as SageMaker runtime returns it."""
    try:
        status, response_type, payload = server.invocations(body, content_type, accept)
    except (OSError, http.client.HTTPException) as error:
        return error_reply(
            503,
            "ServiceUnavailable",
            f"the model server of endpoint {name} is not answering ({error}); see {server.log_path}",
        )
    if status >= 400:
        text = payload.decode(errors="replace")[:1000]
        return error_reply(
            424,
            "ModelError",
            f'Received client error ({status}) from primary with message "{text}". '
            f"See {server.log_path} for more information.",
            OriginalStatusCode=status,
            OriginalMessage=text,
        )
    return (
        status,
        {"Content-Type": response_type, "x-Amzn-Invoked-Production-Variant": server.variant_name},
        payload,
    )
