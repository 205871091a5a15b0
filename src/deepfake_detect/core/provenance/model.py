"""The provenance record and the reader's limits: plain data, JSON in and out.

Nothing here imports the rest of the package, so the result record can embed ``Provenance``
without an import cycle.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class ClaimSource(StrEnum):
    """Where a claim was read from."""

    C2PA = "c2pa"
    XMP = "xmp"
    EXIF = "exif"
    PNG_TEXT = "png_text"


class _Record(BaseModel):
    # Stored records may come from a newer version: ignore fields this one does not know.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Claim(_Record):
    """One statement that the file makes about itself (a C2PA manifest, an XMP packet, its EXIF, its
    PNG text chunks)."""

    source: ClaimSource = Field(
        description="where it was read: c2pa (a manifest), xmp (a packet), exif, png_text (the text chunks)"
    )
    digital_source_type: str | None = Field(
        None, description="IPTC/C2PA digital source type as written (URI or bare term)"
    )
    declared_ai: bool = Field(False, description="this claim says the content was made by a generative model")
    generator: str | None = Field(None, description="the generator, tool or software named by the claim")
    reason: str | None = Field(None, description="why this claim counts as declaring AI generation")
    manifest: str | None = Field(None, description="C2PA: the manifest's label")
    active: bool | None = Field(None, description="C2PA: whether this is the store's active manifest")
    signer: str | None = Field(None, description="C2PA: the signing certificate's common name (or issuer)")
    signature_valid: bool | None = Field(None, description="C2PA: the claim signature validates")
    trusted: bool | None = Field(None, description="C2PA: the signer chains to the configured trust list")
    hashes_match: bool | None = Field(
        None, description="C2PA: the hard-binding hash assertions match the file's bytes (the pixels)"
    )
    captured_at: str | None = Field(
        None,
        description="EXIF: when the picture was taken (DateTimeOriginal, with OffsetTimeOriginal when "
        "written), ISO 8601 where it parses, else as written; the camera's clock, never checked",
    )
    camera_make: str | None = Field(None, description="EXIF: the camera's maker (Make)")
    camera_model: str | None = Field(None, description="EXIF: the camera's model (Model)")
    software: str | None = Field(None, description="EXIF: the software that last wrote the file (Software)")
    raw: dict[str, str] = Field(
        default_factory=dict, description="the fields found, each cut to a bounded length"
    )


class C2paInfo(_Record):
    """Content credentials (C2PA) of the file as a whole: found, read, validated?"""

    present: bool = Field(description="a C2PA manifest store was found in the file")
    validated: bool = Field(
        False, description="the C2PA SDK read and validated it; false means present but not validated"
    )
    validation_state: str | None = Field(None, description="the SDK's verdict: Invalid, Valid or Trusted")
    signature_valid: bool | None = Field(
        None, description="the active manifest's claim signature validates (None: not checked)"
    )
    trusted: bool | None = Field(
        None, description="the signer chains to the configured trust anchors (None: not checked)"
    )
    hashes_match: bool | None = Field(
        None, description="the hard-binding hash assertions match the file's bytes (None: not checked)"
    )
    signer: str | None = Field(None, description="the signing certificate's common name (or issuer)")
    issuer: str | None = Field(None, description="the issuer of the signing certificate")
    signed_at: str | None = Field(None, description="the signing time, as the SDK reports it")
    claim_generator: str | None = Field(None, description="the software that wrote the active manifest")
    active_manifest: str | None = Field(None, description="the label of the active manifest")
    manifests: int = Field(0, description="manifests in the store (ingredients' included)")
    failures: list[str] = Field(default_factory=list, description="validation failure codes (bounded)")
    remote_url: str | None = Field(None, description="a remote manifest the file points to (never fetched)")
    sdk_version: str | None = Field(None, description="the C2PA SDK version that read the store")
    error: str | None = Field(None, description="why the store could not be read or validated")


class Provenance(_Record):
    """What a file's own metadata says about where it came from."""

    claims: list[Claim] = Field(
        default_factory=list,
        description="one per C2PA manifest, XMP packet, EXIF block or set of PNG text chunks",
    )
    declared_ai: bool = Field(False, description="some claim declares generation by an AI model")
    reason: str | None = Field(None, description="the strongest such claim, in words")
    c2pa: C2paInfo | None = Field(None, description="the C2PA manifest store; None when the file has none")
    errors: list[str] = Field(default_factory=list, description="what could not be read, and why")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        return cls.model_validate(data)


class ProvenanceConfig(BaseModel):
    """Bounds and trust settings of the reader (``read_provenance``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    xmp_scan_bytes: int = Field(16 * MIB, ge=0, description="bytes from the start searched for XMP")
    xmp_tail_bytes: int = Field(
        1 * MIB, ge=0, description="bytes from the end searched too (video metadata after the media data)"
    )
    max_xmp_packets: int = Field(8, ge=0)
    max_xmp_packet_bytes: int = Field(2 * MIB, ge=1, description="a larger packet is reported, not parsed")
    max_png_chunks: int = Field(100_000, ge=1, description="PNG chunks walked before giving up")
    max_text_bytes: int = Field(
        4 * MIB, ge=1, description="PNG text (after decompression) and EXIF bytes read in all"
    )
    max_field_chars: int = Field(2000, ge=16, description="each raw field is cut to this length")
    max_fields: int = Field(64, ge=1, description="raw fields kept per claim")
    max_claims: int = Field(32, ge=1)
    c2pa_enabled: bool = True
    c2pa_max_file_bytes: int = Field(
        512 * MIB, ge=0, description="larger files are not handed to the C2PA SDK (it hashes the whole file)"
    )
    c2pa_timeout_s: float = Field(30.0, gt=0.0, description="reading and validating one manifest store")
    c2pa_trust_anchors_pem: str | None = Field(
        None,
        description="root certificates (PEM) a C2PA signer must chain to to count as trusted, e.g. the "
        "C2PA trust list; without them every signer is reported as untrusted",
    )
    c2pa_allowed_certs_pem: str | None = Field(
        None, description="end-entity certificates (PEM) trusted as they are"
    )
