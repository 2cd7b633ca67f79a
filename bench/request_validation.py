"""Server-side request validation: cost per call against botocore's own client-side validation.

    python bench/request_validation.py                 # about 10 s
    python bench/request_validation.py --calls 20000

The requests are the state machine's real SageMaker requests: the Parameters of
statemachine/pipeline.asl.json's Preprocess (CreateProcessingJob) and Train (CreateTrainingJob)
states, with the ${Token}s filled with placeholder values and the `.$` fields evaluated as Step
Functions would (the run id ClaimRun derives from an EventBridge-style execution name, the attempt, the
state input's S3 URIs). Each is validated side by
side in this process by botocore (`botocore.validate.ParamValidator().validate(...)`, what a boto3
client runs before sending) and by `stepwise.emulator.validation.check(...)`; the numbers are the
best of 5 rounds of --calls calls each (best: other processes on a shared machine only slow rounds
down). The first call of `check` per operation loads the service model and compiles the plan: it is
timed on its own, in a fresh process. tests/unit/test_validation.py uses `pipeline_request` too.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFINITION = REPO / "statemachine" / "pipeline.asl.json"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ACCOUNT = "123456789012"
BUCKET = f"stepwise-data-{ACCOUNT}"
# EventBridge names the executions its rules start `<event id>_<id>`
EXECUTION = "5b4c7a30-9c2f-4a8e-8d3f-1e2d3c4b5a69_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
START_TIME = "2026-11-28T08:30:01.000Z"
ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
# Placeholders for the definition's ${Token}s (template.yaml's DefinitionSubstitutions fill them)
TOKENS = {
    "Bucket": BUCKET,
    "CodePrefix": "code/3f9a1c0b7e",
    "SklearnImageUri": f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "XgboostImageUri": f"{ECR}/sagemaker-xgboost:1.7-1",
    "ProcessingInstanceType": "ml.m5.xlarge",
    "TrainingInstanceType": "ml.m5.xlarge",
    "EndpointInstanceType": "ml.m5.large",
    "EndpointInstanceCount": "1",
    "EndpointName": "stepwise-fraud-detection",
    "SageMakerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/stepwise-sagemaker-execution",
    "NotificationTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:stepwise-notifications",
    "ModelPackageGroupName": "stepwise-fraud-detection",
    "ModelApprovalStatus": "Approved",
    "GateMetric": "auc",
    "GateThreshold": "0.7",
    "GateTolerance": "0.01",
}
TOKEN = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def run_id(execution: str) -> str:
    """The run id ClaimRun (functions/claim_run) derives from the execution's name and start time."""
    import importlib.util
    from datetime import datetime

    shared = str(REPO / "functions" / "shared")  # the layer the function imports
    if shared not in sys.path:
        sys.path.append(shared)
    name = "stepwise_bench_claim_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "functions" / "claim_run" / "app.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].run_id(execution, datetime.fromisoformat(START_TIME))


def state_input(execution: str, attempt: int = 0) -> dict[str, Any]:
    """What the states before each SageMaker Task leave in the execution's state."""
    run = run_id(execution)
    runs = f"s3://{BUCKET}/runs/{run}"
    return {
        "dataset": {"s3Uri": f"s3://{BUCKET}/raw/2026-11-28/"},
        "run": {"id": run},
        "attempts": dict.fromkeys(("preprocess", "train", "evaluate", "checks"), attempt),
        "preprocess": {name: f"{runs}/preprocess/{name}" for name in ("train", "validation", "test")},
        "train": {"modelDataUrl": f"{runs}/train/{run}-train-0/output/model.tar.gz"},
        "failure": {"state": "Train", "error": "States.TaskFailed", "cause": "ClientError: job failed"},
    }


def _lookup(document: Any, path: str) -> Any:
    for part in path.split("."):
        document = document[part]
    return document


def _arguments(text: str) -> list[str]:
    """The comma-separated arguments of an intrinsic function (quoted strings kept whole)."""
    parts, current, quoted, depth = [], "", False, 0
    for char in text:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == "," and not quoted and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def evaluate(expression: str, state: dict, context: dict) -> Any:
    """A `.$` value: a JsonPath on the state or the context object, or the intrinsics the definition
    uses (States.Format, States.StringToJson, States.JsonToString)."""
    if expression.startswith("$$."):
        return _lookup(context, expression[3:])
    if expression.startswith("$."):
        return _lookup(state, expression[2:])
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1].replace("\\'", "'")
    match = re.fullmatch(r"States\.(\w+)\((.*)\)", expression, re.DOTALL)
    if match is None:
        raise ValueError(f"cannot evaluate {expression!r}")
    function, arguments = match.group(1), [evaluate(a, state, context) for a in _arguments(match.group(2))]
    if function == "Format":
        text, values = arguments[0], iter(arguments[1:])
        return re.sub(r"\{\}", lambda _: str(next(values)), text)
    if function == "StringToJson":
        return json.loads(arguments[0])
    if function == "JsonToString":
        return json.dumps(arguments[0], separators=(",", ":"))
    raise ValueError(f"intrinsic States.{function} is not evaluated here")


