"""The processing scripts' content address: `code/<sha256-12>`, the same in the cloud and locally.

Deploy time (functions/publish_code, a CloudFormation custom resource) hashes the files of the
ProcessingCode layer (processing/ as SAM packaged it) and uploads them under this prefix; local mode
hashes the repository's processing/ folder with the same function. A change to any script gives a
new prefix, so a running execution never sees its code change underneath it.

Standard library only: it runs in the Lambda runtime without the shared layer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CODE_PREFIX = "code"
DIGEST_LENGTH = 12
# Build litter that differs between machines without changing what runs
IGNORED_DIRECTORIES = frozenset({"__pycache__"})
IGNORED_SUFFIXES = (".pyc", ".pyo")


def bundle_files(root: Path) -> list[tuple[str, bytes]]:
    """Every file under `root` as (POSIX path relative to root, content), sorted by path.

    Skips __pycache__ folders, compiled Python and hidden files or folders (names starting with ".").
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"processing code folder {root} does not exist")
    files = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or path.suffix in IGNORED_SUFFIXES:
            continue
        if any(part in IGNORED_DIRECTORIES or part.startswith(".") for part in relative.parts):
            continue
        files.append((relative.as_posix(), path.read_bytes()))
    if not files:
        raise FileNotFoundError(f"processing code folder {root} holds no files to publish")
    return sorted(files)


def bundle_digest(files: list[tuple[str, bytes]]) -> str:
    """The first DIGEST_LENGTH hex digits of a SHA-256 over every path and content, in path order."""
    digest = hashlib.sha256()
    for name, content in sorted(files):
        encoded = name.encode("utf-8")
        # lengths make the encoding unambiguous: ("a", "bc") and ("ab", "c") hash differently
        digest.update(b"%d:%s%d:" % (len(encoded), encoded, len(content)))
        digest.update(content)
    return digest.hexdigest()[:DIGEST_LENGTH]


def code_prefix(root: Path) -> str:
    """`code/<sha256-12>` for the files under `root` (no trailing slash)."""
    return f"{CODE_PREFIX}/{bundle_digest(bundle_files(root))}"
