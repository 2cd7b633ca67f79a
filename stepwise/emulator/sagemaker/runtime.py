"""The SageMaker runtime API on loopback: `POST /endpoints/{name}/invocations`, as boto3 calls it.

`serve_runtime(invoke, endpoints)` starts it in a daemon thread; a boto3 `sagemaker-runtime` client
with `endpoint_url="http://127.0.0.1:<port>"` then works unchanged. This module knows nothing of moto
or of how models are served: the caller passes

- `invoke(name, body, content_type, accept) -> (status, headers, body)`: InvokeEndpoint on endpoint
  `name`, already in the runtime's own shapes (200 with the model's answer, or an error made with
  `error_response`: ValidationError 400, ModelError 424, ServiceUnavailable 503...). It blocks, so it
  runs in a pool of `workers` threads (each thread may keep its own connection to a model server);
- `endpoints() -> collection of names`: the endpoints served now, for `POST /invocations` (the one
  endpoint, as a container answers) and, unless `healthy` is given, for `GET /ping`;
- `healthy() -> bool` (optional): whether `GET /ping` answers 200 or 503.

What it answers itself, before `invoke` sees a request (botocore's rest-json error shape: the code in
the `x-amzn-ErrorType` header, the text in the body's `message`):

- a body over `Limits.max_body_bytes` (6 MB, InvokeEndpoint's limit): 413 with the message SageMaker
  gives (`HTTP content length exceeded 6291456 bytes.`; reported by users, with 5246976, when the limit
  was 5 MB) and no error code, so boto3 raises ClientError with code `413` as it does against AWS. A
  declared Content-Length is refused before the body is read, and the body is then discarded as it
  arrives, so the client reads the answer instead of a broken pipe;
- a body that does not arrive whole within `Limits.request_timeout` (a Content-Length larger than
  what is sent): 408 `RequestTimeoutException`, and the connection is closed. A request line and
  headers that do not arrive in that time, or an idle connection after `Limits.idle_timeout`: the
  connection is closed. A malformed request (a negative or non-numeric Content-Length): 400, closed;
- another method on the API's paths: 405 `UnknownOperationException` (with `Allow`); another path: 404.

Chunked request bodies are accepted (boto3 sends Content-Length). The HTTP layer is
`stepwise.emulator.server` (uvicorn); it binds loopback only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from stepwise.emulator.server import (
    App,
    BodyError,
    Limits,
    LoopbackServer,
    Receive,
    Reply,
    Scope,
    Send,
    body_or_reply,
    header,
    respond,
)

Invoke = Callable[[str, bytes, "str | None", "str | None"], Reply]
DEFAULT_WORKERS = 32  # invocations in flight at once; more wait for a free thread


def error_response(status: int, code: str | None, message: str, **members: Any) -> Reply:
    """An error as the runtime answers it: botocore reads `code` from x-amzn-ErrorType, the text from
    `message`. Without a code (as SageMaker's 413), boto3 reports the HTTP status as the code."""
    body = json.dumps({"message": message, **members}).encode()
    headers = {"Content-Type": "application/json"}
    if code is not None:
        headers["x-amzn-ErrorType"] = code
    return status, headers, body


def payload_too_large(limit: int = Limits.max_body_bytes) -> Reply:
    """SageMaker's answer to an InvokeEndpoint body over the limit (HTTP 413, no error code)."""
    return error_response(413, None, f"HTTP content length exceeded {limit} bytes.")


class RuntimeServer(LoopbackServer):
    """The runtime API's server; `shutdown()` also stops its invocation threads."""

    def __init__(self, app: App, executor: ThreadPoolExecutor, **where: Any) -> None:
        super().__init__(app, **where)
        self.executor = executor

    def shutdown(self) -> None:
        super().shutdown()
        self.executor.shutdown(wait=False, cancel_futures=True)


def serve_runtime(
    invoke: Invoke,
    endpoints: Callable[[], Collection[str]],
    *,
    healthy: Callable[[], bool] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: Limits | None = None,
    workers: int = DEFAULT_WORKERS,
) -> RuntimeServer:
    """Start the runtime API on host:port (0: a free port) in a daemon thread; see `.port`.

    Stop it with `server.shutdown(); server.server_close()`. OSError when the port is taken.
    """
    limits = limits or Limits()
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stepwise-runtime")
    app = runtime_app(invoke, endpoints, healthy or (lambda: bool(endpoints())), limits, executor)
    return RuntimeServer(app, executor, host=host, port=port, limits=limits).start(name="stepwise-runtime")


ROUTE_HINT = "use POST /endpoints/{name}/invocations"


def runtime_app(
    invoke: Invoke,
    endpoints: Callable[[], Collection[str]],
    healthy: Callable[[], bool],
    limits: Limits,
    executor: ThreadPoolExecutor,
) -> App:
    """The runtime API as an ASGI app (see the module's docstring for what it answers)."""

    def body_error(error: BodyError) -> Reply:
        if error.status == 413:
            return payload_too_large(limits.max_body_bytes)
        return error_response(error.status, "RequestTimeoutException", str(error))  # 408

    async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        parts = scope["raw_path"].decode("latin-1").strip("/").split("/")  # an encoded / stays in a name
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations":
            name: str | None = unquote(parts[1])
            allowed = ("POST",)
        elif parts == ["invocations"]:
            name, allowed = None, ("POST",)
        elif parts == ["ping"]:
            name, allowed = None, ("GET", "HEAD")
        else:
            message = f"no operation at {path}: {ROUTE_HINT}"
            await respond(send, *error_response(404, "UnknownOperationException", message))
            return
        if method not in allowed:
            status, headers, body = error_response(
                405, "UnknownOperationException", f"no operation {method} {path}: {ROUTE_HINT}"
            )
            await respond(send, status, {**headers, "Allow": ", ".join(allowed)}, body)
            return
        if parts == ["ping"]:
            await respond(send, 200 if await in_thread(healthy) else 503, {"Content-Type": "text/plain"}, b"")
            return
        body = await body_or_reply(scope, receive, send, limits, body_error)
        if body is None:
            return
        if name is None:  # POST /invocations: the container's route, for the one endpoint served
            served = list(endpoints())
            if len(served) != 1:
                message = f"{len(served)} endpoints are served here: {ROUTE_HINT}"
                await respond(send, *error_response(400, "ValidationError", message))
                return
            name = served[0]
        reply = await in_thread(invoke, name, body, header(scope, b"content-type"), header(scope, b"accept"))
        await respond(send, *reply)

    return app
