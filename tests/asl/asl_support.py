"""Helpers shared by the ASL tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations


def entered_states(events: list[dict]) -> list[str]:
    """The names of the states an execution entered, in order."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def task_failures(events: list[dict]) -> list[dict]:
    """taskFailed / lambdaFunctionFailed details of an execution, in order."""
    return [
        next(v for k, v in e.items() if k.endswith("EventDetails"))
        for e in events
        if e["type"] in ("TaskFailed", "LambdaFunctionFailed")
    ]
