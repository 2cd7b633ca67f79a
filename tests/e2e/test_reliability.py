"""Nothing lost, nothing wedged: the state folder under concurrent commands, kill -9, SIGTERM, damaged
files and a restart between a run and its approval.

One state folder is deployed (a first run on generated data: version 1 serves) and copied for each test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from e2e_support import popen_stepwise, processes_under, stored, summary_of, wait_for_process

pytestmark = pytest.mark.slow

# small generated datasets train in a second; their AUC is noisy, so the gate is opened for these tests
# (every run gives the same parameters: the stack is not updated between them)
ROWS = ("--rows", "1000")
GATE_OPEN = ["GateThreshold=0.5", "GateTolerance=1"]
RUN = (*ROWS, "--parameter-overrides", *GATE_OPEN)


@pytest.fixture(scope="module")
def deployed(stepwise, tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("deployed") / "state"
    result = stepwise("run", "--state-dir", str(state), *RUN, "--json")
    assert result.returncode == 0, summary_of(result).get("failure")
    return state


@pytest.fixture
def state(deployed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "state"
    shutil.copytree(deployed, copy)
    return copy


def _registry(stepwise, state: Path) -> list[dict]:
    result = stepwise("registry", "--state-dir", str(state), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["packages"]


def _assert_consistent(stepwise, state: Path) -> dict:
    """Every endpoint serves a registered version whose artifact exists, and answers; every registered
    version's artifact exists. Returns the serving package."""
    packages = _registry(stepwise, state)
    store = stored(state)
    for package in packages:
        bucket, _, key = package["modelDataUrl"].removeprefix("s3://").partition("/")
        assert store.read_object(bucket, key) is not None, f"version {package['version']}'s artifact is gone"
    serving = [p for p in packages if p.get("servingOn")]
    assert len(serving) == 1, [(p["version"], p.get("servingOn")) for p in packages]
    invoked = stepwise("invoke", "--state-dir", str(state), input=",".join(["0"] * 48) + "\n")
    assert invoked.returncode == 0, invoked.stderr
    assert 0.0 <= float(invoked.stdout) <= 1.0
    return serving[0]


