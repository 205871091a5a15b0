"""Read media safely: recognise the type by content, refuse oversized input before decoding it,
decode images (EXIF-rotated, 3-channel BGR) and sample frames spread over a video."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.result import MediaKind

Frame = NDArray[np.uint8]

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


def sniff(head: bytes) -> tuple[MediaKind, str | None]:
    """Media kind and container from the first bytes of a file; extensions are not trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.IMAGE, "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE, "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE, "webp"
    if head.startswith(b"BM"):
        return MediaKind.IMAGE, "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return MediaKind.VIDEO, "mov" if brand == b"qt  " else "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return MediaKind.VIDEO, "avi"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaKind.VIDEO, "webm" if b"webm" in head[:64] else "mkv"
    return MediaKind.UNKNOWN, None


def probe_file(path: Path, max_bytes: int) -> tuple[MediaKind, str]:
    """Check a file exists, is not empty or oversized, and is a supported kind of media."""
    if not path.exists():
        raise MediaError(ErrorCode.NOT_FOUND, f"no such file: {path}")
    if not path.is_file():
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, f"not a regular file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(ErrorCode.EMPTY_FILE, "the file is empty")
    if size > max_bytes:
        raise MediaError(
            ErrorCode.FILE_TOO_LARGE, f"the file is {size} bytes; the limit is {max_bytes} bytes"
        )
    with path.open("rb") as f:
        head = f.read(64)
    kind, container = sniff(head)
    if container is None:
        raise MediaError(
            ErrorCode.UNSUPPORTED_TYPE,
            "not a supported image (jpg, png, webp, bmp) or video (mp4, mov, avi, mkv, webm)",
        )
    return kind, container


def decode_image(data: bytes, max_pixels: int) -> Frame:
    """Decode an image to 3-channel BGR, applying EXIF orientation.

    The pixel count is read from the header and checked before any pixel is decoded, so a
    decompression bomb is refused cheaply. Truncated files raise instead of returning grey pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise MediaError(
                    ErrorCode.TOO_MANY_PIXELS,
                    f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels",
                )
            image.load()
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(ErrorCode.TOO_MANY_PIXELS, f"the image is too large to decode: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, "the file is not a readable image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(ErrorCode.CORRUPT_MEDIA, f"the image is damaged or truncated: {exc}") from exc
    image = ImageOps.exif_transpose(image) or image
    if image.mode != "RGB":
        # Alpha is composited on white rather than dropped to black: transparent regions of
        # a PNG portrait would otherwise become a hard artificial edge around the face.
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        image = image.convert("RGB")
    rgb = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class SampledFrame:
    index: int
    timestamp_s: float
    image: Frame


def open_video(path: Path, max_pixels: int, max_seconds: float) -> tuple[cv2.VideoCapture, VideoInfo]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the video cannot be opened: damaged or truncated")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if width <= 0 or height <= 0:
        capture.release()
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the video has no readable video stream")
    if width * height > max_pixels:
        capture.release()
        raise MediaError(
            ErrorCode.TOO_MANY_PIXELS,
            f"the video is {width}x{height} pixels; the limit is {max_pixels} pixels per frame",
        )
    if fps <= 0 or not np.isfinite(fps):
        fps = 25.0
    info = VideoInfo(width=width, height=height, fps=fps, frame_count=max(count, 0))
    if info.duration_s > max_seconds:
        capture.release()
        raise MediaError(
            ErrorCode.VIDEO_TOO_LONG,
            f"the video lasts {info.duration_s:.0f} s; the limit is {max_seconds:.0f} s",
        )
    return capture, info


def sample_indices(frame_count: int, samples: int) -> list[int]:
    """``samples`` frame indices spread evenly over the video, each at the centre of its segment."""
    if frame_count <= 0:
        return []
    n = min(samples, frame_count)
    return sorted({int((i + 0.5) * frame_count / n) for i in range(n)})


# Beyond this many frames between two samples, one seek is cheaper than decoding every frame.
_SEEK_GAP = 90


def sample_frames(capture: cv2.VideoCapture, info: VideoInfo, samples: int) -> Iterator[SampledFrame]:
    """Yield ``samples`` frames spread over the video.

    Short gaps are crossed with ``grab()`` (decode without colour conversion), long ones with a
    seek; containers that report no frame count are counted first with a grab-only pass.
    """
    frame_count = info.frame_count
    if frame_count <= 0:
        while capture.grab():
            frame_count += 1
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    wanted = sample_indices(frame_count, samples)
    position = 0
    for index in wanted:
        if index - position > _SEEK_GAP:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            position = index
        while position < index:
            if not capture.grab():
                return
            position += 1
        ok, image = capture.read()
        if not ok or image is None:
            return
        position += 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        yield SampledFrame(index=index, timestamp_s=index / info.fps, image=image)
