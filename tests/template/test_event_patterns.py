"""The EventBridge rules of template.yaml start the state machine on the events in events/, and no other."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.events.exceptions import InvalidEventPatternException
from template_support import REPO

from stepwise.emulator.moto_seams import event_pattern_matches as matches


def sample(name: str) -> dict[str, Any]:
    return json.loads((REPO / "events" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def rules(template: dict[str, Any], resolver: Any) -> dict[str, dict[str, Any]]:
    """The state machine's Events, their properties resolved (bucket name, group name...)."""
    events = template["Resources"]["StateMachine"]["Properties"]["Events"]
    return {
        name: {"Type": event["Type"], **resolver.resolve(event["Properties"])}
        for name, event in events.items()
    }


def test_an_upload_under_raw_matches_the_upload_rule(rules: dict[str, Any]) -> None:
    assert matches(rules["RawDataUploaded"]["Pattern"], sample("s3_object_created"))


@pytest.mark.parametrize(
    "key",
    [
        "runs/abc/preprocess/train/train.csv",
        "code/0123456789ab/preprocess.py",
        "rawdata/x/claims.csv",
        "x/raw/claims.csv",
        "raw/",  # a folder placeholder the console creates
        "raw/2026-11-28/",
        "raw/2026-11-28/notes.txt",
        "raw/2026-11-28/claims.csv.tmp",
        "raw/2026-11-28/old-claims.csv",
        "raw/claims.csv",  # not under a dataset folder
    ],
)
def test_an_upload_other_than_a_dataset_file_does_not_start_a_run(rules: dict[str, Any], key: str) -> None:
    event = sample("s3_object_created")
    event["detail"]["object"]["key"] = key
    assert not matches(rules["RawDataUploaded"]["Pattern"], event)


@pytest.mark.parametrize("name", ["claims.csv", "customers.csv"])
def test_each_dataset_file_starts_a_run(rules: dict[str, Any], name: str) -> None:
    event = sample("s3_object_created")
    event["detail"]["object"]["key"] = f"raw/2026-11-28/{name}"
    assert matches(rules["RawDataUploaded"]["Pattern"], event)


def test_an_upload_to_another_bucket_does_not_start_a_run(rules: dict[str, Any]) -> None:
    event = sample("s3_object_created")
    event["detail"]["bucket"]["name"] = "someone-elses-bucket"
    assert not matches(rules["RawDataUploaded"]["Pattern"], event)


def test_the_raw_prefix_of_the_rule_is_the_one_resolve_dataset_is_given(
    rules: dict[str, Any], definition: dict[str, Any]
) -> None:
    raw_prefix = definition["States"]["ResolveDataset"]["Parameters"]["rawPrefix"]
    key_rules = rules["RawDataUploaded"]["Pattern"]["detail"]["object"]["key"]
    assert key_rules == [{"wildcard": f"{raw_prefix}*/{name}"} for name in ("claims.csv", "customers.csv")]


def test_an_approval_of_our_group_matches_the_approval_rule(rules: dict[str, Any]) -> None:
    pattern = rules["ModelPackageApproved"]["Pattern"]
    assert matches(pattern, sample("model_package_approved"))
    for field, value in (
        ("ModelApprovalStatus", "PendingManualApproval"),
        ("ModelPackageGroupName", "other-group"),
    ):
        event = sample("model_package_approved")
        event["detail"][field] = value
        assert not matches(pattern, event), field


def test_the_approval_rule_is_on_only_with_manual_approval(
    template: dict[str, Any], substitutions: Any
) -> None:
    rule = template["Resources"]["StateMachine"]["Properties"]["Events"]["ModelPackageApproved"]["Properties"]
    assert rule["State"] == {"Fn::If": ["ManualApproval", "ENABLED", "DISABLED"]}
    for status, expected in (("Approved", "DISABLED"), ("PendingManualApproval", "ENABLED")):
        resolver = substitutions._Resolver(template, {"ModelApprovalStatus": status})
        assert resolver.resolve(rule["State"]) == expected, status


def test_the_schedule_is_off_by_default_and_sends_a_scheduled_event(
    rules: dict[str, Any], template: dict
) -> None:
    schedule = rules["RetrainSchedule"]
    assert schedule["Type"] == "Schedule" and schedule["State"] == "DISABLED"
    assert template["Parameters"]["RetrainScheduleState"]["AllowedValues"] == ["ENABLED", "DISABLED"]
    event = sample("schedule")
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")


def test_no_rule_matches_another_rules_event(rules: dict[str, Any]) -> None:
    patterns = {name: rule["Pattern"] for name, rule in rules.items() if "Pattern" in rule}
    events = {
        "RawDataUploaded": sample("s3_object_created"),
        "ModelPackageApproved": sample("model_package_approved"),
    }
    for rule_name, pattern in patterns.items():
        for event_name, event in events.items():
            assert matches(pattern, event) is (rule_name == event_name), (rule_name, event_name)
        assert not matches(pattern, sample("schedule")), rule_name


# ---- the matcher (moto's EventBridge) on the syntax the template uses ------------------------------
EVENT = {
    "source": "aws.s3",
    "detail": {"object": {"key": "raw/a/claims.csv", "size": 10}},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.s3"]}, True),
        ({"source": ["aws.sagemaker"]}, False),
        ({"detail": {"object": {"key": [{"wildcard": "raw/*/claims.csv"}]}}}, True),
        ({"detail": {"object": {"key": [{"wildcard": "raw/*/customers.csv"}]}}}, False),
        ({"detail": {"object": {"key": [{"wildcard": "raw/*/claims.csv"}, {"prefix": "x"}]}}}, True),
        ({"detail": {"object": {"key": [{"wildcard": "raw/*/claims.cs"}]}}}, False),
        ({"detail": {"object": {"key": [{"prefix": "raw/"}]}}}, True),
    ],
)
def test_pattern_semantics(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, copy.deepcopy(EVENT)) is expected


def test_a_pattern_eventbridge_would_refuse_is_an_error() -> None:
    with pytest.raises(InvalidEventPatternException):
        matches({"source": "aws.s3"}, EVENT)