def _kill_when(process, state: Path, happened, timeout: float = 300) -> None:
    """kill -9 `process` as soon as `happened(store)` is true (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not happened(stored(state)):
        assert process.poll() is None, "the command ended before the moment to kill it"
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _no_process_left(state: Path) -> None:
    deadline = time.monotonic() + 10  # the kernel delivers the parent-death signal at once
    while processes_under(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(state) == [], "a job or model server outlived the killed command"


def _calls(store, operation: str) -> int:
    return sum(1 for _, name, _ in store.calls("sagemaker") if name == operation)


def test_kill_9_while_the_endpoint_updates_leaves_nothing_half_done(stepwise, state: Path) -> None:
    """The run that registered version 2 is killed just after its UpdateEndpoint was accepted: the next
    command records the execution ABORTED, finishes (or rolls back) the update, and serves a
    registered version."""
    updates = _calls(stored(state), "UpdateEndpoint")
    run = popen_stepwise("run", "--state-dir", str(state), *RUN, "--seed", "1")
    _kill_when(run, state, lambda store: _calls(store, "UpdateEndpoint") > updates)
    _no_process_left(state)

    again = stepwise(
        "run", "--state-dir", str(state), "--schedule", "--parameter-overrides", *GATE_OPEN, "--json"
    )
    assert again.returncode == 0, again.stderr
    assert "repaired: execution" in again.stderr and "recorded as ABORTED" in again.stderr, again.stderr
    assert summary_of(again)["endState"] == "AlreadyRegistered", "version 2 was registered before Deploy"
    runs = json.loads(stepwise("runs", "--state-dir", str(state), "--json").stdout)["runs"]
    assert "RUNNING" not in {r["status"] for r in runs}
    assert _assert_consistent(stepwise, state)["version"] in (1, 2)
    deployed = stepwise("deploy", "2", "--state-dir", str(state), "--json")
    assert deployed.returncode == 0, summary_of(deployed).get("failure")
    assert _assert_consistent(stepwise, state)["version"] == 2


def test_kill_9_while_training_and_the_next_run_trains_the_same_data(stepwise, state: Path) -> None:
    """Killed in Train: nothing was registered; the claim the aborted run left is taken over."""

    def training_jobs(_store: object = None) -> int:
        return len(list((state / "runs").glob("*/jobs/*-train-*")))

    before = training_jobs()
    run = popen_stepwise("run", "--state-dir", str(state), *RUN, "--seed", "1")
    _kill_when(run, state, lambda store: training_jobs() > before)
    _no_process_left(state)

    again = stepwise(
        "run", "--state-dir", str(state), "--schedule", "--parameter-overrides", *GATE_OPEN, "--json"
    )
    assert again.returncode == 0, again.stderr
    assert "recorded as ABORTED" in again.stderr
    summary = summary_of(again)
    assert summary["endState"] == "Succeeded" and summary["modelPackage"]["version"] == 2
    assert "took the claim over" in summary["run"]["reason"], summary["run"]
    assert _assert_consistent(stepwise, state)["version"] == 2


def test_sigterm_stops_the_run_like_ctrl_c(stepwise, state: Path) -> None:
    run = popen_stepwise("run", "--state-dir", str(state), *RUN, "--seed", "2")
    wait_for_process(state, "-train-", exclude=run.pid)
    run.send_signal(signal.SIGTERM)
    rest, _ = run.communicate(timeout=60)
    assert run.returncode == 143, rest
    assert "Interrupted (SIGTERM)" in rest and "ABORTED" in rest
    assert processes_under(state) == []
    runs = json.loads(stepwise("runs", "--state-dir", str(state), "--json").stdout)["runs"]
    assert runs[0]["status"] == "ABORTED"
    _assert_consistent(stepwise, state)


def test_a_second_command_waits_for_the_first_and_readers_go_on(stepwise, state: Path) -> None:
    first = popen_stepwise("run", "--state-dir", str(state), *RUN, "--seed", "3")
    wait_for_process(state, "-preprocess-", exclude=first.pid)  # it holds the folder's lock

    refused = stepwise("run", "--state-dir", str(state), *RUN, "--seed", "4", "--no-wait")
    assert refused.returncode == 2
    assert f"is in use by `stepwise run` (process {first.pid}, since" in refused.stderr, refused.stderr
    assert stepwise("runs", "--state-dir", str(state)).returncode == 0, "readers work during a run"

    second = popen_stepwise("run", "--state-dir", str(state), *RUN, "--seed", "4")
    second_output, _ = second.communicate(timeout=600)
    first_output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, first_output
    assert second.returncode == 0, second_output
    assert "Waiting for `stepwise run` (process" in second_output
    assert [p["version"] for p in _registry(stepwise, state)] == [1, 2, 3], "each run registered its own"
    _assert_consistent(stepwise, state)


def test_a_truncated_object_is_removed_and_said(stepwise, state: Path) -> None:
    store = stored(state)
    (report,) = [o for o in store.current_objects() if o.key.endswith("evaluation/evaluation.json")]
    blob = store.blob_path(report.blob)
    blob.write_bytes(blob.read_bytes()[:10])

    result = stepwise(
        "run", "--state-dir", str(state), "--schedule", "--parameter-overrides", *GATE_OPEN, "--json"
    )
    assert result.returncode == 0, result.stderr
    assert f"repaired: s3://{report.bucket}/{report.key}: its bytes" in result.stderr
    assert "missing or truncated; the object is removed" in result.stderr
    assert stored(state).read_object(report.bucket, report.key) is None


def test_a_damaged_database_gives_one_line_naming_it(stepwise, state: Path) -> None:
    database = state / "stepwise.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(database.read_bytes()[:5000])
    for command in (("runs",), ("run", *ROWS)):
        result = stepwise(*command, "--state-dir", str(state))
        assert result.returncode in (1, 2), result.stderr
        assert "Traceback" not in result.stderr
        assert str(database) in result.stderr, result.stderr


def test_a_model_folder_outside_the_state_folder_is_refused_and_nothing_outside_is_touched(
    stepwise, state: Path, tmp_path: Path
) -> None:
    canary = tmp_path / "outside" / "model"
    canary.mkdir(parents=True)
    (canary / "keep.txt").write_text("not stepwise's")
    database = sqlite3.connect(state / "stepwise.db")
    (value,) = database.execute("SELECT value FROM meta WHERE key = 'deployed-endpoints'").fetchone()
    records = json.loads(value)
    for record in records.values():
        record["ModelDir"] = os.path.relpath(canary, state / "endpoints")
    database.execute("UPDATE meta SET value = ? WHERE key = 'deployed-endpoints'", (json.dumps(records),))
    database.commit()
    database.close()

    assert stepwise("runs", "--state-dir", str(state)).returncode == 0  # readers do not start the emulator
    result = stepwise("run", "--state-dir", str(state), "--schedule", "--parameter-overrides", *GATE_OPEN)
    assert "is not inside" in result.stderr, result.stderr
    assert "refused: extracted the model again" in result.stderr, result.stderr
    assert (canary / "keep.txt").read_text() == "not stepwise's"
    assert result.returncode == 0, result.stdout[-2000:]
    _assert_consistent(stepwise, state)
    assert (canary / "keep.txt").read_text() == "not stepwise's"


def test_approve_after_a_restart_deploys_and_a_version_can_be_deployed_again(stepwise, state: Path) -> None:
    manual = ("--parameter-overrides", *GATE_OPEN, "ModelApprovalStatus=PendingManualApproval")
    pending = stepwise("run", "--state-dir", str(state), *ROWS, "--seed", "5", *manual, "--json")
    assert summary_of(pending)["endState"] == "AwaitingApproval"

    approved = stepwise("approve", "2", "--state-dir", str(state), "--json")
    assert approved.returncode == 0, summary_of(approved).get("failure")
    assert summary_of(approved)["endpoint"]["status"] == "InService"
    assert summary_of(approved)["metrics"]["auc"] > 0, "an approval run shows the approved version's metrics"
    assert _assert_consistent(stepwise, state)["version"] == 2

    back = stepwise("deploy", "1", "--state-dir", str(state), "--json")
    assert back.returncode == 0, summary_of(back).get("failure")
    assert _assert_consistent(stepwise, state)["version"] == 1
