"""Running the `stepwise` command line the way a user does: in its own process."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from e2e_support import COMMAND, REPO, cli_env


@pytest.fixture(scope="session")
def stepwise() -> Callable[..., subprocess.CompletedProcess]:
    """`stepwise(*args, input=None)` runs the CLI in a new process from the repository root."""

    def run(*args: str, input: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*COMMAND, *args],
            cwd=REPO,
            env=cli_env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
