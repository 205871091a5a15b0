"""The crop the network sees must lie inside the source image for every training source: a
crop that reaches past a tight source is invented border, and the model learns it as a label cue."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from deepfake_detect.core.align import align_face, outside_fraction
from training.config import TrainConfig
from training.train import geometry_of

MAX_MEAN_OUTSIDE = 0.02


@pytest.fixture(scope="module")
def manifest(small_manifest):
    return small_manifest


def test_default_crop_stays_inside_every_source(manifest, tmp_path):
    geometry = geometry_of(TrainConfig(tmp_path, tmp_path, tmp_path, tmp_path, tmp_path))
    assert geometry.border == "constant"
    fractions: dict[tuple[str, int], list[float]] = defaultdict(list)
    for face in manifest.faces:
        height, width = face.image_size
        aligned = align_face(np.zeros((height, width, 3), np.uint8), np.asarray(face.landmarks), geometry)
        fractions[(face.source, face.label)].append(
            outside_fraction((height, width), aligned.crop_to_image, geometry.size)
        )
    means = {key: float(np.mean(values)) for key, values in fractions.items()}
    # every source of the shared data set is measured, the new photo and diffusion sets included
    assert {source for source, _ in means} >= {"dfdc", "utkface", "hardfake", "sdfd", "london", "web_photos"}
    assert all(mean <= MAX_MEAN_OUTSIDE for mean in means.values()), means


def test_old_wide_crop_would_invent_pixels(manifest):
    """The check can fail: the previous geometry (margin 0.1, no shift) invents about half of a
    tight DFDC crop."""
    from deepfake_detect.core.crop_geometry import CropGeometry

    wide = CropGeometry(160, 0.1)
    dfdc = [f for f in manifest.faces if f.source == "dfdc"]
    values = []
    for face in dfdc:
        aligned = align_face(np.zeros((*face.image_size, 3), np.uint8), np.asarray(face.landmarks), wide)
        values.append(outside_fraction(tuple(face.image_size), aligned.crop_to_image, wide.size))
    assert float(np.mean(values)) > 0.3


def test_constant_border_fills_with_the_mean_colour():
    from deepfake_detect.core.model_card import Preprocessing

    geometry = Preprocessing(input_size=32, margin=-0.2, shift=-0.16, border="constant").geometry()
    image = np.full((64, 64, 3), 255, np.uint8)
    # a face in the image's top-left corner: the crop's top-left corner lies outside the image
    landmarks = np.array([[1, 1], [5, 1], [3, 3], [1.5, 5], [4.5, 5]], np.float32)
    crop = align_face(image, landmarks, geometry).crop
    assert tuple(crop[0, 0]) == geometry.fill == (104, 116, 124)  # ImageNet mean, BGR
