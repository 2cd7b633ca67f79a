"""The loopback HTTP server under Stepwise's emulated endpoints: uvicorn, plus the limits it lacks.

The local SageMaker model server (`stepwise.containers.xgboost_serving`) and the SageMaker runtime
gateway (`stepwise.emulator.sagemaker.runtime`) are ASGI applications served by `LoopbackServer`.
uvicorn's httptools protocol (llhttp, the parser of Node.js) reads HTTP/1.1: it keeps connections
alive, answers a malformed request (a negative or non-numeric Content-Length, Content-Length with
Transfer-Encoding, oversized headers) with 400 and closes it, decodes chunked bodies, and holds a
stalled client as a socket in its event loop, never as a thread. What this module adds, because
uvicorn does not have it (uvicorn issue #157):

- deadlines: a request line and headers must arrive within `Limits.request_timeout` seconds of their
  first byte, or the connection is closed; the body within `request_timeout` of the headers
  (`read_body`), or the client gets 408 and the connection is closed. A connection with no request in
  progress is closed after `Limits.idle_timeout` seconds, from the moment it is opened too (uvicorn
  starts that clock only after a first response);
- a body limit (`read_body`): a declared Content-Length above `Limits.max_body_bytes` gets 413 before
  any of the body is read, and the connection stays open while uvicorn discards the rest as it
  arrives, so a client that sends its whole body before it reads (http.client, urllib3, botocore) gets
  the 413, not a broken pipe; a chunked body gets 413 once it passes the limit, and is closed. Below
  the limit, reading does not pause every 64 KiB as uvicorn's does (a loop iteration per pause);
- TCP_NODELAY on every connection (headers and body are separate writes: without it a keep-alive
  client waits for a delayed ACK, +40 ms per answer), a listen backlog of `Limits.backlog` (a burst of
  new connections queues instead of being reset), and loopback addresses only.

Applications read the request with `header` and `read_body` (or `body_or_reply`) and answer with
`respond`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
START_TIMEOUT_SECONDS = 10.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Reply = tuple[int, Mapping[str, str], bytes]  # status, headers, body


@dataclass(frozen=True)
class Limits:
    """What one request may take: InvokeEndpoint's 6 MB payload, and a minute to send it or to idle."""

    max_body_bytes: int = 6 * 1024 * 1024
    request_timeout: float = 60.0  # for the request line + headers, then again for the body
    idle_timeout: float = 60.0  # a connection with no request in progress
    backlog: int = 1024


class BodyError(Exception):
    """A body that cannot be read whole: answer `status` with the message; `close` ends the connection."""

    def __init__(self, status: int, message: str, *, close: bool) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


