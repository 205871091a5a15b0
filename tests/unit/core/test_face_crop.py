"""core.face_crop: the scale a face's crop is read at, and the crop it gives at that scale."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detect.core.align import align_face, template_points
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.face_crop import crop_box, crop_face, crop_factor
from deepfake_detect.core.media.pixels import box_reduce
from deepfake_detect.core.media.video import FramePicture

GEOMETRY = CropGeometry(size=160, margin=-0.2, shift=-0.16, border="constant", fill=(104, 116, 124))


def face_at(scale: float, x: float = 900.0, y: float = 700.0) -> np.ndarray:
    """The landmarks of a face ``scale`` source pixels per crop pixel, its crop placed at x, y."""
    template = np.asarray(template_points(GEOMETRY.size, GEOMETRY.margin, GEOMETRY.shift), np.float64)
    return np.asarray(template * scale + np.array([x, y]), np.float64)


@pytest.mark.parametrize(
    ("scale", "factor"),
    [(0.5, 1), (1.0, 1), (1.99, 1), (2.01, 2), (3.9, 2), (4.01, 4), (7.5, 4), (8.01, 8), (30.0, 8)],
)
def test_the_coarsest_scale_that_keeps_a_source_pixel_per_crop_pixel(scale: float, factor: int) -> None:
    assert crop_factor(face_at(scale), GEOMETRY) == factor


def test_a_face_read_at_a_coarse_scale_is_the_reduced_pixels_warped() -> None:
    """At factor f the crop is ``align_face`` on the picture's 1/f box reduction, with its
    transform in full-size pixels; the region read covers everything the warp touches."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2400, 3000, 3), np.uint8)
    landmarks = face_at(4.5)
    picture = FramePicture(image)
    got = crop_face(picture, landmarks, GEOMETRY)
    reduced = box_reduce(image, 4)
    want = align_face(reduced, (landmarks + 0.5) / 4 - 0.5, GEOMETRY)
    assert np.array_equal(got.crop, want.crop)
    # Crop pixel (0, 0) lands where the reduced crop's does, in full-size pixels.
    corner = got.crop_to_image @ np.array([0.0, 0.0, 1.0])
    assert np.allclose(corner, (want.crop_to_image @ np.array([0.0, 0.0, 1.0]) + 0.5) * 4 - 0.5)
    # The box read spans the whole face at 4.5 full-size pixels per crop pixel.
    x0, y0, x1, y1 = crop_box(landmarks, GEOMETRY, 3000, 2400, 4)
    assert x1 - x0 > GEOMETRY.size * 4 and y1 - y0 > GEOMETRY.size * 4


def test_a_small_face_is_read_in_full_as_aligning_the_whole_picture() -> None:
    """Warped from a region instead of the whole picture: the same crop, up to the last bit of
    OpenCV's fixed-point interpolation where the translation rounds differently."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (600, 800, 3), np.uint8)
    landmarks = face_at(1.3, 200.0, 150.0)
    got = crop_face(FramePicture(image), landmarks, GEOMETRY)
    want = align_face(image, landmarks, GEOMETRY)
    assert np.abs(got.crop.astype(int) - want.crop).max() <= 1
    assert np.allclose(got.crop_to_image, want.crop_to_image)
