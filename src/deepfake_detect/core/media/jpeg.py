"""Truncated JPEG data: found from the file's markers (no entropy decoding), and where the last
row of blocks decodes as exactly mid-grey, by a second decode with padding before the end marker.

A file cut short that still ends with an end-of-image marker decodes without a warning: libjpeg
fills the blocks it has no data for with mid-grey. These checks refuse it as ``corrupt_media``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.media.pillow import PILLOW_FORMATS, decoding

# Any marker but the restart markers, byte stuffing (FF 00) and fill bytes (FF FF).
_MARKER = re.compile(rb"\xff[\x01\xc0-\xcf\xd8-\xfe]")
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_NO_LENGTH = {0x01, 0xD8, *range(0xD0, 0xD8)}
_JPEG_PADDING = 4096


@dataclass
class _JpegLayout:
    components: list[int]
    scans: list[tuple[list[int], int, int, int]]  # components, first and last coefficient, Al
    eoi: int | None  # offset of the end-of-image marker of the first picture


def _jpeg_layout(data: bytes) -> _JpegLayout:
    """The scans of the first picture of a JPEG, from its markers (no entropy decoding)."""
    layout = _JpegLayout(components=[], scans=[], eoi=None)
    pos, end = 2, len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return layout  # not where a marker should be: Pillow has judged the rest
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            layout.eoi = pos
            return layout
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if pos + 4 > end:
            return layout
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos + 4 : pos + 2 + length]
        if marker in _SOF and len(segment) >= 6:
            layout.components = [segment[6 + 3 * i] for i in range(segment[5]) if 6 + 3 * i < len(segment)]
        pos += 2 + length
        if marker == 0xDA and segment:
            count = segment[0]
            if len(segment) >= 4 + 2 * count:
                ids = [segment[1 + 2 * i] for i in range(count)]
                first, last, approx = segment[1 + 2 * count], segment[2 + 2 * count], segment[3 + 2 * count]
                layout.scans.append((ids, first, last, approx & 0x0F))
            found = _MARKER.search(data, pos)  # the entropy-coded data runs to the next marker
            if found is None:
                return layout
            pos = found.start()
    return layout


def _coefficients_complete(layout: _JpegLayout) -> bool:
    """Whether the scans bring every coefficient of every component to full precision (a
    progressive or multi-scan JPEG cut short, with or without an end marker, does not)."""
    if not layout.components or not layout.scans:
        return False
    precision = {c: [99] * 64 for c in layout.components}
    for ids, first, last, al in layout.scans:
        for c in ids:
            if c in precision:
                for k in range(first, min(last, 63) + 1):
                    precision[c][k] = min(precision[c][k], al)
    return all(p == 0 for levels in precision.values() for p in levels)


def check_jpeg_complete(image: Image.Image, factor: int, data: bytes) -> None:
    """Refuse a JPEG whose entropy-coded data stops short of its last block.

    libjpeg fills the blocks it has no data for with mid-grey and carries on when it meets an end
    marker early (a file cut short and closed again): the picture decodes, its lower part uniform
    grey. A multi-scan (progressive) file must bring every coefficient to full precision (a cut
    inside its last scan, which only refines, is not seen). A single-scan file whose last row of
    blocks is exactly mid-grey is decoded again (``check_padded_decode``).
    """
    layout = _jpeg_layout(data)
    if len(layout.scans) > 1:
        if not _coefficients_complete(layout):
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image is truncated: JPEG scans are missing")
        return
    if image.mode not in ("RGB", "L") or layout.eoi is None:
        return
    pixels = np.asarray(image)
    if grey_last_block_row(pixels, getattr(image, "layer", None), factor):
        check_padded_decode(data, factor, pixels)


def directly_decodable(data: bytes) -> bool:
    """A JPEG with its end marker whose scans bring every coefficient to full precision: what
    ``check_jpeg_complete`` passes without decoding (the grey last row is checked after)."""
    layout = _jpeg_layout(data)
    return layout.eoi is not None and (len(layout.scans) == 1 or _coefficients_complete(layout))


def check_padded_decode(data: bytes, factor: int, pixels: NDArray[np.uint8] | None = None) -> None:
    """Decode again (at 1/2 scale at most: restart intervals hide the difference at coarser ones)
    with zero bytes before the end marker: complete entropy data ignores them (the grey is in the
    picture), data cut short decodes them as more blocks. ``pixels``: Pillow's decode at
    ``factor``, when there is one."""
    eoi = _jpeg_layout(data).eoi
    if eoi is None:
        return
    # libjpeg stuffs zero bits into the unit of blocks that runs out of data: the padding must
    # outlast the largest unit (10 blocks of 64 coefficients of at most 16 + 10 bits: 2080 bytes).
    padded = data[:eoi] + b"\x00" * _JPEG_PADDING + data[eoi:]
    scale = min(factor, 2)
    reference = pixels if pixels is not None and scale == factor else _decode_at(data, scale)
    if not np.array_equal(reference, _decode_at(padded, scale)):
        raise MediaError(
            ErrorCode.CORRUPT_MEDIA, "the image is truncated: its JPEG data ends before its last blocks"
        )


def grey_last_block_row(pixels: NDArray[np.uint8], layers: list[Any] | None, factor: int = 1) -> bool:
    """Whether the last row of blocks of a JPEG decoded at ``1 / factor`` is exactly mid-grey
    (``layers``: Pillow's components with their sampling factors)."""
    block_h = 8 * max(int(v) for _, _, v, _ in (layers or [(0, 1, 1, 0)]))
    height = pixels.shape[0]
    top = ((height * factor - 1) // block_h) * block_h
    # The lower half of that row: chroma upsampling may blend its first lines with the row above.
    band = pixels[min(height - 1, (top + block_h // 2) // factor) :]
    return bool(band.size) and bool((band == 128).all())


def _decode_at(data: bytes, factor: int) -> NDArray[np.uint8]:
    with decoding():
        image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)
        width, height = image.size
        if factor > 1 and min(width, height) >= factor:
            image.draft(None, (width // factor, height // factor))
        image.load()
        return np.asarray(image)
