"""core.media.ImageSource: decoding at the scale the work needs, in upright full-size coordinates,
and the header checks that refuse hostile images before a pixel is decoded."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from deepfake_detect.core.config import MediaLimits
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.media.images import ImageSource, decode_image
from deepfake_detect.core.media.pixels import View, box_reduce
from deepfake_detect.core.media.video import FramePicture
from tests.support.hostile import cut_and_closed, flat_png, jpeg_of, with_orientation

LIMITS = MediaLimits()


def refused(data: bytes, limits: MediaLimits = LIMITS) -> ErrorCode:
    with pytest.raises(MediaError) as caught:
        ImageSource(data, limits).view(640)
    assert caught.value.message
    return caught.value.code


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8))


def png(image: Image.Image, exif: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


# --- coordinates ----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_regions_are_the_upright_pixels_for_every_orientation(orientation: int) -> None:
    """A region is cut from the stored pixels and turned upright on its own: it must equal the
    same box of the whole image turned upright, for all 8 EXIF orientations (lossless PNG)."""
    upright = noise(53, 37)
    stored, exif = with_orientation(upright, orientation)
    source = ImageSource(png(stored, exif), LIMITS)
    assert source.size == (53, 37)
    expected = bgr(upright)
    for box in [(0, 0, 53, 37), (5, 3, 20, 30), (40, 20, 53, 37), (0, 30, 7, 37)]:
        view = source.region(box, 1)
        x0, y0, x1, y1 = box
        assert (view.x0, view.y0, view.factor) == (x0, y0, 1)
        assert np.array_equal(view.image, expected[y0:y1, x0:x1])
    # At 1/2 scale an aligned interior box is the same pixels reduced by 2x2 means.
    view = source.region((4, 6, 24, 30), 2)
    reduced = bgr(upright.crop((4, 6, 24, 30)).reduce(2))
    assert np.array_equal(view.image, reduced)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    ("mode", "options"),
    [("RGB", {"subsampling": 2}), ("RGB", {"subsampling": 0}), ("RGB", {"progressive": True}), ("L", {})],
)
def test_a_jpeg_view_and_regions_are_the_decodes_pillow_makes_turned_upright(
    orientation: int, mode: str, options: dict[str, object]
) -> None:
    """A JPEG is decoded at each scale straight from its DCT coefficients (a full decode by
    simplejpeg): exactly Pillow's pixels at that scale, in every orientation and flavour."""
    upright = noise(1203, 901, seed=orientation).convert(mode)
    stored, exif = with_orientation(upright, orientation)
    data = jpeg_of(stored, exif=exif, **options)
    source = ImageSource(data, LIMITS)
    assert source.size == (1203, 901)
    view = source.view(300)
    assert view.factor == 4 and source._full_bgr is None  # 301 x 226: a 1/4 decode will do
    assert np.array_equal(view.image, pillow_decode(data, 4))
    x0, y0, x1, y1 = box = (301, 157, 733, 611)
    region = source.region(box, 1)
    assert source._full_bgr is not None  # the direct full decode
    full = pillow_decode(data, 1)
    assert (region.x0, region.y0) == (x0, y0) and np.array_equal(region.image, full[y0:y1, x0:x1])
    half = source.region(box, 2)  # widened to whole 2-pixel blocks
    assert (half.x0, half.y0, half.factor) == (300, 156, 2)
    assert np.array_equal(half.image, pillow_decode(data, 2)[78:306, 150:367])


