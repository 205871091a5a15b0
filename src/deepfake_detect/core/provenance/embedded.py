"""EXIF (JPEG APP1, WebP EXIF chunk, PNG eXIf chunk) and PNG text chunks (tEXt, zTXt, iTXt), read by
walking the container's segments or chunks: no pixel is decoded."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from PIL import Image

from deepfake_detect.core.provenance.fields import RawFields
from deepfake_detect.core.provenance.model import Claim, ClaimSource, ProvenanceConfig
from deepfake_detect.core.provenance.rules import generator_parameters

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEY = "XML:com.adobe.xmp"

# Tags of IFD0 and of the Exif IFD that name a tool, a camera or carry free text.
_IFD0_TAGS = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x013C: "HostComputer",
}
_EXIF_IFD = 0x8769
_EXIF_TAGS = {
    0x9003: "DateTimeOriginal",
    0x9011: "OffsetTimeOriginal",
    0x9286: "UserComment",
    0xA434: "LensModel",
}
_COMMENT_FIELDS = ("UserComment", "ImageDescription")
# Longest plain text kept in the typed fields (capture time, camera, software).
_SHORT_FIELD = 200


def jpeg_exif(head: bytes) -> bytes | None:
    """The TIFF data of a JPEG's first ``Exif`` APP1 segment (markers before the scan only)."""
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):
            return None
        length = int.from_bytes(head[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        segment = head[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return segment[6:]
        pos += 2 + length
    return None


def webp_exif(head: bytes) -> bytes | None:
    """The data of a WebP's ``EXIF`` chunk."""
    pos = 12
    while pos + 8 <= len(head):
        fourcc = head[pos : pos + 4]
        size = int.from_bytes(head[pos + 4 : pos + 8], "little")
        if fourcc == b"EXIF":
            data = head[pos + 8 : pos + 8 + size]
            return data[6:] if data.startswith(b"Exif\x00\x00") else data
        pos += 8 + size + (size & 1)
    return None


def _decode_user_comment(value: bytes | str) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if isinstance(value, str):
        return value.strip("\x00 ")
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\x00":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return body.decode("utf-16", "replace").strip("\x00 ")
        # Writers disagree on the byte order: take the one that reads as more ASCII text.
        candidates = [body.decode(codec, "replace") for codec in ("utf-16-be", "utf-16-le")]
        return max(candidates, key=lambda t: sum(32 <= ord(c) < 127 for c in t)).strip("\x00 ")
    if prefix == b"JIS\x00\x00\x00\x00\x00":
        return body.decode("shift_jis", "replace").strip("\x00 ")
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return body.decode("utf-8", "replace").strip("\x00 ")
    return value.decode("utf-8", "replace").strip("\x00 ")


def _as_text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 ")
    if isinstance(value, str):
        return value.strip("\x00 ")
    return None


def _short(text: str | None) -> str | None:
    text = " ".join(text.split()) if text else None
    return text[:_SHORT_FIELD] if text else None


def capture_time(original: str | None, offset: str | None = None) -> str | None:
    """EXIF DateTimeOriginal ("2024:05:01 14:03:22") as ISO 8601 ("2024-05-01T14:03:22", then the
    OffsetTimeOriginal "+02:00" when written); text that does not parse is kept as written, and a
    blank date ("0000:00:00 00:00:00", spaces) is none."""
    original = _short(original)
    if not original or not original.strip("0: "):
        return None
    try:
        when = datetime.strptime(original, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return original
    stamp = when.isoformat()
    offset = (offset or "").strip()
    if len(offset) == 6 and offset[0] in "+-" and offset[3] == ":" and (offset[1:3] + offset[4:]).isdigit():
        stamp += offset
    return stamp


def exif_claim(data: bytes, config: ProvenanceConfig) -> Claim | None:
    """The claim of an EXIF block (TIFF data); None when it names nothing of interest."""
    exif = Image.Exif()
    exif.load(data[: config.max_text_bytes])
    texts: dict[str, str | None] = {name: _as_text(exif.get(tag)) for tag, name in _IFD0_TAGS.items()}
    sub = exif.get_ifd(_EXIF_IFD)
    for tag, name in _EXIF_TAGS.items():
        value = sub.get(tag)
        if value is not None:
            texts[name] = _decode_user_comment(value) if tag == 0x9286 else _as_text(value)
    raw = RawFields(config.max_fields, config.max_field_chars)
    for name, text in texts.items():
        raw.add(name, text)
    fields = raw.to_dict()
    if not fields:
        return None
    generator = fields.get("Software")
    reason = None
    for name in _COMMENT_FIELDS:
        # The full text, not the clipped field: the parameters come after a prompt of any length.
        text = texts.get(name)
        params = generator_parameters(name, text) if text else None
        if params:
            reason = f"EXIF {name} holds generation parameters: {params}"
            generator = generator or params
            break
    return Claim(
        source=ClaimSource.EXIF,
        declared_ai=reason is not None,
        generator=generator,
        reason=reason,
        captured_at=capture_time(texts.get("DateTimeOriginal"), texts.get("OffsetTimeOriginal")),
        camera_make=_short(texts.get("Make")),
        camera_model=_short(texts.get("Model")),
        software=_short(texts.get("Software")),
        raw=fields,
    )


@dataclass
class PngChunks:
    text: list[tuple[str, str]] = field(default_factory=list)
    exif: bytes | None = None
    has_c2pa: bool = False
    errors: list[str] = field(default_factory=list)


def _inflate(data: bytes, limit: int) -> str:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit)
    return out.decode("latin-1")


def _text_chunk(kind: bytes, data: bytes, limit: int) -> tuple[str, str]:
    key, sep, rest = data.partition(b"\x00")
    if not sep:
        raise ValueError("no keyword separator")
    name = key.decode("latin-1")
    if kind == b"tEXt":
        return name, rest[:limit].decode("latin-1")
    if kind == b"zTXt":
        return name, _inflate(rest[1:], limit)
    # iTXt: compression flag, method, language tag \0, translated keyword \0, UTF-8 text
    compressed = rest[:1] == b"\x01"
    _lang, _, rest = rest[2:].partition(b"\x00")
    _translated, _, body = rest.partition(b"\x00")
    if compressed:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(body, limit)
    else:
        raw = body[:limit]
    return name, raw.decode("utf-8", "replace")


def walk_png(stream: BinaryIO, config: ProvenanceConfig) -> PngChunks:
    """Text, eXIf and caBX (C2PA) chunks of a PNG, seeking past everything else."""
    found = PngChunks()
    budget = config.max_text_bytes
    stream.seek(len(PNG_SIGNATURE))
    for _ in range(config.max_png_chunks):
        header = stream.read(8)
        if len(header) < 8:
            found.errors.append("png: the file ends before its IEND chunk")
            return found
        length = int.from_bytes(header[:4], "big")
        kind = header[4:]
        if kind == b"IEND":
            return found
        if kind == b"caBX":
            found.has_c2pa = True
        if kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf") and length <= budget:
            data = stream.read(length)
            stream.seek(4, 1)  # CRC
            if len(data) < length:
                found.errors.append(f"png: {kind.decode()} chunk cut short")
                return found
            budget -= length
            if kind == b"eXIf":
                found.exif = found.exif or data
                continue
            try:
                # zlib reads a limit of 0 as none at all
                key, value = _text_chunk(kind, data, max(budget, 1))
            except Exception as exc:  # bad compression or layout: reported, the walk goes on
                found.errors.append(
                    f"png: unreadable {kind.decode()} chunk: {type(exc).__name__}: {exc}"[:300]
                )
                continue
            budget -= len(value)
            found.text.append((key, value))
        elif kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
            found.errors.append(f"png: {kind.decode()} chunk of {length} bytes over the text budget; skipped")
            stream.seek(length + 4, 1)
        else:
            stream.seek(length + 4, 1)
    found.errors.append(f"png: more than {config.max_png_chunks} chunks; stopped reading")
    return found


def png_text_claim(text: list[tuple[str, str]], config: ProvenanceConfig) -> Claim | None:
    """The claim of a PNG's text chunks (the XMP one is read as XMP, not here)."""
    chunks = [(key, value) for key, value in text if key != PNG_XMP_KEY]
    if not chunks:
        return None
    raw = RawFields(config.max_fields, config.max_field_chars)
    generator = None
    reason = None
    for key, value in chunks:
        raw.add(key, value)
        params = generator_parameters(key, value)
        if params and reason is None:
            reason = f"PNG text chunk {key!r} holds generation parameters: {params}"
            generator = params
    fields = raw.to_dict()
    return Claim(
        source=ClaimSource.PNG_TEXT,
        declared_ai=reason is not None,
        generator=generator or fields.get("Software"),
        reason=reason,
        raw=fields,
    )
