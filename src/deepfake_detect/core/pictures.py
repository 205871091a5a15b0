"""The small pictures a scan can keep for a person to inspect: a JPEG thumbnail of every sampled
video frame, and each face track's aligned crop (the classifier's input, which its heat map covers).

They are bounded: a thumbnail's long side is at most ``THUMBNAIL_MAX_SIDE`` for up to
``THUMBNAIL_FULL_FRAMES`` sampled frames and shrinks beyond that (never under
``THUMBNAIL_MIN_SIDE``), so a video's thumbnails take about the same room however many frames are
sampled; and all of a result's thumbnails together stop at ``THUMBNAIL_BUDGET_BYTES`` (a frame past
it has none, and the page says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2

from deepfake_detect.core.media.pixels import Frame, downscale

THUMBNAIL_MAX_SIDE = 480
THUMBNAIL_MIN_SIDE = 160
THUMBNAIL_FULL_FRAMES = 64
THUMBNAIL_QUALITY = 72
THUMBNAIL_BUDGET_BYTES = 4 * 1024 * 1024
CROP_QUALITY = 90


def encode_jpeg(image: Frame, quality: int) -> bytes | None:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buffer.tobytes() if ok else None


def thumbnail_side(frames: int) -> int:
    """The long side of each thumbnail when ``frames`` frames are sampled: their total area stays
    that of ``THUMBNAIL_FULL_FRAMES`` thumbnails at the full side."""
    if frames <= THUMBNAIL_FULL_FRAMES:
        return THUMBNAIL_MAX_SIDE
    side = THUMBNAIL_MAX_SIDE * math.sqrt(THUMBNAIL_FULL_FRAMES / frames)
    return max(THUMBNAIL_MIN_SIDE, int(side))


@dataclass(frozen=True)
class Thumbnail:
    jpeg: bytes
    scale: float  # thumbnail pixels per original pixel


@dataclass
class FrameThumbnails:
    """Thumbnails of a video's sampled frames, by frame index, within the byte budget."""

    side: int
    budget_bytes: int = THUMBNAIL_BUDGET_BYTES
    by_frame: dict[int, Thumbnail] = field(default_factory=dict)
    used_bytes: int = 0

    def add(self, frame_index: int, image: Frame, scale: float = 1.0) -> None:
        """Keep a thumbnail of ``image`` (``scale``: its pixels per original pixel) unless the
        budget is spent."""
        if self.used_bytes >= self.budget_bytes:
            return
        small, factor = downscale(image, self.side)
        jpeg = encode_jpeg(small, THUMBNAIL_QUALITY)
        if jpeg is None or self.used_bytes + len(jpeg) > self.budget_bytes:
            self.used_bytes = self.budget_bytes  # a frame is skipped only once the budget is spent
            return
        self.used_bytes += len(jpeg)
        self.by_frame[frame_index] = Thumbnail(jpeg, factor * scale)
