"""The state folder (stepwise/emulator/store.py): what one command writes, the next one reads, whatever
happened in between (a crash, a full disk, another command holding the folder)."""

from __future__ import annotations

import datetime as dt
import errno
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stepwise.emulator import store as store_module
from stepwise.emulator.store import StateError, StateLock, Store

BUCKET = "stepwise-bucket"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "state")
    yield opened
    opened.close()


def _put(store: Store, key: str, data: bytes, **extra) -> None:
    store.record_object(
        BUCKET,
        key,
        data,
        etag=extra.get("etag", "e-" + key),
        content_type=extra.get("content_type", "text/csv"),
        metadata=extra.get("metadata"),
    )


# ------------------------------------------------------------------------------------------------
# S3 objects: a journal of writes and deletes, the bytes in content-addressed blobs
# ------------------------------------------------------------------------------------------------
def test_objects_are_their_latest_version_in_the_order_they_were_written(store: Store) -> None:
    _put(store, "raw/d1/claims.csv", b"claims 1")
    _put(store, "raw/d2/claims.csv", b"claims 2")
    _put(store, "runs/r1/model.tar.gz", b"model", content_type=None, metadata={"run": "r1"})
    _put(store, "raw/d1/claims.csv", b"claims 1, again", etag="e2")  # overwritten: moves to the end
    store.record_deletion(BUCKET, "raw/d2/claims.csv")
    store.record_object("other-bucket", "x", b"x", etag="ex", content_type=None, metadata=None)

    current = store.current_objects()
    assert [(o.bucket, o.key) for o in current] == [
        (BUCKET, "runs/r1/model.tar.gz"),
        (BUCKET, "raw/d1/claims.csv"),
        ("other-bucket", "x"),
    ]
    model, claims = current[0], current[1]
    assert (model.size, model.content_type, model.metadata) == (5, None, {"run": "r1"})
    assert (claims.etag, claims.size) == ("e2", len(b"claims 1, again"))
    assert store.blob_path(claims.blob).read_bytes() == b"claims 1, again"
    assert store.read_object(BUCKET, "raw/d1/claims.csv") == b"claims 1, again"
    assert store.read_object(BUCKET, "raw/d2/claims.csv") is None  # deleted
    assert store.read_object(BUCKET, "never/written") is None
    assert store.object_keys(BUCKET, "raw/") == ["raw/d1/claims.csv"]

    _put(store, "raw/d2/claims.csv", b"claims 2")  # written again after its deletion
    assert store.read_object(BUCKET, "raw/d2/claims.csv") == b"claims 2"


def test_the_same_bytes_are_one_blob(store: Store) -> None:
    _put(store, "a.csv", b"same bytes")
    _put(store, "b.csv", b"same bytes")
    (first, second) = store.current_objects()
    assert first.blob == second.blob
    assert [p for p in (store.root / "blobs").rglob("*") if p.is_file()] == [store.blob_path(first.blob)]


def test_keys_are_matched_exactly_not_as_patterns(store: Store) -> None:
    _put(store, "raw/a_b/x.csv", b"1")
    _put(store, "raw/aXb/x.csv", b"2")
    _put(store, "raw/100%/x.csv", b"3")
    assert store.object_keys(BUCKET, "raw/a_b/") == ["raw/a_b/x.csv"]
    assert store.object_keys(BUCKET, "raw/100%") == ["raw/100%/x.csv"]


def test_a_full_disk_leaves_the_journal_as_it_was_and_says_so(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(store, "kept.csv", b"kept")

    def disk_full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.os, "replace", disk_full)
    with pytest.raises(
        StateError, match="the disk holding .* is full: free some space; the state is as it was"
    ):
        _put(store, "lost.csv", b"never stored")
    assert [o.key for o in store.current_objects()] == ["kept.csv"]  # no row names a missing blob
    assert not [p for p in (store.root / "blobs").rglob("*.tmp")]


