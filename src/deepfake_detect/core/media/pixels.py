"""Pixels as decoders hand them out: a ``Frame`` (BGR), a ``Box`` of the upright full-size image,
a ``View`` of it at a reduced scale; and the reductions of pixel arrays."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]

Box = tuple[int, int, int, int]  # x0, y0, x1, y1: pixel columns x0..x1-1, rows y0..y1-1


@dataclass(frozen=True)
class View:
    """Pixels of an image at ``1 / factor`` of its size (BGR), whose top-left pixel is pixel
    (``x0``, ``y0``) of the upright full-size image. Coordinates are of pixel centres (OpenCV's)."""

    image: Frame
    factor: int = 1
    x0: int = 0
    y0: int = 0

    def to_original(self, points: NDArray[np.floating]) -> NDArray[np.float64]:
        """``(..., 2)`` points of this view in the full-size image."""
        f = float(self.factor)
        return (np.asarray(points, np.float64) + 0.5) * f - 0.5 + np.array([self.x0, self.y0], np.float64)

    def from_original(self, points: NDArray[np.floating]) -> NDArray[np.float64]:
        f = float(self.factor)
        return (np.asarray(points, np.float64) - np.array([self.x0, self.y0], np.float64) + 0.5) / f - 0.5

    def affine_to_original(self) -> NDArray[np.float64]:
        """The 2x3 affine map of this view's coordinates to the full-size image's."""
        f = float(self.factor)
        return np.array([[f, 0.0, self.x0 + 0.5 * f - 0.5], [0.0, f, self.y0 + 0.5 * f - 0.5]])


def aligned(box: Box, factor: int, width: int, height: int) -> Box:
    """``box`` clipped to a ``width`` x ``height`` image and widened to whole ``factor`` blocks."""
    x0, y0, x1, y1 = box
    x0, y0 = max(0, min(x0, width - 1)), max(0, min(y0, height - 1))
    x1, y1 = max(x0 + 1, min(x1, width)), max(y0 + 1, min(y1, height))
    x0, y0 = x0 - x0 % factor, y0 - y0 % factor
    x1, y1 = min(width, -(-x1 // factor) * factor), min(height, -(-y1 // factor) * factor)
    return x0, y0, x1, y1


def box_reduce(image: Frame, factor: int) -> Frame:
    """``image`` at ``1 / factor`` of its size, each pixel the mean of its ``factor`` block (a
    partial block at the right or bottom edge is completed by repeating the edge, as a JPEG is)."""
    if factor == 1:
        return np.ascontiguousarray(image)
    height, width = image.shape[:2]
    pad_h, pad_w = -height % factor, -width % factor
    if pad_h or pad_w:
        image = np.asarray(cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE), np.uint8)
    size = ((width + pad_w) // factor, (height + pad_h) // factor)
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def downscale(image: Frame, max_side: int) -> tuple[Frame, float]:
    """``image`` with its long side at most ``max_side`` (never a side of 0), and the scale."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8), scale
