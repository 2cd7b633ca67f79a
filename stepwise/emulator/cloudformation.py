"""template.yaml deployed to the embedded AWS as `sam build && sam deploy` deploys it.

1. **Build and package** (`package`): each function's CodeUri folder and each layer, as `sam build`
   builds them (stepwise/emulator/lambda_.py), zipped and uploaded to the SAM artifacts bucket
   (`aws-sam-cli-managed-default-samclisourcebucket-<suffix>`, as `sam deploy --resolve-s3` makes it),
   the state machine's DefinitionUri too; the template's local paths become those S3 locations.
2. **Transform** with aws-sam-translator, the library SAM itself uses (`sam validate`, `sam deploy`):
   AWS::Serverless::* become the CloudFormation resources AWS would create (function roles from
   `Policies`, the EventBridge rules and their roles, layer versions...).
3. **Deploy** on the emulated CloudFormation (moto's): CreateStack the first time; later a change set
   (CreateChangeSet UPDATE + ExecuteChangeSet) when the template, its parameters or the code changed.
   The custom resource `ProcessingCode` runs its real function (PublishCodeFunction) through the
   embedded Lambda and answers at a loopback ResponseURL, as on AWS.

What the emulated CloudFormation cannot do as AWS does, and what is done instead:
- `DefinitionSubstitutions` of AWS::StepFunctions::StateMachine are ignored by moto: the definition
  is given as `Fn::Join` of its text and the substitutions' values, which resolves the same
  intrinsics and replaces exactly the ${Token}s;
- AWS::S3::BucketPolicy is not a moto resource type: stepwise/emulator/moto_seams.py adds it
  (PutBucketPolicy);
- moto's state lives in memory: every process re-creates the stack from its stored deployment with
  the same physical names (`physical_suffix`: a hash of the state folder's salt, the stack and the
  logical id, instead of a random suffix), so ARNs, the bucket name and function names stay the same.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import io
import json
import os
import threading
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepwise.emulator.lambda_ import LayerSource, build_function, requirement_closure, tree_digest

STACK_NAME = "stepwise"
ARTIFACTS_BUCKET_PREFIX = "aws-sam-cli-managed-default-samclisourcebucket-"
ARTIFACTS_PREFIX = "stepwise"  # samconfig.toml's s3_prefix
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployError(RuntimeError):
    """The stack could not be deployed: the message is CloudFormation's reason."""


@dataclass
class Package:
    """template.yaml after `sam build` + `sam package` + the SAM transform."""

    template: dict  # the CloudFormation template that is deployed (artifacts in S3)
    artifacts: dict[str, Path]  # S3 key in the artifacts bucket -> local zip
    functions: dict[str, Any]  # function logical id -> lambda_.FunctionPackage
    digest: str  # of everything deployed: a change means an update


@dataclass
class DeployedStack:
    """What the deployed stack is: names and ARNs of its resources, its outputs and parameters."""

    name: str
    stack_id: str
    resources: dict[str, dict[str, str]]  # logical id -> {"type", "physical_id"}
    outputs: dict[str, str]
    parameters: dict[str, str]

    def of_type(self, resource_type: str) -> dict[str, str]:
        """logical id -> physical id of every resource of `resource_type`."""
        return {lid: r["physical_id"] for lid, r in self.resources.items() if r["type"] == resource_type}


def load_template(path: Path) -> dict:
    """A SAM/CloudFormation YAML or JSON template, short-form tags (!Ref, !Sub...) as long forms (a
    copy: the caller may change it)."""
    status = Path(path).stat()
    return copy.deepcopy(_parsed_template(str(Path(path).resolve()), status.st_mtime_ns, status.st_size))


@functools.lru_cache(maxsize=8)
def _parsed_template(path: str, mtime_ns: int, size: int) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(Path(path).read_text())
    if not isinstance(template, dict) or "Resources" not in template:
        raise DeployError(f"{path} is not a CloudFormation/SAM template (no Resources)")
    return template


