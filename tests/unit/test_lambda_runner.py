"""The embedded Lambda runs each function in an execution environment of its own: warm between its
calls, never sharing a module with another function, cold again in a new runner (a new `stepwise`
command, or a new embedded AWS in one process)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from stepwise.emulator.lambda_ import DeployedFunction, FunctionRunner, LayerSource, build_function

APP = """
from counter import count


def handler(event, context):
    return {"calls": count(), "function": context.function_name}
"""
COUNTER = """
CALLS = []


def count():
    CALLS.append(1)
    return len(CALLS)
"""


def _project(root: Path) -> tuple[Path, LayerSource]:
    (root / "fn").mkdir(parents=True)
    (root / "fn" / "app.py").write_text(APP)
    (root / "fn" / "requirements.txt").write_text("")
    layer = root / "layer"
    (layer / "counter").mkdir(parents=True)
    (layer / "counter" / "__init__.py").write_text(COUNTER)
    (layer / "requirements.txt").write_text("")
    (layer / "requirements-nodeps.txt").write_text("")
    return root / "fn", LayerSource("SharedLayer", layer, "makefile")


def _runner(functions: list[DeployedFunction]) -> FunctionRunner:
    runner = FunctionRunner(lambda role: contextlib.nullcontext(), lambda function, name, lines: None)
    runner.open()
    runner.deploy(functions)
    return runner


def _deployed(name: str, source: Path, layer: LayerSource, build: Path) -> DeployedFunction:
    package = build_function(name, source, "app.handler", [layer], build)
    return DeployedFunction(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        role_arn=f"arn:aws:iam::123456789012:role/{name}Role",
        environment={},
        package=package,
        log_group=f"/aws/lambda/{name}",
    )


def _calls(runner: FunctionRunner, name: str) -> int:
    response = runner.invoke(runner.find(name), {})
    assert "FunctionError" not in response, response
    return response["Payload"]["calls"]


def test_functions_keep_their_own_module_state_and_a_new_runner_starts_cold(tmp_path: Path) -> None:
    source, layer = _project(tmp_path)
    functions = [_deployed(name, source, layer, tmp_path / "build") for name in ("First", "Second")]
    runner = _runner(functions)
    try:
        assert [_calls(runner, "First"), _calls(runner, "First")] == [1, 2], "warm between calls"
        assert _calls(runner, "Second") == 1, "the layer's module is the second function's own"
        assert _calls(runner, "First") == 3
    finally:
        runner.close()

    again = _runner(functions)
    try:
        assert _calls(again, "First") == 1, "a new runner must start the function cold"
    finally:
        again.close()


STREAM_GRABBER = """
import sys


def handler(event, context):
    sys.stderr = open(event["path"], "w")
    print("the function's own file", file=sys.stderr)
    sys.stderr.close()
    return {"calls": 1}
"""


def test_a_function_that_replaces_and_closes_stderr_gives_the_process_its_streams_back(
    tmp_path: Path,
) -> None:
    source, layer = _project(tmp_path)
    (source / "app.py").write_text(STREAM_GRABBER)
    runner = _runner([_deployed("Grabber", source, layer, tmp_path / "build")])
    try:
        before = sys.stderr
        response = runner.invoke(runner.find("Grabber"), {"path": str(tmp_path / "own.txt")})
        assert "FunctionError" not in response, response
        assert sys.stderr is before, "the handler's closed file is still the process's stderr"
        print("the process can still write", file=sys.stderr)
    finally:
        runner.close()
    assert (tmp_path / "own.txt").read_text() == "the function's own file\n"
