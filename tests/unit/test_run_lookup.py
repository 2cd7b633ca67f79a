"""Naming a run on the command line: what `stepwise runs` shows in its RUN column (a run id, or the
execution name of a run that ended before ClaimRun), 'last', or any unique start of those."""

from __future__ import annotations

import pytest

from stepwise.console.records import AmbiguousRun, find_record


def _record(name: str, run_id: str | None = None) -> dict:
    summary = {"run": {"id": run_id}} if run_id else {}
    return {"execution": {"name": name}, "summary": summary}


RECORDS = [  # newest first
    _record("5c9299dd-005b-494c-b7fa-a08c0c03a5ab_905522e2", "20261130-131702-155dee"),
    _record("337ed5db-b0ce-4f17-acb2-02b00c7ca266_dd4deaeb"),  # ended WaitingForDataset: no run id
    _record("3f635093-1388-4346-ba88-9d8c74b8b6ba_11f8b649", "20261130-131655-5f8759"),
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("last", 0),
        ("20261130-131702-155dee", 0),  # a run id as listed
        ("20261130-131702", 0),  # a unique start of it
        ("337ed5db-b0ce-4f17-acb2-02b00c7ca266_dd4deaeb", 1),  # an execution name
        ("337e", 1),
        ("3f63", 2),  # the start of an execution name that also has a run id
    ],
)
def test_a_run_is_found_by_what_runs_lists(name: str, expected: int) -> None:
    assert find_record(RECORDS, name) is RECORDS[expected]


def test_a_start_several_runs_share_lists_them_as_runs_does() -> None:
    with pytest.raises(AmbiguousRun) as raised:
        find_record(RECORDS, "20261130-13")
    assert str(raised.value) == (
        "'20261130-13' names 2 runs: 20261130-131702-155dee, 20261130-131655-5f8759; give more of it"
    )
    with pytest.raises(AmbiguousRun, match=r"'3' names 2 runs: 337ed5db-\S+, 20261130-131655-5f8759;"):
        find_record(RECORDS, "3")


def test_nothing_matches() -> None:
    assert find_record(RECORDS, "zzz") is None
    assert find_record([], "last") is None


def test_a_run_without_a_saved_summary_is_found_by_the_run_id_in_its_history() -> None:
    """A run `serve` is still recording, or one a kill left ABORTED, has no saved summary yet; `runs`
    lists it by the run id ClaimRun gave it, so that id must find it."""
    claimed = {
        "type": "TaskStateExited",
        "stateExitedEventDetails": {
            "name": "ClaimRun",
            "output": '{"run": {"id": "20261130-150000-abc123", "status": "claimed"}}',
        },
    }
    record = {"execution": {"name": "e1"}, "summary": None, "events": [claimed]}
    assert find_record([record], "20261130-150000") is record
