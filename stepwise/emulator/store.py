"""The state folder: everything the embedded AWS keeps between commands, written as it happens.

`<state>/stepwise.db` is SQLite (WAL: a command that reads works while another writes), with:
- `meta`: the folder's salt (stable physical names), the deployed stack (template, parameters, the
  custom resources' answers) and the schema version;
- `objects`: every S3 write and delete, in order (bucket, key, ETag, size, content type, the blob
  holding the bytes); the bytes are files `blobs/<sha256[:2]>/<sha256>`, written and fsynced before the
  row that names them commits, so no row ever names a missing blob;
- `calls`: the mutating SageMaker calls that succeeded (CreateModelPackage, UpdateModelPackage,
  CreateEndpoint...), in order, with their requests: replaying them on an empty SageMaker gives the
  same registry, versions and ARNs;
- `executions`: each execution's description, history, summary and the parameters it ran with
  (what `stepwise runs`, `show` and the report read, without starting the embedded AWS);
- `logs`: CloudWatch Logs events of the functions and jobs (`stepwise logs`).

Each write is one transaction: a command killed at any point leaves the folder as it was after its
last completed write. `StateLock` lets one command at a time change a folder (see `lock`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DATABASE = "stepwise.db"
BLOBS = "blobs"
LOCK_FILE = "lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL, key TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    blob TEXT, size INTEGER, etag TEXT, content_type TEXT, metadata TEXT, written REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_by_key ON objects (bucket, key, seq);
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL, operation TEXT NOT NULL, request TEXT NOT NULL, written REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, status TEXT NOT NULL, started TEXT NOT NULL,
    stopped TEXT, description TEXT NOT NULL, events TEXT NOT NULL DEFAULT '[]',
    summary TEXT, parameters TEXT, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group TEXT NOT NULL, stream TEXT NOT NULL, timestamp INTEGER NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_stream ON logs (log_group, stream, seq);
"""


class StateError(RuntimeError):
    """The state folder cannot be used: the message names the file and the way out."""


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    blob: str
    size: int
    etag: str
    content_type: str | None
    metadata: dict[str, str]


