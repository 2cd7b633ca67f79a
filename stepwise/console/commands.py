"""The local-mode commands: run, runs, show, logs, registry, approve, deploy.

`add_commands(subparsers)` adds them to the `stepwise` parser. Nothing heavy is imported until a command
runs: `runs`, `show`, `logs` and `registry` read the state folder (stepwise/emulator/store.py) and never
start the embedded AWS (moto takes a second to import). Every user mistake is caught before the
embedded AWS starts and reported in one line with exit code 2 (`UsageError`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_STATE_DIR = Path(".stepwise")
DEFAULT_ROWS = 5000
DATASET_FILES = ("claims.csv", "customers.csv")


class UsageError(Exception):
    """A mistake of the user's: one line saying what to fix, exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (exit code 143 instead of 130)."""


# ================================================================================== arguments
def add_state_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"the folder that keeps the local stack, its data, models and runs "
        f"(default {DEFAULT_STATE_DIR})",
    )


def _add_lock_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail at once when another stepwise command is changing the state folder (default: wait)",
    )


def parameter_override(text: str) -> tuple[str, str]:
    """`Key=Value`, as `sam deploy --parameter-overrides` spells them."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not Key=Value (e.g. ModelApprovalStatus=PendingManualApproval)"
        )
    return key, value


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from stepwise.console.target import add_target_arguments

    run = subparsers.add_parser(
        "run",
        help="run the pipeline on this machine: upload a dataset (or deliver an event) and follow the run",
        description="Deploys template.yaml to the local stack (first time: create; later: update when the "
        "template, its parameters or the code changed), uploads the dataset to raw/<dataset>/ and follows "
        "the run the upload starts, as on AWS. Without --data it generates a dataset.",
    )
    source = run.add_argument_group("what starts the run (default: a generated dataset)")
    source.add_argument("--data", type=Path, help="folder holding claims.csv and customers.csv")
    source.add_argument("--dataset-id", help="upload under raw/<ID>/ (default: the time and a random suffix)")
    source.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help=f"rows to generate (default {DEFAULT_ROWS})"
    )
    source.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    source.add_argument(
        "--schedule", action="store_true", help="retrain on the latest dataset, as the schedule does"
    )
    source.add_argument(
        "--event",
        type=Path,
        action="append",
        metavar="FILE",
        help="deliver this EventBridge event (JSON, e.g. events/s3_object_created.json) to the stack's "
        "rules; repeat it to deliver several (an S3 event's object must exist in the local bucket)",
    )
    run.add_argument(
        "--force", action="store_true", help="retrain even when these inputs were trained before"
    )
    run.add_argument(
        "-t",
        "--template-file",
        type=Path,
        help="the SAM template to deploy; its folder holds the code it names (default: template.yaml in "
        "the current folder when there is one, else the template Stepwise ships)",
    )
    run.add_argument(
        "--parameter-overrides",
        nargs="+",
        type=parameter_override,
        default=[],
        metavar="KEY=VALUE",
        help="template parameters for this run's deploy, as sam deploy takes them "
        "(e.g. ModelApprovalStatus=PendingManualApproval GateThreshold=0.8)",
    )
    run.add_argument(
        "--no-iam", action="store_true", help="do not enforce IAM (the request limits still apply)"
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON (docs/json.md)")
    add_state_dir_argument(run)
    _add_lock_arguments(run)
    run.set_defaults(handler=run_command)

    runs = subparsers.add_parser("runs", help="list the runs, newest first")
    runs.add_argument("--limit", type=int, default=20, help="how many (default 20; 0: all)")
    runs.add_argument("--json", action="store_true", help="print them as JSON (docs/json.md)")
    add_target_arguments(runs)
    runs.set_defaults(handler=runs_command)

    show = subparsers.add_parser("show", help="one run: its states as a timeline, and its summary")
    show.add_argument("run", help="the run: its execution name, a prefix of it, its run id, or 'last'")
    show.add_argument("--json", action="store_true", help="print the run's record as JSON (docs/json.md)")
    add_target_arguments(show)
    show.set_defaults(handler=show_command)

    logs = subparsers.add_parser(
        "logs", help="the logs of a run's jobs and functions, as sam logs prints them"
    )
    logs.add_argument("run", help="the run: its execution name, a prefix of it, its run id, or 'last'")
    logs.add_argument("state", nargs="?", help="only this state's (e.g. Train, QualityGate)")
    logs.add_argument("--follow", action="store_true", help="keep printing new lines until the run ends")
    add_target_arguments(logs)
    logs.set_defaults(handler=logs_command)

    registry = subparsers.add_parser(
        "registry", help="the model package versions: approval, metrics, what serves"
    )
    registry.add_argument("--json", action="store_true", help="print them as JSON, with ARNs (docs/json.md)")
    add_target_arguments(registry)
    registry.set_defaults(handler=registry_command)

    approve = subparsers.add_parser(
        "approve",
        help="approve a pending model package version: the approval starts the run that deploys it",
    )
    approve.add_argument("version", type=int, help="the version (see stepwise registry)")
    approve.add_argument("--group", help="the model package group (default: the only one)")
    approve.add_argument("--json", action="store_true", help="print the deploy run's summary as JSON")
    add_target_arguments(approve)
    _add_lock_arguments(approve)
    approve.set_defaults(handler=approve_command)

    deploy = subparsers.add_parser(
        "deploy",
        help="deploy an Approved version (again): starts the state machine with its approval event",
    )
    deploy.add_argument("version", type=int, help="the version (see stepwise registry)")
    deploy.add_argument("--group", help="the model package group (default: the only one)")
    deploy.add_argument("--json", action="store_true", help="print the deploy run's summary as JSON")
    add_target_arguments(deploy)
    _add_lock_arguments(deploy)
    deploy.set_defaults(handler=deploy_command)


# ================================================================================== output helpers
def _out(args: argparse.Namespace) -> Any:
    """The command's stdout as it was when the command started (stepwise/cli.py keeps it in `args`):
    whatever a function running in-process does to sys.stdout meanwhile, the console's output goes
    here."""
    return getattr(args, "stdout", None) or sys.stdout


def _err(args: argparse.Namespace) -> Any:
    return getattr(args, "stderr", None) or sys.stderr


def _say(args: argparse.Namespace, text: str) -> None:
    """Progress messages: stdout, or stderr when stdout carries JSON."""
    print(text, file=_err(args) if getattr(args, "json", False) else _out(args), flush=True)


def _print_json(value: Any, args: argparse.Namespace | None = None) -> None:
    out = _out(args) if args is not None else sys.stdout
    json.dump(value, out, indent=2, default=str)
    out.write("\n")


# ================================================================================== run
def _check_data_dir(data: Path) -> None:
    if not data.exists():
        raise UsageError(f"--data {data}: no such folder")
    if not data.is_dir():
        raise UsageError(f"--data {data} is a file: give the folder that holds claims.csv and customers.csv")
    missing = [name for name in DATASET_FILES if not (data / name).is_file()]
    if missing:
        raise UsageError(
            f"--data {data} has no {' and no '.join(missing)}: a dataset is claims.csv and customers.csv"
        )


def read_event(path: Path) -> dict:
    """The EventBridge event in `path`; UsageError saying what is wrong with it."""
    try:
        event = json.loads(path.read_text())
    except OSError as error:
        raise UsageError(f"cannot read the event file {path}: {error.strerror}") from None
    except ValueError as error:
        raise UsageError(f"{path} is not JSON: {error}") from None
    missing = [
        key for key in ("source", "detail-type", "detail") if not isinstance(event, dict) or key not in event
    ]
    if missing:
        raise UsageError(f"{path} is not an EventBridge event: it has no {', '.join(missing)}")
    return event


def _check_run_arguments(args: argparse.Namespace) -> list[dict]:
    sources = [bool(args.data), bool(args.schedule), bool(args.event)]
    if sum(sources) > 1:
        raise UsageError("give one of --data, --schedule and --event")
    if args.data is not None:
        _check_data_dir(args.data)
    if args.rows < 1:
        raise UsageError(f"--rows {args.rows}: generate at least 1 row")
    if args.dataset_id is not None and (not args.dataset_id or "/" in args.dataset_id):
        raise UsageError(f"--dataset-id {args.dataset_id!r}: one path segment, without '/'")
    return [read_event(path) for path in args.event or []]


@contextlib.contextmanager
def _locked(state_dir: Path, command: str, no_wait: bool) -> Iterator[None]:
    """One command at a time changes a state folder; the second waits and says who holds it."""
    from stepwise.emulator.store import StateError, StateLock

    lock = StateLock(state_dir, command)
    try:
        lock.acquire(
            wait=not no_wait,
            on_wait=lambda holder: print(
                f"Waiting for {holder} to finish with {state_dir}…", file=sys.stderr, flush=True
            ),
        )
    except StateError as error:
        raise UsageError(str(error)) from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI timeouts, docker stop) behaves as Ctrl-C: the run is stopped and recorded."""

    def interrupt(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# True in the `stepwise` command's own process (stepwise/cli.py `entry`), which ends with the command;
# False when a caller runs commands in its process (tests calling `main`): moto is then given back
PROCESS_EXITS_AFTER_COMMAND = False


@contextlib.contextmanager
def embedded_aws(state_dir: Path, **options: Any) -> Iterator[Any]:
    """A started EmbeddedAWS for a command's process, closed on exit. Starting loads moto, botocore's
    models and the parsed definition: Python's cyclic garbage collector is paused meanwhile and they
    are frozen (`gc.freeze`), so later collections skip them."""
    import gc

    from stepwise.emulator.aws import EmbeddedAWS

    aws = EmbeddedAWS(state_dir, **options)
    gc.disable()
    try:
        aws.start()
    finally:
        gc.freeze()
        gc.enable()
    for repair in aws.repairs:
        print(f"repaired: {repair}", file=sys.stderr, flush=True)
    for warning in aws.restore_warnings:
        print(f"warning: a journaled call failed when replayed: {warning}", file=sys.stderr, flush=True)
    try:
        yield aws
    finally:
        aws.close(process_exits=PROCESS_EXITS_AFTER_COMMAND)


def _template_file(given: Path | None) -> Path:
    """The template `run` deploys: --template-file, else ./template.yaml (as sam finds it), else ours
    (the checkout's, or the copy the installed package carries)."""
    from stepwise import project_root

    if given is not None:
        if not given.is_file():
            raise UsageError(f"--template-file {given}: no such file")
        return given.resolve()
    here = Path("template.yaml")
    return here.resolve() if here.is_file() else project_root() / "template.yaml"


def run_command(args: argparse.Namespace) -> int:
    events = _check_run_arguments(args)
    overrides = dict(args.parameter_overrides)
    with (
        _locked(args.state_dir, "run", args.no_wait),
        tempfile.TemporaryDirectory(prefix="stepwise-data-") as scratch,
    ):
        data_dir = args.data
        if data_dir is None and not args.schedule and not events:
            from stepwise.data import generate_dataset

            data_dir = Path(scratch)
            generate_dataset(rows=args.rows, seed=args.seed, out_dir=data_dir)
            _say(args, f"Generated {args.rows} claims (seed {args.seed})")
        _say(args, f"Starting the local stack (state in {args.state_dir})")
        with (
            _terminate_as_interrupt(),
            embedded_aws(
                args.state_dir,
                parameters=overrides,
                enforce_iam=not args.no_iam,
                deploy=True,
                template=_template_file(args.template_file),
            ) as aws,
        ):
            if args.schedule:
                started = aws.run_schedule(force=args.force)
            elif events:
                started = []
                for event in events:
                    problem = _event_problem(aws, event)
                    if problem:
                        raise UsageError(problem)
                    started += aws.put_event(event, force=args.force)
            else:
                dataset = args.dataset_id or _dataset_id()
                if args.force:
                    started = _upload_forced(aws, data_dir, dataset)
                else:
                    started = aws.upload_dataset(data_dir, dataset)
                _say(args, f"Uploaded {data_dir} to s3://{aws.bucket}/raw/{dataset}/")
            return _follow(aws, started, args)


def _dataset_id() -> str:
    import uuid
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _upload_forced(aws: Any, data_dir: Path, dataset: str) -> list[str]:
    """Upload the dataset; when the run its upload starts does not train (the inputs were trained
    before), start one with `"force": true` on the second file's event, as a user would with
    `aws stepfunctions start-execution`."""
    started = aws.upload_dataset(data_dir, dataset)
    for arn in started:
        aws.wait(arn)
    last = aws.history(started[-1]) if started else []
    entered = [e["stateEnteredEventDetails"]["name"] for e in last if "stateEnteredEventDetails" in e]
    if started and "StartRun" in entered:
        return started[-1:]
    return [aws.start_manually(aws.s3_event_of(f"raw/{dataset}/customers.csv"), force=True)]


def _event_problem(aws: Any, event: dict) -> str | None:
    """Why an S3 event cannot be delivered locally (its bucket or object is not there), else None.
    An event whose object changed since (another ETag) is delivered all the same: ResolveDataset ignores
    it, as on AWS."""
    if event.get("source") != "aws.s3":
        return None
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name")
    key = (detail.get("object") or {}).get("key")
    if bucket != aws.bucket:
        return (
            f"the event names bucket {bucket!r}, the local one is {aws.bucket!r}: edit its detail.bucket.name"
        )
    try:
        head = aws.client("s3").head_object(Bucket=bucket, Key=key)
    except Exception:  # noqa: BLE001
        dataset = key.split("/")[-2] if key and key.count("/") >= 2 else "ID"
        return (
            f"s3://{bucket}/{key} does not exist locally: upload the dataset first "
            f"(`stepwise run --data DIR --dataset-id {dataset}`)"
        )
    etag = (detail.get("object") or {}).get("etag")
    if etag and etag.strip('"') != head["ETag"].strip('"'):
        print(
            f"note: s3://{bucket}/{key} has changed since this event "
            f"(etag {etag}, now {head['ETag'].strip(chr(34))}): "
            "ResolveDataset will ignore it, as on AWS",
            file=sys.stderr,
        )
    return None


def _follow(aws: Any, started: list[str], args: argparse.Namespace) -> int:
    """Follow each execution started, save its summary; print and report the last one."""
    from stepwise.console.progress import ProgressPrinter
    from stepwise.console.summary import build_summary, sample_predictions

    if not started:
        _say(args, "No rule of the stack matched the event(s): nothing started (as on AWS)")
        return 1
    summary = None
    code = 0
    for arn in started:
        _say(args, f"Execution {arn.rsplit(':', 1)[1]}")
        printer = ProgressPrinter(stream=_err(args) if args.json else _out(args))
        try:
            described = aws.wait(arn, on_events=printer)
        except KeyboardInterrupt as interrupt:
            printer.finish()
            signal_name = "SIGTERM" if isinstance(interrupt, Terminated) else "Ctrl-C"
            print(f"\nInterrupted ({signal_name}): stopping the execution and its jobs…", file=_err(args))
            for other in started:
                with contextlib.suppress(Exception):
                    aws.stop(other, cause=f"Stopped by the user ({signal_name})")
            described = aws.wait(arn)
            code = 143 if isinstance(interrupt, Terminated) else 130
        printer.finish()
        summary = build_summary(aws.store, described, aws.history(arn))
        sample_predictions(aws, summary)
        aws.store.save_execution(
            described, aws.history(arn), summary=summary, parameters=aws.stack.parameters
        )
        if code in (130, 143):
            break
    if code == 0:
        code = 0 if summary["status"] == "SUCCEEDED" else 1
    _finish(aws.state_dir, summary, args)
    return code


def _finish(state_dir: Path, summary: dict, args: argparse.Namespace) -> None:
    """Write the run's report.html, print the summary."""
    from stepwise.console.report import write_run_report

    summary["report"] = str(write_run_report(state_dir, summary["execution"]))
    print_run_summary(summary, args)


def print_run_summary(summary: dict, args: argparse.Namespace) -> None:
    """A run's summary as `run`, `upload`, `approve` and `deploy` end, on either target: the
    stepwise.summary/1 document with --json, else the text."""
    from stepwise.console.summary import print_summary

    if getattr(args, "json", False):
        _print_json({"schema": "stepwise.summary/1", **summary}, args)
    else:
        print_summary(summary, _out(args))


# ================================================================================== runs, show, logs
def run_row(target: Any, record: dict) -> dict:
    """One line of `stepwise runs` (and `status`): from the run's saved summary, else built."""
    from stepwise.console.summary import build_summary

    execution = record["execution"]
    summary = record.get("summary") or build_summary(target, execution, record.get("events") or [])
    return {
        "name": execution["name"],
        "runId": (summary.get("run") or {}).get("id"),
        "status": execution["status"],
        "started": execution["startDate"],
        "endState": summary.get("endState"),
        "auc": (summary.get("metrics") or {}).get("auc"),
        "version": (summary.get("modelPackage") or {}).get("version"),
    }


def print_run_rows(rows: list[dict]) -> None:
    print(f"{'STARTED':<20} {'RUN':<24} {'STATUS':<10} {'ENDED IN':<20} {'AUC':>6} {'VERSION':>7}")
    for row in rows:
        auc = f"{row['auc']:.3f}" if isinstance(row["auc"], (int, float)) else "-"
        version = f"v{row['version']}" if row["version"] else "-"
        print(
            f"{str(row['started'])[:19]:<20} {row['runId'] or row['name'][:24]:<24} {row['status']:<10} "
            f"{str(row['endState'] or '-'):<20} {auc:>6} {version:>7}"
        )


def runs_command(args: argparse.Namespace) -> int:
    from stepwise.console.target import target_of

    target = target_of(args)
    rows = [run_row(target, record) for record in target.executions(args.limit or None)]
    if args.json:
        _print_json({"schema": "stepwise.runs/1", "runs": rows})
        return 0
    if not rows:
        print(f"No runs {target.where()}: `stepwise run` (or `stepwise upload`) starts one")
        return 0
    print_run_rows(rows)
    return 0


def _record(target: Any, run: str) -> dict:
    from stepwise.console.records import AmbiguousRun, run_label

    try:
        record = target.find_execution(run)
    except AmbiguousRun as error:
        raise UsageError(str(error)) from None
    if record is None:
        latest = ", ".join(run_label(r) for r in target.executions(3)) or "none yet"
        raise UsageError(f"no run {run!r} {target.where()} (latest: {latest}); `stepwise runs` lists them")
    return record


def show_command(args: argparse.Namespace) -> int:
    from stepwise.console.progress import print_timeline
    from stepwise.console.summary import build_summary, print_summary
    from stepwise.console.target import target_of

    target = target_of(args)
    record = _record(target, args.run)
    summary = record.get("summary") or build_summary(target, record["execution"], record["events"])
    if args.json:
        _print_json({"schema": "stepwise.run/1", **record, "summary": summary})
        return 0
    print(f"Execution {record['execution']['name']}: {record['execution']['status']}")
    parameters = record.get("parameters") or {}
    if parameters:
        print("  parameters    : " + ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())))
    print_timeline(record["events"])
    print_summary(summary, sys.stdout)
    return 0


