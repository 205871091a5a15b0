"""Face detection with YuNet through ``cv2.FaceDetectorYN``: every face, with 5 landmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.config import DetectionConfig
from deepfake_detect.core.media.pixels import Frame


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Raise OpenCV's log threshold to errors for the duration of the block.

    OpenCV 5's new DNN engine logs a harmless "setPreferableTarget ... not supported" WARN line
    on stderr whenever a net is created; it is noise for every CLI run. Scoped, not global, so
    warnings from elsewhere in OpenCV still show.
    """
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


@dataclass(frozen=True)
class Face:
    """One detected face, in the coordinates of the original image."""

    box: tuple[float, float, float, float]  # x, y, width, height
    landmarks: NDArray[np.float32]  # (5, 2): right eye, left eye, nose tip, right/left mouth corner
    score: float

    @property
    def size(self) -> float:
        return min(self.box[2], self.box[3])


class FaceDetector:
    """YuNet wrapper. Not thread-safe (OpenCV keeps per-net state): one instance per worker."""

    def __init__(
        self,
        model_path: Path,
        *,
        max_side: int = 640,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        min_face_size: int = 24,
        max_faces: int = 20,
    ) -> None:
        if not model_path.is_file():
            raise FileNotFoundError(
                f"face detector model not found at {model_path}; run `make models` to put it in place"
            )
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.max_faces = max_faces
        self._input_size = (max_side, max_side)
        with quiet_opencv():
            self._net = cv2.FaceDetectorYN.create(
                str(model_path), "", self._input_size, score_threshold, nms_threshold, 5000
            )

    @classmethod
    def from_config(cls, model_path: Path, config: DetectionConfig) -> FaceDetector:
        return cls(model_path, **config.model_dump())

    def detect(self, image: Frame, *, pixel_size: float = 1.0) -> list[Face]:
        """All faces at least ``min_face_size`` pixels, most confident first, in the coordinates
        of ``image``. ``pixel_size``: how many original pixels one pixel of ``image`` stands for
        (an image decoded at a reduced scale), so the minimum size stays in original pixels."""
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        work: Frame = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            work = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        work_size = (work.shape[1], work.shape[0])
        if work_size != self._input_size:
            self._net.setInputSize(work_size)
            self._input_size = work_size
        _, rows = self._net.detect(work)
        if rows is None:
            return []
        faces = []
        for row in rows:
            box = row[0:4] / scale
            landmarks = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            face = Face(
                box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                landmarks=landmarks,
                score=float(row[14]),
            )
            if face.size * pixel_size >= self.min_face_size:
                faces.append(face)
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces[: self.max_faces]
