"""EXIF orientation: the transposes that turn stored pixels upright, applied to a part of an
image (a view, a face region) or to a decoded array, never to a whole full-size Pillow bitmap."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from deepfake_detect.core.media.pixels import Box, Frame

# EXIF orientation -> the transpose that makes the stored pixels upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_SIDES = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
}


def stored_box(box: Box, stored_size: tuple[int, int], upright: Image.Transpose | None) -> Box:
    """Where the pixels ``box`` of the upright image lie in the stored image of ``stored_size``."""
    x0, y0, x1, y1 = box
    w, h = stored_size
    t = Image.Transpose
    if upright is None:
        return box
    if upright is t.FLIP_LEFT_RIGHT:
        return w - x1, y0, w - x0, y1
    if upright is t.ROTATE_180:
        return w - x1, h - y1, w - x0, h - y0
    if upright is t.FLIP_TOP_BOTTOM:
        return x0, h - y1, x1, h - y0
    if upright is t.TRANSPOSE:  # upright (x, y) is stored (y, x)
        return y0, x0, y1, x1
    if upright is t.ROTATE_270:  # upright (x, y) is stored (y, h - 1 - x)
        return y0, h - x1, y1, h - x0
    if upright is t.TRANSVERSE:  # upright (x, y) is stored (w - 1 - y, h - 1 - x)
        return w - y1, h - x1, w - y0, h - x0
    # ROTATE_90: upright (x, y) is stored (w - 1 - y, x)
    return w - y1, x0, w - y0, x1


def upright_array(stored: Frame, upright: Image.Transpose | None) -> Frame:
    """Stored pixels turned upright, as ``Image.transpose(upright)`` turns a Pillow image."""
    t = Image.Transpose
    if upright is None:
        return stored
    if upright is t.FLIP_LEFT_RIGHT:
        turned = cv2.flip(stored, 1)
    elif upright is t.FLIP_TOP_BOTTOM:
        turned = cv2.flip(stored, 0)
    elif upright is t.ROTATE_180:
        turned = cv2.rotate(stored, cv2.ROTATE_180)
    elif upright is t.ROTATE_90:  # Pillow turns counter-clockwise
        turned = cv2.rotate(stored, cv2.ROTATE_90_COUNTERCLOCKWISE)
    elif upright is t.ROTATE_270:
        turned = cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE)
    elif upright is t.TRANSPOSE:
        turned = cv2.transpose(stored)
    else:  # TRANSVERSE
        turned = cv2.transpose(cv2.rotate(stored, cv2.ROTATE_180))
    return np.asarray(turned, dtype=np.uint8)
