"""pipeline.asl.json with its ${Token}s filled as template.yaml fills them (local names, us-east-1).

The template checks (.ci/check-template runs statelint on it) and tests/template use this to look at
the definition as Step Functions receives it. The values come from template.yaml's
DefinitionSubstitutions, resolved by local mode's resolver (stepwise.local.template); the code
prefix is the content hash of processing/, computed by the function the deploy-time publisher runs.

    python statemachine/substitutions.py OUT.json    # writes the filled definition
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from stepwise.local.template import Resolver, load_template  # noqa: E402

TEMPLATE_PATH = REPO / "template.yaml"
DEFINITION_PATH = REPO / "statemachine" / "pipeline.asl.json"
CODE_BUNDLE_PATH = REPO / "functions" / "publish_code" / "code_bundle.py"
STATE_MACHINE = "StateMachine"
CODE_RESOURCE = "ProcessingCode"
TOKEN = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def code_bundle() -> ModuleType:
    """functions/publish_code/code_bundle.py (a Lambda module, not part of an importable package)."""
    spec = importlib.util.spec_from_file_location("stepwise_code_bundle", CODE_BUNDLE_PATH)
    assert spec is not None and spec.loader is not None, CODE_BUNDLE_PATH
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Resolver(Resolver):
    """Local mode's resolver, plus the attribute of the deploy-time custom resource."""

    def get_att(self, logical_id: str, attribute: str) -> str:
        if (logical_id, attribute) == (CODE_RESOURCE, "Prefix"):
            return code_bundle().code_prefix(REPO / "processing")
        return super().get_att(logical_id, attribute)


def template_substitutions(template_path: Path = TEMPLATE_PATH) -> dict[str, str]:
    """The state machine's DefinitionSubstitutions, each resolved to text."""
    template = load_template(template_path)
    raw = template["Resources"][STATE_MACHINE]["Properties"]["DefinitionSubstitutions"]
    resolved = _Resolver(template).resolve(raw)
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in resolved.items()}


def tokens(definition_text: str) -> set[str]:
    """The ${Token} names a definition uses."""
    return set(TOKEN.findall(definition_text))


def fill(definition_text: str, substitutions: dict[str, str]) -> dict:
    """The definition as Step Functions receives it; every token must have a value."""
    missing = sorted(tokens(definition_text) - set(substitutions))
    if missing:
        raise KeyError(f"no DefinitionSubstitutions value for {', '.join(missing)} in template.yaml")
    return json.loads(TOKEN.sub(lambda match: substitutions[match.group(1)], definition_text))


def filled_definition() -> dict:
    return fill(DEFINITION_PATH.read_text(), template_substitutions())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python statemachine/substitutions.py OUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(json.dumps(filled_definition(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
