"""Align and crop a face: the ONE function that both inference and training use.

A similarity transform (rotation, uniform scale, translation) maps the 5 detected landmarks onto
a canonical template; ``margin`` widens the crop on every side so the model sees the face's
boundary with its surroundings, where blending artefacts of face swaps live.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.media import Frame

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


def template_points(size: int, margin: float) -> NDArray[np.float64]:
    """Template landmarks in a ``size`` crop whose face region is shrunk by ``margin`` per side."""
    return ((TEMPLATE - 0.5) / (1.0 + 2.0 * margin) + 0.5) * size


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


def align_face(image: Frame, landmarks: NDArray[np.floating], size: int, margin: float) -> AlignedFace:
    """Warp the face given by its 5 landmarks into a ``size`` x ``size`` canonical crop."""
    matrix = similarity_transform(landmarks, template_points(size, margin))
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