# ------------------------------------------------------------------------------------------------
# Build and package
# ------------------------------------------------------------------------------------------------
def _zip_folder(folder: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    target.write_bytes(buffer.getvalue())


def package(template_path: Path, build_root: Path, artifacts_bucket: str, region: str) -> Package:
    """Build, package and transform `template_path` (see the module docstring)."""
    root = Path(template_path).resolve().parent
    template = load_template(template_path)
    resources = template["Resources"]
    build_root.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, Path] = {}
    digests: list[str] = []

    def upload(path: Path, name: str) -> str:
        key = f"{ARTIFACTS_PREFIX}/{name}"
        artifacts[key] = path
        return f"s3://{artifacts_bucket}/{key}"

    layers: dict[str, LayerSource] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            content = root / resource["Properties"]["ContentUri"]
            method = (resource.get("Metadata") or {}).get("BuildMethod")
            layers[logical_id] = LayerSource(logical_id, content, method)

    functions = {}
    globals_ = (template.get("Globals") or {}).get("Function", {}) or {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        properties = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function":
            merged = {**globals_, **properties}
            layer_ids = [
                item["Ref"] for item in merged.get("Layers", []) if isinstance(item, dict) and "Ref" in item
            ]
            built = build_function(
                logical_id,
                root / merged["CodeUri"],
                merged["Handler"],
                [layers[lid] for lid in layer_ids if lid in layers],
                build_root / "functions",
            )
            functions[logical_id] = built
            digests.append(built.digest)
            archive = build_root / "artifacts" / f"{logical_id}-{built.digest}.zip"
            if not archive.is_file():
                _zip_folder(built.code_dir, archive)
            properties["CodeUri"] = upload(archive, archive.name)
        elif kind == "AWS::Serverless::LayerVersion":
            layer = layers[logical_id]
            folder = build_root / "layers" / logical_id
            _build_layer(layer, folder)
            digest = tree_digest([folder])
            digests.append(digest)
            archive = build_root / "artifacts" / f"{logical_id}-{digest}.zip"
            if not archive.is_file():
                _zip_folder(folder, archive)
            properties["ContentUri"] = upload(archive, archive.name)
        elif kind == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            definition = root / properties["DefinitionUri"]
            text = definition.read_text()
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            digests.append(digest)
            copy_path = build_root / "artifacts" / f"{logical_id}-{digest}.asl.json"
            copy_path.parent.mkdir(parents=True, exist_ok=True)
            copy_path.write_text(text)
            properties["DefinitionUri"] = upload(copy_path, copy_path.name)
    translated = _transform_cached(template, region, build_root)
    _inline_definitions(
        translated, {key: path for key, path in artifacts.items() if key.endswith(".asl.json")}
    )
    body = json.dumps(translated, sort_keys=True)
    return Package(
        template=translated,
        artifacts=artifacts,
        functions=functions,
        digest=hashlib.sha256((body + "".join(digests)).encode()).hexdigest()[:16],
    )


def _build_layer(layer: LayerSource, folder: Path) -> None:
    """The layer as `sam build` leaves it: a built python layer is python/<its code> and the packages
    its requirements install (recorded in stepwise-layer.json: they are this environment's); a plain
    layer is its content."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    if not layer.build_method:
        shutil.copytree(layer.content_dir, folder, ignore=ignore)
        return
    target = folder / "python"
    target.mkdir(parents=True)
    for item in sorted(layer.content_dir.iterdir()):
        if item.is_dir() and not item.name.startswith((".", "__")):
            shutil.copytree(item, target / item.name, ignore=ignore)
    installed = requirement_closure(
        [layer.content_dir / "requirements.txt"], [layer.content_dir / "requirements-nodeps.txt"]
    )
    (folder / "stepwise-layer.json").write_text(json.dumps({"installed": sorted(installed)}, indent=1))


def _transform_cached(template: dict, region: str, build_root: Path) -> dict:
    """`transform`, kept in `build_root` by the hash of its input (the translator's version included):
    an unchanged template is not translated again (importing and running the translator takes about
    0.4 s)."""
    import importlib.metadata

    version = importlib.metadata.version("aws-sam-translator")
    key = hashlib.sha256(f"{version}/{region}/{json.dumps(template, sort_keys=True)}".encode()).hexdigest()
    cached = build_root / f"transformed-{key[:24]}.json"
    try:
        return json.loads(cached.read_text())
    except (OSError, ValueError):
        pass
    translated = transform(template, region)
    for old in build_root.glob("transformed-*.json"):
        old.unlink(missing_ok=True)
    temporary = cached.with_suffix(".tmp")
    temporary.write_text(json.dumps(translated))
    os.replace(temporary, cached)
    return translated


def transform(template: dict, region: str) -> dict:
    """The SAM transform, offline (no managed policy lookups: the template names none by short name)."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region  # the translator reads the region for ARNs it builds
    try:
        return sam_transform(copy.deepcopy(template), {}, NoManagedPolicies())
    except InvalidDocumentException as error:
        reasons = "; ".join(str(cause) for cause in error.causes)
        raise DeployError(f"template.yaml is not a valid SAM template: {reasons}") from None
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


def _inline_definitions(template: dict, definitions: dict[str, Path]) -> None:
    """DefinitionS3Location + DefinitionSubstitutions -> DefinitionString: Fn::Sub [text, substitutions]
    (moto's CloudFormation ignores DefinitionSubstitutions; Fn::Sub resolves the same intrinsics)."""
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        location = properties.pop("DefinitionS3Location", None)
        if location is None:
            continue
        text = definitions[location["Key"]].read_text()
        substitutions = properties.pop("DefinitionSubstitutions", None) or {}
        properties["DefinitionString"] = _substituted(text, substitutions)


def _substituted(text: str, substitutions: dict) -> Any:
    """The definition with each ${Token} replaced by its substitution's value, as CloudFormation's
    DefinitionSubstitutions do: `Fn::Join ["", [text, value, text...]]`, so the values' intrinsics
    (Ref, GetAtt, FindInMap) resolve and nothing else in the text is touched (moto's Fn::Sub would
    turn the definition's `$$.Execution` into `$.Execution`)."""
    import re

    parts: list[Any] = []
    position = 0
    for match in re.finditer(r"\$\{([A-Za-z0-9_]+)\}", text):
        if match.group(1) not in substitutions:
            continue  # not a substitution: CloudFormation leaves it as written
        parts.append(text[position : match.start()])
        parts.append(substitutions[match.group(1)])
        position = match.end()
    parts.append(text[position:])
    return {"Fn::Join": ["", parts]} if len(parts) > 1 else text


# ------------------------------------------------------------------------------------------------
# Deploy
# ------------------------------------------------------------------------------------------------
class Deployer:
    """Deploys packages as CloudFormation stacks of the embedded AWS (the user's own credentials)."""

    def __init__(self, clients: Any, *, region: str, account_id: str, salt: str) -> None:
        self.clients = clients
        self.region = region
        self.account_id = account_id
        self.salt = salt

    @property
    def artifacts_bucket(self) -> str:
        return (
            ARTIFACTS_BUCKET_PREFIX
            + self.physical_suffix("aws-sam-cli-managed-default", "SamCliSourceBucket").lower()
        )

    def physical_suffix(self, stack_name: str, logical_id: str, size: int = 12) -> str:
        """The stable stand-in for CloudFormation's random suffix of a physical name."""
        digest = hashlib.sha256(f"{self.salt}/{stack_name}/{logical_id}".encode()).digest()
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(alphabet[byte % len(alphabet)] for byte in digest[:size])

    def upload_artifacts(self, package: Package) -> None:
        s3 = self.clients("s3")
        bucket = self.artifacts_bucket
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 (SAM creates it on first deploy)
            s3.create_bucket(Bucket=bucket)
        for key, path in package.artifacts.items():
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def create(self, name: str, template: dict, parameters: dict[str, str]) -> DeployedStack:
        cloudformation = self.clients("cloudformation")
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=_parameter_list(parameters),
            Capabilities=CAPABILITIES,
        )
        return self._finished(name, "CREATE_COMPLETE")

    def update(self, name: str, template: dict, parameters: dict[str, str]) -> DeployedStack:
        """A change set, as `sam deploy` makes one, executed at once."""
        cloudformation = self.clients("cloudformation")
        change_set = f"samcli-deploy{uuid.uuid4().hex[:10]}"
        cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=change_set,
            ChangeSetType="UPDATE",
            TemplateBody=json.dumps(template),
            Parameters=_parameter_list(parameters),
            Capabilities=CAPABILITIES,
        )
        cloudformation.execute_change_set(StackName=name, ChangeSetName=change_set)
        return self._finished(name, "UPDATE_COMPLETE")

    def _finished(self, name: str, expected: str) -> DeployedStack:
        cloudformation = self.clients("cloudformation")
        described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if described["StackStatus"] != expected:
            raise DeployError(
                f"stack {name} is {described['StackStatus']}: "
                f"{described.get('StackStatusReason') or 'no reason'}"
            )
        resources: dict[str, dict[str, str]] = {}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
            for item in page["StackResourceSummaries"]:
                if item.get("LogicalResourceId"):
                    resources[item["LogicalResourceId"]] = {
                        "type": item["ResourceType"],
                        "physical_id": item.get("PhysicalResourceId") or "",
                    }
        return DeployedStack(
            name=name,
            stack_id=described["StackId"],
            resources=resources,
            outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
            parameters={
                p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
            },
        )


def _parameter_list(parameters: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": key, "ParameterValue": str(value)} for key, value in sorted(parameters.items())]


# ------------------------------------------------------------------------------------------------
# Custom resources
# ------------------------------------------------------------------------------------------------
class ResponseURL:
    """A one-request HTTP server on 127.0.0.1: the pre-signed URL a custom resource answers at."""

    def __init__(self) -> None:
        self.response: dict | None = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    outer.response = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    outer.response = {"Status": "FAILED", "Reason": "the response was not JSON"}
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/cloudformation-response/{uuid.uuid4().hex}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def custom_resource_event(
    request_type: str,
    *,
    logical_id: str,
    resource_type: str,
    stack_id: str,
    properties: dict,
    response_url: str,
    physical_id: str | None = None,
    old_properties: dict | None = None,
) -> dict[str, Any]:
    """The event CloudFormation sends a custom resource's function."""
    event = {
        "RequestType": request_type,
        "ServiceToken": properties.get("ServiceToken"),
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = old_properties
    return event
