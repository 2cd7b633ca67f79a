"""pipeline.asl.json as Step Functions receives it from the stack: its ${Token}s filled.

The values are the ones CloudFormation gives the state machine's DefinitionSubstitutions when
template.yaml is deployed (to a fresh embedded AWS: stepwise/emulator/describe.py): real ARNs, the
bucket's name, the code prefix the ProcessingCode custom resource published. .ci/check-template runs
statelint on the result; the template tests read it too.

    python statemachine/substitutions.py OUT.json    # writes the filled definition
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFINITION_PATH = REPO / "statemachine" / "pipeline.asl.json"
TOKEN = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def tokens(definition_text: str) -> set[str]:
    """The ${Token} names a definition uses."""
    return set(TOKEN.findall(definition_text))


def filled_definition() -> dict:
    """The deployed state machine's definition (deploys template.yaml to a fresh embedded AWS)."""
    from stepwise.emulator.describe import describe

    return describe()["definition"]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python statemachine/substitutions.py OUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(json.dumps(filled_definition(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
