"""Helpers shared by the ASL tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stepwise-test"


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


@dataclass
class LocalSfn:
    """A bare embedded AWS (no stack: stepwise.emulator.aws.EmbeddedAWS with_stack=False) and helpers to
    run definitions of the tests' own on it."""

    aws: Any  # EmbeddedAWS
    functions_dir: Path

    @property
    def engine(self) -> Any:
        return self.aws.engine

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def deploy_function(self, name: str, code: str, environment: dict[str, str] | None = None) -> Any:
        """Package `code` as the app.py of Lambda function `name` (as `sam build` would) and make it one
        of the functions the runner invokes. It runs as ROLE."""
        from stepwise.emulator.lambda_ import DeployedFunction, build_function

        source = self.functions_dir / "src" / name
        source.mkdir(parents=True)
        (source / "app.py").write_text(textwrap.dedent(code))
        package = build_function(name, source, "app.handler", [], self.functions_dir / "build")
        function = DeployedFunction(
            name=name,
            arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
            role_arn=ROLE,
            environment=environment or {},
            package=package,
            log_group=f"/aws/lambda/{name}",
        )
        self.aws.lambdas.deploy([*self.aws.lambdas.functions.values(), function])
        return function

    def invocations(self, function: str) -> int:
        """How many times `function` ran, from its CloudWatch Logs (one START line per invocation)."""
        lines = self.aws.store.log_events(log_group=f"/aws/lambda/{function}")
        return sum(1 for *_, message in lines if message.startswith("START RequestId:"))

    def start(self, definition: dict, payload: dict | None = None) -> str:
        from stepwise.emulator import moto_seams

        self.engine.check_definition(definition, moto_seams.sagemaker_implements)
        sfn = self.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=f"m-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        return sfn.start_execution(
            stateMachineArn=arn, name=f"run-{uuid.uuid4().hex[:8]}", input=json.dumps(payload or {})
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60) -> dict:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"execution still RUNNING after {timeout} s")

    def run(
        self, definition: dict, payload: dict | None = None, timeout: float = 60
    ) -> tuple[dict, list[dict]]:
        arn = self.start(definition, payload)
        described = self.wait(arn, timeout)
        return described, self.aws.history(arn)

    @staticmethod
    def output(described: dict) -> Any:
        return json.loads(described["output"])
