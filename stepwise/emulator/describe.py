"""What template.yaml deploys to, read back from a deployment to a fresh embedded AWS.

    python -m stepwise.emulator.describe OUT.json [--parameter-overrides K=V ...]

Writes, as JSON: the state machine's definition as Step Functions received it (DefinitionSubstitutions
applied), the EventBridge rules (name, state, pattern or schedule, targets), every IAM role (ARN, its
identity policies, trust policy), the bucket policies, the stack's outputs, resources and parameters.
The template tests and .ci/check-template (statelint on the filled definition) read this instead of
resolving the template by hand: the values are the ones CloudFormation produced. It runs in a process
of its own (moto patches the whole process) and in a temporary state folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def describe(parameters: dict[str, str] | None = None, template: Path | None = None) -> dict[str, Any]:
    from stepwise.emulator import moto_seams
    from stepwise.emulator.aws import EmbeddedAWS

    with tempfile.TemporaryDirectory(prefix="stepwise-describe-") as state:
        aws = EmbeddedAWS(Path(state), parameters=parameters, template=template)
        with aws:
            events = aws.client("events")
            rules = []
            for rule in events.list_rules()["Rules"]:
                targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                rules.append(
                    {
                        "name": rule["Name"],
                        "state": rule.get("State"),
                        "pattern": json.loads(rule["EventPattern"]) if rule.get("EventPattern") else None,
                        "schedule": rule.get("ScheduleExpression"),
                        "targets": targets,
                    }
                )
            logical = {r["physical_id"]: lid for lid, r in aws.stack.resources.items()}
            roles = {}
            for arn, documents, trust in moto_seams.role_policies(aws.account_id):
                name = arn.rsplit("/", 1)[1]
                roles[logical.get(name, name)] = {"arn": arn, "policies": documents, "trust": trust}
            return {
                "definition": aws.definition(),
                "rules": rules,
                "roles": roles,
                "bucketPolicies": dict(moto_seams.bucket_policies(aws.account_id)),
                "outputs": aws.stack.outputs,
                "resources": aws.stack.resources,
                "parameters": aws.stack.parameters,
                "bucket": aws.bucket,
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    parameters = dict(item.split("=", 1) for item in args.parameter_overrides)
    args.out.write_text(json.dumps(describe(parameters), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
