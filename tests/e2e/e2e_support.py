"""Helpers for the end-to-end tests: the `stepwise` command line run the way a user runs it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "stepwise.cli"]


def cli_env() -> dict[str, str]:
    """The environment without AWS_* variables: local mode must need none of them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def summary_of(result: subprocess.CompletedProcess) -> dict:
    """The --json summary a `stepwise run` printed."""
    assert result.stdout.strip(), f"no summary on stdout; stderr:\n{result.stderr[-3000:]}"
    summary = json.loads(result.stdout)
    assert summary.get("schema") == "stepwise.summary/1", "the summary names its schema (docs/json.md)"
    return summary


# ---------------------------------------------------------------- what a state folder holds
def stored(state_dir: Path):
    """The state folder's store, read as the console reads it."""
    from stepwise.emulator.store import Store

    return Store(state_dir, create=False)


def registered(state_dir: Path) -> list[dict]:
    """The CreateModelPackage requests the runs made, oldest first."""
    return [
        request
        for _, operation, request in stored(state_dir).calls("sagemaker")
        if operation == "CreateModelPackage"
    ]


def s3_bytes(state_dir: Path, uri: str) -> bytes:
    """The current version of the object at an s3:// URI of the local stack."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    data = stored(state_dir).read_object(bucket, key)
    assert data is not None, f"{uri} does not exist"
    return data


def bucket_objects(state_dir: Path, prefix: str) -> dict[str, bytes]:
    """key -> content of the stack bucket's current objects under `prefix`."""
    from stepwise.console.records import bucket_of

    store = stored(state_dir)
    bucket = bucket_of(store)
    return {key: store.read_object(bucket, key) for key in store.object_keys(bucket, prefix)}


# ---------------------------------------------------------------- a project of one's own
PROJECT_FILES = ("template.yaml", "samconfig.toml", "statemachine", "functions", "processing")


def project_copy(target: Path) -> Path:
    """A copy of the project (template and the code it names) to break the way a user might; returns
    the copied template.yaml."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".aws-sam")
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target / "template.yaml"


# ---------------------------------------------------------------- processes
def processes_under(folder: Path, exclude: int = 0, marker: str = "") -> list[int]:
    """PIDs of live processes whose command line mentions `folder` (the jobs and model servers of that
    state folder), and `marker` if given."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == exclude:
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (proc / "status").read_text()
        except OSError:
            continue
        if str(folder) in command and marker in command and "zombie" not in status:
            pids.append(int(proc.name))
    return pids


def wait_for_process(folder: Path, marker: str, exclude: int = 0, timeout: float = 300) -> None:
    """Until a process of the state folder whose command line holds `marker` (e.g. "-train-") runs."""
    import time

    deadline = time.monotonic() + timeout
    while not processes_under(folder, exclude=exclude, marker=marker):
        assert time.monotonic() < deadline, f"no process with {marker!r} in its command line started"
        time.sleep(0.02)


@contextlib.contextmanager
def sigint_default_in_children() -> Iterator[None]:
    """Children started inside get SIGINT's default action, as a terminal's foreground command has,
    even where this process was started with SIGINT ignored (a background job of a script, nohup:
    Python then leaves it ignored, and a child would ignore Ctrl-C too). A caught signal is reset to
    its default by exec, so catching it here for the moment is enough."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def popen_stepwise(*args: str) -> subprocess.Popen:
    """`stepwise ARGS` started in its own process, its output (plain lines) readable as it comes."""
    return subprocess.Popen(
        [*COMMAND, *args],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
