"""Read media safely and only as much of it as the work needs.

Images: ``ImageSource`` checks the header (pixels, sides, aspect ratio, pixels per byte of file)
before any pixel is decoded, then decodes on demand at the scale each use needs: a JPEG at 1/2, 1/4
or 1/8 of its size straight from the DCT coefficients (libjpeg scaling: a fraction of the work of a
full decode), other formats once in full and reduced with a box filter. EXIF orientation is applied
to what is handed out (a view, a face region), never to a whole full-size bitmap; every coordinate
is in the upright, full-size image. Truncated JPEG and PNG data is refused as ``corrupt_media``.

Videos: ``open_video`` checks the container's header, counting packets without decoding them
when the container does not say how many frames it holds; ``sample_frames`` decodes only what the
samples need, seeking where a keyframe lies between the last sample and the next.
"""

from __future__ import annotations

import bisect
import io
import math
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import simplejpeg
from numpy.typing import NDArray
from PIL import Image, ImageFile, UnidentifiedImageError

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import IMAGE_FORMATS, check_upload, sniff
from deepfake_detect.core.result import MediaKind

Frame = NDArray[np.uint8]

# Scales a JPEG can be decoded at straight from its DCT coefficients (libjpeg), and the reduction
# factors every image offers (other formats: a box filter over the full decode).
FACTORS = (1, 2, 4, 8)


def probe_file(path: Path, max_bytes: int) -> tuple[MediaKind, str]:
    """Check a file exists, is not empty or oversized, and is a supported kind of media."""
    if not path.exists():
        raise MediaError(ErrorCode.NOT_FOUND, f"no such file: {path}")
    if not path.is_file():
        raise MediaError(ErrorCode.UNSUPPORTED_TYPE, f"not a regular file: {path}")
    with path.open("rb") as f:
        head = f.read(64)
    return check_upload(path.stat().st_size, head, max_bytes)


def check_dimensions(
    width: int, height: int, *, max_pixels: int, limits: MediaLimits, file_bytes: int | None = None, what: str
) -> None:
    """The size rules of an image or a video frame, from its header: pixels, longest side, aspect
    ratio and (images: ``file_bytes``) pixels per byte of file. Raises ``MediaError``."""
    if width <= 0 or height <= 0:
        raise MediaError(ErrorCode.CORRUPT_MEDIA, f"the {what} claims to be {width}x{height} pixels")
    pixels = width * height
    if pixels > max_pixels:
        raise MediaError(
            ErrorCode.TOO_MANY_PIXELS,
            f"the {what} is {width}x{height} pixels; the limit is {max_pixels} pixels"
            + (" per frame" if what == "video" else ""),
        )
    long, short = max(width, height), min(width, height)
    if long > limits.max_side or long > limits.max_aspect_ratio * short:
        raise MediaError(
            ErrorCode.BAD_DIMENSIONS,
            f"the {what} is {width}x{height} pixels; sides may be at most {limits.max_side} pixels "
            f"and at most {limits.max_aspect_ratio:g} times as long as each other",
        )
    if file_bytes is not None and pixels > max(
        limits.byte_check_pixels, file_bytes * limits.max_pixels_per_byte
    ):
        raise MediaError(
            ErrorCode.TOO_MANY_PIXELS,
            f"the {what} is {width}x{height} pixels from {file_bytes} bytes; over "
            f"{limits.byte_check_pixels} pixels, at most {limits.max_pixels_per_byte:g} pixels per byte",
        )


# --- images ---------------------------------------------------------------------------------

# Pillow is only ever asked to parse the formats we accept: less parser surface for hostile input.
_PILLOW_FORMATS = tuple(IMAGE_FORMATS)

# EXIF orientation -> the transpose that makes the stored pixels upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
}

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


@contextmanager
def _decoding() -> Iterator[None]:
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


