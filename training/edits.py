"""The cheap edits a forger makes to a face before posting it, as functions of an aligned crop.

Two users: ``training.evasion`` measures the shipped model under each edit (``CROP_EDITS``, at
fixed seeds), and the training stream applies some of them as augmentation (``TRAINING_EDITS``,
``random_edit``) so that a caption or a hand over a fake stops reading as "real". One overlay,
the emoji sticker, is kept out of training: its row in the evasion table measures an edit the
model never saw.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Points = NDArray[np.float32]
# An edit takes a BGR crop, its 5 landmarks in crop pixels (eyes, nose, mouth corners) and a
# generator; it returns the edited crop (same shape) and the fraction of pixels it painted over
# (0 for edits that touch every pixel a little).
Edit = Callable[[Image, Points, np.random.Generator], tuple[Image, float]]

WORDS = ("BREAKING", "so real?!", "#viral", "WATCH", "LOL 2026", "exclusive")


def _painted(before: Image, after: Image) -> float:
    return float(np.any(before != after, axis=2).mean())


def mirror(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    return np.ascontiguousarray(image[:, ::-1]), 0.0


def caption(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A caption banner (dark, 70 % opaque) with white text across the upper or lower face."""
    size = image.shape[0]
    out = image.copy()
    height = int(size * rng.uniform(0.12, 0.17))
    top = int(rng.choice([rng.uniform(0.15, 0.3), rng.uniform(0.6, 0.8)]) * size)
    band = out[top : top + height].astype(np.float32)
    out[top : top + height] = np.clip(band * 0.3, 0, 255).astype(np.uint8)
    word = str(rng.choice(WORDS))
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_DUPLEX, int(height * 0.6), 2)
    (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    scale *= min(1.0, 0.92 * size / max(width, 1))
    (width, text_h), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    origin = ((size - width) // 2, top + (height + text_h) // 2)
    cv2.putText(out, word, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return out, _painted(image, out)


def bold_text(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """Meme-style bold text without a banner: white letters with a black outline, two lines."""
    size = image.shape[0]
    out = image.copy()
    thickness = max(2, size // 32)
    for line, y in enumerate((rng.uniform(0.3, 0.42), rng.uniform(0.72, 0.85))):
        word = str(rng.choice(WORDS)).upper()
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, int(size * 0.16), thickness)
        (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        scale *= min(1.0, 0.95 * size / max(width, 1))
        (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        origin = (max(0, (size - width) // 2 + int(rng.integers(-4, 5)) * line), int(y * size))
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(out, word, origin, font, scale, (0, 0, 0), thickness + 4, cv2.LINE_AA)
        cv2.putText(out, word, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out, _painted(image, out)


def emoji(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A smiley sticker (yellow disc, eyes, smile) of about 15 % of the crop on an eye, the nose or
    the mouth."""
    size = image.shape[0]
    out = image.copy()
    radius = int(size * np.sqrt(rng.uniform(0.11, 0.17) / np.pi))
    anchor = points[int(rng.integers(len(points)))]
    cx = int(np.clip(anchor[0], radius, size - radius))
    cy = int(np.clip(anchor[1], radius, size - radius))
    cv2.circle(out, (cx, cy), radius, (0, 215, 255), -1, cv2.LINE_AA)
    eye = max(2, radius // 7)
    for dx in (-radius // 3, radius // 3):
        cv2.circle(out, (cx + dx, cy - radius // 4), eye, (30, 30, 30), -1, cv2.LINE_AA)
    cv2.ellipse(
        out, (cx, cy + radius // 8), (radius // 2, radius // 3), 0, 20, 160, (30, 30, 30), max(2, eye // 2)
    )
    return out, _painted(image, out)


def hand(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A hand over the mouth or a cheek: an ellipse of the face's own skin tone, a little darker,
    with soft edges."""
    size = image.shape[0]
    centre = points[2]  # nose tip: the middle of the face
    skin = np.median(
        image[
            int(centre[1]) - size // 10 : int(centre[1]) + size // 10,
            int(centre[0]) - size // 10 : int(centre[0]) + size // 10,
        ].reshape(-1, 3),
        axis=0,
    )
    colour = tuple(float(c) * rng.uniform(0.8, 0.95) for c in skin)
    mouth = points[3:5].mean(axis=0)
    target = mouth if rng.random() < 0.5 else points[int(rng.choice([3, 4]))] + (0, -size * 0.12)
    mask = np.zeros(image.shape[:2], np.float32)
    axes = (int(size * rng.uniform(0.16, 0.2)), int(size * rng.uniform(0.26, 0.32)))
    cv2.ellipse(
        mask, (int(target[0]), int(target[1] + size * 0.1)), axes, rng.uniform(-35, 35), 0, 360, 1.0, -1
    )
    soft = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=1.5), np.float32)[..., None]
    shade = np.linspace(1.05, 0.85, size, dtype=np.float32)[None, :, None]  # light from one side
    paint = np.clip(np.asarray(colour, np.float32) * shade, 0, 255)
    out = np.clip(image * (1 - soft) + paint * soft, 0, 255).astype(np.uint8)
    return out, float((soft > 0.5).mean())


def sunglasses(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """Dark lenses over both eyes and a bridge between them."""
    size = image.shape[0]
    out = image.copy()
    half_w, half_h = int(size * rng.uniform(0.11, 0.14)), int(size * rng.uniform(0.06, 0.08))
    colour = (int(rng.integers(10, 40)),) * 3
    for eye in points[:2]:
        x, y = int(eye[0]), int(eye[1])
        cv2.rectangle(out, (x - half_w, y - half_h), (x + half_w, y + half_h), colour, -1)
    (x0, y0), (x1, y1) = points[0].astype(int), points[1].astype(int)
    cv2.line(
        out, (int(x0), int(y0) - half_h // 2), (int(x1), int(y1) - half_h // 2), colour, max(2, size // 40)
    )
    return out, _painted(image, out)


def face_mask(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A surgical mask: a light blue polygon from just under the eyes' line to below the chin,
    with pleats."""
    size = image.shape[0]
    out = image.copy()
    nose, mouth_r, mouth_l = points[2], points[3], points[4]
    eye_dist = float(np.linalg.norm(points[0] - points[1]))
    top = nose[1] - 0.15 * eye_dist
    left, right = min(mouth_r[0], mouth_l[0]) - 0.75 * eye_dist, max(mouth_r[0], mouth_l[0]) + 0.75 * eye_dist
    bottom = max(mouth_r[1], mouth_l[1]) + 1.0 * eye_dist
    polygon = np.array(
        [
            [left, top + 0.1 * eye_dist],
            [nose[0], top],
            [right, top + 0.1 * eye_dist],
            [right - 0.15 * eye_dist, bottom - 0.3 * eye_dist],
            [nose[0], bottom],
            [left + 0.15 * eye_dist, bottom - 0.3 * eye_dist],
        ],
        np.int32,
    )
    colour = (int(rng.integers(215, 245)), int(rng.integers(195, 225)), int(rng.integers(160, 190)))
    cv2.fillPoly(out, [polygon], colour, cv2.LINE_AA)
    for k in (0.35, 0.55, 0.75):
        y = int(top + k * (bottom - top))
        cv2.line(
            out,
            (int(left + 0.2 * eye_dist), y),
            (int(right - 0.2 * eye_dist), y),
            tuple(c - 40 for c in colour),
            1,
            cv2.LINE_AA,
        )
    del size
    return out, _painted(image, out)


def gamma(value: float) -> Edit:
    table = np.clip(255.0 * (np.arange(256) / 255.0) ** value, 0, 255).astype(np.uint8)

    def edit(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
        return np.asarray(cv2.LUT(image, table), np.uint8), 0.0

    return edit


def noise(sigma: float) -> Edit:
    def edit(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
        grain = rng.normal(0.0, sigma, size=image.shape)
        return np.clip(image + grain, 0, 255).astype(np.uint8), 0.0

    return edit


CROP_EDITS: dict[str, Edit] = {
    "mirror": mirror,
    "caption_banner": caption,
    "bold_text": bold_text,
    "emoji_sticker": emoji,
    "hand": hand,
    "sunglasses": sunglasses,
    "face_mask": face_mask,
    "gamma_0.6": gamma(0.6),
    "gamma_1.6": gamma(1.6),
    "noise_sigma6": noise(6.0),
    "noise_sigma12": noise(12.0),
}


# Edits drawn by the training stream (``random_edit``); the emoji sticker and the mirror are not
# among them: the mirror is already in ``training.augment``, the sticker stays an unseen edit.
TRAINING_EDITS: tuple[str, ...] = ("caption_banner", "bold_text", "hand", "sunglasses", "face_mask")


def random_edit(image: Image, points: Points, rng: np.random.Generator) -> Image:
    """One edit for the training stream: an overlay or occlusion from ``TRAINING_EDITS`` (80 %),
    or a gamma change or grain of a random strength (20 %)."""
    image, points = np.ascontiguousarray(image), np.asarray(points, np.float32)
    if rng.random() < 0.8:
        return CROP_EDITS[str(rng.choice(TRAINING_EDITS))](image, points, rng)[0]
    if rng.random() < 0.5:
        return gamma(float(rng.uniform(0.5, 1.8)))(image, points, rng)[0]
    return noise(float(rng.uniform(3.0, 14.0)))(image, points, rng)[0]
