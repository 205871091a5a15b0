"""Pillow, asked to parse only the formats accepted, and its failures as the one error a caller sees."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import IMAGE_FORMATS

# Pillow is only ever asked to parse the formats we accept: less parser surface for hostile input.
PILLOW_FORMATS = tuple(IMAGE_FORMATS)


@contextmanager
def decoding() -> Iterator[None]:
    """Pillow's failures, as the one error a caller sees."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice its limit, raises) on huge images while reading the
            # header; either way the answer is the same error as our own, lower, limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(ErrorCode.TOO_MANY_PIXELS, f"the image is too large to decode: {exc}") from exc
    except UnidentifiedImageError as exc:
        # The magic bytes said image, so a header Pillow cannot parse is damage, not a foreign type.
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image header is damaged or truncated") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        raise MediaError(ErrorCode.CORRUPT_MEDIA, f"the image is damaged or truncated: {exc}") from exc
