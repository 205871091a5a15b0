"""Provenance: what a scanned file's own metadata says about its origin (C2PA content credentials,
XMP, EXIF, PNG text), and the rule that lets a declaration of AI generation decide the verdict.

See docs/provenance.md. Imports nothing from the package outside ``core.provenance``.

The record (``model``) and the rule (``rules``) are plain pydantic and standard library: the result
record embeds ``Provenance``, and the cloud API, which never scans, imports it without Pillow or
defusedxml. The reader, which needs them, is imported on first use of ``read_provenance``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepfake_detect.core.provenance.model import C2paInfo, Claim, ClaimSource, Provenance, ProvenanceConfig
from deepfake_detect.core.provenance.rules import (
    AI_DIGITAL_SOURCE_TYPES,
    apply_provenance,
    describe,
    generator_parameters,
    is_ai_source_type,
)

if TYPE_CHECKING:
    from deepfake_detect.core.provenance.reader import read_provenance

__all__ = [
    "AI_DIGITAL_SOURCE_TYPES",
    "C2paInfo",
    "Claim",
    "ClaimSource",
    "Provenance",
    "ProvenanceConfig",
    "apply_provenance",
    "describe",
    "generator_parameters",
    "is_ai_source_type",
    "read_provenance",
]


def __getattr__(name: str) -> Any:
    if name == "read_provenance":
        from deepfake_detect.core.provenance.reader import read_provenance

        return read_provenance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
