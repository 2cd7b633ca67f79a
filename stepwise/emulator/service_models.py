"""botocore's service models, loaded once per process for every part of the emulator that reads them.

The request gate's IAM resolution (iam.py), its request limits (validation.py) and the HTTP API's
routing (http_api.py) all read the same models. Each botocore session parses a service's JSON again
(sagemaker's alone is about 40 ms), so they share this one session instead of one each.
"""

from __future__ import annotations

import functools
import threading

import botocore.session
from botocore.model import ServiceModel

_lock = threading.Lock()  # botocore's loader is not meant to be entered by two threads at once


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of `service` (its botocore name: `sagemaker`, `stepfunctions`...); raises
    botocore's UnknownServiceError for a name botocore does not know."""
    with _lock:
        return _session().get_service_model(service)


def protocol(service: str) -> str:
    """The protocol a botocore client of `service` speaks: the model's resolved one (CloudWatch's model
    lists smithy-rpc-v2-cbor first, yet botocore's client speaks json), else the model's own."""
    model = service_model(service)
    return str(getattr(model, "resolved_protocol", None) or model.protocol)
