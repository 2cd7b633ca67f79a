"""`pip install .` (not editable), then `stepwise run` from an empty folder.

The wheel is built from a copy of the checkout and installed into a new venv without the network: its
dependencies are the running environment's copies of exactly the distributions the package requires
(pyproject's dependencies and theirs), so an import of anything else fails as it would after `pip
install .`; the dev group's modules are blocked too, and every attempt to import one is logged. The
checkout is never on the venv's path: the run deploys the template, functions and processing code the
wheel carries.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from e2e_support import REPO, cli_env, stored, summary_of

pytestmark = pytest.mark.slow

SHIPPED = "stepwise/project/"  # where the wheel carries the project files (setup.py)
# in the dev group but in every venv anyway (the venv module installs it on Python 3.11)
NOT_DEV_ONLY = {"setuptools"}
DEV_TOOLS = {
    "pytest",
    "ruff",
    "sagemaker",
    "stepfunctions",
    "smclarify",
    "scikit-learn",
    "statelint",
    "cfn-lint",
}
_BLOCKER = '''"""Installed by tests/e2e/test_packaging.py: the dev group's modules cannot be imported here."""
import sys

BLOCKED = frozenset({blocked!r})
LOG = {log!r}


class DevModulesBlocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            with open(LOG, "a") as log:
                log.write(f"{{name}}\\t{{sys.argv[0]}}\\n")
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: a dev tool)", name=name)
        return None


