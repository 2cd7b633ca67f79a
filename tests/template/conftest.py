"""Fixtures for the template and definition tests: template.yaml, pipeline.asl.json and their states."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from template_support import REPO, substitutions_module


@pytest.fixture(scope="session")
def substitutions() -> ModuleType:
    return substitutions_module()


@pytest.fixture(scope="session")
def template(substitutions: ModuleType) -> dict[str, Any]:
    from stepwise.local.template import load_template

    return load_template(REPO / "template.yaml")


@pytest.fixture(scope="session")
def resolver(substitutions: ModuleType, template: dict[str, Any]) -> Any:
    """Resolves the template's intrinsics to plausible values (local names, us-east-1)."""
    return substitutions._Resolver(template)


@pytest.fixture(scope="session")
def definition_text() -> str:
    return (REPO / "statemachine" / "pipeline.asl.json").read_text()


@pytest.fixture(scope="session")
def definition(definition_text: str) -> dict[str, Any]:
    return json.loads(definition_text)


@pytest.fixture(scope="session")
def filled(substitutions: ModuleType) -> dict[str, Any]:
    """The definition as Step Functions receives it from the template (tokens filled)."""
    return substitutions.filled_definition()