# ------------------------------------------------------------------------------------------------
# SageMaker calls, executions, logs, meta
# ------------------------------------------------------------------------------------------------
def test_calls_replay_in_order_and_by_service(store: Store) -> None:
    created = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    store.record_call("sagemaker", "CreateModelPackageGroup", {"ModelPackageGroupName": "g"})
    store.record_call("sns", "Publish", {"Message": "m"})
    store.record_call("sagemaker", "CreateModelPackage", {"ModelPackageGroupName": "g", "When": created})
    assert store.calls("sagemaker") == [
        ("sagemaker", "CreateModelPackageGroup", {"ModelPackageGroupName": "g"}),
        ("sagemaker", "CreateModelPackage", {"ModelPackageGroupName": "g", "When": str(created)}),
    ]
    assert [operation for _, operation, _ in store.calls()] == [
        "CreateModelPackageGroup",
        "Publish",
        "CreateModelPackage",
    ]


def _described(name: str, started: dt.datetime, status: str = "RUNNING") -> dict:
    return {
        "name": name,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:m:{name}",
        "status": status,
        "startDate": started,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def test_an_execution_record_grows_and_keeps_what_a_later_save_leaves_out(store: Store) -> None:
    t0 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    events = [{"type": "ExecutionStarted", "timestamp": t0}]
    store.save_execution(_described("later", t0 + dt.timedelta(minutes=5)), [])
    store.save_execution(_described("first", t0), events, parameters={"GateThreshold": "0.7"})
    store.save_execution(_described("first", t0, "SUCCEEDED"), summary={"status": "SUCCEEDED"})

    first, later = store.executions()  # oldest first
    assert first["execution"]["status"] == "SUCCEEDED"
    assert first["execution"]["startDate"] == t0.isoformat()  # JSON in the folder: ISO 8601
    assert "ResponseMetadata" not in first["execution"]
    assert first["events"] == [{"type": "ExecutionStarted", "timestamp": t0.isoformat()}]
    assert first["summary"] == {"status": "SUCCEEDED"}
    assert first["parameters"] == {"GateThreshold": "0.7"}
    assert (later["execution"]["name"], later["events"], later["summary"]) == ("later", [], None)


def test_logs_are_read_by_group_stream_prefix_and_after_a_position(store: Store) -> None:
    store.record_logs("/aws/lambda/gate", "run-1/2026/11/28/[$LATEST]a", [(1, "START"), (2, "END")])
    store.record_logs("/aws/sagemaker/TrainingJobs", "run-1-train-0/algo-1", [(3, "[0]#011train-auc:0.9")])
    store.record_logs("/aws/lambda/gate", "run_2/2026/11/28/[$LATEST]b", [(4, "START")])

    everything = store.log_events()
    assert [message for *_, message in everything] == ["START", "END", "[0]#011train-auc:0.9", "START"]
    gate = store.log_events(log_group="/aws/lambda/gate", stream_prefix="run_")
    assert [(stream, message) for _, _, stream, _, message in gate] == [
        ("run_2/2026/11/28/[$LATEST]b", "START")
    ]  # "_" is not a wildcard: run-1's stream is not listed
    after = store.log_events(after=everything[1][0])
    assert [timestamp for _, _, _, timestamp, _ in after] == [3, 4]


def test_a_deleted_stack_is_forgotten_with_its_objects_logs_executions_and_blobs(store: Store) -> None:
    store.put("stack", {"name": "stepwise"})
    store.put("registry", [{"version": 1}])
    store.record_object("stack-bucket", "raw/a.csv", b"gone", etag="e1", content_type=None, metadata=None)
    store.record_object("other-bucket", "k", b"kept", etag="e2", content_type=None, metadata=None)
    store.record_logs("/stepwise/stepwise/gate", "s", [(1, "gone")])
    store.record_logs("/aws/sagemaker/ProcessingJobs", "job/algo-1", [(2, "kept")])
    store.record_call("sagemaker", "CreateModelPackageGroup", {"ModelPackageGroupName": "g"})
    store.save_execution(
        {"name": "e", "executionArn": "arn:e", "status": "SUCCEEDED", "startDate": "2026"}, []
    )
    store.delete_logs("/aws/sagemaker/ProcessingJobs", "other-stream")  # another stream: nothing goes
    assert len(store.log_events()) == 2

    store.forget_stack(buckets=["stack-bucket"], log_groups=["/stepwise/stepwise/gate"], keep_calls=False)

    assert store.get("stack") is None and store.get("registry") is None and store.executions() == []
    assert [(o.bucket, o.key) for o in store.current_objects()] == [("other-bucket", "k")]
    assert [row[1:] for row in store.log_events()] == [
        ("/aws/sagemaker/ProcessingJobs", "job/algo-1", 2, "kept")
    ]
    assert store.calls() == []
    blobs = sorted(path.read_bytes() for path in (store.root / "blobs").glob("*/*"))
    assert blobs == [b"kept"]  # the deleted bucket's bytes went with it


def test_meta_values_and_the_folders_salt_outlive_the_process(tmp_path: Path) -> None:
    first = Store(tmp_path / "state")
    assert first.get("stack", {"none": True}) == {"none": True}
    first.put("stack", {"name": "stepwise", "parameters": {"A": "1"}})
    salt = first.salt()
    first.close()

    again = Store(tmp_path / "state")
    assert again.get("stack") == {"name": "stepwise", "parameters": {"A": "1"}}
    assert again.salt() == salt  # the physical names stay the same
    assert Store(tmp_path / "elsewhere").salt() != salt


def test_writes_from_many_threads_all_land(store: Store) -> None:
    def write(n: int) -> None:
        for i in range(20):
            store.record_logs("/g", f"s{n}", [(i, f"{n}-{i}")])
        store.close()  # each thread's own connection

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.log_events()) == 8 * 20


