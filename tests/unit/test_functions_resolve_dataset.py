"""resolve_dataset: which dataset an S3 upload or a schedule starts a run on, and is it complete."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import boto3
import pytest
from functions_support import FakeContext, layer, load_app, mocked_aws, sample_event

app = load_app("resolve_dataset")
BUCKET = "stepwise-data-123456789012"  # the bucket named in events/resolve_dataset.json


class Clock:
    """moto stamps LastModified with this clock, so tests decide the upload order."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 8, 0, 0)  # naive UTC, as moto stores it

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int = 1) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("moto.s3.models.utcnow", clock)
    return clock


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, clock: Clock):
    with mocked_aws(monkeypatch):
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def upload(s3, key: str, body: bytes = b"policy_id\n1\n") -> dict:
    """Put an object; returns the fields EventBridge's "Object Created" event carries about it."""
    response = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return {"key": key, "etag": response["ETag"].strip('"'), "version_id": response.get("VersionId")}


def on_upload(uploaded: dict) -> dict:
    return app.resolve_upload(BUCKET, "raw/", uploaded["key"], uploaded["etag"], uploaded["version_id"])


def scheduled_event() -> dict:
    return {
        "version": "0",
        "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-28T09:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/stepwise-retrain"],
        "detail": {},
    }


def test_one_file_alone_waits_for_the_other(s3, clock):
    result = on_upload(upload(s3, "raw/june/claims.csv"))

    assert result["ready"] is False
    assert "waiting for customers.csv" in result["reason"]
    assert result["datasetPrefix"] == "raw/june/"


def test_uploading_both_files_starts_exactly_one_run_the_later_upload(s3, clock):
    claims = upload(s3, "raw/june/claims.csv")
    clock.advance()
    customers = upload(s3, "raw/june/customers.csv")

    results = {name: on_upload(uploaded) for name, uploaded in (("claims", claims), ("customers", customers))}

    assert [name for name, result in results.items() if result["ready"]] == ["customers"]
    assert "raw/june/customers.csv" in results["claims"]["reason"]
    ready = results["customers"]
    assert ready["bucket"] == BUCKET
    assert ready["datasetPrefix"] == "raw/june/"
    assert ready["datasetId"] == "june"
    assert ready["s3Uri"] == f"s3://{BUCKET}/raw/june/"
    assert (ready["claimsKey"], ready["customersKey"]) == ("raw/june/claims.csv", "raw/june/customers.csv")
    assert (ready["claimsETag"], ready["customersETag"]) == (claims["etag"], customers["etag"])
    assert ready["trigger"] == "s3"


def test_the_later_upload_proceeds_whichever_file_it_is(s3, clock):
    customers = upload(s3, "raw/june/customers.csv")
    clock.advance()
    claims = upload(s3, "raw/june/claims.csv")

    assert on_upload(claims)["ready"] is True
    assert on_upload(customers)["ready"] is False


def test_uploads_in_the_same_second_are_ordered_by_key_name(s3, clock):
    claims = upload(s3, "raw/june/claims.csv")
    customers = upload(s3, "raw/june/customers.csv")

    assert (on_upload(claims)["ready"], on_upload(customers)["ready"]) == (False, True)


def test_reuploading_one_file_of_a_complete_dataset_starts_a_new_run(s3, clock):
    upload(s3, "raw/june/claims.csv")
    clock.advance()
    upload(s3, "raw/june/customers.csv")
    clock.advance()
    corrected = upload(s3, "raw/june/claims.csv", b"policy_id\n2\n")

    assert on_upload(corrected)["ready"] is True


def test_an_event_for_an_object_replaced_since_does_not_start_a_run(s3, clock):
    stale = upload(s3, "raw/june/customers.csv")
    upload(s3, "raw/june/claims.csv")
    clock.advance()
    upload(s3, "raw/june/customers.csv", b"policy_id\n3\n")

    result = on_upload(stale)

    assert result["ready"] is False
    assert "replaced" in result["reason"]


def test_versioned_bucket_reports_the_version_ids(s3, clock):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    claims = upload(s3, "raw/june/claims.csv")
    clock.advance()
    customers = upload(s3, "raw/june/customers.csv")

    result = on_upload(customers)

    assert result["ready"] is True
    assert (result["claimsVersionId"], result["customersVersionId"]) == (
        claims["version_id"],
        customers["version_id"],
    )
    assert customers["version_id"]


@pytest.mark.parametrize("key", ["raw/june/notes.txt", "raw/claims.csv", "raw/june/extra/claims.csv"])
def test_other_files_under_the_raw_prefix_are_not_datasets(s3, clock, key):
    result = on_upload(upload(s3, key))

    assert result["ready"] is False
    assert key in result["reason"]
    assert "claims.csv and customers.csv directly under raw/<dataset>/" in result["reason"]


