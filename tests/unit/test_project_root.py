"""stepwise.project_root(): the template and code local mode deploys by default."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import stepwise


def test_a_checkout_deploys_its_own_files(repo: Path) -> None:
    assert stepwise.project_root() == repo


def test_an_installed_package_deploys_the_copy_it_carries(tmp_path: Path) -> None:
    """A wheel carries the files in stepwise/project/ (setup.py); whatever lies beside the package
    (site-packages) does not count."""
    package = tmp_path / "site-packages" / "stepwise"
    (package / "project").mkdir(parents=True)
    (package / "project" / "template.yaml").write_text("Resources: {}\n")
    (package.parent / "template.yaml").write_text("Resources: {}\n")
    shutil.copy(Path(stepwise.__file__), package / "__init__.py")
    spec = importlib.util.spec_from_file_location("installed_stepwise", package / "__init__.py")
    assert spec is not None and spec.loader is not None
    installed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(installed)
    assert installed.project_root() == package / "project"