def logs_command(args: argparse.Namespace) -> int:
    """The run's jobs' and functions' CloudWatch Logs (the state folder's, or the deployed stack's)."""
    from stepwise.console.logs import print_logs
    from stepwise.console.target import target_of

    target = target_of(args)
    return print_logs(target, _record(target, args.run), args.state, follow=args.follow)


# ================================================================================== registry
def registry_rows(target: Any) -> list[dict]:
    serving_urls = {record.get("ModelDataUrl"): name for name, record in target.serving().items()}
    rows = []
    for package in target.packages():
        metadata = package.get("metadata") or {}
        model = (package.get("container") or {}).get("ModelDataUrl")
        rows.append(
            {
                "group": package["group"],
                "version": package["version"],
                "arn": package["arn"],
                "approval": package["status"],
                "metric": metadata.get("metricName"),
                "value": float(metadata["metricValue"]) if metadata.get("metricValue") else None,
                "execution": metadata.get("executionName"),
                "runId": metadata.get("runId"),
                "servingOn": serving_urls.get(model),
                "modelDataUrl": model,
                "metadata": metadata,
            }
        )
    return rows


def registry_command(args: argparse.Namespace) -> int:
    from stepwise.console.target import target_of

    target = target_of(args)
    rows = registry_rows(target)
    if args.json:
        _print_json({"schema": "stepwise.registry/1", "packages": rows})
        return 0
    if not rows:
        print(f"The registry {target.where()} is empty: a run that passes the gate registers a model")
        return 0
    print(f"{'GROUP':<26} {'VERSION':>7}  {'APPROVAL':<22} {'METRIC':<14} {'RUN':<24} SERVES")
    for row in rows:
        metric = f"{row['metric']} {row['value']:.4f}" if row["value"] is not None else "-"
        serves = f"* {row['servingOn']}" if row["servingOn"] else ""
        print(
            f"{row['group']:<26} {'v' + str(row['version']):>7}  {row['approval']:<22} {metric:<14} "
            f"{row['runId'] or '-':<24} {serves}"
        )
    return 0


