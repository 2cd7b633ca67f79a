"""The shared Lambda layer must not ship its own AWS SDK: the Lambda runtime's boto3/botocore would be
shadowed by it (a botocore in /opt/python comes first on sys.path), while boto3 comes from the runtime.

What the layer holds is decided by functions/shared/requirements.txt (installed with dependencies) and
requirements-nodeps.txt (installed without), as functions/shared/Makefile builds it for `sam build`
(.ci/check-template also looks at the built folder). This test resolves the same closure from the
installed distributions' metadata, so it needs neither sam nor the network.
"""

from __future__ import annotations

from template_support import REPO

from stepwise.emulator.lambda_ import requirement_closure

SHARED = REPO / "functions" / "shared"
RUNTIME_SDK = {"boto3", "botocore", "s3transfer"}


def layer_distributions() -> set[str]:
    """Every distribution the layer build installs, by the installed packages' own metadata (the
    closure the function runner also uses to decide what a function may import)."""
    return requirement_closure([SHARED / "requirements.txt"], [SHARED / "requirements-nodeps.txt"])


def test_the_layer_installs_powertools_and_the_xray_sdk_but_no_aws_sdk() -> None:
    installed = layer_distributions()
    assert {"aws-lambda-powertools", "pydantic", "aws-xray-sdk", "wrapt"} <= installed
    assert not installed & RUNTIME_SDK, f"the layer would ship {sorted(installed & RUNTIME_SDK)}"


def test_the_template_builds_the_layer_with_its_makefile(template: dict) -> None:
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-SharedLayer:" in (SHARED / "Makefile").read_text()
