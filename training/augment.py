"""Augmentations that look like deployment: what uploads, messengers and video codecs do to a face.

Applied identically to real and fake crops, so none of them can become a label cue.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]


def jpeg(image: Image, quality: int) -> Image:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return np.asarray(decoded, np.uint8)


def rescale(image: Image, factor: float) -> Image:
    """Down- then up-scale: a face that was small in the original picture."""
    height, width = image.shape[:2]
    small = cv2.resize(
        image, (max(8, round(width * factor)), max(8, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), np.uint8)


def shift_scale(image: Image, rng: np.random.Generator) -> Image:
    """Small shifts, scales and rotations: detector landmarks jitter from frame to frame."""
    height, width = image.shape[:2]
    matrix = np.asarray(
        cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-6, 6), rng.uniform(0.94, 1.06)),
        np.float64,
    )
    matrix[:, 2] += rng.uniform(-0.04, 0.04, size=2) * (width, height)
    return np.asarray(
        cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ),
        np.uint8,
    )


def colour_jitter(image: Image, rng: np.random.Generator) -> Image:
    out: NDArray[np.float32] = image.astype(np.float32)
    out = (out - out.mean()) * rng.uniform(0.8, 1.2) + out.mean() * rng.uniform(0.8, 1.2)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.7, 1.3)  # saturation
    out = out + rng.uniform(-8, 8, size=3).astype(np.float32)  # white balance
    return np.clip(out, 0, 255).astype(np.uint8)


def sharpen(image: Image, rng: np.random.Generator) -> Image:
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(0.8, 2.0))
    amount = rng.uniform(0.2, 0.8)
    return np.asarray(cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0), np.uint8)


def retouch(image: Image, rng: np.random.Generator) -> Image:
    """What beauty filters and studio retouching do to a real face: smoothed skin (an edge-keeping
    bilateral filter), soft focus (a glow of the blurred image) or a flattering colour (warmer,
    brighter, flatter). None of it changes who the face is, so it must never read as fake."""
    out = np.ascontiguousarray(image)
    step = int(rng.integers(3))
    if step == 0:
        smooth = cv2.bilateralFilter(out, 0, rng.uniform(20, 60), rng.uniform(3, 9))
        out = np.asarray(cv2.addWeighted(out, 1 - (a := rng.uniform(0.5, 1.0)), smooth, a, 0), np.uint8)
    elif step == 1:
        glow = cv2.GaussianBlur(out, (0, 0), sigmaX=rng.uniform(2.0, 5.0))
        out = np.asarray(cv2.addWeighted(out, 1 - (a := rng.uniform(0.2, 0.5)), glow, a, 0), np.uint8)
    else:
        warm = out.astype(np.float32)
        warm = warm * rng.uniform(0.75, 0.95) + 255 * rng.uniform(0.05, 0.2)  # brighter, flatter
        warm[..., 2] += rng.uniform(0, 12)  # red up
        warm[..., 0] -= rng.uniform(0, 12)  # blue down
        out = np.clip(warm, 0, 255).astype(np.uint8)
    return out


def webp(image: Image, quality: int) -> Image:
    ok, buffer = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, int(quality)])
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise RuntimeError("WebP round trip failed")
    return np.asarray(decoded, np.uint8)


MEAN_BGR = (104, 116, 124)  # the constant the crop is padded with (ImageNet mean; 0 once normalised)


def constant_band(image: Image, rng: np.random.Generator, fill: tuple[int, int, int] = MEAN_BGR) -> Image:
    """Fill a thin band along one side with the padding constant: a face near the edge of its
    picture gets such a band from ``align_face``, in either class, so it must not be a cue."""
    out = image.copy()
    height, width = out.shape[:2]
    side = int(rng.integers(4))
    depth = max(1, int(rng.uniform(0.02, 0.12) * (height if side < 2 else width)))
    if side == 0:
        out[:depth] = fill
    elif side == 1:
        out[height - depth :] = fill
    elif side == 2:
        out[:, :depth] = fill
    else:
        out[:, width - depth :] = fill
    return out


def augment(image: Image, rng: np.random.Generator) -> Image:
    """One random degradation chain, applied to real and fake crops alike.

    It equalises quality as much as it imitates deployment: sharp studio portraits and generated
    faces get blurred, downscaled and compressed, small video crops get sharpened, so resolution,
    compression and sharpness stop telling the classes apart. Resizing is the most frequent step
    because platforms resize uploads and GAN traces live in the fine detail that resizing removes.
    """
    out = image
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.4:
        out = shift_scale(np.ascontiguousarray(out), rng)
    if rng.random() < 0.6:
        out = colour_jitter(out, rng)
    if rng.random() < 0.25:
        out = retouch(out, rng)
    if rng.random() < 0.05:
        grey = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_BGR2GRAY)
        out = np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
    if rng.random() < 0.5:
        out = rescale(np.ascontiguousarray(out), rng.uniform(0.3, 0.9))
    roll = rng.random()
    if roll < 0.2:
        # up to out-of-focus blur: background faces of group photos are real and very soft
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigmaX=rng.uniform(0.3, 2.5)), np.uint8)
    elif roll < 0.4:
        out = sharpen(np.ascontiguousarray(out), rng)  # phone and studio photos are sharpened
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(2, 8), size=out.shape).astype(np.float32)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    roll = rng.random()
    if roll < 0.65:
        out = jpeg(np.ascontiguousarray(out), int(rng.integers(30, 96)))
    elif roll < 0.75:
        out = webp(np.ascontiguousarray(out), int(rng.integers(40, 96)))
    if rng.random() < 0.1:
        out = constant_band(np.ascontiguousarray(out), rng)
    return np.ascontiguousarray(out)
