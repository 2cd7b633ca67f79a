"""Fixtures for running small ASL definitions on a bare embedded AWS (moto with the emulator's seams)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asl_support import LocalSfn


@pytest.fixture
def local_sfn(tmp_path: Path) -> Iterator[LocalSfn]:
    """An embedded AWS without the stack, its state folder in tmp_path: Wait states and Retry intervals
    take no time (tests that time them set `aws.clock.wait_scale`), IAM is not enforced."""
    from stepwise.emulator.aws import EmbeddedAWS

    aws = EmbeddedAWS(
        tmp_path / "state", with_stack=False, enforce_iam=False, wait_scale=0.0, retry_scale=0.0
    )
    with aws:
        yield LocalSfn(aws=aws, functions_dir=tmp_path / "functions")
