"""Recognise supported media by content, without decoding anything (no OpenCV, no NumPy), so the
cloud API can check uploads in a small package."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.result import MediaKind

IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
}


# ISO-BMFF brands of still images (HEIF, AVIF): same box layout as mp4, but not video.
_STILL_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
# Sizes a BMP's DIB header can have (BITMAPCOREHEADER ... BITMAPV5HEADER).
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def sniff(head: bytes) -> tuple[MediaKind, str | None]:
    """Media kind and container from the first bytes of a file; extensions are not trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.IMAGE, "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE, "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE, "webp"
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return MediaKind.IMAGE, "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _STILL_IMAGE_BRANDS:
            return MediaKind.UNKNOWN, None
        return MediaKind.VIDEO, "mov" if brand == b"qt  " else "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return MediaKind.VIDEO, "avi"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaKind.VIDEO, "webm" if b"webm" in head[:64] else "mkv"
    return MediaKind.UNKNOWN, None


UNSUPPORTED_MEDIA = "not a supported image (jpg, png, webp, bmp) or video (mp4, mov, avi, mkv, webm)"


def check_size(size: int, limit: int) -> None:
    """The size rule every way in shares (local upload, presigned upload, Lambda, CLI)."""
    if size == 0:
        raise MediaError(ErrorCode.EMPTY_FILE, "the file is empty")
    if size > limit:
        raise MediaError(ErrorCode.FILE_TOO_LARGE, f"the file is {size} bytes; the limit is {limit} bytes")


def check_upload(size: int, head: bytes, limit: int) -> tuple[MediaKind, str]:
    """The one upload check: not empty, within ``limit`` bytes, and a supported kind of media by
    its first bytes. Returns the kind and container; raises ``MediaError`` with the reason."""
    check_size(size, limit)
    kind, container = sniff(head)
    if container is None:
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, UNSUPPORTED_MEDIA)
    return kind, container


def check_content_type(content_type: str) -> MediaKind:
    """A declared content type (a presigned upload, before any byte exists) that we accept."""
    if content_type not in CONTENT_TYPES.values():
        raise MediaError(
            ErrorCode.UNSUPPORTED_TYPE, f"content type {content_type!r} is not a supported image or video"
        )
    return MediaKind.VIDEO if content_type.startswith("video/") else MediaKind.IMAGE


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def upload_name(filename: str, fallback: str, *, key_safe: bool = False) -> str:
    """The name an upload is shown and stored under: never a path (no folders, no ".."), at most
    255 characters; ``key_safe`` also drops what a URL would have to encode and keeps the last
    100 characters (the name becomes part of an S3 key)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    name = _KEY_UNSAFE.sub("_", name).strip("._")[-100:] if key_safe else name[:255]
    return name or fallback
