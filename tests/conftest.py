"""Test setup shared by every test: nothing may find a real AWS account."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any boto3 client is created anywhere in the test session.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SECURITY_TOKEN"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

REPO = Path(__file__).resolve().parents[1]
TUTORIAL_DATA = REPO.parent / "shared" / "data" / "tutorial"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tutorial_data() -> Path:
    """The tutorial's real 5,000-row dataset; tests that use it skip cleanly where ../shared is absent."""
    if not (TUTORIAL_DATA / "claims.csv").is_file():
        pytest.skip("../shared/data/tutorial is not present")
    return TUTORIAL_DATA