def _fill(node: Any, state: dict, context: dict) -> Any:
    if isinstance(node, dict):
        filled = {}
        for key, value in node.items():
            if key.endswith(".$"):
                filled[key[:-2]] = evaluate(value, state, context)
            else:
                filled[key] = _fill(value, state, context)
        return filled
    if isinstance(node, list):
        return [_fill(item, state, context) for item in node]
    return node


def _states(states: dict) -> dict[str, dict]:
    found = {}
    for name, state in states.items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_states(branch["States"]))
    return found


def pipeline_request(state_name: str, execution: str = EXECUTION, attempt: int = 0) -> dict[str, Any]:
    """The request a Task state of the definition sends, for an execution named `execution`."""
    raw = _states(json.loads(DEFINITION.read_text())["States"])[state_name]["Parameters"]

    def token(match: re.Match[str]) -> str:
        if match.group(1) not in TOKENS:
            raise KeyError(f"bench/request_validation.py has no placeholder for ${{{match.group(1)}}}")
        return TOKENS[match.group(1)]

    parameters = json.loads(TOKEN.sub(token, json.dumps(raw)))
    context = {
        "Execution": {
            "Name": execution,
            "Id": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:stepwise-pipeline:{execution}",
            "StartTime": START_TIME,
        },
        "State": {"Name": state_name, "RetryCount": 0},
    }
    return _fill(parameters, state_input(execution, attempt), context)


def best_per_call(function: Callable[[], Any], calls: int, rounds: int = 5) -> float:
    """Seconds per call: the best of `rounds` rounds of `calls` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


COLD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from bench.request_validation import pipeline_request
from stepwise.emulator import validation
request = pipeline_request(sys.argv[3])
start = time.perf_counter()
validation.check("sagemaker", sys.argv[2], request)
print(time.perf_counter() - start)
"""


def cold_seconds(operation: str, state: str) -> float:
    """The first `check` of an operation in a fresh process: service model load + plan compilation."""
    result = subprocess.run(
        [sys.executable, "-c", COLD, str(REPO), operation, state],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per round (default 5000)")
    args = parser.parse_args()

    import botocore.session
    from botocore.validate import ParamValidator

    from stepwise.emulator import validation

    model = botocore.session.get_session().get_service_model("sagemaker")
    botocore_validator = ParamValidator()
    header = ("request", "botocore", "stepwise", "ratio", "no botocore", "ratio", "cold")
    print("{:<22}{:>12}{:>12}{:>8}{:>14}{:>8}{:>9}".format(*header))
    for operation, state in (("CreateProcessingJob", "Preprocess"), ("CreateTrainingJob", "Train")):
        request = pipeline_request(state)
        shape = model.operation_model(operation).input_shape
        report = botocore_validator.validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        assert validation.check("sagemaker", operation, request) is None
        assert validation.check("sagemaker", operation, request, botocore_checked=False) is None
        ours = best_per_call(lambda r=request, o=operation: validation.check("sagemaker", o, r), args.calls)
        full = best_per_call(
            lambda r=request, o=operation: validation.check("sagemaker", o, r, botocore_checked=False),
            args.calls,
        )
        theirs = best_per_call(lambda r=request, s=shape: botocore_validator.validate(r, s), args.calls)
        cold = cold_seconds(operation, state)
        print(
            f"{operation:<22}{theirs * 1e6:>10.1f}us{ours * 1e6:>10.1f}us{ours / theirs:>8.2f}"
            f"{full * 1e6:>12.1f}us{full / theirs:>8.2f}{cold * 1e3:>7.0f}ms"
        )
    print(
        "botocore: ParamValidator().validate; stepwise: validation.check (what botocore leaves out); "
        "no botocore: check(..., botocore_checked=False), for requests that bypass botocore "
        "(Step Functions service integrations); cold: first check in a fresh process"
    )


if __name__ == "__main__":
    main()
