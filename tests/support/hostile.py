"""Media made on the fly for the speed and memory work: large phone photos, decompression bombs
of every shape, JPEGs cut short and closed again, streamed WebM without a duration, large video
frames. The bench (``benchmarks/bench.py``) makes its media with these too."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tests.support.media import Frame, read_bgr

# The transpose that stores an upright picture so that EXIF ``orientation`` turns it upright again.
_STORE_FOR = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def with_orientation(upright: Image.Image, orientation: int) -> tuple[Image.Image, bytes]:
    """The pixels a camera would store for ``upright`` with this EXIF orientation, and the EXIF."""
    method = _STORE_FOR[orientation]
    stored = upright.transpose(method) if method is not None else upright.copy()
    exif = Image.Exif()
    exif[0x0112] = orientation
    return stored, exif.tobytes()


def phone_photo(
    portrait: Path, path: Path, *, size: tuple[int, int] = (3024, 4032), orientation: int = 6, seed: int = 0
) -> Path:
    """A 12 MP phone photo: ``portrait`` upscaled to ``size`` (upright width x height) with a little
    sensor noise (a phone photo's entropy and file size, not a smooth upscale's), stored sideways
    with the EXIF orientation that turns it upright, JPEG quality 92."""
    upright = Image.open(portrait).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, (size[1], size[0], 3)).astype(np.float32)
    pixels = np.clip(np.asarray(upright, np.float32) + noise, 0, 255).astype(np.uint8)
    del noise, upright
    stored, exif = with_orientation(Image.fromarray(pixels), orientation)
    stored.save(path, format="JPEG", quality=92, exif=exif)
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def flat_png(width: int, height: int) -> bytes:
    """A valid, complete greyscale PNG of ``width`` x ``height`` black pixels: a few tens of KB for
    50 million pixels (deflate packs about 1000 zero bytes into one)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def cut_and_closed(data: bytes, keep: float) -> bytes:
    """A JPEG cut short and given an end-of-image marker again (a broken upload or copy)."""
    return data[: int(len(data) * keep)] + b"\xff\xd9"


def _ebml(data: bytes | bytearray, pos: int, *, value: bool) -> tuple[int, int]:
    first, length, mask = data[pos], 1, 0x80
    while not first & mask:
        length, mask = length + 1, mask >> 1
    number = first & (mask - 1) if value else first
    for byte in data[pos + 1 : pos + length]:
        number = (number << 8) | byte
    return number, length


def streamed_webm(data: bytes) -> bytes:
    """A WebM written by OpenCV as a stream recorder (a browser's MediaRecorder) leaves it: the
    Segment's Duration and its Cues (the seek index) overwritten with Void elements. OpenCV then
    reports a nonsense frame count and cannot seek in it."""
    out = bytearray(data)
    _, n = _ebml(out, 0, value=False)
    size, m = _ebml(out, n, value=True)
    pos = n + m + size  # past the EBML header
    element, n = _ebml(out, pos, value=False)
    if element != 0x18538067:
        raise ValueError("not a Matroska segment")
    _, m = _ebml(out, pos + n, value=True)
    pos += n + m
    while pos < len(out):
        element, n = _ebml(out, pos, value=False)
        size, m = _ebml(out, pos + n, value=True)
        total = n + m + size
        if element == 0x1C53BB6B:  # Cues
            out[pos : pos + total] = b"\xec\x01" + (total - 9).to_bytes(7, "big") + b"\0" * (total - 9)
        elif element == 0x1549A966:  # Info: its Duration
            child = pos + n + m
            while child < pos + total:
                kind, cn = _ebml(out, child, value=False)
                csize, cm = _ebml(out, child + cn, value=True)
                ctotal = cn + cm + csize
                if kind == 0x4489:
                    out[child : child + ctotal] = (
                        b"\xec" + bytes([0x80 | (ctotal - 2)]) + b"\0" * (ctotal - 2)
                    )
                child += ctotal
        pos += total
    return bytes(out)


def moving_face_frames(face: Frame, size: tuple[int, int], count: int) -> list[Frame]:
    """Frames of ``size`` with ``face`` (scaled to half the height) sliding left to right."""
    return [moving_face_frame(face, size, i) for i in range(count)]


def moving_face_frame(face: Frame, size: tuple[int, int], i: int) -> Frame:
    width, height = size
    side = height // 2
    small = np.asarray(cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA), np.uint8)
    frame = np.full((height, width, 3), 90, np.uint8)
    x = (i * 7 * width // 640) % max(1, width - side)
    frame[height // 4 : height // 4 + side, x : x + side] = small
    return frame


def jpeg_of(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def write_frames(path: Path, frames: Iterable[Frame], fps: float, fourcc: str) -> Path:
    """Write ``frames`` with OpenCV, one at a time (a generator keeps one large frame in memory)."""
    rest = iter(frames)
    first = next(rest)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    writer.write(first)
    for frame in rest:
        writer.write(frame)
    writer.release()
    return path


def make_hostile_set(shared: Path, folder: Path, *, seconds_4k: float = 3.0) -> dict[str, Path]:
    """What the memory figure is measured over: a 4K video, decompression bombs of every shape,
    truncated files, a 12 MP phone photo and a 48 MP photo whose one face is small (cropped from
    the full-size decode)."""
    folder.mkdir(parents=True, exist_ok=True)
    face = read_bgr(shared / "data" / "deepface_photos" / "img25.jpg")
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = folder / name
        files[name].write_bytes(data)

    put("bomb_1x50M.png", flat_png(50_000_000, 1))
    put("bomb_65000x1.png", flat_png(65_000, 1))
    put("bomb_10000x5000.png", flat_png(10_000, 5_000))
    jpeg = (shared / "data" / "deepface_photos" / "couple.jpg").read_bytes()
    put("cut_and_closed.jpg", cut_and_closed(jpeg, 0.5))
    put("cut.jpg", jpeg[: len(jpeg) // 2])
    files["phone_12mp.jpg"] = phone_photo(
        shared / "data" / "london" / "london_002_neutral.jpg", folder / "phone_12mp.jpg"
    )
    canvas = np.full((6000, 8000, 3), 0, np.uint8)
    canvas[:] = np.linspace(40, 200, 8000, dtype=np.uint8)[None, :, None]
    small = cv2.resize(face, (300, 300), interpolation=cv2.INTER_AREA)
    canvas[2000:2300, 3000:3300] = small
    large = folder / "large_48mp_small_face.jpg"
    cv2.imwrite(str(large), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del canvas
    files["large_48mp_small_face.jpg"] = large
    files["video_4k.mp4"] = write_frames(
        folder / "video_4k.mp4",
        (moving_face_frame(face, (3840, 2160), i) for i in range(int(seconds_4k * 10))),
        10.0,
        "mp4v",
    )
    return files
