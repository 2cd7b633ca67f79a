"""The console's progress display and timeline (stepwise.console.progress) read AWS-shaped execution
history events, live or saved."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from stepwise.console.progress import ProgressPrinter, failed_state, print_timeline, run_of, timeline

T0 = dt.datetime(2026, 11, 28, 8, 0, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _entered(name: str, kind: str, at: float) -> dict:
    return {"type": f"{kind}StateEntered", "timestamp": _at(at), "stateEnteredEventDetails": {"name": name}}


def _exited(name: str, kind: str, at: float) -> dict:
    return {"type": f"{kind}StateExited", "timestamp": _at(at), "stateExitedEventDetails": {"name": name}}


def _failed(at: float, error: str, cause: str) -> dict:
    return {
        "type": "TaskFailed",
        "timestamp": _at(at),
        "taskFailedEventDetails": {"error": error, "cause": cause},
    }


REASON = "AlgorithmError: claims.csv, column incident_severity: missing. Add the column."
HISTORY = [
    {"type": "ExecutionStarted", "timestamp": _at(0)},
    _entered("Preprocess", "Task", 0),
    _failed(1, "SageMaker.AmazonSageMakerException", "throttled"),
    _failed(2.5, "States.TaskFailed", json.dumps({"ProcessingJobStatus": "Failed", "FailureReason": REASON})),
    _exited("Preprocess", "Task", 2.5),
    _entered("NotifyFailure", "Task", 2.5),
    _exited("NotifyFailure", "Task", 3),
    _entered("PipelineFailed", "Fail", 3),
    {
        "type": "ExecutionFailed",
        "timestamp": _at(3),
        "executionFailedEventDetails": {"error": "States.TaskFailed"},
    },
]


def test_timeline_has_durations_retries_and_the_caught_failure() -> None:
    states = timeline(HISTORY)
    assert [(s.name, s.type, s.seconds) for s in states] == [
        ("Preprocess", "Task", 2.5),
        ("NotifyFailure", "Task", 0.5),
        ("PipelineFailed", "Fail", None),
    ]
    assert states[0].retries == 1 and states[0].failed["error"] == "States.TaskFailed"
    assert failed_state(HISTORY).name == "Preprocess"


def test_plain_lines_show_each_state_and_the_failure_reason() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(stream=out, live=False)
    printer(HISTORY[:3])
    printer(HISTORY[3:])
    lines = out.getvalue().splitlines()
    assert lines[0] == "  > Preprocess"
    assert lines[1] == "  !! SageMaker.AmazonSageMakerException: throttled"
    assert lines[2] == f"  !! States.TaskFailed: {REASON}"
    assert lines[3] == "  xx Preprocess (2.5s, States.TaskFailed caught)"
    assert "  ok NotifyFailure (0.5s)" in lines
    assert lines[-1] == "  == FAILED"


def test_live_view_redraws_running_states_and_keeps_finished_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    printer = ProgressPrinter(stream=out, live=True)
    printer(HISTORY[:2])
    assert out.getvalue().startswith("  … Preprocess")
    printer(HISTORY[2:7])
    printer.finish()
    text = out.getvalue()
    assert "\r\033[K" in text, "the running line is redrawn in place"
    assert "✗ Preprocess" in text and "(2 attempts)" in text
    assert "✓ NotifyFailure" in text


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False)])
def test_marks_are_coloured_only_in_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    live, plain = io.StringIO(), io.StringIO()
    for out, is_live in ((live, True), (plain, False)):
        printer = ProgressPrinter(stream=out, live=is_live)
        printer(HISTORY[:7])
        printer.finish()
    assert ("\033[32m✓\033[0m" in live.getvalue()) is coloured
    assert ("\033[31m✗\033[0m" in live.getvalue()) is coloured
    assert "\033[3" not in plain.getvalue(), "no colour outside a terminal"


def test_a_saved_history_prints_the_same_timeline() -> None:
    """`stepwise show` prints a saved execution: its timestamps are ISO strings in the state folder."""
    from stepwise.emulator.stepfunctions import to_json_safe

    saved = json.loads(json.dumps(to_json_safe(HISTORY)))
    assert [(s.name, s.seconds) for s in timeline(saved)] == [(s.name, s.seconds) for s in timeline(HISTORY)]
    out = io.StringIO()
    print_timeline(saved, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["Preprocess", "Task", "2.5s", "States.TaskFailed:", *REASON.split()]
    assert lines[1].split() == ["NotifyFailure", "Task", "0.5s"]
    assert lines[2].split() == ["PipelineFailed", "Fail", "…"]


def test_run_of_reads_claim_runs_result() -> None:
    run = {"id": "20261128-080000-abc123", "status": "CLAIMED"}
    claimed = {
        "type": "TaskStateExited",
        "timestamp": _at(1),
        "stateExitedEventDetails": {"name": "ClaimRun", "output": json.dumps({"run": run, "x": 1})},
    }
    assert run_of([HISTORY[0], claimed]) == run
    assert run_of(HISTORY) is None  # an approval run, or one that ended before ClaimRun
