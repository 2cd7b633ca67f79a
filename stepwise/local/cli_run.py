"""`stepwise run`, `runs`, `show`, `registry`, `approve`: local mode's commands.

`add_commands(subparsers)` adds them to the `stepwise` parser. This module imports nothing heavy at
import time (moto takes a second to import): each command imports the runtime when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from stepwise.local.runtime import DEFAULT_STATE_DIR

if TYPE_CHECKING:
    from stepwise.local.runtime import LocalAWS

DEFAULT_ROWS = 5000


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run", help="run the whole pipeline on this machine: upload a dataset, execute the state machine"
    )
    run.add_argument("--data", type=Path, help="folder with claims.csv and customers.csv (default: generate)")
    run.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help=f"rows to generate (default {DEFAULT_ROWS})"
    )
    run.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    run.add_argument(
        "--dataset-id", help="upload the data under raw/<ID>/ (default: the time and a random suffix)"
    )
    run.add_argument(
        "--schedule",
        action="store_true",
        help="start as the scheduled rule does: retrain on the latest dataset",
    )
    run.add_argument(
        "--event",
        type=Path,
        metavar="FILE",
        help="deliver this EventBridge event (JSON, e.g. from events/) to the template's rules instead of "
        "uploading data; an S3 event's object must exist in the local bucket",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="retrain even when these inputs were trained and registered before",
    )
    add_state_dir_argument(run)
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument(
        "--approval-status",
        choices=["Approved", "PendingManualApproval"],
        help="approval status new model packages get (default: the template's ModelApprovalStatus)",
    )
    run.set_defaults(handler=run_command)

    runs = subparsers.add_parser("runs", help="list the local executions")
    add_state_dir_argument(runs)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=runs_command)

    show = subparsers.add_parser("show", help="one execution: its states as a timeline and its summary")
    show.add_argument("run", help="execution name (or a unique prefix; 'last' for the latest)")
    add_state_dir_argument(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_command)

    registry = subparsers.add_parser("registry", help="model package versions with metrics and approval")
    add_state_dir_argument(registry)
    registry.add_argument("--json", action="store_true")
    registry.set_defaults(handler=registry_command)

    approve = subparsers.add_parser("approve", help="approve a pending model package version and deploy it")
    approve.add_argument("version", type=int, help="model package version")
    approve.add_argument("--group", help="model package group (default: the only one)")
    add_state_dir_argument(approve)
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(handler=approve_command)


def add_state_dir_argument(parser: argparse.ArgumentParser) -> None:
    """--state-dir, which every local-mode command takes."""
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"where local mode keeps its S3, registry, endpoints and runs (default {DEFAULT_STATE_DIR})",
    )


# ------------------------------------------------------------------------------------------------ run
def run_command(args: argparse.Namespace) -> int:
    out = sys.stdout
    parameters = {}
    if args.approval_status:
        parameters["ModelApprovalStatus"] = args.approval_status
    event = None
    if args.event is not None:
        if args.data is not None or args.schedule:
            return _usage("--event delivers the given event: leave out --data and --schedule")
        try:
            event = _read_event(args.event)
        except ValueError as error:
            return _usage(str(error))
    with tempfile.TemporaryDirectory(prefix="stepwise-data-") as scratch:
        data_dir = args.data
        if data_dir is None and not args.schedule and event is None:
            from stepwise.data import generate_dataset

            data_dir = Path(scratch)
            generate_dataset(rows=args.rows, seed=args.seed, out_dir=data_dir)
            _say(args, f"Generated {args.rows} claims (seed {args.seed})")
        _say(args, f"Starting the embedded AWS (state in {args.state_dir})")
        with _embedded_aws(args.state_dir, parameters) as local:
            if args.schedule:
                events = [local.scheduled_event()]
            elif event is not None:
                problem = _event_problem(local, event)
                if problem:
                    return _usage(problem)
                events = [event]
            else:
                events = local.upload_dataset(data_dir, args.dataset_id)
                _say(args, f"Uploaded {data_dir} to s3://{local.stack.buckets[0]}/{_dataset_prefix(events)}")
            code, summary = _run_events(local, events, args)
    return _finish(code, summary, args, out)


@contextlib.contextmanager
def _embedded_aws(state_dir: Path, parameters: dict[str, str] | None = None) -> Iterator[LocalAWS]:
    """A started LocalAWS, closed (and saved) on exit, for a command's process.

    Starting loads moto, botocore's service models and the parsed definition: some 280,000 objects that
    live until the process ends. Python's cyclic garbage collector is paused meanwhile (they would set off
    six full collections that free nothing, ~0.4 s), then they are frozen (`gc.freeze`), so that later
    collections and the one at exit skip them (~0.3 s and ~0.8 s saved)."""
    from stepwise.local.runtime import LocalAWS

    local = LocalAWS(state_dir, parameters=parameters)
    gc.disable()
    try:
        local.start()
    finally:
        gc.freeze()
        gc.enable()
    try:
        yield local
    finally:
        local.close()


def _usage(message: str) -> int:
    print(f"stepwise: error: {message}", file=sys.stderr)
    return 2


def _read_event(path: Path) -> dict:
    """The EventBridge event in `path`; ValueError saying what is wrong with it."""
    try:
        event = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"cannot read the event file {path}: {error.strerror}") from None
    except ValueError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    missing = [
        key for key in ("source", "detail-type", "detail") if not isinstance(event, dict) or key not in event
    ]
    if missing:
        raise ValueError(f"{path} is not an EventBridge event: it lacks {', '.join(missing)}")
    return event


def _event_problem(local, event: dict) -> str | None:
    """Why an S3 event cannot be delivered locally (its bucket or object is not there), else None.

    An event whose object changed since (another ETag or version) is delivered all the same:
    ResolveDataset ignores it, as it does on AWS."""
    if event.get("source") != "aws.s3":
        return None
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name")
    key = (detail.get("object") or {}).get("key")
    local_bucket = local.stack.buckets[0]
    if bucket != local_bucket:
        return f"the event names bucket {bucket!r}, the local one is {local_bucket!r}: edit its bucket.name"
    try:
        head = local.client("s3").head_object(Bucket=bucket, Key=key)
    except Exception:
        dataset = key.split("/")[-2] if key and key.count("/") >= 2 else "ID"
        return (
            f"s3://{bucket}/{key} does not exist locally: upload the dataset first, e.g. "
            f"`stepwise run --data DIR --dataset-id {dataset}`"
        )
    etag = (detail.get("object") or {}).get("etag")
    if etag and etag.strip('"') != head["ETag"].strip('"'):
        print(
            f"note: s3://{bucket}/{key} has changed since this event (etag {etag} != {head['ETag']}): "
            "ResolveDataset will ignore it, as on AWS",
            file=sys.stderr,
        )
    return None


def _dataset_prefix(events: list[dict]) -> str:
    key = events[-1]["detail"]["object"]["key"]
    return key.rsplit("/", 1)[0] + "/"


def _run_events(local, events: list[dict], args: argparse.Namespace) -> tuple[int, dict | None]:
    """Deliver each event as EventBridge would and follow the executions it starts.

    Returns the exit code and the summary of the last execution (the one an upload's second file
    starts; the first file's execution ends WaitingForDataset)."""
    from stepwise.local.progress import ProgressPrinter
    from stepwise.local.summary import build_summary

    started: list[str] = []
    for event in events:
        arn = local.deliver(event, force=getattr(args, "force", False))
        if arn is None:
            _say(args, f"No rule matches the {event['detail-type']} event: nothing starts")
        else:
            started.append(arn)
    if not started:
        return 1, None
    summary = None
    for arn in started:
        name = arn.rsplit(":", 1)[1]
        _say(args, f"Execution {name}")
        printer = ProgressPrinter(stream=sys.stderr if args.json else sys.stdout)
        try:
            local.wait(arn, on_events=printer)
        except KeyboardInterrupt:
            printer.finish()
            print("\nInterrupted: stopping the execution and its jobs…", file=sys.stderr)
            local.stop(arn)
            local.wait(arn)
            summary = build_summary(local, arn)
            local.store.save_execution(local.client("stepfunctions"), arn, {"summary": summary})
            return 130, summary
        printer.finish()
        summary = build_summary(local, arn)
        local.store.save_execution(local.client("stepfunctions"), arn, {"summary": summary})
    return (0 if summary["status"] == "SUCCEEDED" else 1), summary


def _finish(code: int, summary: dict | None, args: argparse.Namespace, out) -> int:
    """After the embedded AWS saved its state: write the run's report.html, print the summary."""
    if summary is None:
        return code
    from stepwise.local.report import write_run_report

    summary["report"] = str(write_run_report(args.state_dir.resolve(), summary["execution"]))
    _print(summary, args, out)
    return code


def _print(summary: dict, args: argparse.Namespace, out) -> None:
    from stepwise.local.summary import print_summary

    if args.json:
        json.dump(summary, out, indent=2, default=str)
        out.write("\n")
    else:
        print_summary(summary, out)


def _say(args: argparse.Namespace, text: str) -> None:
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


# ----------------------------------------------------------------------------------- runs and show
def runs_command(args: argparse.Namespace) -> int:
    from stepwise.local.state import StateStore

    records = StateStore(args.state_dir.resolve()).executions()
    rows = []
    for record in records:
        execution, summary = record["execution"], record.get("summary") or {}
        rows.append(
            {
                "name": execution["name"],
                "status": execution["status"],
                "started": str(execution["startDate"]),
                "endState": summary.get("endState"),
                "auc": (summary.get("metrics") or {}).get("auc"),
                "version": (summary.get("modelPackage") or {}).get("version"),
            }
        )
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    if not rows:
        print(f"No runs in {args.state_dir}: `stepwise run` starts one")
        return 0
    for row in rows:
        auc = f"auc {row['auc']:.4f}" if row["auc"] is not None else ""
        version = f"v{row['version']}" if row["version"] else ""
        print(f"{row['name']:<28} {row['status']:<10} {str(row['endState']):<22} {auc:<11} {version}")
    return 0


def show_command(args: argparse.Namespace) -> int:
    from stepwise.local.progress import print_timeline
    from stepwise.local.state import StateStore
    from stepwise.local.summary import print_summary

    store = StateStore(args.state_dir.resolve())
    if args.run == "last":
        records = store.executions()
        record = records[-1] if records else None
    else:
        record = store.execution(args.run)
    if record is None:
        known = ", ".join(r["execution"]["name"] for r in store.executions()[-5:]) or "none"
        print(f"No run named {args.run!r} in {args.state_dir} (latest: {known})", file=sys.stderr)
        return 2
    if args.json:
        json.dump(record, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"Execution {record['execution']['name']}: {record['execution']['status']}")
    print_timeline(record["events"])
    if record.get("summary"):
        print_summary(record["summary"], sys.stdout)
    return 0


# ------------------------------------------------------------------------------- registry, approve
def registry_command(args: argparse.Namespace) -> int:
    from stepwise.local.state import StateStore

    store = StateStore(args.state_dir.resolve())
    summaries = {r["execution"]["name"]: r.get("summary") or {} for r in store.executions()}
    packages = _saved_packages(store)
    if args.json:
        json.dump(packages, sys.stdout, indent=2, default=str)
        print()
        return 0
    if not packages:
        print(f"The registry in {args.state_dir} is empty: `stepwise run` registers a model")
        return 0
    for package in packages:
        metadata = package.get("CustomerMetadataProperties") or {}
        execution = metadata.get("executionName", "")
        auc = (summaries.get(execution, {}).get("metrics") or {}).get("auc")
        metric = metadata.get("metricValue") or (f"{auc:.4f}" if auc is not None else "")
        print(
            f"{package['ModelPackageGroupName']} v{package['version']:<3} "
            f"{package['ModelApprovalStatus']:<22} "
            f"{metadata.get('metricName', 'auc')} {metric:<8} {execution}"
        )
    return 0


def _saved_packages(store) -> list[dict]:
    """The registry as saved by the last run: the replayable create requests, numbered per group."""
    path = store.root / "sagemaker.json"
    if not path.is_file():
        return []
    versions: dict[str, int] = {}
    packages = []
    for call in json.loads(path.read_text()):
        if call["operation"] == "CreateModelPackage":
            request = call["request"]
            group = request["ModelPackageGroupName"]
            versions[group] = versions.get(group, 0) + 1
            packages.append({**request, "version": versions[group]})
    return packages


def approve_command(args: argparse.Namespace) -> int:
    """Approve a package, then do what the cloud does: SageMaker emits a Model Package State Change
    event, the template's approval rule matches it and starts the state machine, which deploys."""
    with _embedded_aws(args.state_dir) as local:
        sagemaker = local.client("sagemaker")
        groups = [
            g["ModelPackageGroupName"]
            for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
        ]
        group = args.group or (groups[0] if len(groups) == 1 else None)
        if group is None:
            print(f"Give --group: the registry has {groups or 'no groups'}", file=sys.stderr)
            return 2
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{args.version}"
        try:
            package = sagemaker.describe_model_package(ModelPackageName=arn)
        except Exception:
            print(f"No version {args.version} in {group}: see `stepwise registry`", file=sys.stderr)
            return 2
        if package["ModelApprovalStatus"] == "Approved":
            print(f"{group} version {args.version} is already Approved", file=sys.stderr)
            return 2
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        _say(args, f"Approved {group} version {args.version}")
        code, summary = _run_events(local, [local.model_package_state_change_event(arn)], args)
    return _finish(code, summary, args, sys.stdout)