# ================================================================================== approve, deploy
def _package(target: Any, version: int, group: str | None) -> dict:
    found = target.packages()
    groups = sorted({p["group"] for p in found})
    if group is None:
        if len(groups) != 1:
            raise UsageError(f"give --group: the registry has {', '.join(groups) or 'no groups yet'}")
        group = groups[0]
    for package in found:
        if package["group"] == group and package["version"] == version:
            return package
    versions = ", ".join(str(p["version"]) for p in found if p["group"] == group) or "none"
    raise UsageError(f"{group} has no version {version} (versions: {versions}); see `stepwise registry`")


def approve_command(args: argparse.Namespace) -> int:
    """Approve a package, then what the cloud does: SageMaker sends a Model Package State Change event;
    the approval rule (on with ModelApprovalStatus=PendingManualApproval) starts the deploy run."""
    from stepwise.console.target import target_of

    target = target_of(args)
    package = _package(target, args.version, args.group)
    if package["status"] == "Approved":
        serving = {r.get("ModelDataUrl") for r in target.serving().values()}
        if (package.get("container") or {}).get("ModelDataUrl") in serving:
            raise UsageError(f"{package['group']} version {args.version} is Approved and serving already")
        raise UsageError(
            f"{package['group']} version {args.version} is Approved already but does not serve: "
            f"`stepwise deploy {args.version}` deploys it"
        )
    rule_on = target.parameters().get("ModelApprovalStatus") == "PendingManualApproval"
    with target.changing("approve", args) as change:
        before = change.executions_now()
        change.client("sagemaker").update_model_package(
            ModelPackageArn=package["arn"],
            ModelApprovalStatus="Approved",
            ApprovalDescription="Approved with stepwise approve",
        )
        _say(args, f"Approved {package['group']} version {args.version}")
        started = change.started_since(
            before, expect=1 if rule_on else 0, wait_seconds=change.delivery_seconds
        )
        if not started:
            _say(
                args,
                "No run started: the stack's approval rule is off (ModelApprovalStatus=Approved deploys "
                f"models itself). `stepwise deploy {args.version}` deploys this one.",
            )
            return 0
        return change.follow(started, args)


def deploy_command(args: argparse.Namespace) -> int:
    """Start the state machine with the package's approval event, as `aws stepfunctions start-execution`
    with that event would: the run deploys the package (a deploy that failed can be tried again)."""
    import uuid

    from stepwise.console.target import target_of
    from stepwise.emulator.eventbridge import model_package_event

    target = target_of(args)
    package = _package(target, args.version, args.group)
    if package["status"] != "Approved":
        raise UsageError(
            f"{package['group']} version {args.version} is {package['status']}: "
            f"`stepwise approve {args.version}` approves it (and deploys it)"
        )
    machine = target.outputs()["StateMachineArn"]
    _arn, _aws, _service, region, account, *_ = package["arn"].split(":")
    with target.changing("deploy", args) as change:
        described = change.client("sagemaker").describe_model_package(ModelPackageName=package["arn"])
        event = model_package_event(described, account=account, region=region)
        arn = change.client("stepfunctions").start_execution(
            stateMachineArn=machine, name=str(uuid.uuid4()), input=json.dumps(event)
        )["executionArn"]
        return change.follow([arn], args)