class ClientGone(Exception):
    """The client closed the connection before its request was complete: there is no one to answer."""


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (`name` in lower case), the last one when repeated; None when absent."""
    value = None
    for key, raw in scope["headers"]:
        if key == name:
            value = raw
    return value.decode("latin-1") if value is not None else None


async def read_body(scope: Scope, receive: Receive, limits: Limits) -> bytes:
    """The whole request body; BodyError (413 too large, 408 incomplete in time) or ClientGone."""
    declared = header(scope, b"content-length")  # llhttp has checked that it is a number, if present
    if declared is not None and int(declared) > limits.max_body_bytes:
        message = f"the body is {int(declared)} bytes: the limit is {limits.max_body_bytes}"
        raise BodyError(413, message, close=False)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.request_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limits.max_body_bytes:  # chunked: no declared length to check up front
                    raise BodyError(
                        413, f"the chunked body passed the {limits.max_body_bytes}-byte limit", close=True
                    )
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        expected = f"of the {declared} announced by Content-Length " if declared is not None else ""
        message = f"the request body was incomplete after {limits.request_timeout:g} s"
        raise BodyError(408, f"{message}: {size} bytes {expected}arrived", close=True) from None


async def body_or_reply(
    scope: Scope, receive: Receive, send: Send, limits: Limits, reply: Callable[[BodyError], Reply]
) -> bytes | None:
    """The request body; or None once the client got `reply(error)` for a BodyError, or went away."""
    try:
        return await read_body(scope, receive, limits)
    except ClientGone:
        return None
    except BodyError as error:
        await respond(send, *reply(error), close=error.close)
        return None


async def respond(
    send: Send, status: int, headers: Mapping[str, str], body: bytes, *, close: bool = False
) -> None:
    """Send one complete response; `close` asks uvicorn to close the connection after it."""
    fields = [(key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]
    fields.append((b"content-length", str(len(body)).encode()))
    if close:
        fields.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": body})


def _protocol_class(limits: Limits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the header deadline, the idle clock from the start, no pause
    of reading below the body limit, and TCP_NODELAY."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class DeadlineProtocol(HttpToolsProtocol):
        header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # uvicorn starts the idle clock only once a response is complete: start it now too
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def on_message_begin(self) -> None:  # the first byte of a request
            super().on_message_begin()
            self._cancel_header_timer()
            self.header_timer = self.loop.call_later(limits.request_timeout, self._headers_too_slow)

        def on_headers_complete(self) -> None:
            self._cancel_header_timer()
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            # uvicorn's, except that reading pauses past the body limit rather than past 64 KiB (each
            # pause costs a loop iteration: about 0.1 ms on a 1,000-row, 233 KB request)
            if self.cycle.response_complete:  # answered early (413): the rest is discarded
                return
            self.cycle.body += body
            if len(self.cycle.body) > limits.max_body_bytes:
                self.flow.pause_reading()
            self.cycle.message_event.set()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _cancel_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing():
                self.transport.close()  # no request to answer yet

    return DeadlineProtocol


class LoopbackServer:
    """An ASGI app served by uvicorn on a loopback port, bound when this object is made.

    `start()` serves in a daemon thread; `serve_forever()` in the calling thread, until `shutdown()`
    (from another thread). `server_close()` releases the port. `server_address` and `port` say where.
    """

    def __init__(
        self, app: App, *, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"host {host!r} is not loopback: local servers bind to 127.0.0.1 only")
        limits = limits or Limits()
        family = socket.AF_INET6 if host == "::1" else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind(("127.0.0.1" if host == "localhost" else host, port))
            self._socket.listen(limits.backlog)  # connections made before the loop runs wait here
        except OSError:
            self._socket.close()
            raise
        self.server_address = self._socket.getsockname()
        self.port: int = self.server_address[1]
        self.limits = limits
        import uvicorn  # here: importing this module (for Limits, say) stays cheap

        config = uvicorn.Config(
            app,
            http=_protocol_class(limits),
            ws="none",
            lifespan="off",
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]
            timeout_graceful_shutdown=5,
            backlog=limits.backlog,
        )
        self._server = uvicorn.Server(config)
        self._serving = False
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Serve in this thread until shutdown() (or, in the main thread, SIGINT / SIGTERM)."""
        self._serving = True
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        finally:
            self._stopped.set()

    def start(self, name: str = "stepwise-http") -> Self:
        """Serve in a daemon thread; return once the server accepts connections."""
        threading.Thread(target=self.serve_forever, name=name, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (self._server.started or self._stopped.is_set()) and time.monotonic() < deadline:
            time.sleep(0.001)
        if not self._server.started:
            raise RuntimeError(f"the HTTP server on port {self.port} did not start")
        return self

    def shutdown(self) -> None:
        """Stop serving (in-flight requests finish) and wait until serve_forever has returned."""
        self._server.should_exit = True
        if self._serving:
            self._stopped.wait(START_TIMEOUT_SECONDS + self._server.config.timeout_graceful_shutdown)

    def wait(self) -> None:
        """Block until serving stops (an error in the serving thread, or shutdown())."""
        self._stopped.wait()

    def server_close(self) -> None:
        self._socket.close()
