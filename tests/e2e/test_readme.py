"""The README's tour of local mode, command by command, in the order a newcomer types them after
`make run`: each must work on the state the ones before it left (a tour that says `approve 2` where
nothing made a version 2 is a surprise this test catches).

Placeholders become real files: DIR a dataset like the one `make run` generated (the same seed, so the
README's "the same data again trains nothing" holds), rows.csv five feature rows of the serving
model's test split. Left out: `serve`, which runs until stopped (tests/unit/test_cli_endpoints.py and
tests/e2e/test_cloud_target.py serve), and `-t ../my-fork/...`, a copy the reader makes.
"""

from __future__ import annotations

import csv
import shlex
import subprocess
from pathlib import Path

import pytest
from e2e_support import COMMAND, REPO, cli_env, registered, s3_bytes

pytestmark = pytest.mark.slow

LEFT_OUT = ("stepwise serve", "../my-fork")


def tour_commands() -> list[list[str]]:
    """The `stepwise` commands of the README's local tour (its code blocks up to the dress rehearsal),
    without their comments."""
    readme = (REPO / "README.md").read_text()
    tour = readme.split("## A tour of local mode", 1)[1].split("**The dress rehearsal.**", 1)[0]
    commands = []
    for line in tour.splitlines():
        if line.startswith(".venv/bin/stepwise ") and not any(skip in line for skip in LEFT_OUT):
            commands.append(shlex.split(line.split(" #", 1)[0])[1:])
    return commands


def _feature_rows(state: Path, count: int = 5) -> str:
    """`count` rows of the first registered model's test split, without the label (the first column)."""
    metadata = registered(state)[0]["CustomerMetadataProperties"]
    rows = list(csv.reader(s3_bytes(state, metadata["testDataUri"]).decode().splitlines()))[1 : count + 1]
    return "".join(",".join(row[1:]) + "\n" for row in rows)


def test_the_tour_finds_every_command_the_readme_shows() -> None:
    first_words = [" ".join(command[:1]) for command in tour_commands()]
    for command in ("run", "runs", "show", "logs", "registry", "invoke", "status", "approve", "deploy"):
        assert command in first_words, f"the README's tour no longer shows `stepwise {command}`"


def test_the_tour_works_command_by_command_after_make_run(tmp_path: Path) -> None:
    state = tmp_path / ".stepwise"

    def stepwise(*args: str) -> subprocess.CompletedProcess:
        where = [] if args[0] == "data" else ["--state-dir", str(state)]
        return subprocess.run(
            [*COMMAND, *args, *where],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )

    made = stepwise("run")  # what `make run` runs
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    data = tmp_path / "DIR"
    assert stepwise("data", "generate", "--out", str(data)).returncode == 0

    for command in tour_commands():
        if command == ["run"]:
            continue  # `make run` did it
        if "rows.csv" in command:
            (tmp_path / "rows.csv").write_text(_feature_rows(state))
        arguments = [str(data) if argument == "DIR" else argument for argument in command]
        done = stepwise(*arguments)
        output = done.stdout[-2000:] + done.stderr[-2000:]
        assert done.returncode == 0, f"stepwise {' '.join(command)}:\n{output}"
        if command[0] == "invoke":
            answers = [float(value) for value in done.stdout.split()]
            assert len(answers) == 5 and all(0 <= answer <= 1 for answer in answers), done.stdout
