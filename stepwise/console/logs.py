"""`stepwise logs RUN [STATE]`: a run's job and function logs, as `sam logs` prints a stack's.

Each line is prefixed with the state that wrote it. Job logs are the files SageMaker jobs write under
`<state>/runs/<run id>/jobs/<job>/logs/job.log` (also in CloudWatch Logs, /aws/sagemaker/*); function
logs are `<state>/runs/<execution>/lambda/<function>.log` (also in the function's log group). With
--follow, new lines are printed as they come until the run ends (the running command saves the run's
history every second).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def log_files(store: Any, record: dict, state: str | None = None) -> list[tuple[str, Path]]:
    """(state, log file) of every job and function the run's states ran, in the order they ran."""
    from stepwise.emulator.sagemaker.jobs import job_dir, run_of_job

    runs_dir = Path(store.root) / "runs"
    execution = record["execution"]["name"]
    found: list[tuple[str, Path]] = []
    current = None
    for event in record.get("events") or []:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            current = entered.get("name")
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if not scheduled or (state is not None and current != state):
            continue
        parameters = json.loads(scheduled.get("parameters") or scheduled.get("input") or "{}")
        job = parameters.get("ProcessingJobName") or parameters.get("TrainingJobName")
        if job:
            found.append((current or "?", job_dir(runs_dir, run_of_job(job), job) / "logs" / "job.log"))
        resource = str(scheduled.get("resource") or parameters.get("FunctionName") or "")
        if ":function:" in resource:
            name = resource.split(":function:", 1)[1].split(":")[0]
            path = runs_dir / execution / "lambda" / f"{name}.log"
            if (current or "?", path) not in found:
                found.append((current or "?", path))
    return found


def print_logs(store: Any, record: dict, state: str | None, *, follow: bool = False) -> int:
    from stepwise.console.records import find_execution

    name = record["execution"]["name"]
    if state is not None:
        states = {
            e["stateEnteredEventDetails"]["name"]
            for e in record.get("events") or []
            if "stateEnteredEventDetails" in e
        }
        if state not in states:
            from stepwise.console.commands import UsageError

            raise UsageError(f"run {name} has no state {state!r}; its states: {', '.join(sorted(states))}")
    printed: dict[Path, int] = {}
    while True:
        for label, path in log_files(store, record, state):
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines[printed.get(path, 0) :]:
                print(f"[{label}] {line}", flush=follow)
            printed[path] = len(lines)
        if not follow or record["execution"]["status"] != "RUNNING":
            break
        time.sleep(0.5)
        record = find_execution(store, name) or record
    if not printed:
        print(f"run {name} wrote no logs" + (f" in {state}" if state else ""), file=sys.stderr)
    return 0
