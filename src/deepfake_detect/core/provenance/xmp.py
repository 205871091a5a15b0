"""XMP packets: found by their ``x:xmpmeta`` element in raw bytes (JPEG APP1, PNG iTXt, WebP, MP4
``uuid`` boxes all store them uncompressed), parsed without DTDs or entities (defusedxml)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeElementTree

from deepfake_detect.core.provenance.fields import RawFields
from deepfake_detect.core.provenance.model import Claim, ClaimSource, ProvenanceConfig
from deepfake_detect.core.provenance.rules import generator_parameters, is_ai_source_type, source_type_term

_OPEN_TAGS = (b"<x:xmpmeta", b"<x:xapmeta")
_CLOSE_TAGS = {b"<x:xmpmeta": b"</x:xmpmeta>", b"<x:xapmeta": b"</x:xapmeta>"}

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_PREFIXES = {
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://ns.google.com/photos/1.0/image/": "GImage",
}
# Local names worth keeping, whatever their namespace.
_KEPT = {
    "DigitalSourceType",
    "CreatorTool",
    "softwareAgent",
    "Software",
    "Make",
    "Model",
    "LensModel",
    "description",
    "title",
    "creator",
    "Credit",
    "UserComment",
    "provenance",
    "History",
    "AISystemUsed",
    "AISystemVersionUsed",
    "AIPromptInformation",
    "AIPromptWriterName",
}
_GENERATOR_ORDER = ("AISystemUsed", "CreatorTool", "softwareAgent", "Software")
_COMMENT_FIELDS = ("UserComment", "description")


def find_packets(data: bytes, limit: int, max_bytes: int, offset: int = 0) -> tuple[list[bytes], list[str]]:
    """The XMP packets in ``data`` (at most ``limit``), and what was wrong with those skipped."""
    packets: list[bytes] = []
    errors: list[str] = []
    pos = 0
    while len(packets) < limit:
        hits = [(data.find(tag, pos), tag) for tag in _OPEN_TAGS]
        hits = [(at, tag) for at, tag in hits if at >= 0]
        if not hits:
            break
        start, tag = min(hits)
        close = _CLOSE_TAGS[tag]
        end = data.find(close, start, start + max_bytes + len(close))
        if end < 0:
            if data.find(close, start) < 0:
                errors.append(f"xmp: packet at byte {offset + start} has no end")
            else:
                errors.append(
                    f"xmp: packet at byte {offset + start} is larger than {max_bytes} bytes; not read"
                )
            pos = start + len(tag)
            continue
        packets.append(data[start : end + len(close)])
        pos = end + len(close)
    return packets, errors


def _name(tag: str) -> tuple[str, str]:
    """(prefixed name, local name) of a Clark-notation tag ``{namespace}local``."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        prefix = _PREFIXES.get(namespace)
        return (f"{prefix}:{local}" if prefix else local), local
    return tag, tag.rpartition(":")[2]


def _text(element: Element) -> str | None:
    """An element's value: its text, its ``rdf:resource``, or the items of an rdf:Alt/Bag/Seq."""
    text = (element.text or "").strip()
    if text:
        return text
    resource = element.get(f"{{{RDF}}}resource")
    if resource:
        return resource.strip()
    items = [(li.text or "").strip() for li in element.iter(f"{{{RDF}}}li")]
    joined = " | ".join(item for item in items if item)
    return joined or None


def _collect(root: Element, raw: RawFields) -> dict[str, str]:
    """Fill ``raw``; return the whole text of the first comment-like field of each name (the
    parameters of a generator come after a prompt of any length)."""
    comments: dict[str, str] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name, local = _name(element.tag)
        found: list[tuple[str, str, str | None]] = []
        if local in _KEPT and local != "History":
            found.append((name, local, _text(element)))
        for attribute, value in element.attrib.items():
            attr_name, attr_local = _name(attribute)
            if attr_local in _KEPT and not attribute.startswith(f"{{{RDF}}}"):
                found.append((attr_name, attr_local, value))
        for key, key_local, text in found:
            raw.add(key, text)
            if text and key_local in _COMMENT_FIELDS:
                comments.setdefault(key, text)
    return comments


def _first_local(raw: dict[str, str], local: str) -> tuple[str, str] | None:
    for key, value in raw.items():
        if key.rpartition(":")[2] == local:
            return key, value
    return None


def packet_claim(packet: bytes, config: ProvenanceConfig) -> Claim | None:
    """The claim one XMP packet makes, None when it names nothing of interest; raises on malformed
    XML and on a DTD or entity."""
    root = SafeElementTree.fromstring(packet)
    raw = RawFields(config.max_fields, config.max_field_chars)
    comments = _collect(root, raw)
    fields = raw.to_dict()
    if not fields:
        return None
    source_types = [v for k, v in fields.items() if k.rpartition(":")[2] == "DigitalSourceType"]
    values = [part.strip() for value in source_types for part in value.split(" | ")]
    ai_type = next((v for v in values if is_ai_source_type(v)), None)
    source_type = ai_type or (values[0] if values else None)
    generator = None
    for local in _GENERATOR_ORDER:
        found = _first_local(fields, local)
        if found:
            # The last history entry is the latest tool.
            generator = found[1].split(" | ")[-1] if local == "softwareAgent" else found[1]
            break
    reason = None
    if ai_type:
        tool = f"; tool: {generator}" if generator else ""
        reason = f"XMP metadata declares the IPTC digital source type {source_type_term(ai_type)}{tool}"
    else:
        for key, text in comments.items():
            params = generator_parameters(key.rpartition(":")[2], text)
            if params:
                reason = f"XMP {key} holds generation parameters: {params}"
                generator = generator or params
                break
    return Claim(
        source=ClaimSource.XMP,
        digital_source_type=source_type,
        declared_ai=reason is not None,
        generator=generator,
        reason=reason,
        raw=fields,
    )


def claims_from_packets(
    packets: Iterable[tuple[str, bytes]], config: ProvenanceConfig, seen: set[str]
) -> tuple[list[Claim], list[str]]:
    """Claims of (where, packet) pairs, each distinct packet once; malformed ones become errors."""
    claims: list[Claim] = []
    errors: list[str] = []
    for where, packet in packets:
        digest = hashlib.sha256(packet).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            claim = packet_claim(packet, config)
        except Exception as exc:  # malformed XML, forbidden DTD or entity: reported, never raised
            errors.append(f"xmp: unreadable packet ({where}): {type(exc).__name__}: {exc}"[:500])
            continue
        if claim is not None:
            claims.append(claim)
    return claims, errors
