"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def deployed_stack() -> dict:
    """What template.yaml deploys to, read back from a deployment to a fresh embedded AWS
    (stepwise.emulator.describe): the definition as Step Functions received it, the EventBridge rules,
    every role's policies and trust policy by logical id, bucket policies, resources, outputs and
    parameters. Deployed once per session (about 4 s); the embedded AWS is closed again."""
    from stepwise.emulator.describe import describe

    return describe()
