"""The model archive of SageMaker's built-in XGBoost algorithm: `model.tar.gz` with `xgboost-model` at
its root, packed from the training container's /opt/ml/model and unpacked into a serving container's.

Standard library only: the orchestrating process (local mode) packs and unpacks archives without
importing xgboost, which only the job and server processes load.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

MODEL_FILE = "xgboost-model"


def pack(model_dir: Path, archive: Path) -> Path:
    """Pack every file of `model_dir` into `archive` (tar.gz), at the archive's root, as SageMaker does."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(Path(model_dir).iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def extract(archive: Path, model_dir: Path) -> Path:
    """Unpack `archive` into `model_dir`; ValueError saying so when it is not a readable tar.gz."""
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            tar.extractall(model_dir, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ValueError(f"{archive} is not a readable tar.gz archive: {error}") from error
    return model_dir
