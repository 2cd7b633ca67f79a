"""Stepwise: the SageMaker fraud-detection pipeline as a Step Functions state machine, on AWS or a laptop."""

from pathlib import Path

__version__ = "0.1.0"


def project_root() -> Path:
    """The folder of template.yaml and the code it names (CodeUri, ContentUri, DefinitionUri: functions/,
    processing/, statemachine/), which local mode deploys: the copy an installed wheel carries in
    stepwise/project/ (setup.py makes it when the wheel is built), else the checkout this package is
    imported from (an editable install, or the source tree itself)."""
    package = Path(__file__).resolve().parent
    shipped = package / "project"
    return shipped if (shipped / "template.yaml").is_file() else package.parent
