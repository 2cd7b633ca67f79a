"""Read template.yaml the way CloudFormation would, and resolve what local mode needs from it.

Local mode deploys nothing: it reads the SAM template to get the same values the cloud stack gets.
- the state machine's DefinitionUri and DefinitionSubstitutions, resolved to local names (the bucket,
  ARNs in the fake account 123456789012 / us-east-1, parameter defaults, Mappings lookups);
- the EventBridge rule patterns that start the state machine (AWS::Events::Rule resources and the
  state machine's own EventBridgeRule / Schedule events);
- each Lambda function's CodeUri, Handler and Environment (Globals included) and its layers.

CloudFormation's short tags (!Ref, !Sub, !GetAtt, !FindInMap, !If...) are read as their long forms.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "stepwise"

_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class TemplateError(ValueError):
    """template.yaml lacks something local mode needs, or uses something it cannot resolve."""


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict:
    """template.yaml as a dict, with short-form tags turned into their long forms."""
    with open(path) as handle:
        template = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 (a SafeLoader subclass)
    if not isinstance(template, dict) or "Resources" not in template:
        raise TemplateError(f"{path} is not a CloudFormation/SAM template (no Resources)")
    return template


# --------------------------------------------------------------------------------------------------
# Resolving intrinsic functions to local values
# --------------------------------------------------------------------------------------------------
class Resolver:
    """Evaluates CloudFormation intrinsic functions against local names for every resource."""

    def __init__(
        self,
        template: dict,
        parameters: dict[str, str] | None = None,
        custom_attributes: dict[str, str] | None = None,
    ) -> None:
        self.template = template
        self.custom_attributes = dict(custom_attributes or {})
        self.resources: dict[str, dict] = template.get("Resources", {})
        self.parameters = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        } | dict(parameters or {})
        self._conditions: dict[str, bool] = {}

    # -- physical names and attributes of resources, as the stack would create them locally --
    def physical_name(self, logical_id: str) -> str:
        resource = self._resource(logical_id)
        props = resource.get("Properties", {}) or {}
        name_property = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Serverless::StateMachine": "Name",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            "AWS::IAM::Role": "RoleName",
            "AWS::Events::Rule": "Name",
            "AWS::Serverless::LayerVersion": "LayerName",
        }.get(resource["Type"])
        if name_property and props.get(name_property) is not None:
            return str(self.resolve(props[name_property]))
        if resource["Type"] == "AWS::S3::Bucket":
            return f"{STACK_NAME}-{logical_id.lower()}-{ACCOUNT_ID}"
        return logical_id

    def ref(self, name: str) -> Any:
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in self.parameters:
            value = self.parameters[name]
            if value is None:
                raise TemplateError(f"Parameter {name} has no Default; pass a value for it")
            return value
        resource = self._resource(name)
        kind = resource["Type"]
        if kind in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return self.get_att(name, "Arn")
        if kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            return self.get_att(name, "Arn")
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self._resource(logical_id)
        kind, name = resource["Type"], self.physical_name(logical_id)
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            key = f"{logical_id}.{attribute}"
            if key not in self.custom_attributes:
                raise TemplateError(f"local mode has no value for the custom resource attribute {key}")
            return self.custom_attributes[key]
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "AWS::Events::Rule": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}",
            "AWS::Serverless::LayerVersion": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1",
            "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1",
        }
        if attribute in ("Arn", "TopicArn", "StateMachineArn") and kind in arns:
            return arns[kind]
        if attribute in ("Name", "TopicName", "RoleId", "BucketName"):
            return name
        if kind == "AWS::S3::Bucket" and attribute in ("DomainName", "RegionalDomainName"):
            return f"{name}.s3.amazonaws.com"
        raise TemplateError(f"local mode cannot resolve !GetAtt {logical_id}.{attribute} ({kind})")

    def _resource(self, logical_id: str) -> dict:
        if logical_id not in self.resources:
            raise TemplateError(
                f"template.yaml refers to {logical_id!r}, which is not a parameter or resource"
            )
        return self.resources[logical_id]

    # -- the intrinsic functions --
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"Condition {name!r} is not defined in template.yaml")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute)
        if name == "Sub":
            return self._sub(arg)
        if name == "Join":
            separator, items = arg
            return separator.join(str(i) for i in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Split":
            separator, text = self.resolve(arg)
            return text.split(separator)
        if name == "FindInMap":
            map_name, top, second = self.resolve(arg)
            try:
                return self.template["Mappings"][map_name][top][second]
            except KeyError as missing:
                raise TemplateError(f"!FindInMap [{map_name}, {top}, {second}]: no {missing}") from None
        if name == "If":
            condition, if_true, if_false = arg
            return self.resolve(if_true if self.condition(condition) else if_false)
        if name == "Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(arg[0])
        if name == "And":
            return all(self.resolve(arg))
        if name == "Or":
            return any(self.resolve(arg))
        if name == "ToJsonString":
            return json.dumps(self.resolve(arg))
        if name == "Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        raise TemplateError(f"local mode does not support Fn::{name} in template.yaml")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and token.split(".", 1)[0] in self.resources:
                return str(self.get_att(*token.split(".", 1)))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# --------------------------------------------------------------------------------------------------
# What local mode takes from the template
# --------------------------------------------------------------------------------------------------
@dataclass
class EventRule:
    """An EventBridge rule that starts the state machine: an event pattern or a schedule."""

    name: str
    pattern: dict | None = None
    schedule: str | None = None
    enabled: bool = True


@dataclass
class LambdaFunction:
    logical_id: str
    name: str
    code_dir: Path
    handler: str  # "app.lambda_handler"
    environment: dict[str, str] = field(default_factory=dict)
    layer_dirs: list[Path] = field(default_factory=list)


@dataclass
class LocalStack:
    """template.yaml resolved to local names."""

    root: Path
    template: dict
    state_machine_name: str
    state_machine_arn: str
    role_arn: str
    definition_path: Path
    substitutions: dict[str, str]
    rules: list[EventRule]
    functions: dict[str, LambdaFunction]
    bucket_properties: dict[str, dict]  # bucket name -> its resolved Properties
    topics: list[str]

    @property
    def buckets(self) -> list[str]:
        return list(self.bucket_properties)

    def definition(self) -> dict:
        """The state machine definition with every ${Token} replaced by its local value."""
        text = self.definition_path.read_text()
        missing = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)) - set(self.substitutions))
        if missing:
            raise TemplateError(
                f"{self.definition_path.name} uses ${{{', '.join(missing)}}} but the state machine's "
                "DefinitionSubstitutions in template.yaml do not define them"
            )
        for token, value in self.substitutions.items():
            text = text.replace("${" + token + "}", str(value))
        return json.loads(text)

    def rule(self, kind: str) -> EventRule:
        """The first rule whose pattern's detail-type is `kind` (e.g. "Object Created"), enabled or not."""
        for rule in self.rules:
            detail_types = (rule.pattern or {}).get("detail-type", [])
            if kind in detail_types:
                return rule
        raise TemplateError(f"template.yaml has no EventBridge rule for detail-type {kind!r}")

    def schedule_rule(self) -> EventRule:
        for rule in self.rules:
            if rule.schedule:
                return rule
        raise TemplateError("template.yaml has no schedule rule for the state machine")


_STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
_FUNCTION_TYPES = ("AWS::Serverless::Function",)


def resolve_stack(
    template_path: Path,
    parameters: dict[str, str] | None = None,
    custom_attributes: dict[str, str] | None = None,
) -> LocalStack:
    """Resolve template.yaml (at the repository root) to the values local mode uses.

    `parameters` override the template's parameter defaults; `custom_attributes` give the attributes
    of custom resources ("ProcessingCode.Prefix"), which only a deployment can compute.
    """
    template_path = Path(template_path)
    root = template_path.parent
    template = load_template(template_path)
    resolver = Resolver(template, parameters, custom_attributes)
    resources = template["Resources"]

    machines = [lid for lid, res in resources.items() if res.get("Type") in _STATE_MACHINE_TYPES]
    if len(machines) != 1:
        raise TemplateError(
            f"template.yaml must define exactly one state machine, found {machines or 'none'}"
        )
    machine_id = machines[0]
    machine = resources[machine_id].get("Properties", {})
    if "DefinitionUri" not in machine:
        raise TemplateError(f"{machine_id} has no DefinitionUri: local mode reads the definition from a file")
    substitutions = {
        k: _as_text(v) for k, v in resolver.resolve(machine.get("DefinitionSubstitutions", {})).items()
    }

    role = machine.get("Role")
    role_arn = (
        resolver.resolve(role) if role else f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK_NAME}-{machine_id}-role"
    )
    machine_arn = resolver.get_att(machine_id, "Arn")
    rules = _rules(resolver, resources, machine_id, machine, machine_arn)

    return LocalStack(
        root=root,
        template=template,
        state_machine_name=resolver.physical_name(machine_id),
        state_machine_arn=machine_arn,
        role_arn=str(role_arn),
        definition_path=root / str(resolver.resolve(machine["DefinitionUri"])),
        substitutions=substitutions,
        rules=rules,
        functions=_functions(resolver, template, root),
        bucket_properties={
            resolver.physical_name(i): resolver.resolve(r.get("Properties") or {})
            for i, r in resources.items()
            if r.get("Type") == "AWS::S3::Bucket"
        },
        topics=[
            resolver.get_att(i, "Arn") for i, r in resources.items() if r.get("Type") == "AWS::SNS::Topic"
        ],
    )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _rules(
    resolver: Resolver, resources: dict, machine_id: str, machine: dict, machine_arn: str
) -> list[EventRule]:
    rules: list[EventRule] = []
    # SAM: the state machine's own Events
    for name, event in (machine.get("Events") or {}).items():
        props = resolver.resolve(event.get("Properties", {}))
        enabled = _enabled(props)
        if event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
            rules.append(EventRule(name=name, pattern=props.get("Pattern"), enabled=enabled))
        elif event.get("Type") in ("Schedule", "ScheduleV2"):
            schedule = props.get("Schedule") or props.get("ScheduleExpression")
            rules.append(EventRule(name=name, schedule=schedule, enabled=enabled))
    # CloudFormation: AWS::Events::Rule resources targeting the state machine
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        props = resource.get("Properties", {})
        targets = [resolver.resolve(t.get("Arn")) for t in props.get("Targets", [])]
        if machine_arn not in targets and {"Ref": machine_id} not in [
            t.get("Arn") for t in props.get("Targets", [])
        ]:
            continue
        pattern = resolver.resolve(props["EventPattern"]) if "EventPattern" in props else None
        schedule = resolver.resolve(props.get("ScheduleExpression"))
        rules.append(
            EventRule(
                name=logical_id, pattern=pattern, schedule=schedule, enabled=_enabled(resolver.resolve(props))
            )
        )
    return rules


