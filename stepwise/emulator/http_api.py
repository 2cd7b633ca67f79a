"""The embedded AWS over HTTP: what `stepwise serve` listens with on 127.0.0.1.

One port answers every AWS API of the embedded AWS (S3, Step Functions, SageMaker, CloudFormation,
CloudWatch Logs, Lambda, IAM, EventBridge, SNS...) and the SageMaker runtime, so the aws CLI and boto3
work unchanged against local state: `aws --endpoint-url http://127.0.0.1:PORT s3 ls`, or
`boto3.client("stepfunctions", endpoint_url=...)`. The request is routed by the service its SigV4
signature names (any credentials do: nothing is checked), rewritten to that service's AWS URL and
handed to moto's dispatcher, the very one the process's own botocore clients reach
(moto_seams.dispatch_http). So a request over HTTP meets the same backends and the same seams as a
call made in-process: a PutObject under raw/ sends S3's event to EventBridge, whose rule starts the
state machine, which runs the real jobs; CreateEndpoint starts a real model server.

The request gate (stepwise/emulator/enforcement.py) hooks botocore clients, which a request over HTTP
never passes through. So this module does what the gate's hooks do: it finds the request's operation
and parameters (moto's router and parser, moto_seams.http_operation), validates them against the
service model's constraints AWS enforces (`RequestGate.check`, with botocore's own checks too, since
the caller's client may not have made them) and answers a violation with AWS's error in the service's
protocol; after a success it records the call (`on_success`: the SageMaker calls the state folder
journals). The caller is the user, an administrator, as for the `aws` commands and `sam deploy`: IAM
is not evaluated for it (the stack's roles, used inside, still are). A request moto's router cannot
place is passed to moto unvalidated.

The SageMaker runtime's routes (`POST /endpoints/{name}/invocations`; `GET /ping` and `POST
/invocations` as the container answers them) are answered as stepwise/emulator/sagemaker/runtime.py
answers them (6 MB limit, deadlines, 405/404), the invocation going to the endpoint's model server
through the emulated SageMaker runtime. Other bodies may be up to `MAX_API_BODY_BYTES`. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from xml.sax.saxutils import escape

from stepwise.emulator import moto_seams
from stepwise.emulator.sagemaker import runtime
from stepwise.emulator.server import (
    BodyError,
    Limits,
    LoopbackServer,
    Receive,
    Reply,
    Scope,
    Send,
    body_or_reply,
    header,
)

MAX_API_BODY_BYTES = 5 * 1024**3  # S3's largest single PutObject
DEFAULT_WORKERS = 16
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9.-]+)/aws4_request")
# signing name -> (botocore service name, host on AWS's domain); anything else: the same name for
# both and host <name>.<region>.amazonaws.com
_SERVICES = {
    "s3": ("s3", "s3.amazonaws.com"),
    "states": ("stepfunctions", "states.{region}.amazonaws.com"),
    "monitoring": ("cloudwatch", "monitoring.{region}.amazonaws.com"),
    "iam": ("iam", "iam.amazonaws.com"),
    "sts": ("sts", "sts.amazonaws.com"),
    "sagemaker": ("sagemaker", "api.sagemaker.{region}.amazonaws.com"),
}
_RUNTIME = ("sagemaker-runtime", "runtime.sagemaker.{region}.amazonaws.com")
_DROPPED_RESPONSE_HEADERS = {"status", "content-length", "transfer-encoding", "connection", "server"}


def signing_scope(scope: Scope) -> tuple[str, str] | None:
    """(region, signing name) of a SigV4 request (header or presigned URL), None when unsigned."""
    authorization = header(scope, b"authorization") or ""
    match = _CREDENTIAL.search(authorization)
    if match is None:
        query = scope.get("query_string", b"").decode("latin-1")
        from urllib.parse import unquote

        match = re.search(r"X-Amz-Credential=([^&]+)", query)
        if match is None:
            return None
        parts = unquote(match.group(1)).split("/")
        return (parts[2], parts[3]) if len(parts) == 5 else None
    return match.group(1), match.group(2)


def is_runtime_route(path: str) -> bool:
    parts = path.strip("/").split("/")
    return parts in (["ping"], ["invocations"]) or (
        len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations"
    )


def _protocol(service: str) -> str:
    from stepwise.emulator.service_models import protocol

    try:
        return protocol(service)
    except Exception:  # noqa: BLE001
        return "json"


def error_reply(service: str, status: int, code: str, message: str) -> Reply:
    """An error as `service` answers one in its protocol (botocore reads the code and message)."""
    request_id = str(uuid.uuid4())
    protocol = _protocol(service)
    if protocol in ("json", "rest-json"):
        body = {"message": message, **({"__type": code} if protocol == "json" else {})}
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        headers = {"Content-Type": content_type, "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
        return status, headers, json.dumps(body).encode()
    if protocol == "rest-xml":  # S3
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
    else:  # query
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code><Message>"
            f"{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, xml.encode()


class ServedAWS:
    """The ASGI app of an embedded AWS (a started `EmbeddedAWS`), and the server that serves it."""

    def __init__(self, aws: Any, *, workers: int = DEFAULT_WORKERS) -> None:
        self.aws = aws
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stepwise-api")
        self.runtime_limits = Limits()
        self._runtime = runtime.runtime_app(
            self.invoke, self.endpoint_names, self.healthy, self.runtime_limits, self.executor
        )
        self.server: LoopbackServer | None = None

    # ---------------------------------------------------------------- serving
    def serve(self, port: int = 0, host: str = "127.0.0.1") -> LoopbackServer:
        """Listen on host:port (0: a free port) in a daemon thread; OSError when the port is taken."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:  # uvicorn: a function, ASGI 3
            await self.app(scope, receive, send)

        self.server = LoopbackServer(
            app, host=host, port=port, limits=Limits(max_body_bytes=MAX_API_BODY_BYTES)
        ).start(name="stepwise-aws-api")
        return self.server

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.executor.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- the SageMaker runtime
    def endpoint_names(self) -> list[str]:
        return sorted(self.aws.endpoints.deployed)

    def healthy(self) -> bool:
        """Every deployed endpoint's model server answers /ping (started on first use)."""
        names = self.endpoint_names()
        if not names:
            return False
        try:
            return all(self.aws.endpoints.server_for(name).ping() for name in names)
        except Exception:  # noqa: BLE001 (a model that cannot start: not healthy)
            return False

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> Reply:
        """InvokeEndpoint: validated as the gate validates it, then the emulated runtime's answer."""
        params = {"EndpointName": name, "Body": body}
        params.update({k: v for k, v in (("ContentType", content_type), ("Accept", accept)) if v})
        try:
            self.aws.gate.check("sagemaker-runtime", "InvokeEndpoint", params, botocore_checked=False)
        except Exception as error:  # noqa: BLE001
            status, code, message = _client_error_parts(error)
            if status == 413:
                return runtime.payload_too_large()
            return runtime.error_response(status, code, message)
        return moto_seams.invoke_endpoint(
            self.aws.account_id, self.aws.region, name, body, content_type, accept
        )

    # ---------------------------------------------------------------- the AWS APIs
    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        """One request to an AWS API, already read whole: (status, headers, body)."""
        signed = _scope_of(headers, query)
        if signed is None:
            return error_reply(
                "sts",
                403,
                "MissingAuthenticationTokenException",
                "The request is not signed: sign it with any credentials (the aws CLI and boto3 do), "
                "e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            )
        region, signing_name = signed
        service, host = _SERVICES.get(
            signing_name, (signing_name, f"{signing_name}.{{region}}.amazonaws.com")
        )
        if signing_name == "sagemaker" and path.startswith("/endpoints/"):
            service, host = _RUNTIME
        host = host.format(region=region)
        url = f"https://{host}{path}" + (f"?{query}" if query else "")
        forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "expect")}
        forwarded["Host"] = host
        found = moto_seams.http_operation(service, method, url, forwarded, body)
        if found is not None:
            operation, params = found
            try:
                self.aws.gate.check(service, operation, params, botocore_checked=False)
            except Exception as error:  # noqa: BLE001
                status, code, message = _client_error_parts(error)
                return error_reply(service, status, code, message)
        answer = moto_seams.dispatch_http(method, url, forwarded, body)
        if answer is None:
            return error_reply(service, 404, "UnknownOperationException", f"no operation {method} {path}")
        status, response_headers, payload = answer
        if isinstance(payload, str):
            payload = payload.encode()
        if found is not None and int(status) < 300 and self.aws.gate.on_success is not None:
            self.aws.gate.on_success(service, found[0], found[1])
        clean = {
            str(k): str(v)
            for k, v in (response_headers or {}).items()
            if k.lower() not in _DROPPED_RESPONSE_HEADERS
        }
        if method == "HEAD":
            length = next(
                (v for k, v in (response_headers or {}).items() if k.lower() == "content-length"), None
            )
            if length is not None:
                clean["Content-Length"] = str(length)
        return int(status), clean, payload or b""

    def _handle_or_fail(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        """`handle`; an error of the emulator itself is a 500 InternalFailure naming it (and its
        traceback goes to stderr, the serve command's log)."""
        try:
            return self.handle(method, path, query, headers, body)
        except Exception as error:  # noqa: BLE001
            import sys
            import traceback

            traceback.print_exc(file=sys.stderr)
            signed = _scope_of(headers, query)
            service = _SERVICES.get(signed[1], (signed[1],))[0] if signed else "sts"
            return error_reply(service, 500, "InternalFailure", f"{type(error).__name__}: {error}")

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        signed = signing_scope(scope)
        if is_runtime_route(scope["path"]) and (signed is None or signed[1] == "sagemaker"):
            await self._runtime(scope, receive, send)
            return

        def too_large(error: BodyError) -> Reply:
            return error_reply(
                _SERVICES.get(signed[1], (signed[1],))[0] if signed else "s3",
                error.status,
                "EntityTooLarge" if error.status == 413 else "RequestTimeout",
                str(error),
            )

        body = await body_or_reply(scope, receive, send, Limits(max_body_bytes=MAX_API_BODY_BYTES), too_large)
        if body is None:
            return
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = key.decode("latin-1")
            headers[name] = (
                value.decode("latin-1")
                if name not in headers
                else f"{headers[name]},{value.decode('latin-1')}"
            )
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"").decode("latin-1")
        loop = asyncio.get_running_loop()
        status, response_headers, payload = await loop.run_in_executor(
            self.executor,
            self._handle_or_fail,
            scope["method"],
            raw_path.decode("latin-1"),
            query,
            headers,
            body,
        )
        await _respond(send, scope["method"], status, response_headers, payload)


def _scope_of(headers: dict[str, str], query: str) -> tuple[str, str] | None:
    fake_scope = {
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "query_string": query.encode("latin-1"),
    }
    return signing_scope(fake_scope)


def _client_error_parts(error: Exception) -> tuple[int, str, str]:
    response = getattr(error, "response", None) or {}
    details = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 400
    return int(status), str(details.get("Code") or type(error).__name__), str(details.get("Message") or error)


async def _respond(send: Send, method: str, status: int, headers: dict[str, str], body: bytes) -> None:
    fields = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if method != "HEAD" or not any(k == b"content-length" for k, _ in fields):
        fields = [(k, v) for k, v in fields if k != b"content-length"]
        fields.append((b"content-length", str(len(body) if method != "HEAD" else 0).encode()))
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
