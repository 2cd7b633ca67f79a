"""Local mode's costs, as ratios against a baseline measured in the same process.

    python bench/local_run.py                  # the tutorial data (../shared/data/tutorial), else generated
    python bench/local_run.py --data DIR --requests 200 --seconds 15
    python bench/local_run.py --part endpoint   # only part 1, the endpoint (a few seconds)

1. Endpoint: a model trained on the tutorial data (preprocess.py + the built-in XGBoost emulator with
   Stepwise's default hyperparameters) is deployed on an embedded AWS (CreateEndpoint → a real
   `xgboost_serving` process) and called through `stepwise serve` with a boto3 `sagemaker-runtime`
   client, exactly as an application would, with 1 and 1,000 test rows per request. The baseline is
   xgboost's in-process `Booster.predict(DMatrix(rows))` on the same rows, in this process, with one
   thread as the serving container uses (so the ratio is the cost of the endpoint path itself).
   Reported: p50 / p99 latency and rows/s of both, and endpoint / in-process ratios. Loops are bounded
   by a request count and a time budget per case. Where the endpoint's time goes: p50 of the same
   body POSTed with http.client (no boto3) to the runtime API, and straight to a model server of the
   same model (no runtime API hop).
2. Runs, side by side: the embedded AWS's start-up in a new process (first deploy: CreateStack; cached:
   the stack re-created from the state folder), then `stepwise run` on the data with IAM enforced and
   with --no-iam (each on a fresh state folder; the difference is what IAM costs a run), then a second
   run on the IAM folder (cached deploy, `--schedule --force` retrains). For each run: its wall time
   against its processing and training jobs' own start→end time (ProcessingStartTime→ProcessingEndTime,
   TrainingStartTime→TrainingEndTime of their Describe results in the execution history):
   overhead = (wall - jobs) / jobs, with the jobs' time as their sum and as the union of their
   intervals, and the share of the wall time spent outside any job. Then the same first run with the
   embedded AWS kept warm: `stepwise serve` already running on a deployed folder and
   `stepwise upload DATA --endpoint-url` timed (no start-up in the command). The per-call cost of an
   IAM decision is bench/iam_eval.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from processing import preprocess  # noqa: E402
from stepwise.config import DEFAULT_HYPERPARAMETERS, SPLIT_SEED, TEST_RATIO, VALIDATION_RATIO  # noqa: E402
from stepwise.containers import model_archive  # noqa: E402
from stepwise.containers.xgboost_algorithm import train  # noqa: E402

# `stepwise upload --endpoint-url` signs its requests, as boto3 does; they go to 127.0.0.1 only
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
TUTORIAL_DATA = REPO.parent / "shared" / "data" / "tutorial"
ROWS_PER_REQUEST = (1, 1000)
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def build_model(data_dir: Path, work: Path) -> tuple[xgb.Booster, np.ndarray]:
    """Preprocess the raw data and train as the pipeline does: (booster, test feature rows)."""
    out = work / "preprocessed"
    preprocess.run(str(data_dir), str(out), VALIDATION_RATIO, TEST_RATIO, SPLIT_SEED)
    train_rows = pd.read_csv(out / "train" / "train.csv", header=None).to_numpy(dtype=np.float32)
    booster = train(
        dict(DEFAULT_HYPERPARAMETERS),
        xgb.DMatrix(train_rows[:, 1:], label=train_rows[:, 0]),
        log=lambda _: None,
    )
    test = pd.read_csv(out / "test" / "test.csv").to_numpy(dtype=np.float32)[:, 1:]  # label first
    return booster, test


def model_tar_gz(booster: xgb.Booster) -> bytes:
    """The booster as the training job's model.tar.gz, packed by the same code as the emulator's."""
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        model_dir.mkdir()
        booster.save_model(str(model_dir / model_archive.MODEL_FILE))
        return model_archive.pack(model_dir, Path(scratch) / "model.tar.gz").read_bytes()


def rows_for(test: np.ndarray, count: int) -> np.ndarray:
    repeats = -(-count // len(test))
    return np.tile(test, (repeats, 1))[:count]


def to_csv(rows: np.ndarray) -> bytes:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()


def timed_pair(
    first, second, requests: int, seconds: float, block: int = 25
) -> tuple[list[float], list[float]]:
    """Latencies (s) of up to `requests` calls of each within `seconds`. The two alternate in blocks of
    `block` calls, so both see the same machine load, and the first call of each block (which can
    meet the other side's threads still spinning) is not counted."""
    latencies: tuple[list[float], list[float]] = ([], [])
    budget_end = time.perf_counter() + seconds
    while len(latencies[0]) < requests and time.perf_counter() < budget_end:
        for call, into in ((first, latencies[0]), (second, latencies[1])):
            call()  # warm-up
            for _ in range(block):
                start = time.perf_counter()
                call()
                into.append(time.perf_counter() - start)
    return latencies


def summary(latencies: list[float], rows: int) -> dict:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "requests": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "rows_per_s": rows * len(ordered) / sum(ordered),
    }


