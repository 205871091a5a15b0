"""A provenance record with every part filled in, for store and API round trips."""

from __future__ import annotations

from deepfake_detect.core.provenance import C2paInfo, Claim, ClaimSource, Provenance
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, TrackResult, Verdict

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
REASON = "C2PA manifest (signed by Example Signer) declares trainedAlgorithmicMedia"


def full_provenance() -> Provenance:
    return Provenance(
        claims=[
            Claim(
                source=ClaimSource.C2PA,
                digital_source_type=f"{IPTC}trainedAlgorithmicMedia",
                declared_ai=True,
                generator="Example Generator 2.0",
                reason=REASON,
                manifest="urn:uuid:0f0e",
                active=True,
                signer="Example Signer",
                signature_valid=True,
                trusted=False,
                hashes_match=True,
                raw={"claim_generator": "Example Generator 2.0", "action": "c2pa.created"},
            ),
            Claim(source=ClaimSource.EXIF, generator="Example Editor", raw={"Software": "Example Editor"}),
        ],
        declared_ai=True,
        reason=REASON,
        c2pa=C2paInfo(
            present=True,
            validated=True,
            validation_state="Valid",
            signature_valid=True,
            trusted=False,
            hashes_match=True,
            signer="Example Signer",
            issuer="Example CA",
            signed_at="2025-01-01T12:00:00+00:00",
            claim_generator="Example Generator 2.0",
            active_manifest="urn:uuid:0f0e",
            manifests=1,
            failures=["signingCredential.untrusted"],
            sdk_version="0.0-test",
        ),
        errors=["exif: one unreadable tag"],
    )


def declared_result(**fields: object) -> DetectionResult:
    """A finished result whose verdict the file's own metadata decided (the classifier said real)."""
    values: dict[str, object] = {
        "path": "generated.png",
        "media_kind": MediaKind.IMAGE,
        "status": Status.DONE,
        "verdict": Verdict.FAKE,
        "classifier_verdict": Verdict.REAL,
        "verdict_reason": REASON,
        "score": 0.12,
        "threshold": 0.5,
        "tracks": [
            TrackResult(
                track=0,
                score=0.12,
                verdict=Verdict.REAL,
                frames=1,
                first_timestamp_s=0.0,
                last_timestamp_s=0.0,
            )
        ],
        "provenance": full_provenance(),
        "timings_ms": {"provenance": 0.5, "total": 10.0},
    }
    values.update(fields)
    return DetectionResult.model_validate(values)
