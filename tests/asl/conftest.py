"""Fixtures for running small ASL definitions on moto with the local engine's hooks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest

ROLE = "arn:aws:iam::123456789012:role/stepwise-test"


@dataclass
class LocalSfn:
    """moto with execution on, the engine's hooks installed, and helpers to run a definition."""

    engine: object
    clients: dict = field(default_factory=dict)

    def client(self, service: str):
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name="us-east-1")
        return self.clients[service]

    def start(self, definition: dict, payload: dict | None = None) -> str:
        self.engine.check_definition(definition)
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
        events = self.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)[
            "events"
        ]
        return described, events

    @staticmethod
    def output(described: dict) -> dict:
        return json.loads(described["output"])


@pytest.fixture
def local_sfn() -> Iterator[LocalSfn]:
    from moto import mock_aws

    from stepwise.local import engine

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        local = engine.Engine(wait_scale=0.0, retry_scale=0.0)
        local.install()
        try:
            yield LocalSfn(engine=local)
        finally:
            engine.uninstall_hooks()