sys.meta_path.insert(0, DevModulesBlocked())
'''


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(text: str) -> str:
    return _canonical(re.split(r"[\s\[<>=!~;]", text.strip(), maxsplit=1)[0])


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _dev_only_distributions() -> set[str]:
    return {_requirement_name(item) for item in _pyproject()["dependency-groups"]["dev"]} - NOT_DEV_ONLY


def _modules_of(distributions: set[str]) -> set[str]:
    """The top-level modules these installed distributions provide."""
    return {
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if any(_canonical(owner) in distributions for owner in owners)
    }


def _named_files() -> dict[str, bytes]:
    """template.yaml and every file under the paths it names (CodeUri, ContentUri, DefinitionUri), as
    the checkout has them."""
    from stepwise.emulator.cloudformation import load_template

    template = load_template(REPO / "template.yaml")
    properties = [resource.get("Properties") or {} for resource in template["Resources"].values()]
    properties.append((template.get("Globals") or {}).get("Function") or {})
    named = {
        item[key]
        for item in properties
        for key in ("CodeUri", "ContentUri", "DefinitionUri")
        if isinstance(item.get(key), str)
    }
    files = {"template.yaml": (REPO / "template.yaml").read_bytes()}
    for name in named:
        path = REPO / name
        for found in [path] if path.is_file() else sorted(path.rglob("*")):
            relative = found.relative_to(REPO)
            ignored = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
            if found.is_file() and not ignored and found.suffix != ".pyc":
                files[relative.as_posix()] = found.read_bytes()
    return files


def _builds_offline() -> bool:
    """pyproject.toml needs setuptools>=77; the dev group installs it, so the build needs no network.
    An environment without it (one made before the dev group had it) builds as pip does by default."""
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0]) >= 77
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout, as a fresh clone has it (builds write into the tree they build)."""
    source = tmp_path_factory.mktemp("source") / "stepwise"
    local = (".git", ".venv*", ".stepwise", ".aws-sam", "build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*local, ".*_cache"))
    return source


@pytest.fixture(scope="module")
def wheel(source: Path) -> Path:
    """The wheel `pip install .` builds."""
    out = source.parent / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out)]
    if _builds_offline():
        command += ["--no-build-isolation", "--no-index"]
    built = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("stepwise-*.whl")
    return found


def test_the_wheel_carries_the_template_and_the_code_it_names(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name.removeprefix(SHIPPED): archive.read(name)
            for name in archive.namelist()
            if name.startswith(SHIPPED) and not name.endswith("/")
        }
    expected = _named_files()
    assert sorted(shipped) == sorted(expected)
    stale = sorted(name for name in expected if shipped[name] != expected[name])
    assert not stale, f"the wheel's copies differ from the checkout: {stale}"


def test_the_sdist_carries_the_project_files(source: Path) -> None:
    """`python -m build` builds the wheel from the sdist: it must hold what setup.py copies (MANIFEST.in)."""
    if not _builds_offline():
        pytest.skip("setuptools>=77 (the dev group) builds the sdist here; this environment predates it")
    out = source.parent / "sdist"
    build = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    built = subprocess.run(
        [sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("stepwise-*.tar.gz")
    with tarfile.open(found) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
    assert not sorted(set(_named_files()) - names)
    assert {"setup.py", "MANIFEST.in"} <= names


def test_the_wheel_requires_only_what_running_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(name).decode().splitlines()
    required = {
        _requirement_name(line.removeprefix("Requires-Dist:")) for line in lines if "Requires-Dist:" in line
    }
    project = _pyproject()["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["functions"]]
    assert required == {_requirement_name(item) for item in declared}
    assert _dev_only_distributions() >= DEV_TOOLS
    assert not required & _dev_only_distributions()
    assert [line for line in lines if line.startswith("Provides-Extra:")] == ["Provides-Extra: functions"]


def _runtime_site(target: Path) -> Path:
    """A folder that shows, of the running environment's site-packages, only the distributions the
    package requires (pyproject's dependencies and theirs, read from the installed metadata): what
    `pip install .` would have installed. Links, not copies."""
    from stepwise.emulator.lambda_ import requirement_closure

    requirements = target.with_suffix(".txt")
    requirements.write_text("\n".join(_pyproject()["project"]["dependencies"]) + "\n")
    target.mkdir()
    for name in sorted(requirement_closure([requirements], [])):
        distribution = importlib.metadata.distribution(name)
        assert distribution.files is not None, f"{name} has no RECORD"
        for top in {file.parts[0] for file in distribution.files if file.parts[0] != ".."}:
            link = target / top
            if not link.exists():
                link.symlink_to(distribution.locate_file(top))
    return target


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A new venv with the wheel installed (no dependencies, no index); then the runtime dependencies
    on its path (_runtime_site) and the dev group's modules blocked. Returns (venv, blocked-import log)."""
    base = tmp_path_factory.mktemp("venv")
    venv, log = base / "venv", base / "blocked-imports.log"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index"]
    done = subprocess.run([*pip, "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    # after the install (pip never sees them): a .pth line adds the folder after the venv's own
    (site / "zz_stepwise_dependencies.pth").write_text(f"{_runtime_site(base / 'runtime-site')}\n")
    blocked = sorted(_modules_of(_dev_only_distributions()))
    assert {"pytest", "sagemaker", "sklearn", "cfnlint"} <= set(blocked)
    (site / "_stepwise_dev_modules_blocked.py").write_text(_BLOCKER.format(blocked=blocked, log=str(log)))
    (site / "_stepwise_dev_modules_blocked.pth").write_text("import _stepwise_dev_modules_blocked\n")
    return venv, log


def _check_imports_tried(log: Path, venv: Path) -> None:
    """The dev modules the processes tried to import (they all ran without them): the stepwise process
    none; the job processes only scikit-learn, which xgboost looks for and goes on without."""
    tried = [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []
    by_stepwise = [name for name, program in tried if program == str(venv / "bin" / "stepwise")]
    assert not by_stepwise, f"the stepwise process tried to import dev modules: {by_stepwise}"
    assert {name.partition(".")[0] for name, _ in tried} <= {"sklearn"}, tried


def _run_in(folder: Path, venv: Path, *args: str) -> subprocess.CompletedProcess:
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in cli_env().items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "stepwise"), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stepwise_run_from_an_empty_folder_runs_the_installed_package(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    venv, log = installed
    python = venv / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import stepwise, processing; print(stepwise.project_root())\nimport sklearn"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    root = Path(probe.stdout.strip())
    assert root.is_relative_to(venv) and root.name == "project", probe.stdout + probe.stderr
    assert "No module named 'sklearn' (blocked: a dev tool)" in probe.stderr  # the blocker works
    log.unlink()

    folder = tmp_path / "anywhere"
    result = _run_in(folder, venv, "run", "--rows", "1000", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = summary_of(result)
    assert summary["status"] == "SUCCEEDED" and summary["endpoint"]["status"] == "InService"
    assert sorted(p.name for p in folder.iterdir()) == [".stepwise"]
    stack = stored(folder / ".stepwise").get("stack")
    assert Path(stack["templateFile"]) == root / "template.yaml"
    _check_imports_tried(log, venv)

    # a later command, from another folder, finds the stack's template where the run recorded it
    deployed = _run_in(
        tmp_path / "elsewhere", venv, "deploy", "1", "--json", "--state-dir", str(folder / ".stepwise")
    )
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    assert summary_of(deployed)["status"] == "SUCCEEDED"
    _check_imports_tried(log, venv)
