"""Images: ``ImageSource`` checks the header (pixels, sides, aspect ratio, pixels per byte of
file) before any pixel is decoded, then decodes on demand at the scale each use needs: a JPEG at
1/2, 1/4 or 1/8 of its size straight from the DCT coefficients (libjpeg scaling: a fraction of the
work of a full decode), other formats once in full and reduced with a box filter. The pixels of a
view or a region depend only on the file, the box and the scale, never on what was decoded before
(training's crops are read the same way, one face at a time). EXIF orientation
is applied to what is handed out (a view, a face region), never to a whole full-size bitmap; every
coordinate is in the upright, full-size image. Truncated JPEG and PNG data is refused as
``corrupt_media``.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
import simplejpeg
from numpy.typing import NDArray
from PIL import Image, ImageFile

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import sniff
from deepfake_detect.core.media.checks import check_dimensions
from deepfake_detect.core.media.jpeg import (
    check_jpeg_complete,
    check_padded_decode,
    directly_decodable,
    grey_last_block_row,
)
from deepfake_detect.core.media.orientation import SWAPS_SIDES, UPRIGHT, stored_box, upright_array
from deepfake_detect.core.media.pillow import DAMAGED_IMAGE, PILLOW_FORMATS, decoding
from deepfake_detect.core.media.pixels import Box, Frame, View, aligned
from deepfake_detect.core.result import MediaKind

# Scales a JPEG can be decoded at straight from its DCT coefficients (libjpeg), and the reduction
# factors every image offers (other formats: a box filter over the full decode).
FACTORS = (1, 2, 4, 8)


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
        with decoding(limits.max_image_pixels):
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
        self._upright = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
        self.raw_size = (raw_width, raw_height)
        swapped = self._upright in SWAPS_SIDES
        self.width, self.height = (raw_height, raw_width) if swapped else (raw_width, raw_height)
        # libjpeg scales a single-frame JPEG while decoding it (an MPO's first picture included).
        self._scalable = opened.format in ("JPEG", "MPO") and len(opened.tile) == 1
        # simplejpeg decodes such a JPEG in full about 3x as fast as Pillow, to the same pixels
        # (both are libjpeg-turbo with its defaults; tests/unit/test_decode_scale.py compares
        # them), straight into one array. A file without an end marker, or whose scans stop
        # short, is left to Pillow to judge.
        self._direct = self._scalable and opened.mode in ("RGB", "L") and directly_decodable(data)
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
        return Image.open(io.BytesIO(self._data), formats=PILLOW_FORMATS)

    # -- decoding

    def _decode(self, factor: int, *, exact: bool = True) -> tuple[Image.Image, int]:
        """The stored (not yet upright) pixels at ``1 / f`` of the size; returns the image and
        ``f``. ``f`` is ``factor`` itself where the format scales while decoding (a JPEG), else 1.
        Not ``exact``, any finer decode already made whose ``f`` divides ``factor`` will do: the
        pixels then depend on what was decoded before, which only pictures for people may."""
        if factor in self._decoded:
            return self._decoded[factor], factor
        for have in sorted(self._decoded, reverse=True):
            if not exact and factor % have == 0:  # a finer decode is there: reduce the part asked for
                return self._decoded[have], have
        if not self._scalable:
            factor = 1
            if 1 in self._decoded:
                return self._decoded[1], 1
        opened = self._spare or self._open()
        self._spare = None
        with decoding():
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
                check_jpeg_complete(image, factor, self._data)
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
                raise MediaError(ErrorCode.CORRUPT_MEDIA, DAMAGED_IMAGE) from exc
            if (decoded.shape[1], decoded.shape[0]) != self.raw_size:
                raise MediaError(ErrorCode.CORRUPT_MEDIA, "the image is damaged or truncated")
            stored: Frame = np.asarray(decoded, dtype=np.uint8)
            if grey_last_block_row(stored, self._layers):
                check_padded_decode(self._data, 1)
            self._checked = True
            self._full_bgr = upright_array(stored, self._upright)
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

        A JPEG is decoded at that scale straight from its DCT coefficients, a fraction of a full
        decode's work; a face's crop is read at the scale ``core.face_crop`` picks, from this
        decode when the scales agree."""
        factor = self.factor_for(min_long_side)
        if factor == 1 and self._direct:
            return View(self._decode_full_bgr())
        return self._pillow_region((0, 0, self.width, self.height), factor)

    def region(self, box: Box, factor: int) -> View:
        """Pixels ``box`` (upright, full-size; clipped to the image, widened to whole ``factor``
        blocks) at ``1 / factor`` of the size."""
        if factor == 1 and self._direct:
            x0, y0, x1, y1 = aligned(box, 1, self.width, self.height)
            return View(np.ascontiguousarray(self._decode_full_bgr()[y0:y1, x0:x1]), 1, x0, y0)
        return self._pillow_region(box, factor)

    def _pillow_region(self, box: Box, factor: int, *, exact: bool = True) -> View:
        x0, y0, x1, y1 = aligned(box, factor, self.width, self.height)
        stored, have = self._decode(factor, exact=exact)
        rest = factor // have
        # The box at the decode's scale, then where those upright pixels lie in the stored ones.
        scaled = (x0 // have, y0 // have, -(-x1 // have), -(-y1 // have))
        part = stored.crop(stored_box(scaled, stored.size, self._upright))
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
            whole = (0, 0, self.width, self.height)
            view = self._pillow_region(whole, self.factor_for(max(size)), exact=False)
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
