"""Does an event match an EventBridge event pattern? moto's EventBridge decides, as it does for rules.

template.yaml's rules start the state machine on S3 "Object Created" events of the two dataset files
and on SageMaker "Model Package State Change" events; local mode decides with the same patterns whether
an event starts a run, and the template tests check the sample events in events/ against them. The
matcher is moto's (`moto.events.models.EventPattern`: prefix, suffix, wildcard, anything-but, exists,
equals-ignore-case, numeric, $or, ...), the one its EventBridge applies to PutEvents: a pattern the
emulated EventBridge would refuse raises `InvalidEventPatternException`, as PutRule does on AWS.
"""

from __future__ import annotations

import json
from typing import Any


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when `event` matches `pattern` (raises moto's InvalidEventPatternException for a bad one)."""
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)
