"""Helpers for the end-to-end tests: the `stepwise` command line run the way a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "stepwise.cli"]


def cli_env() -> dict[str, str]:
    """The environment without AWS_* variables: local mode must need none of them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def summary_of(result: subprocess.CompletedProcess) -> dict:
    """The --json summary a `stepwise run` printed."""
    assert result.stdout.strip(), f"no summary on stdout; stderr:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)
