"""Raw-socket HTTP clients for the server tests: lying and stalling clients, bursts of connections.

A helper module (not a test file) shared by test_serving.py and test_gateway.py.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass
class Exchange:
    """What a raw client saw: the bytes the server sent, whether it closed, and after how long."""

    received: bytes
    closed: bool
    seconds: float

    @property
    def status(self) -> int | None:
        """The status code of the first response, or None when nothing came back."""
        if not self.received.startswith(b"HTTP/1.1 "):
            return None
        return int(self.received.split(b" ", 2)[1])

    @property
    def body(self) -> bytes:
        return self.received.partition(b"\r\n\r\n")[2]

    def header(self, name: str) -> str | None:
        head = self.received.partition(b"\r\n\r\n")[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def exchange(port: int, data: bytes, *, wait: float = 10.0, then_close: bool = False) -> Exchange:
    """Send `data` as is, then read what the server sends until it closes the connection or `wait`
    seconds pass (the client never sends more: it stalls). `then_close`: stop reading after the first
    complete response instead of waiting for the close."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        closed = False
        deadline = started + wait
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
            if then_close and _complete(received):
                break
        return Exchange(received, closed, time.monotonic() - started)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = Exchange(received, False, 0).header("content-length")
    return length is not None and len(body) >= int(length)


def post(path: str, body: bytes, *, content_length: str | None = None, extra: str = "") -> bytes:
    """A raw POST request; `content_length` replaces the true length (to lie, or to send garbage)."""
    length = str(len(body)) if content_length is None else content_length
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    )
    return head.encode() + body


def chunked(path: str, body: bytes, *, pieces: int = 3) -> bytes:
    """A POST with a chunked body (no Content-Length)."""
    size = -(-len(body) // pieces)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    encoded = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for chunk in chunks) + b"0\r\n\r\n"
    head = (
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return head.format(path).encode() + encoded


class Slowloris:
    """`count` connections that each trickle a request line and headers, a byte every `interval`
    seconds, and never finish them. `closed_after()` says when the server closed each one."""

    def __init__(self, port: int, count: int = 5, interval: float = 0.1) -> None:
        self.closed_at: list[float] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._trickle, args=(port, interval), daemon=True) for _ in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _trickle(self, port: int, interval: float) -> None:
        request = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 10_000
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            for byte in request:
                if self._stop.is_set():
                    return
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(interval)
            # the server closed it: the next send fails, or a read sees the end
        self.closed_at.append(time.monotonic() - self.started)

    def stop(self, timeout: float = 10.0) -> list[float]:
        """Wait up to `timeout` for the server to close every connection; the seconds each took."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        self._stop.set()
        return sorted(self.closed_at)


def check_stalled_clients_are_closed(port: int, serve_one: Callable[[], None]) -> None:
    """For a server whose request and idle deadlines are about a second: five slowloris connections
    and a silent one are open while `serve_one()` (a normal request) runs 20 times, each in under half a
    second; then every slow connection is closed within 3 s of its start, and the silent one too."""
    slow = Slowloris(port, count=5, interval=0.05)
    silent = socket.create_connection(("127.0.0.1", port))
    try:
        for _ in range(20):  # meanwhile everyone else is served at once
            started = time.monotonic()
            serve_one()
            assert time.monotonic() - started < 0.5
        closed = slow.stop(timeout=5)
        assert len(closed) == 5 and max(closed) < 3  # request_timeout after their first byte
        silent.settimeout(5)
        started = time.monotonic()
        assert silent.recv(1) == b""  # the idle connection is closed after idle_timeout
        assert time.monotonic() - started < 3
    finally:
        silent.close()


def burst(
    port: int, path: str, body: bytes, *, requests: int = 2000, threads: int = 20, headers: dict | None = None
) -> tuple[Counter, list[float]]:
    """`requests` POSTs over `threads` threads, each on a new connection (closed after its answer):
    (Counter of outcomes: the status code, or the exception's class name; latencies in seconds)."""
    headers = {"Content-Type": "text/csv", **(headers or {})}
    outcomes: Counter = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            outcome: object = response.status
        except (OSError, http.client.HTTPException) as error:
            outcome = type(error).__name__
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1
            latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(requests)))
    return outcomes, sorted(latencies)
