"""core.align: the similarity transform, the aligned crop, and the classifier's input tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_detect.core.align import (
    TEMPLATE,
    align_face,
    similarity_transform,
    template_points,
    to_tensor,
)
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.media.images import decode_image
from tests.support.media import rotate


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points @ matrix[:, :2].T + matrix[:, 2])


def roll_degrees(landmarks: np.ndarray) -> float:
    """Angle of the line from the image-left eye to the image-right eye (0 = level)."""
    dx, dy = landmarks[1] - landmarks[0]
    return float(np.degrees(np.arctan2(dy, dx)))


@pytest.fixture(scope="module")
def face_detector(detector_model: Path) -> FaceDetector:
    return FaceDetector(detector_model)


def test_template_points_with_and_without_margin() -> None:
    assert np.allclose(template_points(112, 0.0), TEMPLATE * 112)
    with_margin = template_points(200, 0.5)
    # A margin shrinks the face about the crop centre: half the spread at margin 0.5.
    assert np.allclose(with_margin - 100, (TEMPLATE * 200 - 100) / 2)


@pytest.mark.parametrize(
    ("angle", "scale", "shift"), [(0.0, 1.0, (0, 0)), (37.0, 2.5, (10, -4)), (-120.0, 0.3, (300, 20))]
)
def test_similarity_transform_recovers_a_known_transform(
    angle: float, scale: float, shift: tuple[int, int]
) -> None:
    theta = np.radians(angle)
    rotation = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    truth = np.hstack([rotation, np.array(shift, float)[:, None]])
    src = np.random.default_rng(3).uniform(0, 100, (5, 2))
    estimated = similarity_transform(src, apply(truth, src))
    assert np.allclose(estimated, truth, atol=1e-9)


def test_similarity_transform_is_never_a_reflection() -> None:
    src = TEMPLATE * 100
    mirrored = src * np.array([-1.0, 1.0])
    matrix = similarity_transform(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_align_maps_landmarks_onto_the_template(face_detector: FaceDetector, face_photo: Path) -> None:
    image = decode_image(face_photo.read_bytes(), 10**8)
    (face,) = face_detector.detect(image)
    aligned = align_face(image, face.landmarks, CropGeometry(128, 0.25))
    assert aligned.crop.shape == (128, 128, 3) and aligned.crop.dtype == np.uint8
    # crop_to_image inverts the warp: template points land back on the detected landmarks
    # (least squares over 5 points: close, not exact).
    back = apply(aligned.crop_to_image, template_points(128, 0.25))
    assert np.abs(back - face.landmarks).max() < 0.08 * face.size


@pytest.mark.parametrize("photo", ["img25.jpg", "img29.jpg"])
@pytest.mark.parametrize("angle", [30.0, -30.0])
def test_rotated_face_gives_an_upright_crop(
    face_detector: FaceDetector, shared_data: Path, photo: str, angle: float
) -> None:
    """Rotate a real photo, align the face, then run the detector again on the crop: the eyes are
    level and the landmarks sit where the template puts them."""
    upright = decode_image((shared_data / "deepface_photos" / photo).read_bytes(), 10**8)
    tilted = rotate(upright, angle)
    (face,) = face_detector.detect(tilted)
    assert abs(roll_degrees(face.landmarks)) > 15  # the input face really is tilted
    size, margin = 256, 0.5
    crop = align_face(tilted, face.landmarks, CropGeometry(size, margin)).crop
    found = face_detector.detect(crop)
    assert len(found) == 1
    assert abs(roll_degrees(found[0].landmarks)) < 8
    assert np.abs(found[0].landmarks - template_points(size, margin)).max() < 0.07 * size


def test_crop_of_a_face_at_the_border_is_filled(face_detector: FaceDetector, face_photo: Path) -> None:
    image = decode_image(face_photo.read_bytes(), 10**8)
    (face,) = face_detector.detect(image)
    shifted = face.landmarks - np.array([face.box[0] + face.box[2] * 0.8, 0], np.float32)
    crop = align_face(image, shifted, CropGeometry(64, 0.5)).crop  # the face is mostly outside the image
    assert crop.shape == (64, 64, 3)


def test_to_tensor_layout_order_and_normalisation() -> None:
    crop = np.zeros((4, 4, 3), np.uint8)
    crop[..., 0], crop[..., 1], crop[..., 2] = 0, 128, 255  # B, G, R
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.5, 1.0)
    tensor = to_tensor([crop, crop], mean, std)
    assert tensor.shape == (2, 3, 4, 4) and tensor.dtype == np.float32
    assert tensor.flags.c_contiguous
    # RGB order, (x/255 - mean) / std per channel.
    assert tensor[0, 0, 0, 0] == pytest.approx((1.0 - 0.5) / 0.25)
    assert tensor[0, 1, 0, 0] == pytest.approx((128 / 255 - 0.5) / 0.5, abs=1e-6)
    assert tensor[0, 2, 0, 0] == pytest.approx((0.0 - 0.5) / 1.0)
