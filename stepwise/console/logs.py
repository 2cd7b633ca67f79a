"""`stepwise logs RUN [STATE]`: a run's job and function logs from CloudWatch Logs, as `sam logs` prints
a stack's.

The same reading for both targets (stepwise/console/target.py): the run's history names what each
state ran. A SageMaker job logs to `/aws/sagemaker/ProcessingJobs` or `/aws/sagemaker/TrainingJobs`,
streams `<job name>/...`; a function to its log group (the stack's LoggingConfig), and its lines of
this run are those written between the task's start and end (a function's streams are not per run).
Locally these are the state folder's CloudWatch Logs events; a job's lines arrive when it ends, as
SageMaker's do. Each line is prefixed with the state that wrote it. With --follow, new lines are
printed as they come until the run ends.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from stepwise.console.target import LOG_GROUPS

MARGIN_MS = 2000  # clocks and buffering: a function's lines may be stamped a little outside its task


def _millis(value: Any) -> int:
    from stepwise.console.progress import _as_datetime

    return int(_as_datetime(value).timestamp() * 1000)


def log_sources(
    target: Any, record: dict, state: str | None = None
) -> list[tuple[str, str, str | None, int | None, int | None]]:
    """(state, log group, stream prefix, start ms, end ms) of every job and function the run's states
    ran, in the order they ran."""
    events = record.get("events") or []
    found: list[tuple[str, str, str | None, int | None, int | None]] = []
    current = None
    for index, event in enumerate(events):
        entered = event.get("stateEnteredEventDetails")
        if entered:
            current = entered.get("name")
        scheduled = event.get("taskScheduledEventDetails") or event.get("lambdaFunctionScheduledEventDetails")
        if not scheduled or (state is not None and current != state):
            continue
        parameters = json.loads(scheduled.get("parameters") or scheduled.get("input") or "{}")
        for key, group in LOG_GROUPS.items():
            if parameters.get(key):
                found.append((current or "?", group, f"{parameters[key]}/", None, None))
        resource = str(scheduled.get("resource") or parameters.get("FunctionName") or "")
        if ":function:" in resource:
            start = _millis(event["timestamp"]) - MARGIN_MS
            end = _task_end(events, index)
            found.append(
                (
                    current or "?",
                    target.function_log_group(resource),
                    None,
                    start,
                    end + MARGIN_MS if end else None,
                )
            )
    return found


def _task_end(events: list[dict], scheduled_index: int) -> int | None:
    """When the task scheduled at `scheduled_index` ended (ms), None while it runs."""
    for event in events[scheduled_index + 1 :]:
        kind = event.get("type", "")
        if kind.startswith(("LambdaFunction", "Task")) and kind.endswith(("Succeeded", "Failed", "TimedOut")):
            return _millis(event["timestamp"])
    return None


def print_logs(target: Any, record: dict, state: str | None, *, follow: bool = False) -> int:
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
    printed: dict[tuple, int] = {}
    while True:
        for source in log_sources(target, record, state):
            label, group, prefix, start, end = source
            lines = target.log_events(group, stream_prefix=prefix, start=start, end=end)
            for event in lines[printed.get(source[1:3] + (start,), 0) :]:
                for line in str(event["message"]).splitlines() or [""]:
                    print(f"[{label}] {line}", flush=follow)
            printed[source[1:3] + (start,)] = len(lines)
        if not follow or record["execution"]["status"] != "RUNNING":
            break
        time.sleep(1.0)
        record = target.find_execution(name) or record
    if not any(printed.values()):
        print(f"run {name} wrote no logs" + (f" in {state}" if state else ""), file=sys.stderr)
    return 0
