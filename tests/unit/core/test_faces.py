"""core.faces: YuNet finds every face, boxes in original coordinates, small faces dropped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.media.images import decode_image
from tests.support.media import paste

MAX_PIXELS = 50_000_000


@pytest.fixture(scope="module")
def face_detector(detector_model: Path) -> FaceDetector:
    return FaceDetector(detector_model, max_side=640, min_face_size=24)


def load(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), MAX_PIXELS)


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make models"):
        FaceDetector(tmp_path / "nope.onnx")


def test_creating_the_detector_prints_no_opencv_warning(
    detector_model: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    FaceDetector(detector_model)
    assert "setPreferableTarget" not in capfd.readouterr().err


def test_one_face(face_detector: FaceDetector, face_photo: Path) -> None:
    faces = face_detector.detect(load(face_photo))
    assert len(faces) == 1
    face = faces[0]
    x, _y, w, h = face.box
    assert 0.6 < face.score <= 1.0
    assert 120 < w < 220 and 120 < h < 260
    right_eye, left_eye, nose, mouth_r, mouth_l = face.landmarks
    assert x < right_eye[0] < left_eye[0] < x + w  # image-left eye first
    assert right_eye[1] < nose[1] < mouth_r[1] and left_eye[1] < nose[1] < mouth_l[1]


def test_two_faces_not_only_the_largest(face_detector: FaceDetector, couple_photo: Path) -> None:
    faces = face_detector.detect(load(couple_photo))
    assert len(faces) == 2
    assert faces[0].score >= faces[1].score
    centres = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert centres[1] - centres[0] > 400  # two different people, side by side


def test_boxes_are_mapped_back_to_original_pixels(face_detector: FaceDetector, face_photo: Path) -> None:
    """A 1920 px image is detected at the 640 px working size: its boxes and landmarks are
    those found on the 640 px version, times 3."""
    work = np.asarray(cv2.resize(load(face_photo), (640, 640), interpolation=cv2.INTER_AREA), np.uint8)
    big = np.asarray(cv2.resize(work, (1920, 1920), interpolation=cv2.INTER_NEAREST), np.uint8)
    (work_face,) = face_detector.detect(work)
    (big_face,) = face_detector.detect(big)
    assert np.allclose(np.array(big_face.box), np.array(work_face.box) * 3, atol=3)
    assert np.allclose(big_face.landmarks, work_face.landmarks * 3, atol=3)


def test_many_faces_on_a_wide_canvas(face_detector: FaceDetector, face_photo: Path) -> None:
    face = load(face_photo)
    canvas = np.full((400, 1600, 3), 128, np.uint8)
    for i in range(4):
        canvas = paste(canvas, face, i * 400, 0)
    faces = face_detector.detect(canvas)
    assert len(faces) == 4
    assert sorted(round(f.box[0] / 400) for f in faces) == [0, 1, 2, 3]


def test_max_faces_keeps_the_most_confident(detector_model: Path, face_photo: Path) -> None:
    face = load(face_photo)
    canvas = np.concatenate([face, face, face], axis=1)
    limited = FaceDetector(detector_model, max_faces=2).detect(canvas)
    assert len(limited) == 2
    assert limited[0].score >= limited[1].score


def test_no_face(face_detector: FaceDetector) -> None:
    rng = np.random.default_rng(0)
    assert face_detector.detect(np.full((480, 640, 3), 200, np.uint8)) == []
    assert face_detector.detect(rng.integers(0, 255, (300, 300, 3), np.uint8)) == []


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 900, 3), (900, 3, 3), (17, 33, 3)])
def test_degenerate_sizes_do_not_crash(face_detector: FaceDetector, shape: tuple[int, int, int]) -> None:
    assert face_detector.detect(np.zeros(shape, np.uint8)) == []


def test_tiny_face_is_ignored(detector_model: Path, face_photo: Path) -> None:
    """A face shrunk to ~20 px: found with a low minimum, dropped with the default 24 px."""
    face = load(face_photo)
    small = np.asarray(cv2.resize(face, (50, 50), interpolation=cv2.INTER_AREA), np.uint8)
    canvas = paste(np.full((240, 240, 3), 128, np.uint8), small, 85, 85)
    lenient = FaceDetector(detector_model, min_face_size=8).detect(canvas)
    assert len(lenient) == 1 and lenient[0].size < 24
    assert FaceDetector(detector_model, min_face_size=24).detect(canvas) == []


def test_grayscale_photo_still_has_its_face(face_detector: FaceDetector, face_photo: Path) -> None:
    grey = cv2.cvtColor(load(face_photo), cv2.COLOR_BGR2GRAY)
    faces = face_detector.detect(np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8))
    assert len(faces) == 1


def test_the_detector_can_be_reused_across_sizes(
    face_detector: FaceDetector, face_photo: Path, couple_photo: Path
) -> None:
    for path, count in [(face_photo, 1), (couple_photo, 2), (face_photo, 1)]:
        assert len(face_detector.detect(load(path))) == count
