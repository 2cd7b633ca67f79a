"""One process, several embedded AWS in turn (as the tests run them): each one's request gate checks
every client, including those of a boto3 session created under an earlier one."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from stepwise.emulator.aws import EmbeddedAWS


def _bare(state: Path) -> EmbeddedAWS:
    return EmbeddedAWS(state, with_stack=False, enforce_iam=False)


def test_a_client_of_an_earlier_session_is_checked_by_the_current_gate(tmp_path: Path) -> None:
    """moto resets boto3's default session when a mock starts, not when one starts inside another (a
    user's test under `mock_aws`, or a mock left running): the session made under the first embedded
    AWS is then the one the second one's clients come from."""
    from moto import mock_aws

    with mock_aws():
        with _bare(tmp_path / "first"):
            boto3.client("sagemaker", region_name="us-east-1")  # boto3's default session is made here
        with _bare(tmp_path / "second"):
            sagemaker = boto3.client("sagemaker", region_name="us-east-1")  # the same default session
            with pytest.raises(ClientError) as raised:  # moto accepts it; SageMaker's model says max 100
                sagemaker.list_model_packages(MaxResults=101)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have value less than or equal to 100" in str(raised.value)