# ------------------------------------------------------------------------------------------------
# A folder that cannot be used says why and what to do
# ------------------------------------------------------------------------------------------------
def test_a_folder_without_state_is_not_created_by_a_reader(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="holds no state yet: `stepwise run` creates it"):
        Store(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()


def test_a_state_from_a_newer_stepwise_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "state").put("x", 1)
    with sqlite3.connect(tmp_path / "state" / "stepwise.db") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(store_module.SCHEMA_VERSION + 1),))
    with pytest.raises(StateError, match="written by a newer stepwise .* upgrade stepwise, or use another"):
        Store(tmp_path / "state")


def test_a_damaged_database_names_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "stepwise.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="stepwise.db is (damaged|not a readable stepwise state)") as caught:
        Store(tmp_path / "state")
    assert "--state-dir" in str(caught.value)


# ------------------------------------------------------------------------------------------------
# One command at a time changes a folder
# ------------------------------------------------------------------------------------------------
def test_a_second_command_fails_at_once_naming_the_holder_or_waits_for_it(tmp_path: Path) -> None:
    holder = StateLock(tmp_path, "run")
    holder.acquire(wait=False)
    with pytest.raises(StateError, match=rf"in use by `stepwise run` \(process {os.getpid()}, since"):
        StateLock(tmp_path, "approve").acquire(wait=False)

    waited: list[str] = []
    second = StateLock(tmp_path, "deploy")
    waiting = threading.Thread(target=second.acquire, kwargs={"wait": True, "on_wait": waited.append})
    waiting.start()
    time.sleep(0.2)
    assert waiting.is_alive()
    (message,) = waited  # what the waiting command prints: who holds the folder
    assert message.startswith(f"`stepwise run` (process {os.getpid()}, since ")
    holder.release()
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert "`stepwise deploy`" in StateLock(tmp_path, "x").holder()
    second.release()


def test_the_lock_goes_with_the_process_that_held_it_however_it_ends(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from stepwise.emulator.store import StateLock\n"
        f"lock = StateLock({str(tmp_path)!r}, 'run')\n"
        "lock.acquire(wait=False)\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(StateError, match=f"process {child.pid}"):
            StateLock(tmp_path, "approve").acquire(wait=False)
    finally:
        child.kill()  # SIGKILL: no chance to release
        child.wait(timeout=10)
    lock = StateLock(tmp_path, "approve")
    lock.acquire(wait=False)
    lock.release()
