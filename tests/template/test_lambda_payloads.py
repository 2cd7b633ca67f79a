"""Each Lambda Task's Parameters are the event its function's Parser model reads: same names, none missing."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import REPO, load_module

# The functions' event models ignore unknown fields (extra="ignore"): a misspelt key would be dropped
# silently, so this test compares the names instead.


def functions_support() -> Any:
    """tests/unit/functions_support.py: how the function tests import a function's app.py."""
    return load_module("stepwise_functions_support", REPO / "tests" / "unit" / "functions_support.py")


def lambda_tasks(
    definition: dict[str, Any], template: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(state, function folder name, Parameters) of every Task that invokes a function by ARN."""
    substitutions = template["Resources"]["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    tasks = []
    for name, state in definition["States"].items():
        resource = state.get("Resource", "")
        if state["Type"] == "Task" and resource.startswith("${") and resource.endswith("FunctionArn}"):
            logical_id, _ = substitutions[resource[2:-1]]["Fn::GetAtt"]
            code_uri = template["Resources"][logical_id]["Properties"]["CodeUri"]
            tasks.append((name, code_uri.strip("/").split("/")[-1], state["Parameters"]))
    return tasks


def event_model(function: str) -> Any:
    app = functions_support().load_app(function)
    base = functions_support().layer("events").StepwiseEvent
    models = [
        value
        for value in vars(app).values()
        if isinstance(value, type)
        and issubclass(value, base)
        and value is not base
        and value.__module__ == app.__name__
    ]
    assert len(models) == 1, f"functions/{function}/app.py: expected one StepwiseEvent model, found {models}"
    return models[0]


def test_every_function_of_the_pipeline_is_invoked(
    definition: dict[str, Any], template: dict[str, Any]
) -> None:
    invoked = {function for _, function, _ in lambda_tasks(definition, template)}
    assert invoked == {
        "resolve_dataset",
        "claim_run",
        "quality_gate",
        "register_model",
        "deploy_endpoint",
        "smoke_test",
    }


@pytest.mark.parametrize(
    "state", ["ResolveDataset", "ClaimRun", "QualityGate", "Register", "Deploy", "SmokeTest"]
)
def test_parameters_match_the_function_event_model(state: str, definition: dict, template: dict) -> None:
    tasks = {
        name: (function, parameters) for name, function, parameters in lambda_tasks(definition, template)
    }
    function, parameters = tasks[state]
    model = event_model(function)
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    sent = {key.removesuffix(".$") for key in parameters}
    unknown = sent - set(fields)
    assert not unknown, f"{state} sends {sorted(unknown)}, which functions/{function} does not read"
    missing = {alias for alias, info in fields.items() if info.is_required()} - sent
    assert not missing, f"{state} does not send {sorted(missing)}, which functions/{function} requires"
