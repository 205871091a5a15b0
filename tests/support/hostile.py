"""Media made on the fly for the speed and memory work: large phone photos, decompression bombs
of every shape, JPEGs cut short and closed again, streamed WebM without a duration, large video
frames. The generators the bench uses too live in ``deepfake_detect.bench``."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
from PIL import Image

from deepfake_detect.bench import (
    Frame,
    cut_and_closed,
    flat_png,
    moving_face_frames,
    phone_photo,
    streamed_webm,
    with_orientation,
)

__all__ = [
    "cut_and_closed",
    "flat_png",
    "jpeg_of",
    "moving_face_frames",
    "phone_photo",
    "streamed_webm",
    "with_orientation",
    "write_frames",
]


def jpeg_of(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def write_frames(path: Path, frames: list[Frame], fps: float, fourcc: str) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path
