"""Showing an execution as it runs (from get_execution_history) and summarising it at the end.

In a terminal the running states are redrawn in place with their elapsed time; otherwise (CI, a pipe)
one plain line per state entered, succeeded or failed. Both read the same AWS-shaped history events,
so `stepwise show RUN` prints a saved execution with the same code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

_ENTERED = "StateEntered"
_EXITED = "StateExited"


def _seconds(start: Any, end: Any) -> float:
    return (_as_datetime(end) - _as_datetime(start)).total_seconds()


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class StateTiming:
    name: str
    type: str
    entered: Any
    exited: Any | None = None
    failed: dict | None = None  # {"error", "cause"} of the last TaskFailed/LambdaFunctionFailed in it
    retries: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.exited is None else _seconds(self.entered, self.exited)


def timeline(events: list[dict]) -> list[StateTiming]:
    """The states of an execution in the order they were entered, with durations and failures."""
    states: list[StateTiming] = []
    open_states: dict[str, StateTiming] = {}
    for event in events:
        kind = event["type"]
        if kind.endswith(_ENTERED):
            details = event.get("stateEnteredEventDetails", {})
            state = StateTiming(details.get("name", "?"), kind[: -len(_ENTERED)], event["timestamp"])
            states.append(state)
            open_states[state.name] = state
        elif kind.endswith(_EXITED):
            name = event.get("stateExitedEventDetails", {}).get("name")
            if name in open_states:
                open_states.pop(name).exited = event["timestamp"]
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut"):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            for state in reversed(states):
                if state.exited is None:
                    if state.failed is not None:
                        state.retries += 1
                    state.failed = {"error": details.get("error"), "cause": details.get("cause")}
                    break
    return states


def failed_state(events: list[dict]) -> StateTiming | None:
    """The state whose failure ended the execution: the last one that failed and was never exited,
    else the last one with a (caught) failure."""
    states = timeline(events)
    unexited = [s for s in states if s.failed and s.exited is None]
    if unexited:
        return unexited[-1]
    caught = [s for s in states if s.failed]
    return caught[-1] if caught else None


def run_of(events: list[dict]) -> dict | None:
    """ClaimRun's result ($.run: id, fingerprint, status...) from an execution's history, or None
    (an approval run, or a run that ended before ClaimRun). The run id names the run's S3 prefix
    `runs/<id>/` and its jobs."""
    for event in events:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "ClaimRun":
            try:
                return json.loads(details.get("output") or "{}").get("run")
            except ValueError:
                return None
    return None


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


@dataclass
class ProgressPrinter:
    """Prints the states of a running execution: live in a terminal, plain lines otherwise."""

    stream: TextIO = field(default_factory=lambda: sys.stdout)
    live: bool | None = None
    _events: list[dict] = field(default_factory=list)
    _printed: int = 0  # states printed as finished
    _live_line: bool = False

    colour: bool | None = None

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = self.stream.isatty()
        if self.colour is None:  # https://no-color.org: any non-empty NO_COLOR turns colour off
            self.colour = (
                bool(self.live) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
            )

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def __call__(self, new_events: list[dict]) -> None:
        self._events.extend(new_events)
        if self.live:
            self._draw_live()
        else:
            for event in new_events:
                line = self._plain_line(event)
                if line:
                    print(line, file=self.stream, flush=True)

    def _plain_line(self, event: dict) -> str | None:
        kind = event["type"]
        if kind.endswith(_ENTERED):
            return f"  > {event['stateEnteredEventDetails']['name']}"
        if kind.endswith(_EXITED):
            name = event["stateExitedEventDetails"]["name"]
            state = next((s for s in reversed(timeline(self._events)) if s.name == name and s.exited), None)
            took = format_seconds(state.seconds) if state else ""
            if state and state.failed:
                return f"  xx {name} ({took}, {state.failed['error']} caught)"
            return f"  ok {name} ({took})"
        if kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut"):
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            return f"  !! {details.get('error')}: {_short(details.get('cause'))}"
        if kind in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut", "ExecutionSucceeded"):
            return f"  == {kind[len('Execution') :].upper()}"
        return None

    def _draw_live(self) -> None:
        states = timeline(self._events)
        now = dt.datetime.now(dt.UTC)
        if self._live_line:
            self.stream.write("\r\033[K")
        finished = [s for s in states if s.exited is not None]
        for state in finished[self._printed :]:
            mark = self._paint("✗", "31") if state.failed else self._paint("✓", "32")
            retry = f"  ({state.retries + 1} attempts)" if state.failed and state.retries else ""
            caught = f"  [{state.failed['error']}]" if state.failed else ""
            self.stream.write(
                f"  {mark} {state.name:<28} {format_seconds(state.seconds):>8}{caught}{retry}\n"
            )
        self._printed = len(finished)
        running = [s for s in states if s.exited is None]
        if running:
            parts = [f"{s.name} {format_seconds(_seconds(s.entered, now))}" for s in running]
            self.stream.write("  … " + ", ".join(parts))
            self._live_line = True
        else:
            self._live_line = False
        self.stream.flush()

    def finish(self) -> None:
        if self.live and self._live_line:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._live_line = False


def _short(text: Any, limit: int = 300) -> str:
    text = "" if text is None else str(text)
    try:  # a failed .sync job's cause is its Describe*Job JSON: show the reason
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            text = parsed.get("FailureReason") or parsed.get("errorMessage") or text
    except ValueError:
        pass
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_timeline(events: list[dict], stream: TextIO = sys.stdout) -> None:
    """A saved execution's history as a table: state, type, duration, failure."""
    for state in timeline(events):
        failure = f"  {state.failed['error']}: {_short(state.failed['cause'], 200)}" if state.failed else ""
        print(f"  {state.name:<30} {state.type:<9} {format_seconds(state.seconds):>8}{failure}", file=stream)