def wait_for_status(sagemaker, endpoint: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        if status not in ("Creating", "Updating"):
            return status
        time.sleep(0.05)
    raise SystemExit(f"the bench endpoint is still starting after {timeout} s")


def deploy_bench_endpoint(state: Path, artifact: bytes) -> float:
    """CreateModel, CreateEndpointConfig, CreateEndpoint on a local stack (as its Deploy function does:
    the model in the stack's bucket, run as its SageMaker role; the bench measures the serving path, not
    IAM: enforcement is off); returns CreateEndpoint → InService seconds."""
    from stepwise.emulator.aws import EmbeddedAWS

    with EmbeddedAWS(state, enforce_iam=False) as aws:
        sagemaker, s3 = aws.client("sagemaker"), aws.client("s3")
        bucket, role = aws.bucket, aws.stack.outputs["SageMakerExecutionRoleArn"]
        s3.put_object(Bucket=bucket, Key="runs/bench/model.tar.gz", Body=artifact)
        sagemaker.create_model(
            ModelName="bench",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/runs/bench/model.tar.gz"},
            ExecutionRoleArn=role,
        )
        variant = {"VariantName": "AllTraffic", "ModelName": "bench", "InitialInstanceCount": 1}
        sagemaker.create_endpoint_config(
            EndpointConfigName="bench", ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
        )
        started = time.perf_counter()
        sagemaker.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
        status = wait_for_status(sagemaker, "bench")
        if status != "InService":
            raise SystemExit(f"the bench endpoint did not start: {status}")
        return time.perf_counter() - started


@contextlib.contextmanager
def listening(what: str, command: list[str]) -> Iterator[int]:
    """Run `command` (which takes `--port`) in a process of its own until the block ends: its port, once
    its first line of output says it listens there."""
    from stepwise.emulator.sagemaker.endpoints import free_port

    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        banner = process.stdout.readline()
        if f"127.0.0.1:{port}" not in banner:
            raise SystemExit(f"{what} did not start: {banner}{process.stderr.read()}")
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def model_server(booster: xgb.Booster, work: Path) -> contextlib.AbstractContextManager[int]:
    """The endpoint's model server process for `booster`, started by hand (no runtime API): its port."""
    model_dir = work / "model-server"
    model_dir.mkdir()
    booster.save_model(str(model_dir / model_archive.MODEL_FILE))
    command = [sys.executable, "-m", "stepwise.containers.xgboost_serving", "--model-dir", str(model_dir)]
    return listening("the model server", command)


def server_steps(booster: xgb.Booster, body: bytes, calls: int = 200) -> dict[str, float]:
    """p50 ms of the model server's own steps for `body`, run in this process with its functions."""
    from stepwise.containers import xgboost_serving as serving

    features = serving.parse_csv(body, booster.num_features())
    predictions = booster.inplace_predict(features)
    steps = {
        "parse_csv": lambda: serving.parse_csv(body, booster.num_features()),
        "predict": lambda: booster.inplace_predict(features),
        "encode": lambda: serving.encode_predictions(predictions, serving.CSV),
    }
    medians = {}
    for name, step in steps.items():
        step()
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        medians[name] = statistics.median(times) * 1000
    return medians


def raw_post(port: int, path: str, body: bytes) -> Callable[[], bytes]:
    """A call that POSTs `body` as text/csv with http.client on one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call() -> bytes:
        connection.request("POST", path, body=body, headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise SystemExit(f"POST {path} answered {response.status}: {payload[:500]!r}")
        return payload

    return call


def stepwise_serve(state: Path) -> contextlib.AbstractContextManager[int]:
    """`stepwise serve` on the state folder, in a process of its own, as a user runs it: its port."""
    command = [sys.executable, "-m", "stepwise.cli", "serve", "--state-dir", str(state)]
    return listening("stepwise serve", command)


def endpoint_latency(data_dir: Path, requests: int, seconds: float) -> dict:
    """Endpoint (`stepwise serve` → model server) against in-process predict, for 1 and 1,000 rows per
    request."""
    from stepwise.console.serving import runtime_client

    with tempfile.TemporaryDirectory(prefix="stepwise-bench-") as scratch:
        work = Path(scratch)
        booster, test = build_model(data_dir, work)
        # one thread, as the serving container predicts: the ratio is then the cost of the endpoint path
        # (HTTP, CSV, gateway), not of a different thread count on a shared machine
        booster.set_param({"nthread": 1})
        results: dict = {"features": int(test.shape[1]), "cases": {}}
        state = work / ".stepwise"
        # CreateEndpoint → InService: the model server's start-up (polled every 0.05 s)
        results["creating_s"] = deploy_bench_endpoint(state, model_tar_gz(booster))
        with stepwise_serve(state) as port, model_server(booster, work) as server_port:
            client = runtime_client(port)
            for count in ROWS_PER_REQUEST:
                rows = rows_for(test, count)
                body = to_csv(rows)
                expected = booster.predict(xgb.DMatrix(rows))

                def through_endpoint(body: bytes = body) -> bytes:
                    answer = client.invoke_endpoint(EndpointName="bench", ContentType="text/csv", Body=body)
                    return answer["Body"].read()

                served = np.array(through_endpoint().split(b","), dtype=np.float32)
                if not np.array_equal(served, expected):
                    raise SystemExit("the endpoint's predictions differ from in-process predict")

                def in_process(rows: np.ndarray = rows) -> np.ndarray:
                    return booster.predict(xgb.DMatrix(rows, nthread=1))

                served_times, local_times = timed_pair(through_endpoint, in_process, requests, seconds)
                endpoint, local = summary(served_times, count), summary(local_times, count)
                api_times, server_times = timed_pair(
                    raw_post(port, "/endpoints/bench/invocations", body),
                    raw_post(server_port, "/invocations", body),
                    requests,
                    seconds,
                )
                steps = server_steps(booster, body)
                results["cases"][f"{count}_rows"] = {
                    "model_server_steps_p50_ms": steps,
                    "endpoint": endpoint,
                    "in_process": local,
                    # where the endpoint's time goes: without boto3, and without the runtime API's hop
                    "raw_http_runtime_api_p50_ms": statistics.median(api_times) * 1000,
                    "raw_http_model_server_p50_ms": statistics.median(server_times) * 1000,
                    "p50_ratio": endpoint["p50_ms"] / local["p50_ms"],
                    "p99_ratio": endpoint["p99_ms"] / local["p99_ms"],
                    "throughput_ratio": endpoint["rows_per_s"] / local["rows_per_s"],
                }
    return results


JOB_TIMES = {
    "ProcessingJobName": ("ProcessingStartTime", "ProcessingEndTime"),
    "TrainingJobName": ("TrainingStartTime", "TrainingEndTime"),
}


def job_intervals(events: list[dict]) -> dict[str, tuple[float, float]]:
    """{job name: (start, end) epoch seconds} from the .sync tasks' results in an execution history."""
    from datetime import datetime

    jobs = {}
    for event in events:
        if event["type"] != "TaskSucceeded":
            continue
        output = json.loads(event["taskSucceededEventDetails"].get("output") or "{}")
        for name_key, (start_key, end_key) in JOB_TIMES.items():
            if name_key in output and start_key in output and end_key in output:
                start = datetime.fromisoformat(output[start_key]).timestamp()
                jobs[output[name_key]] = (start, datetime.fromisoformat(output[end_key]).timestamp())
    return jobs


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _epoch(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def timed_run(state: Path, *arguments: str) -> dict:
    """Wall time of one `stepwise run` (a new process, as a user runs it) against its jobs' own time: the
    processing and training jobs' start→end, from the executions' histories in the state folder.
    Overhead is (wall - jobs) / jobs with the jobs' time as their sum and as their union;
    `outside_jobs_share` is (wall - union) / wall."""
    command = [sys.executable, "-m", "stepwise.cli", "run", "--state-dir", str(state), *arguments]
    return timed_command(state, command, " ".join(["stepwise", "run", *arguments]))


def timed_command(
    state: Path, command: list[str], label: str, before_reading: Callable[[], None] | None = None
) -> dict:
    """`timed_run` for any command that runs the pipeline on the stack of `state`; `before_reading`
    runs after it and before the executions' records are read (stopping a `stepwise serve` of the
    folder, which saves them as it stops)."""
    from stepwise.emulator.store import Store

    known = {r["execution"]["name"] for r in Store(state).executions()} if state.exists() else set()
    environment = {**os.environ, **FAKE_CREDENTIALS}  # only ever sent to 127.0.0.1
    started_at, started = time.time(), time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=900, env=environment)
    wall = time.perf_counter() - started
    if before_reading is not None:
        before_reading()
    if finished.returncode != 0:
        output = finished.stdout[-2000:] + finished.stderr[-2000:]
        raise SystemExit(f"{label} failed ({finished.returncode}):\n{output}")
    records = [r for r in Store(state, create=False).executions() if r["execution"]["name"] not in known]
    intervals: dict[str, tuple[float, float]] = {}
    for record in records:
        intervals.update(job_intervals(record["events"]))
    first = min(_epoch(r["execution"]["startDate"]) for r in records)
    last = max(_epoch(r["execution"]["stopDate"]) for r in records)
    jobs_union = union_seconds(list(intervals.values()))
    jobs_sum = sum(end - start for start, end in intervals.values())
    return {
        "command": label,
        "wall_s": wall,
        # where the wall time goes outside the executions: process start, deploy, upload / save, report
        "before_first_execution_s": first - started_at,
        "executions_s": last - first,
        "after_last_execution_s": started_at + wall - last,
        "jobs": {name: end - start for name, (start, end) in sorted(intervals.items())},
        "jobs_union_s": jobs_union,
        "jobs_sum_s": jobs_sum,
        "overhead_vs_sum": (wall - jobs_sum) / jobs_sum,
        "overhead_vs_union": (wall - jobs_union) / jobs_union,
        "outside_jobs_share": (wall - jobs_union) / wall,
    }


def warm_run(state: Path, data_dir: Path) -> dict:
    """The first run with the embedded AWS already running: the stack deployed in a new folder,
    `stepwise serve` started on it, then `stepwise upload DATA --endpoint-url` timed as a user would
    type it while serve runs (the same pipeline work as a first `stepwise run`)."""
    deploy(state)
    with contextlib.ExitStack() as serving:
        port = serving.enter_context(stepwise_serve(state))
        command = [sys.executable, "-m", "stepwise.cli", "upload", str(data_dir)]
        command += ["--endpoint-url", f"http://127.0.0.1:{port}"]
        label = "stepwise upload DATA --endpoint-url (stepwise serve already running)"
        return timed_command(state, command, label, before_reading=serving.close)


DEPLOY = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from stepwise.emulator.aws import EmbeddedAWS
aws = EmbeddedAWS(Path(sys.argv[1]))
t1 = time.perf_counter()
aws.start()
t2 = time.perf_counter()
aws.close()
print(json.dumps({"import_s": t1 - t0, "start_s": t2 - t1}))
"""


def deploy(folder: Path) -> dict:
    """Start the embedded AWS of `folder` in a new process (deploying its stack the first time):
    {import_s, start_s}."""
    out = subprocess.run(
        [sys.executable, "-c", DEPLOY, str(folder)], cwd=REPO, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"the embedded AWS did not start:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def deploy_times(state: Path, rounds: int = 3) -> dict:
    """Starting the embedded AWS in a new process: the first time (CreateStack: package, transform,
    create every resource, run the custom resource) and later (the stack re-created from the state
    folder, nothing changed: no update). Medians of `rounds` fresh folders / restarts."""
    first, cached = [], []
    for round_ in range(rounds):
        folder = state / f"deploy-{round_}"
        for into in (first, cached, cached):
            into.append(deploy(folder))
    return {
        "import_s": statistics.median(t["import_s"] for t in first + cached),
        "first_deploy_s": statistics.median(t["start_s"] for t in first),
        "cached_start_s": statistics.median(t["start_s"] for t in cached),
    }


def orchestration(data_dir: Path, rounds: int) -> dict:
    """Side by side on fresh state folders, `rounds` times in alternating order: the first run with IAM
    enforced and with --no-iam (their difference is what enforcing IAM costs a whole run); then a
    second run on an IAM folder (a cached deploy; `--schedule --force` retrains the same data); and
    the embedded AWS's start-up alone. Each figure is the median over rounds."""
    with tempfile.TemporaryDirectory(prefix="stepwise-bench-run-") as scratch:
        work = Path(scratch)
        results: dict = {"deploy": deploy_times(work)}
        firsts: dict[str, list[dict]] = {"first_run": [], "first_run_no_iam": []}
        seconds: list[dict] = []
        warms: list[dict] = []
        for round_ in range(rounds):
            order = ["first_run", "first_run_no_iam"]
            for key in order if round_ % 2 == 0 else reversed(order):
                extra = ["--no-iam"] if key == "first_run_no_iam" else []
                firsts[key].append(timed_run(work / f"{key}-{round_}", "--data", str(data_dir), *extra))
            seconds.append(timed_run(work / f"first_run-{round_}", "--schedule", "--force"))
            warms.append(warm_run(work / f"warm-{round_}", data_dir))
    for key, runs in firsts.items():
        results[key] = median_run(runs)
    results["second_run"] = median_run(seconds)
    results["warm_first_run"] = median_run(warms)
    results["rounds"] = rounds
    results["iam_share_of_wall"] = (
        results["first_run"]["wall_s"] - results["first_run_no_iam"]["wall_s"]
    ) / results["first_run"]["wall_s"]
    return results


def median_run(runs: list[dict]) -> dict:
    """The run whose wall time is the median (the lower one of an even count), with every wall time."""
    ordered = sorted(runs, key=lambda run: run["wall_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["walls_s"] = [run["wall_s"] for run in runs]
    return chosen


def print_table(results: dict) -> None:
    print(
        f"Endpoint vs in-process predict ({results['features']} features); ratios are endpoint / in-process"
    )
    if "creating_s" in results:
        print(f"CreateEndpoint to InService: {results['creating_s']:.2f} s (the model server's start-up)")
    header = f"{'rows/request':>12} {'':>10} {'p50 ms':>9} {'p99 ms':>9} {'rows/s':>12}"
    print(header)
    for case, values in results["cases"].items():
        for side in ("endpoint", "in_process"):
            v = values[side]
            label = case.split("_")[0] if side == "endpoint" else ""
            print(f"{label:>12} {side:>10} {v['p50_ms']:9.3f} {v['p99_ms']:9.3f} {v['rows_per_s']:12.0f}")
        print(
            f"{'':>12} {'ratio':>10} {values['p50_ratio']:9.1f} {values['p99_ratio']:9.1f} "
            f"{values['throughput_ratio']:12.3f}"
        )
        print(
            f"{'':>12} p50 without boto3 (http.client to the runtime API) "
            f"{values['raw_http_runtime_api_p50_ms']:.3f} ms, straight to the model server "
            f"{values['raw_http_model_server_p50_ms']:.3f} ms"
        )
        steps = ", ".join(f"{name} {ms:.3f} ms" for name, ms in values["model_server_steps_p50_ms"].items())
        print(f"{'':>12} the model server's steps, in process: {steps}")


def print_runs(results: dict) -> None:
    deploy = results["deploy"]
    print(
        f"embedded AWS start-up (new process): first deploy {deploy['first_deploy_s']:.2f} s, "
        f"cached {deploy['cached_start_s']:.2f} s (+ import {deploy['import_s']:.2f} s)"
    )
    for key in ("first_run", "first_run_no_iam", "second_run", "warm_first_run"):
        run = results[key]
        walls = ", ".join(f"{wall:.1f}" for wall in run["walls_s"])
        print(f"{run['command']} (wall times {walls} s; the median run:)")
        print(
            f"  wall {run['wall_s']:.1f} s; jobs {run['jobs_sum_s']:.1f} s (sum), "
            f"{run['jobs_union_s']:.1f} s (union); overhead (wall - jobs) / jobs "
            f"{run['overhead_vs_sum']:.0%} of the sum, {run['overhead_vs_union']:.0%} of the union; "
            f"{run['outside_jobs_share']:.0%} of the wall time is outside any job"
        )
        print(
            f"  before the first execution {run['before_first_execution_s']:.1f} s, executions "
            f"{run['executions_s']:.1f} s, after the last {run['after_last_execution_s']:.1f} s"
        )
        for name, seconds in run["jobs"].items():
            print(f"    {name}: {seconds:.2f} s")
    print(
        "IAM enforcement, (median wall with IAM - without) / with: "
        f"{results['iam_share_of_wall']:.1%} of the first run's wall time"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="folder with claims.csv and customers.csv")
    parser.add_argument("--requests", type=int, default=300, help="max requests per case (default 300)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time budget per case (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind (default 2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--part", choices=["all", "endpoint", "run"], default="all", help="what to measure")
    args = parser.parse_args(argv)
    data_dir = args.data
    with tempfile.TemporaryDirectory(prefix="stepwise-bench-data-") as scratch:
        if data_dir is None:
            if (TUTORIAL_DATA / "claims.csv").is_file():
                data_dir = TUTORIAL_DATA
            else:
                from stepwise.data import generate_dataset

                data_dir = Path(scratch)
                generate_dataset(rows=5000, seed=0, out_dir=data_dir)
        results = {"data": str(data_dir)}
        if args.part in ("all", "endpoint"):
            results["endpoint"] = endpoint_latency(data_dir, args.requests, args.seconds)
        if args.part in ("all", "run"):
            results["run"] = orchestration(data_dir, args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"data: {results['data']}")
    if "endpoint" in results:
        print_table(results["endpoint"])
    if "run" in results:
        print_runs(results["run"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
