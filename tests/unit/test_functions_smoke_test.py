"""smoke_test: real test rows to the endpoint, one probability per row back."""

from __future__ import annotations

import json

import boto3
import pytest
from functions_support import (
    FakeContext,
    layer,
    load_app,
    mocked_aws,
    queue_endpoint_results,
    sample_event,
)

app = load_app("smoke_test")
BUCKET = "stepwise-data-123456789012"
ENDPOINT = "stepwise-fraud-detection"
TEST_KEY = "runs/7b1f5c2e-3f4a-4d8e-9c61-2a5b8f0e9d13/preprocess/test/test.csv"  # as in the sample event
TEST_URI = f"s3://{BUCKET}/{TEST_KEY}"


def make_test_csv(rows: int) -> str:
    """test.csv as Preprocess writes it: a header, the label `fraud` first, then the features."""
    lines = ["fraud,customer_age,total_claim_amount"]
    lines += [f"{row % 2},{30 + row},{1000.5 + row}" for row in range(rows)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    with mocked_aws(monkeypatch):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=TEST_KEY, Body=make_test_csv(25).encode())
        yield


def run(rows: int = 20) -> dict:
    return app.smoke_test(app.SmokeTestEvent(endpoint_name=ENDPOINT, test_data_uri=TEST_URI, rows=rows))


def probabilities(count: int) -> list[float]:
    return [round(0.05 * (index % 20), 2) for index in range(count)]


def record_requests() -> list[dict]:
    """The InvokeEndpoint requests the function's client sends, seen through botocore's event hooks."""
    sent: list[dict] = []
    runtime = layer("aws").client("sagemaker-runtime")
    runtime.meta.events.register(
        "provide-client-params.sagemaker-runtime.InvokeEndpoint",
        lambda params, **_: sent.append(dict(params)),
    )
    return sent


def test_sends_features_without_header_or_label_and_checks_the_answer(aws):
    expected = probabilities(20)
    queue_endpoint_results(("\n".join(map(str, expected)) + "\n", "text/csv"))
    sent = record_requests()

    result = run()

    assert result == {"endpointName": ENDPOINT, "rows": 20, "predictions": expected, "passed": True}
    [request] = sent
    assert (request["EndpointName"], request["ContentType"], request["Accept"]) == (
        ENDPOINT,
        "text/csv",
        "text/csv",
    )
    assert request["Body"].decode().splitlines() == [f"{30 + row},{1000.5 + row}" for row in range(20)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (",".join(map(str, probabilities(20))), "text/csv"),
        (json.dumps({"predictions": probabilities(20)}), "application/json"),
        (json.dumps(probabilities(20)), "application/json; charset=utf-8"),
    ],
)
def test_accepts_comma_separated_csv_and_json(aws, body, content_type):
    queue_endpoint_results((body, content_type))

    assert run()["predictions"] == probabilities(20)


def test_a_short_test_file_sends_the_rows_it_has(aws):
    queue_endpoint_results(("\n".join(map(str, probabilities(25))), "text/csv"))

    assert run(rows=100)["rows"] == 25


def test_fails_on_a_wrong_number_of_predictions(aws):
    queue_endpoint_results(("\n".join(map(str, probabilities(19))), "text/csv"))

    with pytest.raises(app.SmokeTestFailed, match="sent 20 rows but got 19 predictions"):
        run()


def test_fails_on_values_outside_zero_to_one(aws):
    values = probabilities(20)
    values[3], values[7] = 1.5, -0.2
    queue_endpoint_results((",".join(map(str, values)), "text/csv"))

    with pytest.raises(
        app.SmokeTestFailed, match=r"2 predictions are not probabilities in \[0, 1\]: row 3: 1.5, row 7"
    ):
        run()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("0.1,0.2,oops," + ",".join(["0.5"] * 17), "text/csv"),
        (json.dumps({"predictions": [0.1, 0.2, "oops"] + [0.5] * 17}), "application/json"),
        (json.dumps({"predictions": [0.1, 0.2, True] + [0.5] * 17}), "application/json"),
    ],
)
def test_fails_on_non_numeric_predictions(aws, body, content_type):
    queue_endpoint_results((body, content_type))

    with pytest.raises(app.SmokeTestFailed, match="prediction 2 is not a number"):
        run()


def test_fails_on_nan(aws):
    queue_endpoint_results((",".join(["nan"] + ["0.5"] * 19), "text/csv"))

    with pytest.raises(app.SmokeTestFailed, match="row 0: nan"):
        run()


def test_fails_on_json_of_the_wrong_shape(aws):
    queue_endpoint_results((json.dumps({"scores": probabilities(20)}), "application/json"))

    with pytest.raises(app.SmokeTestFailed, match="expected a list or"):
        run()


def test_a_test_file_with_only_a_header_fails_clearly(aws):
    boto3.client("s3").put_object(Bucket=BUCKET, Key=TEST_KEY, Body=b"fraud,customer_age\n")

    with pytest.raises(app.SmokeTestFailed, match="has no data rows below its header"):
        run()


def test_handler_with_the_sample_event(aws):
    queue_endpoint_results(("\n".join(map(str, probabilities(20))), "text/csv"))

    result = app.lambda_handler(sample_event("smoke_test"), FakeContext("smoke_test"))

    assert (result["passed"], result["rows"], len(result["predictions"])) == (True, 20, 20)


def test_handler_raises_the_named_failure(aws):
    queue_endpoint_results(("0.5", "text/csv"))

    with pytest.raises(app.SmokeTestFailed):
        app.lambda_handler(sample_event("smoke_test"), FakeContext("smoke_test"))


def test_bad_events_name_the_field(aws):
    invalid = layer("events").InvalidEventError

    with pytest.raises(invalid, match="field 'rows': Input should be greater than or equal to 1"):
        app.lambda_handler({**sample_event("smoke_test"), "rows": 0}, FakeContext("smoke_test"))
    with pytest.raises(invalid, match="field 'testDataUri': Field required"):
        app.lambda_handler({"endpointName": ENDPOINT}, FakeContext("smoke_test"))
