"""The errors `stepwise serve` sends are read by botocore as the service's own: the same code and
message, whatever protocol the service's client speaks."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.parsers import create_parser

from stepwise.emulator.http_api import error_reply


@pytest.mark.parametrize("service", ["cloudwatch", "sagemaker", "stepfunctions", "s3", "iam", "sts", "logs"])
def test_an_error_reply_is_parsed_by_the_services_client(service: str) -> None:
    status, headers, body = error_reply(service, 400, "ValidationError", "the value is not allowed")
    client = botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    model = client.meta.service_model
    spoken = getattr(model, "resolved_protocol", None) or model.protocol  # what the client speaks
    operation = model.operation_model(model.operation_names[0])
    parsed = create_parser(spoken).parse(
        {"status_code": status, "headers": headers, "body": body}, operation.output_shape
    )
    assert parsed["Error"]["Code"] == "ValidationError"
    assert parsed["Error"]["Message"] == "the value is not allowed"