def test_schedule_picks_the_latest_complete_dataset(s3, clock):
    upload(s3, "raw/april/claims.csv")
    upload(s3, "raw/april/customers.csv")
    clock.advance(60)
    upload(s3, "raw/may/customers.csv")
    clock.advance(60)
    upload(s3, "raw/may/claims.csv")  # may's newer file is newer than all of april's
    clock.advance(60)
    upload(s3, "raw/june/claims.csv")  # the newest upload, but june is incomplete
    clock.advance(60)
    upload(s3, "raw/april/notes.txt")

    result = app.resolve_latest(BUCKET, "raw")

    assert result["ready"] is True
    assert (result["datasetId"], result["datasetPrefix"], result["trigger"]) == (
        "may",
        "raw/may/",
        "schedule",
    )
    assert "of 2 complete" in result["reason"]


def test_schedule_without_a_complete_dataset_is_not_ready(s3, clock):
    upload(s3, "raw/june/claims.csv")

    result = app.resolve_latest(BUCKET, "raw/")

    assert result["ready"] is False
    assert f"no complete dataset under s3://{BUCKET}/raw/" in result["reason"]
    assert result["datasetId"] is None


def test_handler_with_the_sample_event(s3, clock):
    event = sample_event("resolve_dataset")
    upload(s3, "raw/2026-11-28/claims.csv")
    clock.advance()
    customers = upload(s3, event["event"]["detail"]["object"]["key"])
    event["event"]["detail"]["object"]["etag"] = customers["etag"]

    result = app.lambda_handler(event, FakeContext("resolve_dataset"))

    assert result["ready"] is True
    assert result["s3Uri"] == f"s3://{BUCKET}/raw/2026-11-28/"


def test_handler_accepts_the_eventbridge_event_at_the_top_level(s3, clock):
    upload(s3, "raw/june/claims.csv")
    upload(s3, "raw/june/customers.csv")
    event = {**scheduled_event(), "bucket": BUCKET, "rawPrefix": "raw/"}

    result = app.lambda_handler(event, FakeContext("resolve_dataset"))

    assert (result["ready"], result["datasetId"], result["trigger"]) == (True, "june", "schedule")


def test_schedule_takes_the_bucket_from_the_environment(s3, clock, monkeypatch):
    upload(s3, "raw/june/claims.csv")
    upload(s3, "raw/june/customers.csv")
    monkeypatch.setenv("STEPWISE_BUCKET", BUCKET)

    result = app.lambda_handler({"event": scheduled_event()}, FakeContext("resolve_dataset"))

    assert result["bucket"] == BUCKET
    assert result["ready"] is True


def test_schedule_without_a_bucket_is_a_clear_error(s3, clock):
    with pytest.raises(layer("events").InvalidEventError, match="'bucket' is required.*STEPWISE_BUCKET"):
        app.lambda_handler({"event": scheduled_event()}, FakeContext("resolve_dataset"))


def test_an_upload_to_another_bucket_is_not_this_pipelines_dataset(s3, clock):
    event = sample_event("resolve_dataset")
    event["bucket"] = "some-other-bucket"

    result = app.lambda_handler(event, FakeContext("resolve_dataset"))

    assert result["ready"] is False
    assert "reads datasets from some-other-bucket" in result["reason"]


def test_an_event_without_the_object_key_names_the_field(s3, clock):
    event = sample_event("resolve_dataset")
    del event["event"]["detail"]["object"]["key"]

    with pytest.raises(layer("events").InvalidEventError, match=r"detail\.object\.key': Field required"):
        app.lambda_handler(event, FakeContext("resolve_dataset"))


def test_an_event_of_another_kind_is_rejected_with_the_kinds_accepted(s3, clock):
    event = copy.deepcopy(sample_event("resolve_dataset"))
    event["event"]["detail-type"] = "Object Deleted"

    with pytest.raises(layer("events").InvalidEventError, match="'Object Created', 'Scheduled Event'"):
        app.lambda_handler(event, FakeContext("resolve_dataset"))


def test_a_forced_start_is_passed_on(s3) -> None:
    """A manual StartExecution with "force": true beside the event retrains inputs trained before."""
    claims = upload(s3, "raw/d/claims.csv")
    event = sample_event("resolve_dataset")
    event["event"]["detail"]["object"].update(key=claims["key"], etag=claims["etag"])
    assert app.lambda_handler(event, FakeContext("resolve_dataset"))["force"] is False
    event["event"]["force"] = True
    assert app.lambda_handler(event, FakeContext("resolve_dataset"))["force"] is True
