"""The command line's conventions, as a newcomer meets them: --version, one-line errors with exit code
2 that are caught before the embedded AWS starts, listings with headers whose RUN column names a run
for `show` and `logs`, a closed pipe, and template parameters that apply to one run only.

One deployed state folder (a run on generated data) is shared by the tests that only read it; the
one that runs again works on a copy.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from e2e_support import COMMAND, REPO, cli_env, summary_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder after one `stepwise run` on generated data (it deployed version 1)."""
    state = tmp_path_factory.mktemp("cli") / "state"
    result = subprocess.run(
        [*COMMAND, "run", "--state-dir", str(state), "--json"],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = summary_of(result)
    assert result.returncode == 0 and summary["endState"] == "Succeeded", summary.get("failure")
    return state


def _table(output: str) -> tuple[list[str], list[list[str]]]:
    """A listing's header row and its data rows, split into columns."""
    header, *rows = [line for line in output.splitlines() if line.strip()]
    return header.split(), [row.split() for row in rows]


def test_version_is_the_installed_distributions(stepwise) -> None:
    shown = stepwise("--version")
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"stepwise {version('stepwise')}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("run", "--data", "{tmp}/nowhere"), "--data {tmp}/nowhere: no such folder"),
        (("run", "--data", "{tmp}/half/claims.csv"), "is a file: give the folder that holds claims.csv"),
        (("run", "--data", "{tmp}/half"), "--data {tmp}/half has no customers.csv"),
        (("run", "--rows", "0"), "--rows 0: generate at least 1 row"),
        (("invoke", "--sample", "2"), "no local stack in {tmp}/state"),
        (("show", "last"), "no local stack in {tmp}/state"),
    ],
    ids=[
        "missing-folder",
        "file-not-folder",
        "missing-csv",
        "zero-rows",
        "invoke-before-deploy",
        "show-no-stack",
    ],
)
def test_a_user_mistake_is_one_line_with_exit_code_2_and_starts_nothing(
    stepwise, tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "claims.csv").write_text("policy_id,fraud\n1,0\n")
    state = tmp_path / "state"
    given = [argument.format(tmp=tmp_path) for argument in arguments]
    result = stepwise(*given, "--state-dir", str(state))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stepwise: error: "), result.stderr
    assert message.format(tmp=tmp_path) in lines[0]
    assert "claims.csv lacks" not in lines[0]
    assert not state.exists(), "a mistake caught before the embedded AWS starts leaves no state folder"


def test_the_run_column_names_a_run_for_show_and_logs(stepwise, deployed: Path) -> None:
    header, rows = _table(stepwise("runs", "--state-dir", str(deployed)).stdout)
    assert header[:4] == ["STARTED", "RUN", "STATUS", "ENDED"]
    (trained,) = [row for row in rows if "Succeeded" in row]
    run = trained[header.index("RUN")]

    for name in (run, run[:15]):  # as listed, and a unique start of it
        shown = stepwise("show", name, "--state-dir", str(deployed))
        assert shown.returncode == 0, shown.stderr
        assert "Succeeded" in shown.stdout and "ModelApprovalStatus=Approved" in shown.stdout
        predictions = shown.stdout.split("true label -> probability of fraud:\n")[1].splitlines()[0]
        assert len(predictions.split("->")) == 6, "five test rows, each with the endpoint's answer"

    logs = stepwise("logs", run, "Train", "--state-dir", str(deployed))
    assert logs.returncode == 0, logs.stderr
    assert "validation-auc" in logs.stdout, "the training job's log, as the built-in XGBoost writes it"

    unknown = stepwise("show", "no-such-run", "--state-dir", str(deployed))
    assert unknown.returncode == 2
    assert "no run 'no-such-run'" in unknown.stderr and run in unknown.stderr, "the message lists runs"


def test_registry_has_a_header_marks_what_serves_and_rounds_metrics(stepwise, deployed: Path) -> None:
    header, rows = _table(stepwise("registry", "--state-dir", str(deployed)).stdout)
    assert header == ["GROUP", "VERSION", "APPROVAL", "METRIC", "RUN", "SERVES"]
    (row,) = rows
    assert row[1] == "v1" and row[2] == "Approved" and "*" in row[5:]
    metric = row[header.index("METRIC") + 1]  # "auc 0.8123"
    assert len(metric.split(".")[1]) == 4, f"metric not rounded: {metric}"


def test_a_closed_pipe_ends_quietly(deployed: Path) -> None:
    """`stepwise show last --json | head -c 100`: the reader goes away long before the 200 KB are
    written; the command ends with 0 and no traceback."""
    command = " ".join([*COMMAND, "show", "last", "--json", "--state-dir", str(deployed)])
    piped = subprocess.run(
        ["bash", "-c", f"{command} | head -c 100; exit ${{PIPESTATUS[0]}}"],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr
    assert len(piped.stdout) == 100


def test_parameter_overrides_apply_to_one_run_and_show_prints_them(
    stepwise, deployed: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(deployed, state)
    args = ("run", "--schedule", "--force", "--state-dir", str(state), "--json")
    pending = summary_of(
        stepwise(*args, "--parameter-overrides", "ModelApprovalStatus=PendingManualApproval")
    )
    assert pending["endState"] == "AwaitingApproval"
    assert pending["modelPackage"]["approval"] == "PendingManualApproval"
    shown = stepwise("show", pending["execution"], "--state-dir", str(state))
    assert "ModelApprovalStatus=PendingManualApproval" in shown.stdout

    after = summary_of(stepwise(*args))
    assert after["endState"] == "Succeeded", "the override must not stick to later runs"
    assert after["modelPackage"]["approval"] == "Approved" and after["modelPackage"]["version"] == 3
    assert "ModelApprovalStatus=Approved" in stepwise("show", "last", "--state-dir", str(state)).stdout