class Store:
    """The state folder of one embedded AWS. Thread-safe: one connection per thread."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = Path(root).resolve()
        self.path = self.root / DATABASE
        if not create and not self.path.is_file():
            raise StateError(f"{self.root} holds no state yet: `stepwise run` creates it")
        self._local = threading.local()
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / BLOBS).mkdir(exist_ok=True)
        try:
            self._connection().executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise _state_error(self.path, error) from None
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path} was written by a newer stepwise (schema {row[0]}): upgrade stepwise, "
                    "or use another --state-dir"
                )

    # ---------------------------------------------------------------- connections
    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=True
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.DatabaseError as error:
                raise StateError(
                    f"{self.path} is not a readable stepwise state ({error}): move it away, or use another "
                    "--state-dir, to start from an empty state"
                ) from None
            self._local.connection = connection
        return connection

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise _state_error(self.path, error) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise

    def _read(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        try:
            return self._connection().execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            raise _state_error(self.path, error) from None

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # ---------------------------------------------------------------- meta
    def get(self, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def put(self, key: str, value: Any) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def salt(self) -> str:
        """A random value of this folder: the stable part of its resources' physical names."""
        salt = self.get("salt")
        if salt is None:
            salt = secrets.token_hex(8)
            self.put("salt", salt)
        return salt

    # ---------------------------------------------------------------- S3
    def blob_path(self, digest: str) -> Path:
        return self.root / BLOBS / digest[:2] / digest

    def _write_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if path.is_file() and path.stat().st_size == len(data):
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise _disk_error(self.root, error) from None
        return digest

    def record_object(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        etag: str,
        content_type: str | None,
        metadata: dict | None,
    ) -> None:
        digest = self._write_blob(data)
        with self._write() as db:
            db.execute(
                "INSERT INTO objects (bucket, key, blob, size, etag, content_type, metadata, written) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (bucket, key, digest, len(data), etag, content_type, json.dumps(metadata or {}), time.time()),
            )

    def record_deletion(self, bucket: str, key: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO objects (bucket, key, deleted, written) VALUES (?, ?, 1, ?)",
                (bucket, key, time.time()),
            )

    def current_objects(self) -> list[StoredObject]:
        """The latest version of every object not deleted, in the order they were written."""
        rows = self._read(
            "SELECT o.bucket, o.key, o.blob, o.size, o.etag, o.content_type, o.metadata FROM objects o "
            "JOIN (SELECT bucket, key, MAX(seq) AS seq FROM objects GROUP BY bucket, key) last "
            "ON o.seq = last.seq WHERE o.deleted = 0 ORDER BY o.seq"
        )
        return [
            StoredObject(b, k, blob, size, etag, ct, json.loads(meta or "{}"))
            for b, k, blob, size, etag, ct, meta in rows
        ]

    def object_buckets(self) -> list[str]:
        return [bucket for (bucket,) in self._read("SELECT DISTINCT bucket FROM objects ORDER BY bucket")]

    def read_object(self, bucket: str, key: str) -> bytes | None:
        rows = self._read(
            "SELECT blob, deleted FROM objects WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1",
            (bucket, key),
        )
        if not rows or rows[0][1]:
            return None
        path = self.blob_path(rows[0][0])
        return path.read_bytes() if path.is_file() else None

    def object_keys(self, bucket: str, prefix: str = "") -> list[str]:
        return [
            obj.key for obj in self.current_objects() if obj.bucket == bucket and obj.key.startswith(prefix)
        ]

    # ---------------------------------------------------------------- SageMaker (and other) calls
    def record_call(self, service: str, operation: str, request: dict) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO calls (service, operation, request, written) VALUES (?, ?, ?, ?)",
                (service, operation, json.dumps(request, default=str), time.time()),
            )

    def calls(self, service: str | None = None) -> list[tuple[str, str, dict]]:
        rows = self._read("SELECT service, operation, request FROM calls ORDER BY seq")
        return [(s, o, json.loads(r)) for s, o, r in rows if service is None or s == service]

    # ---------------------------------------------------------------- executions
    def save_execution(self, description: dict, events: list[dict] | None = None, **extra: Any) -> None:
        """describe_execution (+ its history, + `summary=` / `parameters=`) of one execution."""
        from stepwise.emulator.stepfunctions import to_json_safe

        described = to_json_safe({k: v for k, v in description.items() if k != "ResponseMetadata"})
        with self._write() as db:
            existing = db.execute(
                "SELECT events, summary, parameters FROM executions WHERE name = ?", (described["name"],)
            ).fetchone()
            kept_events, kept_summary, kept_parameters = existing or ("[]", None, None)
            db.execute(
                "INSERT OR REPLACE INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    described["name"],
                    described["executionArn"],
                    described["status"],
                    described["startDate"],
                    described.get("stopDate"),
                    json.dumps(described),
                    json.dumps(to_json_safe(events)) if events is not None else kept_events,
                    json.dumps(extra["summary"]) if "summary" in extra else kept_summary,
                    json.dumps(extra["parameters"]) if "parameters" in extra else kept_parameters,
                    time.time(),
                ),
            )

    def mark_aborted(self, name: str, cause: str) -> None:
        """An execution left RUNNING by a process that died: ABORTED, ended at its last event."""
        with self._write() as db:
            row = db.execute("SELECT description, events FROM executions WHERE name = ?", (name,)).fetchone()
            if row is None:
                return
            described, events = json.loads(row[0]), json.loads(row[1] or "[]")
            stopped = events[-1]["timestamp"] if events else described.get("startDate")
            described.update(status="ABORTED", stopDate=stopped, error="Interrupted", cause=cause)
            db.execute(
                "UPDATE executions SET status = ?, stopped = ?, description = ? WHERE name = ?",
                ("ABORTED", stopped, json.dumps(described), name),
            )

    def execution_events(self, name: str) -> list[dict]:
        """The stored history of one execution ([] when unknown)."""
        rows = self._read("SELECT events FROM executions WHERE name = ?", (name,))
        return json.loads(rows[0][0]) if rows else []

    def executions(self) -> list[dict]:
        """Every saved execution record {execution, events, summary, parameters}, oldest first."""
        rows = self._read(
            "SELECT description, events, summary, parameters FROM executions ORDER BY started, name"
        )
        return [
            {
                "execution": json.loads(description),
                "events": json.loads(events),
                "summary": json.loads(summary) if summary else None,
                "parameters": json.loads(parameters) if parameters else None,
            }
            for description, events, summary, parameters in rows
        ]

    def execution_descriptions(self) -> list[dict]:
        """Every saved execution's DescribeExecution result, oldest first: what a start-up needs, without
        reading and parsing every history."""
        rows = self._read("SELECT description FROM executions ORDER BY started, name")
        return [json.loads(description) for (description,) in rows]

    # ---------------------------------------------------------------- logs
    def record_logs(self, log_group: str, stream: str, events: list[tuple[int, str]]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT INTO logs (log_group, stream, timestamp, message) VALUES (?, ?, ?, ?)",
                [(log_group, stream, timestamp, message) for timestamp, message in events],
            )

    def log_events(
        self, log_group: str | None = None, stream_prefix: str = "", after: int = 0
    ) -> list[tuple]:
        """(seq, group, stream, timestamp, message) after `seq`, in order."""
        sql = "SELECT seq, log_group, stream, timestamp, message FROM logs WHERE seq > ?"
        parameters: list[Any] = [after]
        if log_group is not None:
            sql += " AND log_group = ?"
            parameters.append(log_group)
        if stream_prefix:
            sql += " AND stream LIKE ? ESCAPE '\\'"
            parameters.append(
                stream_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
        return self._read(sql + " ORDER BY seq", tuple(parameters))

    def log_groups(self) -> list[str]:
        return [group for (group,) in self._read("SELECT DISTINCT log_group FROM logs ORDER BY log_group")]

    def delete_logs(self, log_group: str, stream: str | None = None) -> None:
        """A log group (or one stream of it) deleted: its events go."""
        with self._write() as db:
            if stream is None:
                db.execute("DELETE FROM logs WHERE log_group = ?", (log_group,))
            else:
                db.execute("DELETE FROM logs WHERE log_group = ? AND stream = ?", (log_group, stream))

    # ---------------------------------------------------------------- a deleted stack
    def forget_stack(self, *, buckets: list[str], log_groups: list[str], keep_calls: bool) -> None:
        """After DeleteStack: the folder records no stack (the next `stepwise run` creates one afresh),
        no executions (their state machine is gone), nothing of the deleted `buckets` and `log_groups`,
        and, unless `keep_calls` (SageMaker still holds something the journal rebuilds), no SageMaker
        journal or registry. Blobs no row names any more are removed."""
        with self._write() as db:
            db.execute("DELETE FROM meta WHERE key IN ('stack', 'registry', 'deployed-endpoints')")
            db.execute("DELETE FROM executions")
            db.executemany("DELETE FROM objects WHERE bucket = ?", [(b,) for b in buckets])
            db.executemany("DELETE FROM logs WHERE log_group = ?", [(g,) for g in log_groups])
            if not keep_calls:
                db.execute("DELETE FROM calls WHERE service = 'sagemaker'")
        self.collect_blobs()

    def collect_blobs(self) -> int:
        """Remove blob files that no row of `objects` names; how many were removed."""
        named = {row[0] for row in self._read("SELECT DISTINCT blob FROM objects WHERE blob IS NOT NULL")}
        removed = 0
        for path in (self.root / BLOBS).glob("*/*"):
            if path.is_file() and path.name not in named and not path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _state_error(path: Path, error: sqlite3.DatabaseError) -> StateError:
    text = str(error)
    if "locked" in text or "busy" in text:
        return StateError(f"{path} is busy (another stepwise command writes to it): try again")
    if "disk" in text and "full" in text or "SQLITE_FULL" in text:
        return StateError(f"the disk holding {path} is full: free some space; the state is as it was")
    return StateError(
        f"{path} is damaged ({text}): move the folder away, or use another --state-dir, to start "
        "from an empty state"
    )


def _disk_error(root: Path, error: OSError) -> StateError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StateError(f"the disk holding {root} is full: free some space; the state is as it was")
    return StateError(f"cannot write under {root}: {error.strerror}")


# ------------------------------------------------------------------------------------------------
# One command at a time changes a folder
# ------------------------------------------------------------------------------------------------
class StateLock:
    """An exclusive lock on a state folder (flock on `<state>/lock`, released when the process ends,
    however it ends). The file says who holds it, for the message a waiting command prints."""

    def __init__(self, root: Path, command: str) -> None:
        self.root = Path(root)
        self.command = command
        self._handle: Any = None

    def holder(self) -> str:
        try:
            info = json.loads((self.root / LOCK_FILE).read_text() or "{}")
        except (OSError, ValueError):
            return "another stepwise command"
        command, pid, since = info.get("command", "?"), info.get("pid", "?"), info.get("since", "?")
        return f"`stepwise {command}` (process {pid}, since {since})"

    def acquire(self, *, wait: bool, on_wait: Any = None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / LOCK_FILE, "a+")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                holder = self.holder()
                handle.close()
                raise StateError(
                    f"{self.root} is in use by {holder}: wait for it, or leave out --no-wait"
                ) from None
            if on_wait is not None:
                on_wait(self.holder())
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps({"pid": os.getpid(), "command": self.command, "since": time.strftime("%H:%M:%S")})
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.seek(0)
                self._handle.truncate()
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
