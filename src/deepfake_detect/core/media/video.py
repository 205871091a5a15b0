"""Videos: ``open_video`` checks the container's header, counting packets without decoding them
when the container does not say how many frames it holds; ``sample_frames`` decodes only what the
samples need, seeking where a keyframe lies between the last sample and the next. A decoded frame
is a ``FramePicture``: what an ``ImageSource`` offers, for one frame.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.media.checks import check_dimensions
from deepfake_detect.core.media.pixels import Box, Frame, View, aligned, box_reduce


class FramePicture:
    """A decoded video frame (BGR) offering what ``ImageSource`` offers: views and regions."""

    def __init__(self, image: Frame) -> None:
        self.image = image
        self.height, self.width = image.shape[:2]

    def view(self, min_long_side: int) -> View:
        # The detector reduces the frame itself: no copy here.
        return View(self.image)

    def region(self, box: Box, factor: int) -> View:
        x0, y0, x1, y1 = aligned(box, factor, self.width, self.height)
        part = self.image[y0:y1, x0:x1]
        return View(box_reduce(part, factor), factor, x0, y0)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    keyframes: tuple[int, ...] | None = None  # packet indices of keyframes, when they were counted
    seekable: bool = True  # OpenCV seeks by the container's frame count: not without one

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class SampledFrame:
    index: int
    timestamp_s: float
    image: Frame


@dataclass(frozen=True)
class _Packets:
    count: int
    keyframes: tuple[int, ...]
    last_ms: float


def count_packets(path: Path, limit: int) -> _Packets | None:
    """Demux (without decoding) up to ``limit + 1`` video packets: how many, which are keyframes,
    and the last one's timestamp. ``None`` where OpenCV's FFmpeg backend cannot read raw packets."""
    try:
        raw = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])
    except (cv2.error, TypeError):
        return None
    try:
        if not raw.isOpened():
            return None
        count, keyframes, last_ms = 0, [], 0.0
        while count <= limit and raw.grab():
            if raw.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME):
                keyframes.append(count)
            last_ms = float(raw.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            count += 1
        return _Packets(count, tuple(keyframes), last_ms)
    finally:
        raw.release()


def open_video(
    path: Path,
    max_pixels: int,
    max_seconds: float,
    *,
    limits: MediaLimits | None = None,
    index: bool = False,
    threads: int = 0,
) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video and check its size and length from the container before decoding frames.

    A container that does not say how many frames it holds (a Matroska/WebM file written as a
    stream, as MediaRecorder does) has its packets counted without decoding them. ``index`` also
    lists the keyframes of one that does (so ``sample_frames`` can seek past long gaps).
    ``threads``: FFmpeg decoding threads (0: OpenCV's default, one per CPU).
    """
    limits = limits or MediaLimits()

    def opened() -> cv2.VideoCapture:
        if threads > 0:
            return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
        return cv2.VideoCapture(str(path))

    capture = opened()
    if not capture.isOpened():
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the video cannot be opened: damaged or truncated")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    announced = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
    count = int(announced) if math.isfinite(announced) and 0 < announced < 2**31 else 0
    if width <= 0 or height <= 0:
        capture.release()
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the video has no readable video stream")
    try:
        check_dimensions(width, height, max_pixels=max_pixels, limits=limits, what="video")
    except MediaError:
        capture.release()
        raise
    known_rate = 0 < fps <= 1000 and math.isfinite(fps)
    too_long = MediaError(
        ErrorCode.VIDEO_TOO_LONG, f"the video lasts longer than the limit of {max_seconds:.0f} s"
    )
    keyframes: tuple[int, ...] | None = None
    seekable = count > 0
    if count <= 0 or not known_rate or index:
        limit = int(max_seconds * (fps if known_rate else 1000.0)) + 1
        packets = count_packets(path, count if count > 0 else limit)
        if packets is not None and packets.count > 0:
            if count <= 0:
                count = packets.count
            keyframes = packets.keyframes
            if not known_rate and packets.last_ms > 0 and packets.count > 1:
                fps = (packets.count - 1) * 1000.0 / packets.last_ms
                known_rate = True
            if packets.last_ms / 1000.0 > max_seconds or packets.count > limit:
                capture.release()
                raise too_long
        elif count <= 0:
            # No raw packets from this backend: count by decoding (grab), then reopen.
            while count <= limit and capture.grab():
                count += 1
            capture.release()
            if count > limit:
                raise too_long
            capture = opened()
        if count <= 0:
            capture.release()
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "no frame of the video could be decoded")
    if not known_rate:
        fps = 25.0
    info = VideoInfo(
        width=width, height=height, fps=fps, frame_count=count, keyframes=keyframes, seekable=seekable
    )
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


# Without a keyframe list: beyond this many frames between two samples, one seek is cheaper than
# decoding every frame.
_SEEK_GAP = 90
# OpenCV seeks to the keyframe before (target - 16) and decodes forward to the target.
_SEEK_BACK = 16
# What a seek costs beyond the frames it decodes (flush, demuxer seek), in frames.
_SEEK_COST = 4
# Containers estimate their frame count (from duration x rate); decoding that stops in the last
# part of the announced length is that imprecision, earlier it is a truncated or damaged file.
_TRUNCATED_BEFORE = 0.9


def _seek_pays(position: int, index: int, info: VideoInfo) -> bool:
    """Whether seeking to ``index`` decodes fewer frames than decoding on from ``position``."""
    if not info.seekable or index <= position:
        return False
    if info.keyframes is None:
        return index - position > _SEEK_GAP
    # OpenCV's seek lands on the last keyframe at or before (index - 16), then decodes forward.
    at = bisect.bisect_right(info.keyframes, max(0, index - _SEEK_BACK)) - 1
    keyframe = info.keyframes[at] if at >= 0 else 0
    return keyframe > position + _SEEK_COST


def sample_frames(capture: cv2.VideoCapture, info: VideoInfo, samples: int) -> Iterator[SampledFrame]:
    """Yield up to ``samples`` frames spread over the video, in order, one at a time.

    Frames between samples are crossed with ``grab()`` (decoded, never converted to BGR) unless a
    keyframe lies far enough past the current position for a seek to decode less. Raises
    ``MediaError(CORRUPT_MEDIA)`` when decoding stops well before the announced end.
    """
    position = 0
    for index in sample_indices(info.frame_count, samples):
        if _seek_pays(position, index, info) and capture.set(cv2.CAP_PROP_POS_FRAMES, index):
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
