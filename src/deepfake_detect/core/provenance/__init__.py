"""Provenance: what a scanned file's own metadata says about its origin (C2PA content credentials,
XMP, EXIF, PNG text), and the rule that lets a declaration of AI generation decide the verdict.

See docs/provenance.md. Imports nothing from the package outside ``core.provenance``.
"""

from deepfake_detect.core.provenance.model import C2paInfo, Claim, ClaimSource, Provenance, ProvenanceConfig
from deepfake_detect.core.provenance.reader import read_provenance
from deepfake_detect.core.provenance.rules import (
    AI_DIGITAL_SOURCE_TYPES,
    apply_provenance,
    describe,
    generator_parameters,
    is_ai_source_type,
)

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