def _enabled(properties: dict) -> bool:
    """SAM events take `State: ENABLED|DISABLED` (or `Enabled: bool`); rules default to enabled."""
    if "Enabled" in properties:
        return bool(properties["Enabled"])
    return str(properties.get("State", "ENABLED")).upper() == "ENABLED"


def _functions(resolver: Resolver, template: dict, root: Path) -> dict[str, LambdaFunction]:
    globals_ = (template.get("Globals") or {}).get("Function", {}) or {}
    layers: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            content = root / str(resolver.resolve(resource["Properties"]["ContentUri"]))
            layers[resolver.get_att(logical_id, "Arn")] = (
                content / "python" if (content / "python").is_dir() else content
            )
    functions: dict[str, LambdaFunction] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") not in _FUNCTION_TYPES:
            continue
        props = resource.get("Properties", {})
        merged = {**globals_, **props}
        environment = {
            **resolver.resolve((globals_.get("Environment") or {}).get("Variables", {})),
            **resolver.resolve((props.get("Environment") or {}).get("Variables", {})),
        }
        if "CodeUri" not in merged or "Handler" not in merged:
            raise TemplateError(f"Function {logical_id} needs CodeUri and Handler for local mode to run it")
        layer_arns = resolver.resolve(merged.get("Layers", []))
        name = resolver.physical_name(logical_id)
        functions[name] = LambdaFunction(
            logical_id=logical_id,
            name=name,
            code_dir=root / str(resolver.resolve(merged["CodeUri"])),
            handler=str(resolver.resolve(merged["Handler"])),
            environment={k: str(v) for k, v in environment.items()},
            layer_dirs=[layers[arn] for arn in layer_arns if arn in layers],
        )
    return functions
