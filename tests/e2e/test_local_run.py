"""`stepwise run` end to end, as a user runs it: the real state machine, jobs, Lambdas and endpoint.

Each test gets its own state folder. They take minutes on two cores: marked slow.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from e2e_support import (
    bucket_objects,
    popen_stepwise,
    processes_under,
    registered,
    s3_bytes,
    sigint_default_in_children,
    stored,
    summary_of,
    wait_for_process,
)

pytestmark = pytest.mark.slow


def _states(summary: dict) -> list[str]:
    return [state["name"] for state in summary["states"]]


def _feature_rows(state_dir: Path, run_id: str, count: int = 20) -> str:
    """`count` feature rows (label dropped) of a run's test split, as a user would send them."""
    from stepwise.console.records import bucket_of

    bucket = bucket_of(stored(state_dir))
    text = s3_bytes(state_dir, f"s3://{bucket}/runs/{run_id}/preprocess/test/test.csv").decode()
    rows = list(csv.reader(text.splitlines()))[1 : count + 1]
    return "\n".join(",".join(row[1:]) for row in rows) + "\n"


def _predictions(output: str) -> list[float]:
    return [float(line) for line in output.split()]


def _s3_json(state_dir: Path, uri: str) -> dict:
    return json.loads(s3_bytes(state_dir, uri))


def _facet_metrics(analysis: dict, stage: str) -> list[dict]:
    (facets,) = analysis[stage]["facets"].values()
    return facets[0]["metrics"]


def test_tutorial_then_generated_data_deploy_and_serve(stepwise, tutorial_data: Path, tmp_path: Path) -> None:
    """Two runs on one state folder: the second sees the first's model as the champion, registers
    version 2 and updates the endpoint; `stepwise invoke` reaches the model serving after each."""
    state = tmp_path / "state"

    first = stepwise("run", "--state-dir", str(state), "--data", str(tutorial_data), "--json")
    summary = summary_of(first)
    assert first.returncode == 0, summary.get("failure")
    assert summary["status"] == "SUCCEEDED"
    assert _states(summary)[-1] == "Succeeded"
    assert summary["gate"]["passed"] is True
    assert summary["metrics"]["auc"] >= 0.7
    assert {"DPPL", "DI"} <= set(summary["bias"])
    assert len(summary["topFeatures"]) == 5
    assert summary["modelPackage"]["version"] == 1
    endpoint = summary["endpoint"]
    assert endpoint["status"] == "InService"
    assert all(0.0 <= s["probability"] <= 1.0 for s in endpoint["samplePredictions"])

    reports = registered(state)[0]["ModelMetrics"]
    bias = _s3_json(state, reports["Bias"]["Report"]["S3Uri"])
    assert {"DPPL", "DI"} <= {m["name"] for m in _facet_metrics(bias, "post_training_bias_metrics")}
    explainability = _s3_json(state, reports["Explainability"]["Report"]["S3Uri"])
    assert len(explainability["explanations"]["kernel_shap"]["label0"]["global_shap_values"]) == 48

    again = summary_of(stepwise("run", "--state-dir", str(state), "--data", str(tutorial_data), "--json"))
    assert again["endState"] == "AlreadyRegistered", "identical data must not train a second time"
    assert again["run"]["modelPackageVersion"] == 1 and "version 1" in again["run"]["reason"]
    assert len(registered(state)) == 1

    rows = _feature_rows(state, summary["run"]["id"])
    invoked = stepwise("invoke", "--state-dir", str(state), input=rows)
    assert invoked.returncode == 0, invoked.stderr
    first_predictions = _predictions(invoked.stdout)
    assert len(first_predictions) == 20 and all(0.0 <= p <= 1.0 for p in first_predictions)

    second = stepwise("run", "--state-dir", str(state), "--json")  # generated data (5,000 rows)
    summary2 = summary_of(second)
    assert second.returncode == 0, summary2.get("failure")
    assert summary2["modelPackage"]["version"] == 2, "the second run must see the first run's registry"
    assert "serving model" in summary2["gate"].get("reason", ""), summary2["gate"]
    assert summary2["endpoint"]["status"] == "InService"
    assert summary2["endpoint"]["config"] != endpoint["config"], "the endpoint was not updated"

    invoked2 = stepwise("invoke", "--state-dir", str(state), input=rows)
    assert invoked2.returncode == 0, invoked2.stderr
    assert len(_predictions(invoked2.stdout)) == 20
    assert _predictions(invoked2.stdout) != first_predictions, "still served by the first model"

    runs = stepwise("runs", "--state-dir", str(state), "--json")
    listed = json.loads(runs.stdout)
    assert listed["schema"] == "stepwise.runs/1"
    finished = [r for r in listed["runs"] if r["endState"] == "Succeeded"]
    assert [r["version"] for r in finished] == [2, 1], "newest first"
    registry = stepwise("registry", "--state-dir", str(state))
    assert "v1" in registry.stdout and "v2" in registry.stdout


