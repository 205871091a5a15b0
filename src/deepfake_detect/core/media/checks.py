"""What is refused from headers alone: a file's kind and size, an image's or a frame's dimensions."""

from __future__ import annotations

from pathlib import Path

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import check_upload
from deepfake_detect.core.result import MediaKind


def probe_file(path: Path, max_bytes: int) -> tuple[MediaKind, str]:
    """Check a file exists, is not empty or oversized, and is a supported kind of media."""
    if not path.exists():
        raise MediaError(ErrorCode.NOT_FOUND, f"no such file: {path}")
    if not path.is_file():
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, f"not a regular file: {path}")
    with path.open("rb") as f:
        head = f.read(64)
    return check_upload(path.stat().st_size, head, max_bytes)


def check_dimensions(
    width: int, height: int, *, max_pixels: int, limits: MediaLimits, file_bytes: int | None = None, what: str
) -> None:
    """The size rules of an image or a video frame, from its header: pixels, longest side, aspect
    ratio and (images: ``file_bytes``) pixels per byte of file. Raises ``MediaError``."""
    if width <= 0 or height <= 0:
        raise MediaError(ErrorCode.CORRUPT_MEDIA, f"the {what} claims to be {width}x{height} pixels")
    pixels = width * height
    if pixels > max_pixels:
        raise MediaError(
            ErrorCode.TOO_MANY_PIXELS,
            f"the {what} is {width}x{height} pixels; the limit is {max_pixels} pixels"
            + (" per frame" if what == "video" else ""),
        )
    long, short = max(width, height), min(width, height)
    if long > limits.max_side or long > limits.max_aspect_ratio * short:
        raise MediaError(
            ErrorCode.BAD_DIMENSIONS,
            f"the {what} is {width}x{height} pixels; sides may be at most {limits.max_side} pixels "
            f"and at most {limits.max_aspect_ratio:g} times as long as each other",
        )
    if file_bytes is not None and pixels > max(
        limits.byte_check_pixels, file_bytes * limits.max_pixels_per_byte
    ):
        raise MediaError(
            ErrorCode.TOO_MANY_PIXELS,
            f"the {what} is {width}x{height} pixels from {file_bytes} bytes; over "
            f"{limits.byte_check_pixels} pixels, at most {limits.max_pixels_per_byte:g} pixels per byte",
        )
