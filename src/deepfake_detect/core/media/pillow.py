"""Pillow, asked to parse only the formats accepted, and its failures as the one error a caller sees."""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import IMAGE_FORMATS

# Pillow is only ever asked to parse the formats we accept: less parser surface for hostile input.
PILLOW_FORMATS = tuple(IMAGE_FORMATS)

# What a decoder's failure reads as: the decoders' own words stay in the log (chained exception).
DAMAGED_IMAGE = "the image is damaged or truncated: its data ends early or does not decode"


@contextmanager
def decoding(max_pixels: int | None = None) -> Iterator[None]:
    """Pillow's failures, as the one error a caller sees; ``max_pixels``, the service's own limit,
    is the one a refused huge image names (never Pillow's, which is higher)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice its limit, raises) on huge images while reading the
            # header; either way the answer is the same error as our own, lower, limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        size = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds ..."
        pixels = f"is {size.group(1)} pixels" if size else "has too many pixels"
        limit = f"the limit is {max_pixels} pixels" if max_pixels else "over the service's pixel limit"
        raise MediaError(ErrorCode.TOO_MANY_PIXELS, f"the image {pixels}; {limit}") from exc
    except UnidentifiedImageError as exc:
        # The magic bytes said image, so a header Pillow cannot parse is damage, not a foreign type.
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image header is damaged or truncated") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        # The library's own words ("image file is truncated (1 bytes not processed)") stay in the
        # log through the chained exception; people read the service's.
        raise MediaError(ErrorCode.CORRUPT_MEDIA, DAMAGED_IMAGE) from exc