class ImageSource:
    """One image file: its header checked when made, its pixels decoded when asked.

    ``view`` gives the whole image at the smallest scale still at least a given size (face
    detection), ``region`` a part of it at a given scale (a face for the classifier), ``evidence``
    a copy for people to look at. A JPEG is decoded once per scale asked for (DCT scaling); other
    formats once in full, in their own mode, and each part is reduced and converted on its own.
    Decodes are kept until ``release``.
    """

    def __init__(self, data: bytes, limits: MediaLimits) -> None:
        kind, _ = sniff(data[:64])
        if kind is not MediaKind.IMAGE:
            raise MediaError(ErrorCode.UNSUPPORTED_TYPE, "not a supported image (jpg, png, webp, bmp)")
        self._data = data
        with _decoding():
            opened = self._open()
            raw_width, raw_height = opened.size
            check_dimensions(
                raw_width,
                raw_height,
                max_pixels=limits.max_image_pixels,
                limits=limits,
                file_bytes=len(data),
                what="image",
            )
            orientation = opened.getexif().get(0x0112, 1)
        self.format = opened.format
        self._upright = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
        self.raw_size = (raw_width, raw_height)
        swapped = self._upright in _SWAPS_SIDES
        self.width, self.height = (raw_height, raw_width) if swapped else (raw_width, raw_height)
        # libjpeg scales a single-frame JPEG while decoding it (an MPO's first picture included).
        self._scalable = opened.format in ("JPEG", "MPO") and len(opened.tile) == 1
        # simplejpeg decodes such a JPEG in full about 3x as fast as Pillow, to the same pixels
        # (both are libjpeg-turbo with its defaults; tests/unit/test_decode_scale.py compares
        # them), straight into one array. A file without an end marker, or whose scans stop
        # short, is left to Pillow to judge.
        self._direct = self._scalable and opened.mode in ("RGB", "L") and _directly_decodable(data)
        self._layers = getattr(opened, "layer", None)
        self._full_bgr: Frame | None = None  # that decode, upright
        self._spare: ImageFile.ImageFile | None = opened  # not decoded yet: the first decode uses it
        self._decoded: dict[int, Image.Image] = {}
        self._checked = False
        self._wide: bool | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def _open(self) -> ImageFile.ImageFile:
        return Image.open(io.BytesIO(self._data), formats=_PILLOW_FORMATS)

    # -- decoding

    def _decode(self, factor: int) -> tuple[Image.Image, int]:
        """The stored (not yet upright) pixels at ``1 / f`` of the size for the largest ``f`` that
        divides ``factor`` and is decoded or decodable; returns the image and ``f``."""
        for have in sorted(self._decoded, reverse=True):
            if factor % have == 0:  # a finer decode is there: reduce the part asked for
                return self._decoded[have], have
        if not self._scalable:
            factor = 1
            if 1 in self._decoded:
                return self._decoded[1], 1
        opened = self._spare or self._open()
        self._spare = None
        with _decoding():
            width, height = self.raw_size
            if factor > 1 and min(width, height) >= factor:
                opened.draft(None, (width // factor, height // factor))
                config = opened.decoderconfig
                # The decoder's own choice (never coarser than asked): the rest is a box filter.
                factor = int(config[0]) if config else 1
            else:
                factor = 1
            opened.load()
            image: Image.Image = opened
            if self._scalable and not self._checked:
                _check_jpeg_complete(image, factor, self._data)
                self._checked = True
            image = _reducible(image)
            if image.mode in ("I", "F") and self._wide is None:
                # 16-bit (or float) greyscale is scaled to 8 bits as a whole, never part by part.
                low_high = image.getextrema()
                self._wide = float(low_high[1]) > 255.0  # type: ignore[arg-type, index]
        self._decoded[factor] = image
        return image, factor

    def _decode_full_bgr(self) -> Frame:
        """The full-size pixels, upright (checked for truncation as Pillow's are)."""
        if self._full_bgr is None:
            try:
                # Not strict: libjpeg's warnings (stray bytes before a marker, a cut file) do not
                # fail the decode, as they do not in Pillow; a cut file is caught below.
                decoded = simplejpeg.decode_jpeg(self._data, colorspace="BGR", strict=False)
            except ValueError as exc:
                raise MediaError(
                    ErrorCode.CORRUPT_MEDIA, f"the image is damaged or truncated: {exc}"
                ) from exc
            if (decoded.shape[1], decoded.shape[0]) != self.raw_size:
                raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image is damaged or truncated")
            stored: Frame = np.asarray(decoded, dtype=np.uint8)
            if _grey_last_block_row(stored, self._layers):
                _check_padded_decode(self._data, 1)
            self._checked = True
            self._full_bgr = _upright_array(stored, self._upright)
        return self._full_bgr

    def release(self) -> None:
        """Drop the decoded pixels (the file's bytes are kept: ``evidence`` decodes again)."""
        self._decoded.clear()
        self._full_bgr = None
        self._spare = None

    # -- what callers get

    def factor_for(self, min_long_side: int) -> int:
        """The largest factor whose view still has a long side of at least ``min_long_side``."""
        long = max(self.width, self.height)
        fitting = [f for f in FACTORS if math.ceil(long / f) >= min_long_side]
        return max(fitting, default=1)

    def view(self, min_long_side: int) -> View:
        """The whole image, upright, at the smallest scale whose long side is still at least
        ``min_long_side`` pixels (or in full).

        A JPEG decoded directly is given in full: the face detector then sees the pixels it saw in
        training (the full decode, reduced by the detector itself), and the faces' crops come
        from the same decode. A reduced DCT decode would be cheaper, but it moved real photos'
        scores by up to 0.64 from those the model card measured (README, "Speed")."""
        if self._direct:
            return View(self._decode_full_bgr())
        return self._pillow_region((0, 0, self.width, self.height), self.factor_for(min_long_side))

    def region(self, box: Box, factor: int) -> View:
        """Pixels ``box`` (upright, full-size; clipped to the image, widened to whole ``factor``
        blocks) at ``1 / factor`` of the size."""
        if factor == 1 and self._direct:
            x0, y0, x1, y1 = _aligned(box, 1, self.width, self.height)
            return View(np.ascontiguousarray(self._decode_full_bgr()[y0:y1, x0:x1]), 1, x0, y0)
        return self._pillow_region(box, factor)

    def _pillow_region(self, box: Box, factor: int) -> View:
        x0, y0, x1, y1 = _aligned(box, factor, self.width, self.height)
        stored, have = self._decode(factor)
        rest = factor // have
        # The box at the decode's scale, then where those upright pixels lie in the stored ones.
        scaled = (x0 // have, y0 // have, -(-x1 // have), -(-y1 // have))
        part = stored.crop(_stored_box(scaled, stored.size, self._upright))
        if rest > 1:
            part = part.reduce(rest)
        if self._upright is not None:
            part = part.transpose(self._upright)
        return View(_to_bgr(part, wide=bool(self._wide)), factor, x0, y0)

    def evidence(self, max_side: int) -> tuple[Frame, float]:
        """The upright image with its long side at most ``max_side``, and its scale (<= 1)."""
        long = max(self.width, self.height)
        scale = min(1.0, max_side / long)
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        if self._full_bgr is not None:
            view = View(self._full_bgr)
        else:  # for people to look at: a reduced decode will do
            view = self._pillow_region((0, 0, self.width, self.height), self.factor_for(max(size)))
        image = view.image
        if (image.shape[1], image.shape[0]) != size:
            image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        return image, scale

    def full(self) -> Frame:
        """The whole image, upright, in full (BGR)."""
        return self.region((0, 0, self.width, self.height), 1).image


def decode_image(data: bytes, max_pixels: int) -> Frame:
    """Decode a whole image to 3-channel BGR, upright (EXIF orientation applied), refusing an
    oversized one from its header before any pixel is decoded and a truncated one."""
    return ImageSource(data, MediaLimits(max_image_pixels=max_pixels)).full()


def _aligned(box: Box, factor: int, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    x0, y0 = max(0, min(x0, width - 1)), max(0, min(y0, height - 1))
    x1, y1 = max(x0 + 1, min(x1, width)), max(y0 + 1, min(y1, height))
    x0, y0 = x0 - x0 % factor, y0 - y0 % factor
    x1, y1 = min(width, -(-x1 // factor) * factor), min(height, -(-y1 // factor) * factor)
    return x0, y0, x1, y1


def _stored_box(box: Box, stored_size: tuple[int, int], upright: Image.Transpose | None) -> Box:
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


def _upright_array(stored: Frame, upright: Image.Transpose | None) -> Frame:
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


def _reducible(image: Image.Image) -> Image.Image:
    """The decoded image in a mode that crops, reduces and transposes (a palette is expanded, 16
    bits widened); everything else stays as decoded and is converted part by part."""
    if image.mode == "P" or image.mode == "PA":
        return image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    if image.mode in ("1",):
        return image.convert("L")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image


def _to_bgr(image: Image.Image, *, wide: bool) -> Frame:
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "F"):
        # 16-bit and float greyscale: Pillow's convert("RGB") clips at 255 (a white image),
        # so rescale to 8 bits first (``wide``: the whole image goes past 255).
        values = np.asarray(image, dtype=np.float32)
        if wide:
            values = values / 257.0
        grey = np.clip(values, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if image.mode != "RGB":
        # Alpha is composited on white rather than dropped to black: transparent regions of
        # a PNG portrait would otherwise become a hard artificial edge around the face.
        if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        if image.mode == "L":  # greyscale: OpenCV spreads it to three channels in one pass
            luma: NDArray[np.uint8] = np.asarray(image, dtype=np.uint8)
            return np.asarray(cv2.cvtColor(luma, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        image = image.convert("RGB")
    rgb: NDArray[np.uint8] = np.asarray(image, dtype=np.uint8)
    # OpenCV's swap is a tenth of the time of numpy's reversed-axis copy (same pixels).
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dtype=np.uint8)


# -- truncated JPEG data

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


def _check_jpeg_complete(image: Image.Image, factor: int, data: bytes) -> None:
    """Refuse a JPEG whose entropy-coded data stops short of its last block.

    libjpeg fills the blocks it has no data for with mid-grey and carries on when it meets an end
    marker early (a file cut short and closed again): the picture decodes, its lower part uniform
    grey. A multi-scan (progressive) file must bring every coefficient to full precision (a cut
    inside its last scan, which only refines, is not seen). A single-scan file whose last row of
    blocks is exactly mid-grey is decoded again (``_check_padded_decode``).
    """
    layout = _jpeg_layout(data)
    if len(layout.scans) > 1:
        if not _coefficients_complete(layout):
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image is truncated: JPEG scans are missing")
        return
    if image.mode not in ("RGB", "L") or layout.eoi is None:
        return
    pixels = np.asarray(image)
    if _grey_last_block_row(pixels, getattr(image, "layer", None), factor):
        _check_padded_decode(data, factor, pixels)


def _directly_decodable(data: bytes) -> bool:
    """A JPEG with its end marker whose scans bring every coefficient to full precision: what
    ``_check_jpeg_complete`` passes without decoding (the grey last row is checked after)."""
    layout = _jpeg_layout(data)
    return layout.eoi is not None and (len(layout.scans) == 1 or _coefficients_complete(layout))


def _check_padded_decode(data: bytes, factor: int, pixels: NDArray[np.uint8] | None = None) -> None:
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


def _grey_last_block_row(pixels: NDArray[np.uint8], layers: list[Any] | None, factor: int = 1) -> bool:
    """Whether the last row of blocks of a JPEG decoded at ``1 / factor`` is exactly mid-grey
    (``layers``: Pillow's components with their sampling factors)."""
    block_h = 8 * max(int(v) for _, _, v, _ in (layers or [(0, 1, 1, 0)]))
    height = pixels.shape[0]
    top = ((height * factor - 1) // block_h) * block_h
    # The lower half of that row: chroma upsampling may blend its first lines with the row above.
    band = pixels[min(height - 1, (top + block_h // 2) // factor) :]
    return bool(band.size) and bool((band == 128).all())


def _decode_at(data: bytes, factor: int) -> NDArray[np.uint8]:
    with _decoding():
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
        width, height = image.size
        if factor > 1 and min(width, height) >= factor:
            image.draft(None, (width // factor, height // factor))
        image.load()
        return np.asarray(image)


# --- face regions and video frames --------------------------------------------------------


class FramePicture:
    """A decoded video frame (BGR) offering what ``ImageSource`` offers: views and regions."""

    def __init__(self, image: Frame) -> None:
        self.image = image
        self.height, self.width = image.shape[:2]

    def view(self, min_long_side: int) -> View:
        # The detector reduces the frame itself: no copy here.
        return View(self.image)

    def region(self, box: Box, factor: int) -> View:
        x0, y0, x1, y1 = _aligned(box, factor, self.width, self.height)
        part = self.image[y0:y1, x0:x1]
        return View(box_reduce(part, factor), factor, x0, y0)


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


# --- videos ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    keyframes: tuple[int, ...] | None = None  # packet indices of keyframes, when they were counted
    seekable: bool = True  # OpenCV seeks by the container's frame count: not without one

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class SampledFrame:
    index: int
    timestamp_s: float
    image: Frame


@dataclass(frozen=True)
class _Packets:
    count: int
    keyframes: tuple[int, ...]
    last_ms: float


def count_packets(path: Path, limit: int) -> _Packets | None:
    """Demux (without decoding) up to ``limit + 1`` video packets: how many, which are keyframes,
    and the last one's timestamp. ``None`` where OpenCV's FFmpeg backend cannot read raw packets."""
    try:
        raw = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])
    except (cv2.error, TypeError):
        return None
    try:
        if not raw.isOpened():
            return None
        count, keyframes, last_ms = 0, [], 0.0
        while count <= limit and raw.grab():
            if raw.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME):
                keyframes.append(count)
            last_ms = float(raw.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            count += 1
        return _Packets(count, tuple(keyframes), last_ms)
    finally:
        raw.release()


def open_video(
    path: Path,
    max_pixels: int,
    max_seconds: float,
    *,
    limits: MediaLimits | None = None,
    index: bool = False,
    threads: int = 0,
) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video and check its size and length from the container before decoding frames.

    A container that does not say how many frames it holds (a Matroska/WebM file written as a
    stream, as MediaRecorder does) has its packets counted without decoding them. ``index`` also
    lists the keyframes of one that does (so ``sample_frames`` can seek past long gaps).
    ``threads``: FFmpeg decoding threads (0: OpenCV's default, one per CPU).
    """
    limits = limits or MediaLimits()

    def opened() -> cv2.VideoCapture:
        if threads > 0:
            return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
        return cv2.VideoCapture(str(path))

    capture = opened()
    if not capture.isOpened():
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the video cannot be opened: damaged or truncated")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    announced = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
    count = int(announced) if math.isfinite(announced) and 0 < announced < 2**31 else 0
    if width <= 0 or height <= 0:
        capture.release()
        raise MediaError(ErrorCode.CORRUPT_MEDIA, "the video has no readable video stream")
    try:
        check_dimensions(width, height, max_pixels=max_pixels, limits=limits, what="video")
    except MediaError:
        capture.release()
        raise
    known_rate = 0 < fps <= 1000 and math.isfinite(fps)
    too_long = MediaError(
        ErrorCode.VIDEO_TOO_LONG, f"the video lasts longer than the limit of {max_seconds:.0f} s"
    )
    keyframes: tuple[int, ...] | None = None
    seekable = count > 0
    if count <= 0 or not known_rate or index:
        limit = int(max_seconds * (fps if known_rate else 1000.0)) + 1
        packets = count_packets(path, count if count > 0 else limit)
        if packets is not None and packets.count > 0:
            if count <= 0:
                count = packets.count
            keyframes = packets.keyframes
            if not known_rate and packets.last_ms > 0 and packets.count > 1:
                fps = (packets.count - 1) * 1000.0 / packets.last_ms
                known_rate = True
            if packets.last_ms / 1000.0 > max_seconds or packets.count > limit:
                capture.release()
                raise too_long
        elif count <= 0:
            # No raw packets from this backend: count by decoding (grab), then reopen.
            while count <= limit and capture.grab():
                count += 1
            capture.release()
            if count > limit:
                raise too_long
            capture = opened()
        if count <= 0:
            capture.release()
            raise MediaError(ErrorCode.CORRUPT_MEDIA, "no frame of the video could be decoded")
    if not known_rate:
        fps = 25.0
    info = VideoInfo(
        width=width, height=height, fps=fps, frame_count=count, keyframes=keyframes, seekable=seekable
    )
    if info.duration_s > max_seconds:
        capture.release()
        raise MediaError(
            ErrorCode.VIDEO_TOO_LONG,
            f"the video lasts {info.duration_s:.0f} s; the limit is {max_seconds:.0f} s",
        )
    return capture, info


def sample_indices(frame_count: int, samples: int) -> list[int]:
    """``samples`` frame indices spread evenly over the video, each at the centre of its segment."""
    if frame_count <= 0 or samples <= 0:
        return []
    n = min(samples, frame_count)
    return sorted({int((i + 0.5) * frame_count / n) for i in range(n)})


# Without a keyframe list: beyond this many frames between two samples, one seek is cheaper than
# decoding every frame.
_SEEK_GAP = 90
# OpenCV seeks to the keyframe before (target - 16) and decodes forward to the target.
_SEEK_BACK = 16
# What a seek costs beyond the frames it decodes (flush, demuxer seek), in frames.
_SEEK_COST = 4
# Containers estimate their frame count (from duration x rate); decoding that stops in the last
# part of the announced length is that imprecision, earlier it is a truncated or damaged file.
_TRUNCATED_BEFORE = 0.9


def _seek_pays(position: int, index: int, info: VideoInfo) -> bool:
    """Whether seeking to ``index`` decodes fewer frames than decoding on from ``position``."""
    if not info.seekable or index <= position:
        return False
    if info.keyframes is None:
        return index - position > _SEEK_GAP
    # OpenCV's seek lands on the last keyframe at or before (index - 16), then decodes forward.
    at = bisect.bisect_right(info.keyframes, max(0, index - _SEEK_BACK)) - 1
    keyframe = info.keyframes[at] if at >= 0 else 0
    return keyframe > position + _SEEK_COST


def sample_frames(capture: cv2.VideoCapture, info: VideoInfo, samples: int) -> Iterator[SampledFrame]:
    """Yield up to ``samples`` frames spread over the video, in order, one at a time.

    Frames between samples are crossed with ``grab()`` (decoded, never converted to BGR) unless a
    keyframe lies far enough past the current position for a seek to decode less. Raises
    ``MediaError(CORRUPT_MEDIA)`` when decoding stops well before the announced end.
    """
    position = 0
    for index in sample_indices(info.frame_count, samples):
        if _seek_pays(position, index, info) and capture.set(cv2.CAP_PROP_POS_FRAMES, index):
            landed = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
            position = landed if 0 <= landed <= index else index
        while position < index:
            if not capture.grab():
                _check_end(position, info)
                return
            position += 1
        ok, image = capture.read()
        if not ok or image is None:
            _check_end(position, info)
            return
        position += 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        frame: Frame = np.asarray(image, dtype=np.uint8)
        yield SampledFrame(index=index, timestamp_s=index / info.fps, image=frame)


def _check_end(position: int, info: VideoInfo) -> None:
    if position < _TRUNCATED_BEFORE * info.frame_count:
        raise MediaError(
            ErrorCode.CORRUPT_MEDIA,
            f"the video is truncated or damaged: decoding stopped at frame {position} of {info.frame_count}",
        )
