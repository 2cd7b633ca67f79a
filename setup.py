"""The wheel carries the project files: template.yaml and the code it names (CodeUri, ContentUri,
DefinitionUri), which `stepwise run` deploys from any folder (stepwise.project_root()).

They stay where `sam build` and the checkout's tools expect them (the repository root); building a
wheel copies them into stepwise/project/ of the built package, so the copy is made from the tree being
built and cannot go stale. An editable install gets no copy: it runs from the checkout, files and all.
An sdist carries the originals (MANIFEST.in). Everything else is configured in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# relative to the root, as template.yaml names them; tests/e2e/test_packaging.py checks that the wheel
# holds exactly the template and what it names
PROJECT_FILES = ("template.yaml", "statemachine/pipeline.asl.json", "functions", "processing")
SHIPPED_AS = Path("stepwise", "project")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithProjectFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / SHIPPED_AS
        shutil.rmtree(target, ignore_errors=True)  # a file removed since an earlier build goes too
        for name in PROJECT_FILES:
            source, copy = ROOT / name, target / name
            if source.is_dir():
                shutil.copytree(source, copy, ignore=_IGNORED)
            else:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, copy)


setup(cmdclass={"build_py": BuildWithProjectFiles})
