"""The sha256 fingerprint of a file: the model registry names a model by it, a model card checks
its model file with it, and a report names the exact upload that was scanned."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def stream_sha256(stream: BinaryIO) -> str:
    """The hex sha256 of what is left to read in ``stream`` (read to its end in 1 MiB chunks)."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    with path.open("rb") as f:
        return stream_sha256(f)
