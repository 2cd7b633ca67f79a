"""The shared Lambda layer must not ship its own AWS SDK: the Lambda runtime's boto3/botocore would be
shadowed by it (a botocore in /opt/python comes first on sys.path), while boto3 comes from the runtime.

What the layer holds is decided by functions/shared/requirements.txt (installed with dependencies) and
requirements-nodeps.txt (installed without), as functions/shared/Makefile builds it for `sam build`
(.ci/check-template also looks at the built folder). This test resolves the same closure from the
installed distributions' metadata, so it needs neither sam nor the network.
"""

from __future__ import annotations

import importlib.metadata
import re

from packaging.requirements import Requirement
from template_support import REPO

SHARED = REPO / "functions" / "shared"
RUNTIME_SDK = {"boto3", "botocore", "s3transfer"}


def _requirements(path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_distributions() -> set[str]:
    """Every distribution the layer build installs, by the installed packages' own metadata."""
    seen: set[str] = set()
    pending = [(requirement, True) for requirement in _requirements(SHARED / "requirements.txt")]
    pending += [(requirement, False) for requirement in _requirements(SHARED / "requirements-nodeps.txt")]
    while pending:
        requirement, follow = pending.pop()
        name = _name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        if not follow:
            continue
        for text in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(text)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in (requirement.extras or {""})
            )
            if wanted:
                pending.append((dependency, True))
    return seen


def test_the_layer_installs_powertools_and_the_xray_sdk_but_no_aws_sdk() -> None:
    installed = layer_distributions()
    assert {"aws-lambda-powertools", "pydantic", "aws-xray-sdk", "wrapt"} <= installed
    assert not installed & RUNTIME_SDK, f"the layer would ship {sorted(installed & RUNTIME_SDK)}"


def test_the_template_builds_the_layer_with_its_makefile(template: dict) -> None:
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-SharedLayer:" in (SHARED / "Makefile").read_text()
