"""Helpers for the template and definition tests (tests/template); holds no tests itself."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def load_module(name: str, path: Path) -> ModuleType:
    """A module of the repository that is not in an importable package, imported by its path."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def substitutions_module() -> ModuleType:
    """statemachine/substitutions.py: the definition filled as template.yaml fills it."""
    return load_module("stepwise_statemachine_substitutions", REPO / "statemachine" / "substitutions.py")


def iter_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, state) of every state, Parallel branches included."""
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from iter_states(branch)
