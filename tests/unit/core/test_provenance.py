"""Provenance reader and verdict rule (core/provenance, docs/provenance.md). Every test file is made
here: PNG text chunks, XMP packets, EXIF, and C2PA manifests signed with a throwaway certificate chain."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from deepfake_detect.core.provenance import (
    ClaimSource,
    Provenance,
    ProvenanceConfig,
    apply_provenance,
    describe,
    generator_parameters,
    is_ai_source_type,
    read_provenance,
)
from deepfake_detect.core.provenance import credentials as credentials_module
from deepfake_detect.core.provenance.embedded import capture_time
from deepfake_detect.core.provenance.model import C2paInfo, Claim
from tests.support.c2pa import make_pki, sign

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111 = (
    "portrait photo of a woman, freckles, 85mm\n"
    "Negative prompt: blurry, cartoon\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0"
)
COMFY_PROMPT = json.dumps(
    {
        "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
    }
)
COMFY_WORKFLOW = json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": []})


def _image(color: tuple[int, int, int] = (120, 80, 60)) -> Image.Image:
    return Image.new("RGB", (64, 48), color)


def _jpeg(**save: Any) -> bytes:
    buffer = io.BytesIO()
    _image().save(buffer, "JPEG", **save)
    return buffer.getvalue()


def _png(info: PngImagePlugin.PngInfo | None = None) -> bytes:
    buffer = io.BytesIO()
    _image().save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _xmp(attrs: str = "", elements: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        f"{attrs}>{elements}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _exif(**tags: Any) -> bytes:
    exif = Image.Exif()
    names = {"Software": 0x0131, "Make": 0x010F, "Model": 0x0110, "ImageDescription": 0x010E}
    # Tags of the Exif IFD (0x8769), not of IFD0.
    exif_ifd = {"UserComment": 0x9286, "DateTimeOriginal": 0x9003, "OffsetTimeOriginal": 0x9011}
    for name, value in tags.items():
        if name in exif_ifd:
            exif.get_ifd(0x8769)[exif_ifd[name]] = value
        else:
            exif[names[name]] = value
    return exif.tobytes()


# ---- the record ----------------------------------------------------------------------------------


def test_record_round_trips_through_json() -> None:
    record = Provenance(
        claims=[
            Claim(
                source=ClaimSource.C2PA,
                digital_source_type=IPTC + "trainedAlgorithmicMedia",
                declared_ai=True,
                generator="Gen 1",
                reason="why",
                manifest="urn:c2pa:x",
                active=True,
                signer="Signer",
                signature_valid=True,
                trusted=False,
                hashes_match=True,
                raw={"action.1": "c2pa.created"},
            ),
            Claim(source=ClaimSource.PNG_TEXT, raw={"parameters": "Steps: 1"}),
        ],
        declared_ai=True,
        reason="why",
        c2pa=C2paInfo(present=True, validated=True, validation_state="Valid", failures=["x"]),
        errors=["xmp: bad"],
    )
    data = json.loads(json.dumps(record.to_dict()))
    assert data["claims"][0]["source"] == "c2pa"
    assert Provenance.from_dict(data) == record
    assert Provenance.from_dict({**data, "added_later": 1}) == record


# ---- PNG text --------------------------------------------------------------------------------------


def test_png_with_a1111_parameters_declares_ai(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    record = read_provenance(_write(tmp_path, "sd.png", _png(info)))
    assert record.errors == []
    assert record.declared_ai
    [claim] = record.claims
    assert claim.source == ClaimSource.PNG_TEXT
    assert claim.generator and "AUTOMATIC1111" in claim.generator and "v1-5-pruned-emaonly" in claim.generator
    assert claim.raw["parameters"].startswith("portrait photo")
    assert record.reason and "'parameters'" in record.reason
    assert apply_provenance("real", record) == ("fake", record.reason)


def test_png_comfyui_chunks_compressed_and_after_the_image_data(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("prompt", COMFY_PROMPT, zip=True)
    info.add_text("workflow", COMFY_WORKFLOW, zip=True)
    data = _png(info)
    # Move the text chunks after IDAT, where ComfyUI-like writers and editors may leave them.
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    text = [c for c in chunks if c[4:8] in (b"iTXt", b"zTXt")]
    rest = [c for c in chunks if c not in text]
    reordered = data[:8] + b"".join(rest[:-1] + text + rest[-1:])
    record = read_provenance(_write(tmp_path, "comfy.png", reordered))
    assert record.errors == []
    [claim] = record.claims
    assert claim.declared_ai and claim.generator == "ComfyUI (prompt graph)"
    assert set(claim.raw) == {"prompt", "workflow"}


def test_png_xmp_in_compressed_itxt_is_read_as_xmp(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    packet = _xmp(f'Iptc4xmpExt:DigitalSourceType="{IPTC}compositeWithTrainedAlgorithmicMedia"')
    info.add_itxt("XML:com.adobe.xmp", packet.decode(), zip=True)
    info.add_text("Software", "GIMP 2.10")
    record = read_provenance(_write(tmp_path, "xmp.png", _png(info)))
    assert record.errors == []
    sources = {claim.source: claim for claim in record.claims}
    assert sources[ClaimSource.XMP].declared_ai
    assert not sources[ClaimSource.PNG_TEXT].declared_ai
    assert sources[ClaimSource.PNG_TEXT].generator == "GIMP 2.10"
    assert record.reason and "compositeWithTrainedAlgorithmicMedia" in record.reason


def test_png_text_that_is_not_generator_parameters_changes_nothing(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "exposure=+1, contrast=low")
    info.add_text("Comment", "holiday 2019")
    record = read_provenance(_write(tmp_path, "plain.png", _png(info)))
    assert not record.declared_ai
    assert apply_provenance("real", record) == ("real", None)


# ---- XMP --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "elements"),
    [
        (f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia" xmp:CreatorTool="Midjourney"', ""),
        (
            "",
            "<Iptc4xmpExt:DigitalSourceType>trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
            "<xmp:CreatorTool>Midjourney</xmp:CreatorTool>",
        ),
        (
            'xmp:CreatorTool="Midjourney"',
            f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{IPTC}trainedAlgorithmicMedia"/>',
        ),
    ],
    ids=["attribute", "bare-term-element", "rdf-resource"],
)
def test_jpeg_xmp_declaring_trained_algorithmic_media(tmp_path: Path, attrs: str, elements: str) -> None:
    record = read_provenance(_write(tmp_path, "xmp.jpg", _jpeg(xmp=_xmp(attrs, elements))))
    assert record.errors == []
    [claim] = record.claims
    assert claim.source == ClaimSource.XMP
    assert claim.declared_ai
    assert claim.generator == "Midjourney"
    assert is_ai_source_type(claim.digital_source_type)
    assert record.reason and "trainedAlgorithmicMedia" in record.reason
    assert apply_provenance("real", record)[0] == "fake"


def test_xmp_capture_source_type_and_history_are_reported_not_ai(tmp_path: Path) -> None:
    elements = (
        '<xmpMM:History xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
        'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"><rdf:Seq>'
        '<rdf:li stEvt:action="created" stEvt:softwareAgent="Camera FW 1.0"/>'
        '<rdf:li stEvt:action="saved" stEvt:softwareAgent="Lightroom 13"/>'
        "</rdf:Seq></xmpMM:History>"
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">A street</rdf:li></rdf:Alt></dc:description>'
    )
    packet = _xmp(f'Iptc4xmpExt:DigitalSourceType="{IPTC}digitalCapture"', elements)
    record = read_provenance(_write(tmp_path, "cap.jpg", _jpeg(xmp=packet)))
    [claim] = record.claims
    assert not claim.declared_ai
    assert claim.digital_source_type == IPTC + "digitalCapture"
    assert claim.generator == "Lightroom 13"
    assert claim.raw["dc:description"] == "A street"
    assert claim.raw["stEvt:softwareAgent"] == "Camera FW 1.0 | Lightroom 13"


def test_webp_xmp_and_exif(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    packet = _xmp(f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"')
    _image().save(buffer, "WEBP", xmp=packet, exif=_exif(Software="Some Editor"))
    record = read_provenance(_write(tmp_path, "x.webp", buffer.getvalue()))
    assert record.errors == []
    sources = {claim.source: claim for claim in record.claims}
    assert sources[ClaimSource.XMP].declared_ai
    assert sources[ClaimSource.EXIF].generator == "Some Editor"


@pytest.mark.parametrize(
    "packet",
    [
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><broken></x:xmpmeta>',
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><unclosed attr="',
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><!DOCTYPE a [<!ENTITY a "aaaa">]>&a;</x:xmpmeta>',
    ],
    ids=["malformed", "no-end", "entity"],
)
def test_corrupt_xmp_is_reported_not_raised(tmp_path: Path, packet: bytes) -> None:
    record = read_provenance(_write(tmp_path, "bad.jpg", _jpeg(xmp=packet)))
    assert not record.declared_ai
    assert any(error.startswith("xmp:") for error in record.errors), record.errors


def test_xmp_with_entities_is_refused(tmp_path: Path) -> None:
    # A packet that brings its own DTD (only possible where the text is the whole XML document, as in
    # a PNG iTXt chunk): entity expansion is refused, the refusal reported.
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x:xmpmeta [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", bomb, zip=True)
    record = read_provenance(_write(tmp_path, "bomb.png", _png(info)))
    assert record.claims == []
    assert any("EntitiesForbidden" in e or "DTDForbidden" in e for e in record.errors), record.errors


def test_xmp_bounds(tmp_path: Path) -> None:
    long_tool = "T" * 5000
    packet = _xmp(f'xmp:CreatorTool="{long_tool}"')
    filler = b"\x00" * 4096
    data = _jpeg(xmp=packet)
    config = ProvenanceConfig(max_field_chars=100)
    [claim] = read_provenance(_write(tmp_path, "long.jpg", data), config).claims
    assert len(claim.raw["xmp:CreatorTool"]) == 100 and claim.raw["xmp:CreatorTool"].endswith("…")
    # Past the scanned head and before the tail: not looked at.
    plain = _jpeg()
    late = plain + filler + packet + filler
    far = ProvenanceConfig(xmp_scan_bytes=len(plain), xmp_tail_bytes=len(filler))
    assert read_provenance(_write(tmp_path, "late.jpg", late), far).claims == []
    # In the tail window (video metadata after the media data): found.
    tail = ProvenanceConfig(xmp_scan_bytes=len(plain), xmp_tail_bytes=len(packet) + 2 * len(filler))
    assert len(read_provenance(_write(tmp_path, "late.jpg", late), tail).claims) == 1
    # A packet over the size limit is reported.
    small = ProvenanceConfig(max_xmp_packet_bytes=64)
    record = read_provenance(_write(tmp_path, "big.jpg", data), small)
    assert record.claims == [] and any("larger than" in e for e in record.errors)


def test_many_fields_are_capped(tmp_path: Path) -> None:
    items = "".join(f"<rdf:li>value number {i}</rdf:li>" for i in range(300))
    elements = f"<dc:description><rdf:Bag>{items}</rdf:Bag></dc:description>"
    path = _write(tmp_path, "many.jpg", _jpeg(xmp=_xmp('xmp:CreatorTool="tool"', elements)))
    [claim] = read_provenance(path).claims
    assert len(claim.raw["dc:description"]) == 2000
    [claim] = read_provenance(path, ProvenanceConfig(max_fields=1)).claims
    assert claim.raw == {"xmp:CreatorTool": "tool", "_dropped_fields": "1"}


# ---- EXIF -------------------------------------------------------------------------------------------


def test_jpeg_exif_software_is_reported_not_ai(tmp_path: Path) -> None:
    data = _jpeg(exif=_exif(Software="Adobe Photoshop 25.0", Make="Canon", Model="EOS R5"))
    record = read_provenance(_write(tmp_path, "exif.jpg", data))
    assert record.errors == []
    [claim] = record.claims
    assert claim.source == ClaimSource.EXIF
    assert claim.generator == "Adobe Photoshop 25.0"
    assert claim.raw == {"Make": "Canon", "Model": "EOS R5", "Software": "Adobe Photoshop 25.0"}
    assert not record.declared_ai
    assert apply_provenance("real", record) == ("real", None)


def test_jpeg_exif_capture_time_camera_and_software_are_read(tmp_path: Path) -> None:
    """Capture time (Exif IFD), camera and software (IFD0) of a file written with those tags are
    typed fields of the EXIF claim, shown for information: they never decide anything."""
    tags = _exif(
        DateTimeOriginal="2024:05:01 14:03:22",
        OffsetTimeOriginal="+02:00",
        Make="Canon",
        Model="Canon EOS R5",
        Software="Adobe Photoshop CS6 (Windows)",
    )
    path = tmp_path / "camera.jpg"
    _image().save(path, "JPEG", exif=tags)
    # Pillow reads back what was written where the brief says it lives.
    written = Image.open(path).getexif()
    assert written.get_ifd(0x8769)[0x9003] == "2024:05:01 14:03:22"
    assert (written[0x010F], written[0x0110]) == ("Canon", "Canon EOS R5")
    assert written[0x0131] == "Adobe Photoshop CS6 (Windows)"

    record = read_provenance(path)
    assert record.errors == []
    [claim] = record.claims
    assert claim.source == ClaimSource.EXIF
    assert claim.captured_at == "2024-05-01T14:03:22+02:00"
    assert (claim.camera_make, claim.camera_model) == ("Canon", "Canon EOS R5")
    assert claim.software == "Adobe Photoshop CS6 (Windows)"
    assert claim.raw["DateTimeOriginal"] == "2024:05:01 14:03:22"
    assert not claim.declared_ai and not record.declared_ai
    assert apply_provenance("real", record) == ("real", None)
    assert apply_provenance("inconclusive", record) == ("inconclusive", None)
    again = Provenance.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.claims[0].captured_at == claim.captured_at


@pytest.mark.parametrize(
    ("original", "offset", "expected"),
    [
        ("2024:05:01 14:03:22", None, "2024-05-01T14:03:22"),
        ("2024:05:01 14:03:22", "-05:00", "2024-05-01T14:03:22-05:00"),
        ("2024:05:01 14:03:22", "junk", "2024-05-01T14:03:22"),
        ("0000:00:00 00:00:00", None, None),
        ("    :  :     :  :  ", None, None),
        ("yesterday", None, "yesterday"),
        (None, "+01:00", None),
    ],
)
def test_capture_time(original: str | None, offset: str | None, expected: str | None) -> None:
    assert capture_time(original, offset) == expected


def test_exif_with_only_a_capture_time_is_a_claim(tmp_path: Path) -> None:
    data = _jpeg(exif=_exif(DateTimeOriginal="2019:12:31 23:59:59"))
    [claim] = read_provenance(_write(tmp_path, "phone.jpg", data)).claims
    assert claim.captured_at == "2019-12-31T23:59:59"
    assert claim.camera_make is None and claim.camera_model is None and claim.software is None
    assert claim.generator is None


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_jpeg_exif_user_comment_with_a1111_parameters(tmp_path: Path, encoding: str) -> None:
    # AUTOMATIC1111 saves JPEG and WebP with its parameters in EXIF UserComment ("UNICODE" prefix).
    comment = b"UNICODE\x00" + A1111.encode(encoding)
    record = read_provenance(_write(tmp_path, "sd.jpg", _jpeg(exif=_exif(UserComment=comment))))
    [claim] = record.claims
    assert claim.declared_ai and claim.raw["UserComment"].startswith("portrait photo")
    assert record.reason and "UserComment" in record.reason


# ---- nothing, or nothing readable ---------------------------------------------------------------


def test_plain_jpeg_has_no_claims_and_no_errors(tmp_path: Path) -> None:
    record = read_provenance(_write(tmp_path, "plain.jpg", _jpeg()))
    assert record == Provenance()
    assert apply_provenance("real", record) == ("real", None)
    assert describe(record) is None


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("garbage.jpg", b"\x00\x01garbage" * 50, None),
        ("empty.jpg", b"", "file: empty"),
        ("truncated.jpg", None, "c2pa:"),
        ("truncated.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", "png:"),
    ],
)
def test_truncated_or_garbage_files_never_raise(
    tmp_path: Path, name: str, data: bytes | None, error: str | None
) -> None:
    if data is None:
        whole = _jpeg(exif=_exif(Software="x"))
        data = whole[: len(whole) // 2]
    record = read_provenance(_write(tmp_path, name, data))
    assert not record.declared_ai
    if error is None:
        assert record.errors == []
    else:
        assert any(e.startswith(error) for e in record.errors), record.errors


def test_missing_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    record = read_provenance(tmp_path / "nope.jpg")
    assert record.errors and record.errors[0].startswith("file: FileNotFoundError")


def test_a_failing_reader_step_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfake_detect.core.provenance import reader

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(reader, "exif_claim", broken)
    record = read_provenance(_write(tmp_path, "exif.jpg", _jpeg(exif=_exif(Software="x"))))
    assert record.errors == ["exif: RuntimeError: boom"]


# ---- generator parameters and source types --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("parameters", A1111, "AUTOMATIC1111"),
        ("prompt", COMFY_PROMPT, "ComfyUI"),
        ("workflow", COMFY_WORKFLOW, "ComfyUI"),
        ("Software", "NovelAI", "NovelAI"),
        ("Comment", json.dumps({"prompt": "x", "steps": 28, "sampler": "k_euler", "seed": 1}), "NovelAI"),
        ("invokeai_metadata", "{}", "InvokeAI"),
        ("parameters", json.dumps({"sui_image_params": {"prompt": "x"}}), "SwarmUI"),
        ("parameters", json.dumps({"prompt": "x", "seed": 3, "steps": 20}), "parameters"),
        ("parameters", "a nice photo", None),
        ("prompt", "a nice photo", None),
        ("Comment", "Steps: 3 of the staircase", None),
        ("workflow", json.dumps({"nodes": "none"}), None),
    ],
)
def test_generator_parameters(key: str, text: str, expected: str | None) -> None:
    found = generator_parameters(key, text)
    assert (found is None) if expected is None else (found is not None and expected in found)


@pytest.mark.parametrize(
    ("value", "ai"),
    [
        (IPTC + "trainedAlgorithmicMedia", True),
        (IPTC + "compositeWithTrainedAlgorithmicMedia", True),
        ("trainedAlgorithmicMedia", True),
        ("compositeWithTrainedAlgorithmicMedia", True),
        (IPTC + "digitalCapture", False),
        (IPTC + "algorithmicMedia", False),
        ("", False),
        (None, False),
    ],
)
def test_ai_source_types(value: str | None, ai: bool) -> None:
    assert is_ai_source_type(value) is ai


# ---- the verdict rule -----------------------------------------------------------------------------


def _claim(**fields: Any) -> Claim:
    return Claim(**{"source": ClaimSource.C2PA, **fields})


def _record(*claims: Claim, c2pa: C2paInfo | None = None) -> Provenance:
    ai = [c for c in claims if c.declared_ai]
    return Provenance(
        claims=list(claims), declared_ai=bool(ai), reason=ai[0].reason if ai else None, c2pa=c2pa
    )


AI_CLAIM = _claim(declared_ai=True, reason="C2PA content credentials declare trainedAlgorithmicMedia")
CAPTURE = _claim(
    digital_source_type=IPTC + "digitalCapture", signature_valid=True, trusted=True, hashes_match=True
)
VALID = C2paInfo(present=True, validated=True, validation_state="Trusted", signature_valid=True, trusted=True)
INVALID = C2paInfo(
    present=True, validated=True, validation_state="Invalid", signature_valid=True, hashes_match=False,
    failures=["assertion.dataHash.mismatch"],
)  # fmt: skip


@pytest.mark.parametrize(
    ("verdict", "record", "expected"),
    [
        ("real", _record(AI_CLAIM), ("fake", AI_CLAIM.reason)),
        ("no_face", _record(AI_CLAIM), ("fake", AI_CLAIM.reason)),
        ("fake", _record(AI_CLAIM), ("fake", AI_CLAIM.reason)),
        ("error", _record(AI_CLAIM), ("error", None)),
        ("real", _record(AI_CLAIM.model_copy(update={"signature_valid": False})), ("fake", AI_CLAIM.reason)),
        ("fake", _record(CAPTURE, c2pa=VALID), ("fake", None)),
        ("real", _record(CAPTURE, c2pa=VALID), ("real", None)),
        ("fake", _record(CAPTURE.model_copy(update={"hashes_match": False}), c2pa=INVALID), ("fake", None)),
        ("real", _record(CAPTURE.model_copy(update={"hashes_match": False}), c2pa=INVALID), ("real", None)),
        ("real", Provenance(), ("real", None)),
        ("fake", None, ("fake", None)),
    ],
    ids=[
        "ai-overrides-real",
        "ai-overrides-no-face",
        "ai-confirms-fake",
        "error-stays-error",
        "ai-with-invalid-signature-still-fake",
        "valid-capture-never-clears-fake",
        "valid-capture-keeps-real",
        "invalid-capture-never-clears-fake",
        "invalid-capture-keeps-real",
        "nothing",
        "no-record",
    ],
)
def test_apply_provenance(verdict: str, record: Provenance | None, expected: tuple[str, str | None]) -> None:
    assert apply_provenance(verdict, record) == expected


def test_describe_capture_and_failures() -> None:
    assert "capture credential" in (describe(_record(CAPTURE, c2pa=VALID)) or "")
    assert "do not validate" in (describe(_record(CAPTURE, c2pa=INVALID)) or "")
    assert "not validated" in (describe(Provenance(c2pa=C2paInfo(present=True, error="timeout"))) or "")


# ---- C2PA through the SDK, with a certificate chain made here ------------------------------------


@pytest.fixture(scope="module")
def pki() -> dict[str, bytes]:
    """A root CA and an end-entity signing certificate as C2PA wants it (tests/support/c2pa.py)."""
    return make_pki()


def _sign(
    pki: dict[str, bytes], source: bytes, mime: str, source_type: str, *, remote: str | None = None
) -> bytes:
    return sign(pki, source, mime, source_type, remote=remote)


def test_c2pa_ai_credential_untrusted_signer_is_reported_and_decides(
    tmp_path: Path, pki: dict[str, bytes]
) -> None:
    path = _write(tmp_path, "ai.jpg", _sign(pki, _jpeg(), "image/jpeg", "trainedAlgorithmicMedia"))
    record = read_provenance(path)
    assert record.errors == []
    info = record.c2pa
    assert info is not None and info.present and info.validated
    assert info.validation_state == "Valid"
    assert (info.signature_valid, info.trusted, info.hashes_match) == (True, False, True)
    assert info.signer == "Provenance Test Signer" and info.issuer == "Provenance Test Org"
    assert any(f.startswith("signingCredential.untrusted") for f in info.failures)
    [claim] = record.claims
    assert claim.source == ClaimSource.C2PA and claim.active
    assert claim.declared_ai and claim.generator == "TestGen 2"
    assert claim.trusted is False
    assert (
        record.reason
        and "trainedAlgorithmicMedia" in record.reason
        and "not on the trust list" in record.reason
    )
    assert apply_provenance("real", record) == ("fake", record.reason)
    assert Provenance.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_c2pa_trust_list_makes_the_signer_trusted(tmp_path: Path, pki: dict[str, bytes]) -> None:
    path = _write(tmp_path, "cap.png", _sign(pki, _png(), "image/png", "digitalCapture"))
    config = ProvenanceConfig(c2pa_trust_anchors_pem=pki["root"].decode())
    record = read_provenance(path, config)
    assert record.errors == []
    assert record.c2pa is not None and record.c2pa.validation_state == "Trusted" and record.c2pa.trusted
    [claim] = record.claims
    assert claim.digital_source_type == IPTC + "digitalCapture" and not claim.declared_ai
    # A valid, trusted capture credential is shown, and never overrides the classifier.
    assert apply_provenance("fake", record) == ("fake", None)
    assert "capture credential" in (describe(record) or "")


def test_c2pa_tampered_pixels_fail_the_hash_binding(tmp_path: Path, pki: dict[str, bytes]) -> None:
    signed = bytearray(_sign(pki, _jpeg(), "image/jpeg", "digitalCapture"))
    signed[-10] ^= 0xFF  # in the entropy-coded image data, before the EOI marker
    record = read_provenance(_write(tmp_path, "tampered.jpg", bytes(signed)))
    info = record.c2pa
    assert info is not None and info.validated
    assert info.validation_state == "Invalid"
    assert info.hashes_match is False and info.signature_valid is True
    assert any("dataHash.mismatch" in f for f in info.failures)
    assert record.claims[0].hashes_match is False
    assert apply_provenance("fake", record) == ("fake", None)
    assert "do not validate" in (describe(record) or "")


def test_c2pa_mp4_credential_is_validated(tmp_path: Path, pki: dict[str, bytes]) -> None:
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for i in range(5):
        writer.write(np.full((64, 64, 3), i * 40, np.uint8))
    writer.release()
    path = _write(
        tmp_path, "signed.mp4", _sign(pki, video.read_bytes(), "video/mp4", "trainedAlgorithmicMedia")
    )
    record = read_provenance(path)
    assert record.c2pa is not None and record.c2pa.hashes_match and record.c2pa.signature_valid
    assert record.declared_ai


def test_c2pa_corrupt_manifest_is_reported_present_not_validated(
    tmp_path: Path, pki: dict[str, bytes]
) -> None:
    signed = bytearray(_sign(pki, _jpeg(), "image/jpeg", "digitalCapture"))
    at = signed.find(b"c2pa.signature")
    signed[at + 200 : at + 260] = b"\x00" * 60
    record = read_provenance(_write(tmp_path, "corrupt.jpg", bytes(signed)))
    assert record.c2pa is not None and record.c2pa.present and not record.c2pa.validated
    assert record.c2pa.error and "unreadable manifest store" in record.c2pa.error
    assert any(e.startswith("c2pa: unreadable") for e in record.errors)
    assert apply_provenance("real", record) == ("real", None)


def test_c2pa_remote_manifest_is_never_fetched(tmp_path: Path, pki: dict[str, bytes]) -> None:
    url = "http://127.0.0.1:9/manifest.c2pa"
    path = _write(tmp_path, "remote.jpg", _sign(pki, _jpeg(), "image/jpeg", "digitalCapture", remote=url))
    record = read_provenance(path)
    assert record.c2pa is not None and record.c2pa.present and not record.c2pa.validated
    assert record.c2pa.remote_url == url
    assert any(claim.raw.get("dcterms:provenance") == url for claim in record.claims)


def test_c2pa_without_the_sdk_falls_back_to_box_detection(
    tmp_path: Path, pki: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "ai.jpg", _sign(pki, _jpeg(), "image/jpeg", "trainedAlgorithmicMedia"))
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa -> ImportError
    record = read_provenance(path)
    assert record.c2pa is not None and record.c2pa.present and not record.c2pa.validated
    assert record.c2pa.error and "SDK is unavailable" in record.c2pa.error
    assert record.claims == [] and not record.declared_ai


def test_c2pa_reading_is_time_bound(
    tmp_path: Path, pki: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "ai.jpg", _sign(pki, _jpeg(), "image/jpeg", "trainedAlgorithmicMedia"))
    release = threading.Event()

    def slow(*_: object) -> tuple[None, None]:
        release.wait(30)  # a native read that does not come back until the test lets it
        return None, None

    monkeypatch.setattr(credentials_module, "_read_with_sdk", slow)
    started = time.monotonic()
    try:
        record = read_provenance(path, ProvenanceConfig(c2pa_timeout_s=0.2))
    finally:
        release.set()
    assert time.monotonic() - started < 1.5
    assert record.c2pa is not None and record.c2pa.present and not record.c2pa.validated
    assert any("longer than 0.2 s" in e for e in record.errors)


def test_c2pa_size_guard(tmp_path: Path, pki: dict[str, bytes]) -> None:
    path = _write(tmp_path, "ai.jpg", _sign(pki, _jpeg(), "image/jpeg", "trainedAlgorithmicMedia"))
    record = read_provenance(path, ProvenanceConfig(c2pa_max_file_bytes=100))
    assert record.c2pa is not None and record.c2pa.present and not record.c2pa.validated
    assert any("larger than the 100 bytes" in e for e in record.errors)


def test_importing_the_package_does_not_load_the_native_sdk() -> None:
    code = "import sys, deepfake_detect.core.provenance as p; print('c2pa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_c2pa_store_layouts_ingredients_and_iptc_assertions() -> None:
    """Stores as older SDKs wrote them (one ``validation_status`` list), an AI ingredient under an
    edit, and the digital source type inside an IPTC assertion rather than an action."""
    store = {
        "active_manifest": "urn:edit",
        "manifests": {
            "urn:gen": {
                "claim_generator": "Generator/1.0",
                "assertions": [
                    {
                        "label": "stds.iptc",
                        "data": {"Iptc4xmpExt:DigitalSourceType": IPTC + "trainedAlgorithmicMedia"},
                    }
                ],
                "signature_info": {"issuer": "Gen Co"},
            },
            "urn:edit": {
                "claim_generator_info": [{"name": "Editor"}],
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.opened"}]}}],
                "signature_info": {"common_name": "Editor Signer", "issuer": "Edit Co", "time": "2026-01-01"},
            },
        },
        "validation_status": [{"code": "assertion.dataHash.mismatch", "explanation": "hash differs"}],
    }
    result = credentials_module.parse_store(store, ProvenanceConfig(), "x")
    assert result.info is not None
    assert result.info.validation_state == "Invalid" and result.info.hashes_match is False
    assert result.info.signer == "Editor Signer" and result.info.signed_at == "2026-01-01"
    assert result.info.failures == ["assertion.dataHash.mismatch: hash differs"]
    active, ingredient = result.claims
    assert active.active and not active.declared_ai and active.hashes_match is False
    assert ingredient.declared_ai and not ingredient.active and ingredient.hashes_match is None
    assert ingredient.reason and "ingredient" in ingredient.reason
    assert ingredient.raw["assertion.stds.iptc"] == IPTC + "trainedAlgorithmicMedia"


def test_a_plain_jpeg_is_not_handed_to_the_sdk_once_it_is_loaded(
    tmp_path: Path, pki: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JPEG whose segments hold no APP11 (JUMBF) and no XMP naming a remote manifest is what the
    SDK answers "no manifest" for: it is answered so without the SDK. Credentials, remote
    references and headers cut short still go to the SDK."""
    signed = _write(tmp_path, "ai.jpg", _sign(pki, _jpeg(), "image/jpeg", "trainedAlgorithmicMedia"))
    assert read_provenance(signed).c2pa is not None  # the SDK is loaded in this process now
    remote = _write(
        tmp_path,
        "remote.jpg",
        _sign(pki, _jpeg(), "image/jpeg", "digitalCapture", remote="http://127.0.0.1:9/m.c2pa"),
    )
    plain = _write(tmp_path, "plain.jpg", _jpeg(exif=_exif(Software="Camera 1.0")))
    cut = _write(tmp_path, "cut.jpg", _jpeg()[:40])  # inside its quantization tables
    before = {path.name: read_provenance(path) for path in (plain, cut)}
    assert before["plain.jpg"].c2pa is None and before["plain.jpg"].errors == []
    assert before["cut.jpg"].errors  # the SDK cannot parse it, and says so

    asked: list[str] = []
    real = credentials_module._read_with_sdk

    def counted(path: Path, *args: Any) -> Any:
        asked.append(path.name)
        return real(path, *args)

    monkeypatch.setattr(credentials_module, "_read_with_sdk", counted)
    assert {path.name: read_provenance(path) for path in (plain, cut)} == before
    assert read_provenance(signed).c2pa is not None
    assert read_provenance(remote).c2pa is not None
    assert asked == ["cut.jpg", "ai.jpg", "remote.jpg"]
