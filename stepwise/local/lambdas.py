"""The Lambda functions of template.yaml, loaded from functions/ and called in this process.

Each function's handler module is imported from its CodeUri under a name of its own (every function
has an `app.py`), with its layers (functions/shared) on sys.path, as the Lambda runtime puts
/opt/python there. The function's Environment (Globals included) is set while it is imported and
while it runs; its output (powertools logs, EMF metrics) goes to a log file per function, not to the
terminal the progress display writes to.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepwise.local.template import LambdaFunction

# One function runs at a time: os.environ and sys.stdout are process-wide.
_LOCK = threading.RLock()


class _LogStream(io.TextIOBase):
    """sys.stdout while Lambda code runs: writes go to the log file of the function being run."""

    def __init__(self) -> None:
        self.target: io.TextIOBase | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.target is not None:
            self.target.write(text)
            self.target.flush()
        return len(text)


_STREAM = _LogStream()


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _output_to(log_path: Path) -> Iterator[None]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        _STREAM.target = log
        try:
            with contextlib.redirect_stdout(_STREAM), contextlib.redirect_stderr(_STREAM):
                yield
        finally:
            _STREAM.target = None


class InProcessFunction:
    """A template function, imported on first call, called as the Lambda runtime would."""

    def __init__(self, function: LambdaFunction, logs_dir: Path, extra_environment: dict[str, str]) -> None:
        self.function = function
        self.logs_dir = Path(logs_dir)
        self.environment = {**extra_environment, **function.environment}
        self._handler = None

    def log_path(self, event: Any) -> Path:
        execution = event.get("executionName") if isinstance(event, dict) else None
        folder = self.logs_dir / execution / "lambda" if execution else self.logs_dir / "_lambda"
        return folder / f"{self.function.name}.log"

    def _load(self):
        module_name, _, attribute = self.function.handler.rpartition(".")
        path = self.function.code_dir / (module_name.replace(".", "/") + ".py")
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.function.logical_id}: Handler {self.function.handler} needs {path}"
            )
        for folder in [*self.function.layer_dirs, self.function.code_dir]:
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
        name = f"stepwise_lambda_{self.function.name}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as a regular import does (dataclasses and pickling look it up)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return getattr(module, attribute)

    def __call__(self, event: Any, context: Any) -> Any:
        with _LOCK, _environment(self.environment), _output_to(self.log_path(event)):
            print(f"START {self.function.name} {json.dumps(event)[:2000]}")
            if self._handler is None:
                self._handler = self._load()
            try:
                result = self._handler(event, context)
            except Exception as error:
                print(f"ERROR {type(error).__name__}: {error}")
                raise
            print(f"END {self.function.name}")
            return result
