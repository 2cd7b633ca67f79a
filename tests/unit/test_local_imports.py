"""What local mode's processes import: `stepwise run` itself loads none of the containers' heavy libraries
(they load in the job processes), and the model server skips scikit-learn, which serving never uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINER_LIBRARIES = ("xgboost", "pandas", "sklearn")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_the_orchestrating_process_does_not_import_the_containers_libraries() -> None:
    code = (
        "import sys\n"
        "import stepwise.local.cli_run, stepwise.local.runtime, stepwise.local.services\n"
        "import stepwise.local.endpoints, stepwise.local.summary, stepwise.local.report\n"
        f"print(sorted(name for name in {CONTAINER_LIBRARIES!r} if name in sys.modules))\n"
    )
    finished = _python(code)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


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