def pillow_decode(data: bytes, factor: int) -> np.ndarray:
    """Pillow's decode of a JPEG at ``1 / factor`` (libjpeg's DCT scaling), turned upright."""
    image = Image.open(io.BytesIO(data))
    image.draft(None, (image.width // factor, image.height // factor))
    image.load()
    return bgr(ImageOps.exif_transpose(image))


def test_the_pixels_of_a_scale_do_not_depend_on_what_was_decoded_before() -> None:
    """Serving reads faces in the detector's order, training in its manifest's: a face's pixels at
    a scale must be that scale's own decode, never a finer decode already there reduced."""
    data = jpeg_of(noise(1600, 1200, seed=3))
    box = (400, 240, 1000, 880)
    forwards, backwards = ImageSource(data, LIMITS), ImageSource(data, LIMITS)
    ahead = {factor: forwards.region(box, factor).image for factor in (1, 2, 4, 8)}
    behind = {factor: backwards.region(box, factor).image for factor in (8, 4, 2, 1)}
    for factor in (2, 4, 8):
        assert np.array_equal(ahead[factor], behind[factor])
        x0, y0, x1, y1 = (v // factor for v in box)
        assert np.array_equal(ahead[factor], pillow_decode(data, factor)[y0:y1, x0:x1])
    assert np.array_equal(ahead[1], behind[1])


def test_view_factor_is_the_coarsest_that_keeps_the_long_side() -> None:
    def factor(width: int, height: int, side: int = 640) -> int:
        return ImageSource(jpeg_of(Image.new("RGB", (width, height), (30, 60, 90))), LIMITS).factor_for(side)

    assert factor(4032, 3024) == 4  # 1008 px
    assert factor(2280, 1588) == 2  # 1140 px
    assert factor(6000, 4000) == 8  # 750 px
    assert factor(640, 480) == 1
    assert factor(1277, 720) == 1  # half would be 639 px


def test_view_coordinates_are_pixel_centres_of_the_full_image() -> None:
    view = View(np.zeros((10, 10, 3), np.uint8), factor=4, x0=8, y0=12)
    points = np.array([[0.0, 0.0], [2.5, 7.25]])
    full = view.to_original(points)
    # View pixel 0 covers full pixels 8..11: its centre is 9.5.
    assert full[0].tolist() == [9.5, 13.5]
    assert np.allclose(view.from_original(full), points)
    affine = view.affine_to_original()
    assert np.allclose(points @ affine[:, :2].T + affine[:, 2], full)


def test_frame_regions_reduce_by_block_means() -> None:
    frame = np.arange(12 * 10 * 3, dtype=np.uint8).reshape(12, 10, 3)
    picture = FramePicture(frame)
    assert picture.view(640).image is frame  # the detector reduces the frame itself
    view = picture.region((2, 4, 8, 12), 2)
    assert (view.x0, view.y0, view.factor, view.image.shape) == (2, 4, 2, (4, 3, 3))
    block = frame[4:6, 2:4].astype(np.float64).mean(axis=(0, 1))
    assert np.allclose(view.image[0, 0], block, atol=1)
    odd = box_reduce(frame[:5, :5], 2)  # a partial edge block repeats the edge
    assert odd.shape == (3, 3, 3) and np.array_equal(odd[2, 2], frame[4, 4])


def test_evidence_is_downscaled_from_a_reduced_decode_with_its_scale() -> None:
    upright = Image.new("RGB", (4032, 3024), (40, 90, 160))
    stored, exif = with_orientation(upright, 6)
    source = ImageSource(jpeg_of(stored, exif=exif), LIMITS)
    image, scale = source.evidence(1280)
    assert image.shape == (960, 1280, 3) and scale == pytest.approx(1280 / 4032)
    assert np.abs(image.astype(int) - [160, 90, 40]).max() < 6


# --- header checks --------------------------------------------------------------------------


def test_a_48_kb_png_of_one_by_fifty_million_pixels_is_refused_from_its_header() -> None:
    data = flat_png(50_000_000, 1)
    assert len(data) < 60_000
    assert refused(data) is ErrorCode.BAD_DIMENSIONS


@pytest.mark.parametrize(("width", "height"), [(65_000, 1), (1, 30_000), (2100, 100)])
def test_extreme_aspect_ratios_and_sides_are_bad_dimensions(width: int, height: int) -> None:
    assert refused(flat_png(width, height)) is ErrorCode.BAD_DIMENSIONS


def test_twenty_to_one_is_still_a_picture() -> None:
    assert ImageSource(flat_png(2000, 100), LIMITS).size == (2000, 100)


def test_side_and_ratio_limits_are_settings() -> None:
    data = flat_png(300, 100)
    assert refused(data, MediaLimits(max_side=299)) is ErrorCode.BAD_DIMENSIONS
    assert refused(data, MediaLimits(max_aspect_ratio=2.9)) is ErrorCode.BAD_DIMENSIONS


def test_too_many_pixels_per_byte_is_refused_above_the_free_size() -> None:
    bomb = flat_png(10_000, 5_000)  # 50 MP, at the pixel limit, from about 50 KB
    assert refused(bomb) is ErrorCode.TOO_MANY_PIXELS
    small = flat_png(4096, 4096)  # as dense, but small enough to decode whatever its size
    assert ImageSource(small, LIMITS).view(640).factor == 4
    assert refused(small, MediaLimits(byte_check_pixels=1000)) is ErrorCode.TOO_MANY_PIXELS


# --- truncated data -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo(face_photo: Path) -> Image.Image:
    return Image.open(face_photo).convert("RGB")


@pytest.mark.parametrize(
    "options", [{}, {"optimize": True}, {"subsampling": 0}, {"restart_marker_blocks": 4}], ids=str
)
@pytest.mark.parametrize("keep", [0.05, 0.4, 0.8])
def test_a_jpeg_cut_short_and_closed_again_is_corrupt(photo: Image.Image, options: dict, keep: float) -> None:  # type: ignore[type-arg]
    """libjpeg decodes it, the missing part mid-grey: it must not be scanned as a picture."""
    data = jpeg_of(photo, **options)
    decode_image(data, 10**8)
    assert refused(cut_and_closed(data, keep)) is ErrorCode.CORRUPT_MEDIA


@pytest.mark.parametrize("keep", [0.05, 0.25])
def test_a_progressive_jpeg_missing_scans_is_corrupt(photo: Image.Image, keep: float) -> None:
    assert refused(cut_and_closed(jpeg_of(photo, progressive=True), keep)) is ErrorCode.CORRUPT_MEDIA


def test_a_jpeg_whose_picture_ends_in_mid_grey_is_not_corrupt() -> None:
    canvas = np.full((240, 320, 3), 128, np.uint8)
    canvas[40:120, 60:200] = (20, 180, 60)
    for options in ({}, {"restart_marker_blocks": 2}, {"progressive": True}):
        data = jpeg_of(Image.fromarray(canvas), **options)
        image = decode_image(data, 10**8)
        assert image.shape == (240, 320, 3) and (image[-8:] == 128).all()


def test_a_truncated_large_jpeg_is_caught(photo: Image.Image) -> None:
    big = photo.resize((2400, 2400))
    data = jpeg_of(big)
    source = ImageSource(cut_and_closed(data, 0.5), LIMITS)
    with pytest.raises(MediaError) as caught:
        source.view(640)
    assert caught.value.code is ErrorCode.CORRUPT_MEDIA


def test_pixels_are_decoded_only_when_asked_and_dropped_on_release(photo: Image.Image) -> None:
    source = ImageSource(jpeg_of(photo.resize((2400, 1800))), LIMITS)
    assert source._decoded == {} and source._full_bgr is None  # the header only
    source.view(640)
    assert set(source._decoded) == {2} and source._full_bgr is None  # 1200 px: a 1/2 decode
    half = source._decoded[2]
    source.region((100, 100, 300, 300), 2)
    assert source._decoded[2] is half  # not decoded again
    source.region((100, 100, 300, 300), 1)
    assert source._full_bgr is not None  # a small face: read in full
    source.release()
    assert source._decoded == {} and source._full_bgr is None
    # For people to look at, a reduced decode does.
    image, scale = source.evidence(600)
    assert set(source._decoded) == {4} and image.shape[1] == 600 and scale == 0.25