def _deploy(stepwise, state: Path, data: Path) -> dict:
    result = stepwise("run", "--state-dir", str(state), "--data", str(data), "--json")
    summary = summary_of(result)
    assert result.returncode == 0, summary.get("failure")
    return summary


def test_bad_raw_data_fails_with_the_jobs_message_and_changes_nothing(
    stepwise, tutorial_data: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    good = _deploy(stepwise, state, tutorial_data)
    raw_before, registry_before = bucket_objects(state, "raw/"), registered(state)
    rows = _feature_rows(state, good["run"]["id"], count=5)
    served_before = _predictions(stepwise("invoke", "--state-dir", str(state), input=rows).stdout)

    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(tutorial_data / "customers.csv", bad / "customers.csv")
    with open(tutorial_data / "claims.csv") as source, open(bad / "claims.csv", "w", newline="") as target:
        reader, writer = csv.DictReader(source), None
        for row in reader:
            row.pop("incident_severity")
            if writer is None:
                writer = csv.DictWriter(target, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)

    result = stepwise("run", "--state-dir", str(state), "--data", str(bad), "--json")
    summary = summary_of(result)
    assert result.returncode == 1
    assert summary["status"] == "FAILED"
    failure = summary["failure"]
    assert failure["state"] == "Preprocess"
    assert failure["error"] == "States.TaskFailed"
    assert "incident_severity" in failure["cause"], failure["cause"]
    assert any(Path(log).is_file() and "preprocess" in log for log in failure["logs"]), failure
    assert "NotifyFailure" in _states(summary)

    raw_after = bucket_objects(state, "raw/")
    assert {k: v for k, v in raw_after.items() if k in raw_before} == raw_before, "earlier raw data changed"
    assert registered(state) == registry_before
    assert _predictions(stepwise("invoke", "--state-dir", str(state), input=rows).stdout) == served_before


def test_ctrl_c_stops_the_execution_and_its_jobs(stepwise, tutorial_data: Path, tmp_path: Path) -> None:
    import signal

    state = tmp_path / "state"
    with sigint_default_in_children():  # as a terminal starts it, whatever started these tests
        process = popen_stepwise("run", "--state-dir", str(state), "--data", str(tutorial_data))
    wait_for_process(state, "-train-", exclude=process.pid)  # the training job is running
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130, rest
    assert "ABORTED" in rest
    assert processes_under(state) == [], "a job process outlived Ctrl-C"

    runs = json.loads(stepwise("runs", "--state-dir", str(state), "--json").stdout)["runs"]
    assert runs[0]["status"] == "ABORTED"
    assert stored(state).executions()[-1]["execution"]["status"] == "ABORTED", "the record was not saved"


MANUAL = "ModelApprovalStatus=PendingManualApproval"


def test_manual_approval_then_approve_deploys(stepwise, tutorial_data: Path, tmp_path: Path) -> None:
    from stepwise.console.records import serving_versions

    state = tmp_path / "state"
    args = ("--state-dir", str(state), "--json")
    pending = summary_of(
        stepwise("run", "--data", str(tutorial_data), "--parameter-overrides", MANUAL, *args)
    )
    assert pending["status"] == "SUCCEEDED" and pending["endState"] == "AwaitingApproval"
    assert pending["modelPackage"]["approval"] == "PendingManualApproval"
    assert "endpoint" not in pending
    assert serving_versions(stored(state)) == {}, "nothing may serve before the approval"

    approved = stepwise("approve", "1", *args)
    summary = summary_of(approved)
    assert approved.returncode == 0, summary.get("failure")
    assert (
        _states(summary)[0] == "Route"
        and "Deploy" in _states(summary)
        and "Preprocess" not in _states(summary)
    )
    assert summary["modelPackage"] == {**pending["modelPackage"], "approval": "Approved"}
    assert summary["endpoint"]["status"] == "InService"

    shown = stepwise("show", summary["execution"], "--state-dir", str(state))
    assert shown.returncode == 0 and "Deploy" in shown.stdout and "SmokeTest" in shown.stdout
    again = stepwise("approve", "1", *args)
    assert again.returncode == 2 and "is Approved and serving already" in again.stderr

    # The schedule on unchanged data is a no-op that names the version it matched
    scheduled = summary_of(stepwise("run", "--schedule", *args))
    assert scheduled["status"] == "SUCCEEDED" and scheduled["endState"] == "AlreadyRegistered"
    assert scheduled["run"]["modelPackageVersion"] == 1
    assert json.loads(scheduled_input(state, scheduled["execution"]))["detail-type"] == "Scheduled Event"
    # --force retrains the latest dataset (each deploy gives its parameters, as sam deploy does)
    forced = summary_of(stepwise("run", "--schedule", "--force", "--parameter-overrides", MANUAL, *args))
    assert forced["status"] == "SUCCEEDED" and forced["endState"] == "AwaitingApproval"
    assert forced["modelPackage"]["version"] == 2


def scheduled_input(state: Path, execution: str) -> str:
    (record,) = [r for r in stored(state).executions() if r["execution"]["name"] == execution]
    return record["execution"]["input"]
