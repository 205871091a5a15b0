"""Synthesised media for tests: edge-case images and videos written on the fly, never committed."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

Frame = NDArray[np.uint8]


def read_bgr(path: Path) -> Frame:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {path}"
    return np.asarray(image, dtype=np.uint8)


def write_image(path: Path, bgr: Frame, **save: object) -> Path:
    """Write through Pillow (so tests control format options such as EXIF)."""
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(path, **save)  # type: ignore[arg-type]
    return path


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR that claim ``width`` x ``height`` pixels, and no pixel data:
    whoever decodes before checking the size would try to allocate the whole bitmap."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_bytes(bgr: Frame, quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buffer.tobytes()


def rotate(image: Frame, degrees: float) -> Frame:
    """Rotate about the centre on a canvas large enough to keep every pixel."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    out = cv2.warpAffine(image, matrix, (new_w, new_h), borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return np.asarray(out, dtype=np.uint8)


def write_video(
    path: Path,
    frames: Sequence[Frame] | int,
    *,
    fps: float = 10.0,
    size: tuple[int, int] = (160, 120),
    fourcc: str = "mp4v",
    draw: Callable[[int], Frame] | None = None,
) -> Path:
    """Write a video with OpenCV; ``frames`` is either the frames or a count of frames made by
    ``draw(i)`` (default: a flat frame whose grey level encodes the index)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    if isinstance(frames, int):
        make = draw or (lambda i: np.full((size[1], size[0], 3), (i * 7) % 256, np.uint8))
        frames = [make(i) for i in range(frames)]
    for frame in frames:
        assert (frame.shape[1], frame.shape[0]) == size
        writer.write(frame)
    writer.release()
    return path


def paste(canvas: Frame, patch: Frame, x: int, y: int) -> Frame:
    """Copy ``patch`` onto ``canvas`` with its top-left corner at (x, y), clipped to the canvas."""
    out = canvas.copy()
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# Generator parameters as the AUTOMATIC1111 Stable Diffusion web UI writes them into a PNG's
# `parameters` text chunk: a file that declares it was generated (docs/provenance.md).
A1111_PARAMETERS = (
    "portrait photo of a woman, freckles, 85mm\n"
    "Negative prompt: blurry, cartoon\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0"
)


def png_with_text(source: Path, path: Path, text: dict[str, str] | None = None) -> Path:
    """``source`` (any image) saved as a PNG at ``path`` with these text chunks (default: the
    AUTOMATIC1111 ``parameters`` chunk)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (text if text is not None else {"parameters": A1111_PARAMETERS}).items():
        info.add_text(key, value)
    Image.open(source).convert("RGB").save(path, format="PNG", pnginfo=info)
    return path


def xmp_packet(digital_source_type: str) -> bytes:
    """An XMP packet whose IPTC digital source type is ``digital_source_type`` (a bare term)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/{digital_source_type}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
