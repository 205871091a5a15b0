"""Self-blended images (Shiohara and Yamasaki, "Detecting Deepfakes with Self-Blended Images",
CVPR 2022), made on the fly from real faces.

Two copies of one face are made different (colour, frequency, a small warp) and one is pasted
into the other through a soft face mask. The result has no identity change and no generator
fingerprint, only the traces every face swap leaves: a blending boundary, a colour and
sharpness mismatch between inner face and surroundings. A model that learns those generalises
to face-swap methods it never saw. As in the paper, the mask is the convex hull of dlib's 68
landmarks (``training.identity_split``), randomly deformed, eroded or dilated, and blurred; a face
without 68 landmarks falls back to an ellipse fitted to the 5 detector landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
# landmarks order (YuNet): right eye, left eye, nose tip, right mouth corner, left mouth corner


@dataclass(frozen=True)
class Blended:
    image: Image  # the self-blended face (a "fake")
    mask: NDArray[np.float32]  # H x W in [0, 1]: weight of the source face in ``image``
    target: Image  # the background copy: ``image`` equals it wherever ``mask`` is 0


def face_mask(
    shape: tuple[int, int], landmarks: NDArray[np.floating], rng: np.random.Generator
) -> NDArray[np.float32]:
    """A soft mask over the inner face: a deformed, eroded or dilated, blurred ellipse in [0, 1]."""
    height, width = shape
    points = np.asarray(landmarks, dtype=np.float64)
    eyes, mouth = points[:2].mean(axis=0), points[3:5].mean(axis=0)
    eye_dist = float(np.linalg.norm(points[1] - points[0]))
    eye_mouth = float(np.linalg.norm(mouth - eyes))
    angle = np.arctan2(points[1, 1] - points[0, 1], points[1, 0] - points[0, 0])
    # Centre a little below the eye-mouth midpoint (the face extends to the chin), axes sized
    # from the landmark distances, each randomly scaled so masks vary from inner face to whole face.
    centre = (eyes + mouth) / 2 + (mouth - eyes) * rng.uniform(0.0, 0.3)
    semi_x = max(eye_dist, 1.0) * rng.uniform(0.8, 1.3)
    semi_y = max(eye_mouth, 1.0) * rng.uniform(1.0, 1.5)
    t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    radius = 1.0 + rng.uniform(-0.12, 0.12, size=t.size)  # random deformation of the outline
    radius = np.convolve(np.r_[radius[-2:], radius, radius[:2]], np.ones(5) / 5, mode="valid")
    local = np.stack([semi_x * radius * np.cos(t), semi_y * radius * np.sin(t)], axis=1)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    polygon = local @ rot.T + centre
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255)
    return _soften(mask, rng, grow_divisor=24, max_blur=0.05)


def _soften(
    mask: NDArray[np.uint8], rng: np.random.Generator, grow_divisor: int, max_blur: float
) -> NDArray[np.float32]:
    """Erode or dilate a 0/255 mask by up to 1/``grow_divisor`` of its side, blur it by up to
    ``max_blur`` of its side, and scale it to a peak of 1."""
    side = min(mask.shape[:2])
    k = int(rng.integers(1, max(2, side // grow_divisor)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    grown = cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel)
    sigma = rng.uniform(0.01, max_blur) * side
    soft = np.asarray(
        cv2.GaussianBlur(np.asarray(grown, np.float32) / 255.0, (0, 0), sigmaX=sigma), dtype=np.float32
    )
    peak = float(soft.max())
    return np.clip(soft / peak, 0.0, 1.0).astype(np.float32) if peak > 0 else soft


def hull_mask(
    shape: tuple[int, int], landmarks68: NDArray[np.floating], rng: np.random.Generator
) -> NDArray[np.float32]:
    """SBI's mask: the hull of the 68 landmarks (the jaw line and, raised a little, the brows),
    elastically deformed, eroded or dilated, and blurred, in [0, 1]."""
    height, width = shape
    points = np.asarray(landmarks68, dtype=np.float64).copy()
    # The 68-point hull stops at the brows; lift the brow points part of the way to the hairline,
    # as face swaps usually cover the forehead.
    brows = points[17:27]
    eye_line = points[36:48, 1].mean()
    brows[:, 1] -= rng.uniform(0.0, 0.5) * max(eye_line - brows[:, 1].mean(), 0.0)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    # elastic deformation: a smooth random displacement field
    side = min(height, width)
    grid = rng.normal(0.0, 1.0, size=(2, 6, 6)).astype(np.float32)
    flow = [
        cv2.resize(g, (width, height), interpolation=cv2.INTER_CUBIC) * side * rng.uniform(0.0, 0.04)
        for g in grid
    ]
    xx, yy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    mask = np.asarray(cv2.remap(mask, xx + flow[0], yy + flow[1], cv2.INTER_LINEAR), np.uint8)
    return _soften(mask, rng, grow_divisor=16, max_blur=0.06)


def _colour_shift(image: Image, rng: np.random.Generator) -> Image:
    """Per-channel offset, hue/saturation/value shift, and brightness/contrast change."""
    out = image.astype(np.float32) + rng.uniform(-20, 20, size=3).astype(np.float32)
    hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180
    hsv[..., 1:] *= rng.uniform(0.8, 1.2, size=2).astype(np.float32)
    out = np.asarray(cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR), np.float32)
    out = (out - 128.0) * rng.uniform(0.8, 1.2) + 128.0 + rng.uniform(-20, 20)
    return np.clip(out, 0, 255).astype(np.uint8)


def _frequency_shift(image: Image, rng: np.random.Generator) -> Image:
    """Blur by down- and up-scaling, or sharpen: the two faces then differ in their spectrum."""
    height, width = image.shape[:2]
    if rng.random() < 0.5:
        f = rng.uniform(0.3, 0.8)
        small = cv2.resize(
            image, (max(1, round(width * f)), max(1, round(height * f))), interpolation=cv2.INTER_AREA
        )
        return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8)
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(0.8, 2.0))
    amount = rng.uniform(0.3, 1.0)
    return np.asarray(cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0), np.uint8)


def _small_warp(image: Image, rng: np.random.Generator) -> Image:
    """A few-percent shift and scale of the source: the landmarks no longer quite line up."""
    height, width = image.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    dx, dy = rng.uniform(-0.03, 0.03, size=2) * (width, height)
    matrix = np.asarray(cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale), np.float64)
    matrix[:, 2] += (dx, dy)
    return np.asarray(
        cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101), np.uint8
    )


def self_blend(
    face: Image,
    landmarks: NDArray[np.floating],
    rng: np.random.Generator,
    landmarks68: NDArray[np.floating] | None = None,
) -> Blended:
    """Blend a transformed copy of ``face`` into another copy of it through a soft face mask
    (the 68-landmark hull when given and finite, else the 5-landmark ellipse)."""
    source, target = face.copy(), face.copy()
    # Colour changes go to either copy; what matters is the mismatch across the boundary.
    if rng.random() < 0.5:
        source = _colour_shift(source, rng)
    else:
        target = _colour_shift(target, rng)
    if rng.random() < 0.7:
        source = _frequency_shift(source, rng)
    source = _small_warp(source, rng)
    if landmarks68 is not None and np.isfinite(landmarks68).all():
        mask = hull_mask(face.shape[:2], landmarks68, rng)
    else:
        mask = face_mask(face.shape[:2], landmarks, rng)
    # Partial blends too (as in the paper): faint boundaries are the hard, useful cases.
    mask = mask * float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]))
    alpha = mask[..., None]
    image = source.astype(np.float32) * alpha + target.astype(np.float32) * (1.0 - alpha)
    return Blended(image=np.clip(np.round(image), 0, 255).astype(np.uint8), mask=mask, target=target)
