"""Fixtures for the template and definition tests: template.yaml, the ASL and what they deploy to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from template_support import REPO, substitutions_module


@pytest.fixture(scope="session")
def substitutions() -> ModuleType:
    return substitutions_module()


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    from stepwise.emulator.cloudformation import load_template

    return load_template(REPO / "template.yaml")


def describe(out: Path, *overrides: str) -> dict[str, Any]:
    """template.yaml deployed to a fresh embedded AWS, read back (in a process of its own: moto
    patches the whole process)."""
    command = [sys.executable, "-m", "stepwise.emulator.describe", str(out)]
    if overrides:
        command += ["--parameter-overrides", *overrides]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the template deploys to with its defaults: definition, rules, roles, bucket policies."""
    return describe(tmp_path_factory.mktemp("describe") / "deployed.json")


@pytest.fixture(scope="session")
def deployed_manual_approval(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same with ModelApprovalStatus=PendingManualApproval."""
    return describe(
        tmp_path_factory.mktemp("describe") / "manual.json", "ModelApprovalStatus=PendingManualApproval"
    )


@pytest.fixture(scope="session")
def definition_text() -> str:
    return (REPO / "statemachine" / "pipeline.asl.json").read_text()


@pytest.fixture(scope="session")
def definition(definition_text: str) -> dict[str, Any]:
    return json.loads(definition_text)


@pytest.fixture(scope="session")
def filled(deployed: dict[str, Any]) -> dict[str, Any]:
    """The definition as Step Functions receives it from the stack (tokens filled)."""
    return deployed["definition"]
