"""``read_provenance``: everything a file says about its own origin, bounded, and never raising."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from deepfake_detect.core.provenance.credentials import has_store_mark, read_credentials
from deepfake_detect.core.provenance.embedded import (
    PNG_SIGNATURE,
    PNG_XMP_KEY,
    exif_claim,
    jpeg_exif,
    png_text_claim,
    walk_png,
    webp_exif,
)
from deepfake_detect.core.provenance.fields import clip
from deepfake_detect.core.provenance.model import C2paInfo, Claim, Provenance, ProvenanceConfig
from deepfake_detect.core.provenance.rules import strongest_ai_claim
from deepfake_detect.core.provenance.xmp import claims_from_packets, find_packets

_MAX_ERRORS = 32


def container_of(head: bytes) -> str | None:
    """jpg, png, webp, mp4, mov or webm from the first bytes (a copy of core.formats.sniff's rules,
    without its import of the result record, which is to embed this package's record)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


class _Collector:
    def __init__(self, config: ProvenanceConfig) -> None:
        self.config = config
        self.claims: list[Claim] = []
        self.errors: list[str] = []
        self.c2pa: C2paInfo | None = None
        self.seen_packets: set[str] = set()

    def error(self, message: str) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(clip(message, 500))

    def claim(self, claim: Claim | None) -> None:
        if claim is not None and len(self.claims) < self.config.max_claims:
            self.claims.append(claim)

    def guarded(self, what: str, step: Callable[[], None]) -> None:
        """Run ``step()``; whatever it raises is recorded as an error of ``what``."""
        try:
            step()
        except Exception as exc:
            self.error(f"{what}: {type(exc).__name__}: {exc}")

    def xmp(self, packets: list[tuple[str, bytes]]) -> None:
        claims, errors = claims_from_packets(packets, self.config, self.seen_packets)
        for claim in claims:
            self.claim(claim)
        for message in errors:
            self.error(message)

    def result(self) -> Provenance:
        strongest = strongest_ai_claim(self.claims)
        return Provenance(
            claims=self.claims,
            declared_ai=strongest is not None,
            reason=strongest.reason if strongest else None,
            c2pa=self.c2pa,
            errors=self.errors,
        )


def _windows(path: Path, size: int, config: ProvenanceConfig) -> tuple[bytes, bytes, int]:
    """The first ``xmp_scan_bytes`` and, past them, the last ``xmp_tail_bytes`` of the file, and where
    the tail starts."""
    with path.open("rb") as stream:
        head = stream.read(max(config.xmp_scan_bytes, 64))
        tail_start = max(size - config.xmp_tail_bytes, len(head))
        tail = b""
        if tail_start < size:
            stream.seek(tail_start)
            tail = stream.read(size - tail_start)
    return head, tail, tail_start


def read_provenance(path: str | os.PathLike[str], config: ProvenanceConfig | None = None) -> Provenance:
    """The provenance record of the file at ``path``: C2PA content credentials, XMP packets, EXIF and
    PNG text. Bounded by ``config``; every problem, an unreadable manifest included, lands in
    ``errors`` and nothing is raised."""
    config = config or ProvenanceConfig()
    found = _Collector(config)
    try:
        _read(Path(path), config, found)
    except Exception as exc:  # the last guard: the record is still returned
        found.error(f"provenance: {type(exc).__name__}: {exc}")
    return found.result()


def _read(path: Path, config: ProvenanceConfig, found: _Collector) -> None:
    try:
        size = path.stat().st_size
        head, tail, tail_start = _windows(path, size, config)
    except OSError as exc:
        found.error(f"file: {type(exc).__name__}: {exc.strerror or exc}")
        return
    if not head:
        found.error("file: empty")
        return
    container = container_of(head)
    scanned = head[: config.xmp_scan_bytes]

    packets: list[tuple[str, bytes]] = []
    for window, offset in ((scanned, 0), (tail, tail_start)):
        window_packets, errors = find_packets(
            window, config.max_xmp_packets, config.max_xmp_packet_bytes, offset
        )
        packets += [(f"near byte {offset}", packet) for packet in window_packets]
        for message in errors:
            found.error(message)
    found.xmp(packets[: config.max_xmp_packets])

    png_has_c2pa = False
    if container == "png":
        with path.open("rb") as stream:
            chunks = walk_png(stream, config)
        png_has_c2pa = chunks.has_c2pa
        for message in chunks.errors:
            found.error(message)
        found.xmp([("PNG iTXt", value.encode("utf-8")) for key, value in chunks.text if key == PNG_XMP_KEY])
        found.guarded("png text", lambda: found.claim(png_text_claim(chunks.text, config)))
        if chunks.exif:
            exif = chunks.exif
            found.guarded("exif", lambda: found.claim(exif_claim(exif, config)))
    elif container in ("jpg", "webp"):
        exif_data = jpeg_exif(head) if container == "jpg" else webp_exif(head)
        if exif_data:
            found.guarded("exif", lambda: found.claim(exif_claim(exif_data, config)))

    marked = png_has_c2pa or has_store_mark(head, tail)
    credentials = read_credentials(path, container, size, marked, config)
    found.c2pa = credentials.info
    # C2PA claims first: they are the strongest statements.
    found.claims[:0] = credentials.claims[: config.max_claims]
    del found.claims[config.max_claims :]
    for message in credentials.errors:
        found.error(message)
