"""A face's aligned crop read from a picture at the scale it needs: the one path from a decoded
file to the classifier's input, called by serving (``core.pipeline``) and by training's crop cache
(``training.manifest``), so the model is trained on the pixels it is served.

The crop is warped from a decode at ``1 / f`` of the picture's size, where ``f`` (1, 2, 4 or 8)
is the coarsest scale that still gives at least one source pixel per crop pixel. A JPEG is decoded
at that scale straight from its DCT coefficients (a 12 MP photo's face is read from a 1/4 decode,
a fraction of a full decode's work); other pictures are reduced with a box filter. Reading a large
face from fewer, averaged pixels also spares the warp the aliasing of sampling every fifth pixel
of a full decode.
"""

from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.align import AlignedFace, align_face, similarity_transform, template_points
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.media.images import FACTORS
from deepfake_detect.core.media.pixels import Box, View


class Picture(Protocol):
    """An image or a decoded video frame, as far as cropping reads it."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def region(self, box: Box, factor: int) -> View: ...


def crop_factor(landmarks: NDArray[np.floating], geometry: CropGeometry) -> int:
    """The coarsest decode scale at which the crop still reads one source pixel per crop pixel."""
    ratio = source_pixels_per_crop_pixel(landmarks, geometry)
    return max(f for f in FACTORS if f <= max(1.0, ratio))


def source_pixels_per_crop_pixel(landmarks: NDArray[np.floating], geometry: CropGeometry) -> float:
    """How many full-size pixels one crop pixel spans (below 1: the crop enlarges the face)."""
    to_crop = _to_crop(landmarks, geometry)
    return 1.0 / math.sqrt(abs(float(np.linalg.det(to_crop[:, :2]))))


def crop_box(
    landmarks: NDArray[np.floating], geometry: CropGeometry, width: int, height: int, factor: int = 1
) -> Box:
    """The full-size pixels the crop is warped from (read at ``1 / factor`` of their size)."""
    size = geometry.size
    to_image = cv2.invertAffineTransform(_to_crop(landmarks, geometry))
    corners = np.array([[-1.0, -1.0], [size, -1.0], [-1.0, size], [size, size]])
    mapped = corners @ to_image[:, :2].T + to_image[:, 2]
    pad = 2 * factor  # interpolation reads a (decoded) pixel beyond the last one it lands on
    x0, y0 = np.floor(mapped.min(axis=0)) - pad
    x1, y1 = np.ceil(mapped.max(axis=0)) + pad
    if geometry.border != "constant":
        # Reflected borders read the image mirrored at its edges: keep the mirrored pixels too.
        x0, x1 = min(x0, width - (x1 - width)) if x1 > width else x0, max(x1, -x0) if x0 < 0 else x1
        y0, y1 = min(y0, height - (y1 - height)) if y1 > height else y0, max(y1, -y0) if y0 < 0 else y1
    return int(x0), int(y0), int(x1), int(y1)


def crop_face(picture: Picture, landmarks: NDArray[np.floating], geometry: CropGeometry) -> AlignedFace:
    """The aligned crop of the face whose 5 landmarks (full-size pixels) are given; its
    ``crop_to_image`` maps crop pixels to the full-size picture's."""
    return align_in(crop_region(picture, landmarks, geometry), landmarks, geometry)


def crop_region(picture: Picture, landmarks: NDArray[np.floating], geometry: CropGeometry) -> View:
    """The decoded pixels a face's crop is warped from (the first half of ``crop_face``)."""
    factor = crop_factor(landmarks, geometry)
    return picture.region(crop_box(landmarks, geometry, picture.width, picture.height, factor), factor)


def align_in(region: View, landmarks: NDArray[np.floating], geometry: CropGeometry) -> AlignedFace:
    """The crop warped from ``crop_region``'s pixels (the second half of ``crop_face``)."""
    aligned = align_face(region.image, region.from_original(landmarks), geometry)
    return AlignedFace(aligned.crop, _compose(region.affine_to_original(), aligned.crop_to_image))


def _to_crop(landmarks: NDArray[np.floating], geometry: CropGeometry) -> NDArray[np.float64]:
    template = template_points(geometry.size, geometry.margin, geometry.shift)
    return similarity_transform(np.asarray(landmarks, np.float64), template)


def _compose(outer: NDArray[np.float64], inner: NDArray[np.float64]) -> NDArray[np.float64]:
    """The 2x3 affine map ``outer(inner(p))``."""
    matrix = np.zeros((2, 3))
    matrix[:, :2] = outer[:, :2] @ inner[:, :2]
    matrix[:, 2] = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return matrix
