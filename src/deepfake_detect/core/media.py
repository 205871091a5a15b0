"""Read media safely: recognise the type by content, refuse oversized input before decoding it,
decode images (EXIF-rotated, 3-channel BGR) and sample frames spread over a video."""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import IMAGE_FORMATS, check_upload, sniff
from deepfake_detect.core.result import MediaKind

Frame = NDArray[np.uint8]


def probe_file(path: Path, max_bytes: int) -> tuple[MediaKind, str]:
    """Check a file exists, is not empty or oversized, and is a supported kind of media."""
    if not path.exists():
        raise MediaError(ErrorCode.NOT_FOUND, f"no such file: {path}")
    if not path.is_file():
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, f"not a regular file: {path}")
    with path.open("rb") as f:
        head = f.read(64)
    return check_upload(path.stat().st_size, head, max_bytes)


# Pillow is only ever asked to parse the formats we accept: less parser surface for hostile input.
_PILLOW_FORMATS = tuple(IMAGE_FORMATS)


def decode_image(data: bytes, max_pixels: int) -> Frame:
    """Decode an image to 3-channel BGR, applying EXIF orientation.

    The pixel count is read from the header and checked before any pixel is decoded, so a
    decompression bomb is refused cheaply. Truncated files raise instead of returning grey pixels.
    """
    kind, _ = sniff(data[:64])
    if kind is not MediaKind.IMAGE:
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, "not a supported image (jpg, png, webp, bmp)")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice its limit, raises) on huge images while reading the
            # header; either way the answer is the same error as our own, lower, limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
            width, height = opened.size
            if width * height > max_pixels:
                raise MediaError(
                    ErrorCode.TOO_MANY_PIXELS,
                    f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels",
                )
            opened.load()
            image: Image.Image = ImageOps.exif_transpose(opened)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(ErrorCode.TOO_MANY_PIXELS, f"the image is too large to decode: {exc}") from exc
    except UnidentifiedImageError as exc:
        # The magic bytes said image, so a header Pillow cannot parse is damage, not a foreign type.
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image header is damaged or truncated") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise MediaError(ErrorCode.CORRUPT_MEDIA, f"the image is damaged or truncated: {exc}") from exc
    return _to_bgr(image)


def _to_bgr(image: Image.Image) -> Frame:
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "F"):
        # 16-bit and float greyscale: Pillow's convert("RGB") clips at 255 (a white image),
        # so rescale to 8 bits first.
        values = np.asarray(image, dtype=np.float32)
        if values.max(initial=0.0) > 255.0:
            values = values / 257.0
        grey = np.clip(values, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if image.mode != "RGB":
        # Alpha is composited on white rather than dropped to black: transparent regions of
        # a PNG portrait would otherwise become a hard artificial edge around the face.
        if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        image = image.convert("RGB")
    rgb: NDArray[np.uint8] = np.asarray(image, dtype=np.uint8)
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
    """Open a video and check its size and length from the container before decoding frames."""
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
    too_long = MediaError(
        ErrorCode.VIDEO_TOO_LONG, f"the video lasts longer than the limit of {max_seconds:.0f} s"
    )
    if count <= 0:
        # Some containers (streamed mkv/webm) do not say how many frames they hold: count them
        # with a grab-only pass, stopping as soon as the length limit is passed, then reopen.
        limit = int(max_seconds * fps) + 1
        count = 0  # the container may have said -1
        while count <= limit and capture.grab():
            count += 1
        capture.release()
        if count > limit:
            raise too_long
        if count == 0:
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "no frame of the video could be decoded")
        capture = cv2.VideoCapture(str(path))
    info = VideoInfo(width=width, height=height, fps=fps, frame_count=count)
    if info.duration_s > max_seconds:
        capture.release()
        raise MediaError(
            ErrorCode.VIDEO_TOO_LONG,
            f"the video lasts {info.duration_s:.0f} s; the limit is {max_seconds:.0f} s",
        )
    return capture, info


def sample_indices(frame_count: int, samples: int) -> list[int]:
    """``samples`` frame indices spread evenly over the video, each at the centre of its segment."""
    if frame_count <= 0 or samples <= 0:
        return []
    n = min(samples, frame_count)
    return sorted({int((i + 0.5) * frame_count / n) for i in range(n)})


# Beyond this many frames between two samples, one seek is cheaper than decoding every frame.
_SEEK_GAP = 90
# Containers estimate their frame count (from duration x rate); decoding that stops in the last
# part of the announced length is that imprecision, earlier it is a truncated or damaged file.
_TRUNCATED_BEFORE = 0.9


def sample_frames(capture: cv2.VideoCapture, info: VideoInfo, samples: int) -> Iterator[SampledFrame]:
    """Yield up to ``samples`` frames spread over the video, in order.

    Short gaps are crossed with ``grab()`` (decode without colour conversion), long ones with a
    seek. Raises ``MediaError(CORRUPT_MEDIA)`` when decoding stops well before the announced end.
    """
    position = 0
    for index in sample_indices(info.frame_count, samples):
        if index - position > _SEEK_GAP and capture.set(cv2.CAP_PROP_POS_FRAMES, index):
            landed = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
            position = landed if 0 <= landed <= index else index
        while position < index:
            if not capture.grab():
                _check_end(position, info)
                return
            position += 1
        ok, image = capture.read()
        if not ok or image is None:
            _check_end(position, info)
            return
        position += 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        frame: Frame = np.asarray(image, dtype=np.uint8)
        yield SampledFrame(index=index, timestamp_s=index / info.fps, image=frame)


def _check_end(position: int, info: VideoInfo) -> None:
    if position < _TRUNCATED_BEFORE * info.frame_count:
        raise MediaError(
            ErrorCode.CORRUPT_MEDIA,
            f"the video is truncated or damaged: decoding stopped at frame {position} of {info.frame_count}",
        )
