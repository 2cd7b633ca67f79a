"""Does an event match an EventBridge event pattern? The subset of the pattern syntax Stepwise uses.

template.yaml's rules start the state machine on S3 "Object Created" events under raw/ and on
SageMaker "Model Package State Change" events; local mode decides with the same patterns whether an
upload starts a run, and the template tests check the sample events in events/ against them.

Supported, as EventBridge defines them ("Event patterns" in the EventBridge user guide):
- nested objects: every key of the pattern must match the event's value at that key;
- a list of allowed values: the event's value equals one of them (strings, numbers, booleans, null);
- an array in the event matches when any of its elements does;
- the operators {"prefix": ...}, {"suffix": ...}, {"anything-but": value or [values]},
  {"exists": true|false} and {"equals-ignore-case": ...}.
Anything else (numeric ranges, wildcards, $or, CIDR) raises UnsupportedPatternError rather than
giving a wrong answer.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()
OPERATORS = ("prefix", "suffix", "anything-but", "exists", "equals-ignore-case")


class UnsupportedPatternError(ValueError):
    """The pattern uses EventBridge syntax this matcher does not implement."""


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when `event` matches `pattern`."""
    if not isinstance(pattern, dict):
        raise UnsupportedPatternError(f"an event pattern is a JSON object, got {type(pattern).__name__}")
    for key, expected in pattern.items():
        if key.startswith("$"):
            raise UnsupportedPatternError(f"pattern key {key!r} ($or and friends) is not supported")
        actual = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not matches(expected, actual):
                return False
        elif isinstance(expected, list):
            if not _matches_any(expected, actual, key):
                return False
        else:
            raise UnsupportedPatternError(
                f"pattern value at {key!r} must be an object or a list of allowed values, got {expected!r}"
            )
    return True


def _matches_any(allowed: list[Any], actual: Any, key: str) -> bool:
    # a missing key is the one value _MISSING: only {"exists": false} matches it
    values = actual if isinstance(actual, list) else [actual]
    return any(_matches_one(rule, value, key) for rule in allowed for value in values)


def _matches_one(rule: Any, value: Any, key: str) -> bool:
    if not isinstance(rule, dict):
        return value is not _MISSING and _same(rule, value)
    if len(rule) != 1 or next(iter(rule)) not in OPERATORS:
        raise UnsupportedPatternError(
            f"pattern operator {rule!r} at {key!r} is not supported (supported: {', '.join(OPERATORS)})"
        )
    ((operator, operand),) = rule.items()
    if operator == "exists":
        return (value is not _MISSING) is bool(operand)
    if value is _MISSING:
        return False
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(_text(operand, operator, key))
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(_text(operand, operator, key))
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == _text(operand, operator, key).casefold()
    excluded = operand if isinstance(operand, list) else [operand]
    if any(isinstance(item, dict) for item in excluded):
        raise UnsupportedPatternError(f"anything-but with a nested operator at {key!r} is not supported")
    return not any(_same(item, value) for item in excluded)


def _text(operand: Any, operator: str, key: str) -> str:
    if not isinstance(operand, str):
        raise UnsupportedPatternError(f"{operator} at {key!r} takes a string, got {operand!r}")
    return operand


def _same(expected: Any, value: Any) -> bool:
    """EventBridge compares JSON values: 1 and 1.0 are equal, true and 1 are not."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool) and expected is value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value
