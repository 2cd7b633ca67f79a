"""The one supervisor of every child process of the embedded AWS: SageMaker jobs and model servers.

- Each child runs in a process group of its own, so stopping it stops whatever it started.
- Each child gets the parent-death signal (Linux PR_SET_PDEATHSIG = SIGKILL): if the stepwise process
  dies, even by kill -9, the kernel kills its children. The signal follows the *thread* that forked
  the child, so every child is forked by one long-lived spawner thread that lives as long as the
  supervisor (a job started from a Step Functions worker thread would otherwise die with it).
- `close()` kills every child still running; a job whose execution stops is killed at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """preexec_fn for Linux: SIGKILL this child when the thread that forked it ends."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died between fork and prctl
            os._exit(1)

    return preexec


class Cancelled(Exception):
    """The job's execution stopped while it ran: the job was killed."""


class Supervisor:
    """Starts, tracks and stops the child processes."""

    def __init__(self) -> None:
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._requests: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._preexec = _die_with_parent(os.getpid())

    def open(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._spawner, name="stepwise-spawner", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Kill every child still running, then stop the spawner."""
        self.kill_all()
        if self._thread is not None:
            self._requests.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    # ---------------------------------------------------------------- starting
    def _spawner(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            arguments, reply = request
            try:
                reply.put(subprocess.Popen(**arguments))
            except BaseException as error:  # noqa: BLE001 (handed to the caller)
                reply.put(error)

    def start(
        self, command: list[str], *, log_path: Path, cwd: Path | None = None, env: dict | None = None
    ) -> subprocess.Popen:
        """Start `command` with its output appended to `log_path`."""
        self.open()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 (closed when the child is reaped)
        arguments: dict[str, Any] = {
            "args": command,
            "cwd": cwd,
            "env": env,
            "stdin": subprocess.DEVNULL,
            "stdout": log,
            "stderr": subprocess.STDOUT,
            "process_group": 0,
            "preexec_fn": self._preexec,
        }
        reply: queue.Queue = queue.Queue()
        self._requests.put((arguments, reply))
        result = reply.get()
        log.close()  # the child has its own copy
        if isinstance(result, BaseException):
            raise result
        with self._lock:
            self._children.add(result)
        return result

    # ---------------------------------------------------------------- waiting and stopping
    def run(
        self,
        command: list[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: dict | None = None,
        cancelled: Callable[[], bool] | None = None,
        max_seconds: float | None = None,
        poll_seconds: float = 0.05,
    ) -> tuple[str, int | None]:
        """Run a job to its end: ("exited", code), ("stopped", None) when `cancelled()` became true, or
        ("timeout", None) after `max_seconds` (the process is killed in both cases)."""
        process = self.start(command, log_path=log_path, cwd=cwd, env=env)
        started = time.monotonic()
        try:
            while True:
                try:
                    process.wait(timeout=poll_seconds)
                    return "exited", process.returncode
                except subprocess.TimeoutExpired:
                    pass
                if cancelled is not None and cancelled():
                    self.stop(process, grace=0)
                    return "stopped", None
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    self.stop(process, grace=5)
                    return "timeout", None
        finally:
            if process.poll() is None:  # an exception (KeyboardInterrupt) must not leave it running
                self.stop(process, grace=0)
            self._forget(process)

    def stop(self, process: subprocess.Popen, grace: float = 10.0) -> None:
        """SIGTERM the child's process group (as SageMaker stops a job), SIGKILL after `grace`."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            try:
                process.wait(timeout=grace if grace > 0 else 10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._forget(process)

    def kill_all(self) -> int:
        """Kill every child still running; return how many were."""
        with self._lock:
            running = [p for p in self._children if p.poll() is None]
        for process in running:
            self.stop(process, grace=0)
        with self._lock:
            self._children.clear()
        return len(running)

    def _forget(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._children.discard(process)
