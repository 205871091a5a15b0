"""Align and crop a face: the ONE function that both inference and training use.

A similarity transform (rotation, uniform scale, translation) maps the 5 detected landmarks onto
a canonical template. The crop geometry comes from the model card: ``margin`` widens (positive)
or tightens (negative) the crop around the template on every side, ``shift`` moves the template
vertically (a fraction of the side; negative moves the face up), and ``border`` says how pixels
outside the source image are filled. Most training faces exist only as tight crops, so a crop
that reaches past them would be half invented border, and a model learns that invented border
means "tight source" and real surroundings mean "full photo": the geometry is chosen so that
the crop stays inside the source, and whatever remains is a constant, never a mirror image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.media.pixels import Frame

# ArcFace's 5-point template for a 112x112 crop, as fractions of the crop side.
_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
TEMPLATE = _TEMPLATE_112 / 112.0


@dataclass(frozen=True)
class AlignedFace:
    crop: Frame  # size x size x 3, BGR uint8
    crop_to_image: NDArray[np.float64]  # 2x3 affine: crop pixel -> original image pixel


def template_points(size: int, margin: float, shift: float = 0.0) -> NDArray[np.float64]:
    """Template landmarks in a ``size`` crop: scaled about the centre by ``1 / (1 + 2 margin)``,
    then moved down by ``shift`` of the side."""
    points = (TEMPLATE - 0.5) / (1.0 + 2.0 * margin) + 0.5
    points[:, 1] += shift
    return points * size


def similarity_transform(src: NDArray[np.floating], dst: NDArray[np.floating]) -> NDArray[np.float64]:
    """Least-squares similarity transform (Umeyama) mapping ``src`` points onto ``dst``; 2x3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rotation = u @ np.diag(d) @ vt
    var_src = (src_c**2).sum() / len(src)
    scale = float((s * d).sum() / var_src) if var_src > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(image: Frame, landmarks: NDArray[np.floating], geometry: CropGeometry) -> AlignedFace:
    """Warp the face given by its 5 landmarks into the canonical crop ``geometry`` describes."""
    size = geometry.size
    matrix = similarity_transform(landmarks, template_points(size, geometry.margin, geometry.shift))
    if geometry.border == "constant":
        crop = cv2.warpAffine(
            image,
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=geometry.fill,
        )
    else:
        crop = cv2.warpAffine(
            image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
    return AlignedFace(
        crop=np.asarray(crop, dtype=np.uint8),
        crop_to_image=np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64),
    )


def to_tensor(crops: list[Frame], mean: tuple[float, ...], std: tuple[float, ...]) -> NDArray[np.float32]:
    """Stack BGR uint8 crops into the classifier's NCHW float32 RGB input, normalised."""
    rgb = np.stack(crops)[..., ::-1].astype(np.float32) / np.float32(255.0)
    batch = (rgb - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def mirrored(batch: NDArray[np.float32]) -> NDArray[np.float32]:
    """The NCHW batch flipped left to right: the second view of flip test-time augmentation."""
    return np.ascontiguousarray(batch[..., ::-1])


def outside_fraction(image_shape: tuple[int, ...], crop_to_image: NDArray[np.float64], size: int) -> float:
    """The fraction of a crop's pixels whose source lies outside the image (invented pixels)."""
    centres = np.arange(size, dtype=np.float64) + 0.5
    xx, yy = np.meshgrid(centres, centres)
    x = crop_to_image[0, 0] * xx + crop_to_image[0, 1] * yy + crop_to_image[0, 2]
    y = crop_to_image[1, 0] * xx + crop_to_image[1, 1] * yy + crop_to_image[1, 2]
    height, width = image_shape[:2]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    return float(1.0 - inside.mean())
