from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake_detect.core.crop_geometry import CropGeometry
from training.augment import augment
from training.blend import face_mask, hull_mask, self_blend
from training.identity_split import landmarks68, to_rgb
from training.manifest import _to_crop

SIZE = 128


@pytest.fixture(scope="module")
def face(shared_dir, detector_path):
    from deepfake_detect.core.faces import FaceDetector
    from training.manifest import detect_padded

    decoded = cv2.imread(str(sorted((shared_dir / "data" / "utkface").glob("*.jpg"))[0]))
    assert decoded is not None
    image = np.asarray(decoded, np.uint8)
    from deepfake_detect.core.align import align_face

    faces = detect_padded(FaceDetector(detector_path), image)
    assert faces, "the detector should find the UTKFace face on the padded image"
    aligned = align_face(image, faces[0].landmarks, CropGeometry(SIZE, 0.1))  # room around the mask
    points68, _ = landmarks68(to_rgb(image), faces[0].box)
    return (
        aligned.crop,
        _to_crop(faces[0].landmarks, aligned.crop_to_image),
        _to_crop(points68, aligned.crop_to_image),
    )


def _landmark_box(landmarks: np.ndarray, grow: float) -> tuple[np.ndarray, np.ndarray]:
    centre = landmarks.mean(axis=0)
    half = (landmarks.max(axis=0) - landmarks.min(axis=0)) / 2 * grow
    return centre - half, centre + half


def test_mask_is_soft_bounded_and_around_the_face(face):
    crop, landmarks, _ = face
    for seed in range(20):
        mask = face_mask(crop.shape[:2], landmarks, np.random.default_rng(seed))
        assert mask.dtype == np.float32 and mask.shape == crop.shape[:2]
        assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask.max() == pytest.approx(1.0)
        # the inner face (between the eyes and the mouth) is inside the mask
        centre = landmarks.mean(axis=0).round().astype(int)
        assert mask[centre[1], centre[0]] > 0.5
        # and the crop's top corners, away from the face, are not
        assert mask[0, 0] < 0.05 and mask[0, -1] < 0.05


def test_hull_mask_follows_the_68_landmarks(face):
    crop, _landmarks, points68 = face
    assert points68.shape == (68, 2) and np.isfinite(points68).all()
    nose = points68[30].round().astype(int)
    for seed in range(20):
        mask = hull_mask(crop.shape[:2], points68, np.random.default_rng(seed))
        assert mask.dtype == np.float32 and mask.min() >= 0.0 and mask.max() == pytest.approx(1.0)
        assert mask[nose[1], nose[0]] > 0.5  # the nose tip is inside the face hull
        assert mask[0, 0] < 0.05 and mask[0, -1] < 0.05


def test_blend_uses_the_hull_when_68_landmarks_are_given(face):
    crop, landmarks, points68 = face
    rng = np.random.default_rng(3)
    with_hull = self_blend(crop, landmarks, np.random.default_rng(3), points68)
    without = self_blend(crop, landmarks, rng, np.full((68, 2), np.nan, np.float32))
    assert not np.array_equal(with_hull.mask, without.mask)


def test_blend_changes_only_where_the_mask_is(face):
    crop, landmarks, _ = face
    for seed in range(20):
        out = self_blend(crop, landmarks, np.random.default_rng(seed))
        assert out.image.shape == crop.shape and out.image.dtype == np.uint8
        outside = out.mask == 0
        assert outside.any()
        assert np.array_equal(out.image[outside], out.target[outside])
        # changes concentrate on the face: most of the change lies inside a box around the landmarks
        change = np.abs(out.image.astype(int) - out.target.astype(int)).sum(axis=2)
        assert change.sum() > 0
        low, high = _landmark_box(landmarks, 3.5)
        ys, xs = np.nonzero(change)
        inside = (xs >= low[0]) & (xs <= high[0]) & (ys >= low[1]) & (ys <= high[1])
        assert inside.mean() > 0.95


def test_blend_is_reproducible_from_its_seed(face):
    crop, landmarks, _ = face
    a = self_blend(crop, landmarks, np.random.default_rng(7)).image
    b = self_blend(crop, landmarks, np.random.default_rng(7)).image
    c = self_blend(crop, landmarks, np.random.default_rng(8)).image
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_augment_keeps_shape_and_type(face):
    crop, _, _ = face
    for seed in range(30):
        out = augment(crop, np.random.default_rng(seed))
        assert out.shape == crop.shape and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
