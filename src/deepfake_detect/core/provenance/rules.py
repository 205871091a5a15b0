"""Pure rules: which declarations mean "made by a generative model", and what provenance does to a
verdict (docs/provenance.md). No I/O.

Verdicts are plain strings ("fake", "real", "no_face", "error": ``core.result.Verdict`` values) so
that this module does not import the result record, which embeds ``Provenance``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from deepfake_detect.core.provenance.model import Claim, ClaimSource, Provenance

IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# The IPTC digital source types that mean the content was made by a generative (trained) model.
AI_DIGITAL_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
# Those that mean a capture device recorded it: shown, never trusted over the classifier.
CAPTURE_DIGITAL_SOURCE_TYPES = frozenset(
    {"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "compositeCapture"}
)

FAKE = "fake"
ERROR = "error"

# Claims are weighed in this order when more than one declares AI generation.
_SOURCE_PRIORITY = (ClaimSource.C2PA, ClaimSource.XMP, ClaimSource.PNG_TEXT, ClaimSource.EXIF)


def source_type_term(value: str | None) -> str | None:
    """The bare IPTC term of a digital source type: the last path segment of the URI, or the term."""
    if not value:
        return None
    term = value.strip().rstrip("/").rsplit("/", 1)[-1].strip()
    return term or None


def is_ai_source_type(value: str | None) -> bool:
    """``trainedAlgorithmicMedia`` or ``compositeWithTrainedAlgorithmicMedia``, as a full IPTC (or
    C2PA) URI or as the bare term."""
    return source_type_term(value) in AI_DIGITAL_SOURCE_TYPES


def is_capture_source_type(value: str | None) -> bool:
    return source_type_term(value) in CAPTURE_DIGITAL_SOURCE_TYPES


_A1111_STEPS = re.compile(r"\bSteps: \d+")
_A1111_OTHER = re.compile(r"\b(?:Sampler|Seed|CFG scale|Model hash|Schedule type): ")
_A1111_MODEL = re.compile(r"\bModel: ([^,\n]{1,100})")
_A1111_VERSION = re.compile(r"\bVersion: ([^,\n]{1,60})")
# PNG text keywords that only image-generation front ends write.
_GENERATOR_KEYS = {
    "invokeai_metadata": "InvokeAI",
    "invokeai_graph": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "dream": "InvokeAI (dream)",
    "fooocus_scheme": "Fooocus",
}


def _json_object(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _a1111(text: str) -> str | None:
    if not (_A1111_STEPS.search(text) and _A1111_OTHER.search(text)):
        return None
    details = [
        f"{name}: {match.group(1).strip()}"
        for name, match in (("Model", _A1111_MODEL.search(text)), ("Version", _A1111_VERSION.search(text)))
        if match
    ]
    name = "Stable Diffusion web UI parameters (AUTOMATIC1111 format)"
    return f"{name}; {', '.join(details)}" if details else name


def generator_parameters(key: str, text: str) -> str | None:
    """The generator whose parameters ``text`` (stored under ``key``: a PNG text keyword, or an EXIF or
    XMP comment field) holds, or None when it looks like anything else."""
    lowered = key.strip().lower()
    if lowered in _GENERATOR_KEYS:
        return _GENERATOR_KEYS[lowered]
    found = _a1111(text)
    if found:
        return found
    obj = _json_object(text)
    if obj is None:
        return "NovelAI" if lowered == "software" and text.strip().lower().startswith("novelai") else None
    if lowered == "prompt" and obj and all(isinstance(v, dict) and "class_type" in v for v in obj.values()):
        return "ComfyUI (prompt graph)"
    if (
        lowered == "workflow"
        and isinstance(obj.get("nodes"), list)
        and ("links" in obj or "last_node_id" in obj)
    ):
        return "ComfyUI (workflow)"
    if "sui_image_params" in obj:
        return "SwarmUI"
    keys = {k.lower() for k in obj}
    if lowered == "comment" and "steps" in keys and keys & {"sampler", "seed", "uc", "scale"}:
        return "NovelAI"
    if {"prompt", "seed"} <= keys and keys & {
        "steps",
        "sampler",
        "cfg_scale",
        "guidance_scale",
        "negative_prompt",
    }:
        return "image generator parameters (JSON)"
    return None


def strongest_ai_claim(claims: list[Claim]) -> Claim | None:
    """The claim that best supports "declared AI": C2PA, then XMP, PNG text, EXIF."""
    for source in _SOURCE_PRIORITY:
        for claim in claims:
            if claim.source == source and claim.declared_ai:
                return claim
    return None


def apply_provenance(verdict: str, provenance: Provenance | None) -> tuple[str, str | None]:
    """The final verdict and, when provenance decided it, the reason.

    - The file's own metadata declares AI generation (a C2PA action's or assertion's digital source
      type, an IPTC digital source type in XMP, generator parameters in PNG text or an EXIF/XMP
      comment): ``fake``, with the reason, whatever the classifier said. Unsigned and unvalidated
      declarations count too: they can only make a file look less authentic.
    - Credentials that fail validation are reported in the record and change nothing here.
    - A capture credential, valid and trusted or not, is shown and never overrides the classifier.
    - A failed scan (``error``) stays failed; its provenance is still reported.
    """
    if provenance is None or verdict == ERROR or not provenance.declared_ai:
        return verdict, None
    claim = strongest_ai_claim(provenance.claims)
    reason = provenance.reason or (claim.reason if claim else None) or "the file declares AI generation"
    return FAKE, reason


def describe(provenance: Provenance | None) -> str | None:
    """One line for people about the file's credentials, AI-declaring or not; None when it has none."""
    if provenance is None:
        return None
    if provenance.declared_ai:
        return provenance.reason
    c2pa = provenance.c2pa
    if c2pa is None or not c2pa.present:
        return None
    if not c2pa.validated:
        return "Content credentials present but not validated" + (f": {c2pa.error}" if c2pa.error else "")
    signer = f" signed by {c2pa.signer}" if c2pa.signer else ""
    if c2pa.signature_valid is False or c2pa.hashes_match is False or c2pa.validation_state == "Invalid":
        failed = ", ".join(c2pa.failures[:3])
        return f"Content credentials{signer} do not validate" + (f" ({failed})" if failed else "")
    trust = "trusted signer" if c2pa.trusted else "signer not on the trust list"
    capture = next(
        (
            c
            for c in provenance.claims
            if c.source == ClaimSource.C2PA and is_capture_source_type(c.digital_source_type)
        ),
        None,
    )
    what = "a capture credential" if capture else "content credentials"
    return f"Valid {what}{signer} ({trust}); shown for information, the classifier decides"
