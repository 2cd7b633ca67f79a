"""What local mode's processes import: the console's read commands load no moto (they read the state
folder), the orchestrating process loads none of the containers' heavy libraries (they load in the job
processes), and the model server skips scikit-learn, which serving never uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINER_LIBRARIES = ("xgboost", "pandas", "sklearn")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def _loaded(names: tuple[str, ...]) -> str:
    """Code printing which of `names` the process has imported, as a JSON list (on the last line)."""
    return f"import json, sys\nprint(json.dumps(sorted(n for n in {names!r} if n in sys.modules)))\n"


def test_the_consoles_read_commands_do_not_import_moto(tmp_path: Path) -> None:
    from stepwise.emulator.store import Store

    store = Store(tmp_path / "state")
    execution = {
        "name": "run-1",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:stepwise-pipeline:run-1",
        "status": "SUCCEEDED",
        "startDate": "2026-11-28T08:00:00+00:00",
        "stopDate": "2026-11-28T08:01:00+00:00",
    }
    store.save_execution(execution, [{"type": "ExecutionStarted", "timestamp": execution["startDate"]}])
    store.put("registry", [])
    store.put(
        "stack", {"name": "stepwise", "parameters": {"GateThreshold": "0.7"}, "outputs": {}, "resources": {}}
    )
    store.close()
    code = (
        "from stepwise.cli import main\n"
        f"for command in (['runs'], ['show', 'last'], ['logs', 'last'], ['registry'], ['status']):\n"
        f"    assert main([*command, '--state-dir', {str(tmp_path / 'state')!r}]) == 0, command\n"
    ) + _loaded(("moto", *CONTAINER_LIBRARIES))
    finished = _python(code)
    assert finished.returncode == 0, finished.stderr
    assert "run-1" in finished.stdout  # the commands did read the folder
    assert json.loads(finished.stdout.splitlines()[-1]) == []


def test_the_orchestrating_process_does_not_import_the_containers_libraries(tmp_path: Path) -> None:
    """Every module of the embedded AWS and the console, and an embedded AWS started."""
    modules = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for folder in ("stepwise/emulator", "stepwise/console")
        for path in (REPO / folder).rglob("*.py")
        if path.name != "__init__.py"
    )
    code = (
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from stepwise.emulator.aws import EmbeddedAWS\n"
        f"with EmbeddedAWS({str(tmp_path / 'state')!r}, with_stack=False) as aws:\n"
        "    aws.client('s3').create_bucket(Bucket='imports-bucket')\n"
    ) + _loaded(CONTAINER_LIBRARIES)
    finished = _python(code)
    assert finished.returncode == 0, finished.stderr
    assert "stepwise.emulator.sagemaker.jobs" in modules and "stepwise.console.report" in modules
    assert json.loads(finished.stdout.splitlines()[-1]) == []


def test_model_server_process_loads_xgboost_without_scikit_learn() -> None:
    finished = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "stepwise.containers.xgboost_serving", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in finished.stderr.splitlines() if "|" in line}
    assert "xgboost" in imported
    # a refused `import sklearn` still shows as one line; a loaded scikit-learn brings its submodules
    assert not [name for name in imported if name.startswith("sklearn.")]


def test_importing_the_serving_module_leaves_scikit_learn_importable() -> None:
    finished = _python("import stepwise.containers.xgboost_serving\nimport sklearn.metrics\nprint('ok')")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "ok"
