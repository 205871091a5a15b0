"""core.media: recognising, refusing and decoding images and videos."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.core.formats import sniff
from deepfake_detect.core.media.checks import probe_file
from deepfake_detect.core.media.images import decode_image
from deepfake_detect.core.media.video import VideoInfo, open_video, sample_frames, sample_indices
from deepfake_detect.core.result import MediaKind
from tests.support.media import jpeg_bytes, png_bomb, png_bytes, write_video

MAX_PIXELS = 50_000_000


def decode_error(data: bytes, max_pixels: int = MAX_PIXELS) -> ErrorCode:
    with pytest.raises(MediaError) as caught:
        decode_image(data, max_pixels)
    assert caught.value.message
    return caught.value.code


# --- sniffing and probing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, (MediaKind.IMAGE, "jpg")),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, (MediaKind.IMAGE, "png")),
        (b"RIFF\0\0\0\0WEBPVP8 ", (MediaKind.IMAGE, "webp")),
        (b"BM" + b"\0" * 12 + (40).to_bytes(4, "little"), (MediaKind.IMAGE, "bmp")),
        (b"\0\0\0\x18ftypisom", (MediaKind.VIDEO, "mp4")),
        (b"\0\0\0\x14ftypqt  ", (MediaKind.VIDEO, "mov")),
        (b"RIFF\0\0\0\0AVI LIST", (MediaKind.VIDEO, "avi")),
        (
            b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm",
            (MediaKind.VIDEO, "webm"),
        ),
        (b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\x82\x88matroska", (MediaKind.VIDEO, "mkv")),
        (b"\0\0\0\x18ftypheic", (MediaKind.UNKNOWN, None)),  # HEIF still image, not a video
        (b"\0\0\0\x18ftypavif", (MediaKind.UNKNOWN, None)),
        (b"BMW is a car, not a bitmap", (MediaKind.UNKNOWN, None)),
        (b"hello, world", (MediaKind.UNKNOWN, None)),
        (b"", (MediaKind.UNKNOWN, None)),
    ],
)
def test_sniff_recognises_containers_by_content(head: bytes, expected: tuple[MediaKind, str | None]) -> None:
    assert sniff(head) == expected


def test_probe_missing_path(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe_file(tmp_path / "nope.jpg", 1000)
    assert caught.value.code is ErrorCode.NOT_FOUND


def test_probe_folder_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe_file(tmp_path, 1000)
    assert caught.value.code is ErrorCode.UNSUPPORTED_TYPE


def test_probe_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(MediaError) as caught:
        probe_file(tmp_path / "empty.jpg", 1000)
    assert caught.value.code is ErrorCode.EMPTY_FILE


def test_probe_oversized_file(tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 2000)
    with pytest.raises(MediaError) as caught:
        probe_file(tmp_path / "big.jpg", 1000)
    assert caught.value.code is ErrorCode.FILE_TOO_LARGE


def test_probe_text_file_named_like_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("not an image at all\n")
    with pytest.raises(MediaError) as caught:
        probe_file(tmp_path / "notes.jpg", 1000)
    assert caught.value.code is ErrorCode.UNSUPPORTED_TYPE


def test_probe_trusts_content_not_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(jpeg_bytes(np.zeros((8, 8, 3), np.uint8)))
    assert probe_file(path, 10_000) == (MediaKind.IMAGE, "jpg")


# --- images ---------------------------------------------------------------------------------


def test_decode_real_photo_is_bgr_uint8(face_photo: Path) -> None:
    image = decode_image(face_photo.read_bytes(), MAX_PIXELS)
    assert image.shape == (400, 400, 3)
    assert image.dtype == np.uint8
    assert image.flags.c_contiguous


def test_decode_keeps_colour_order_bgr() -> None:
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    image = decode_image(png_bytes(red), MAX_PIXELS)
    assert image[0, 0].tolist() == [0, 0, 255]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "JPEG"])
def test_decode_each_supported_format(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("RGB", (32, 24), (10, 200, 30)).save(path, format=fmt)
    image = decode_image(path.read_bytes(), MAX_PIXELS)
    assert image.shape == (24, 32, 3)
    assert abs(int(image[5, 5, 1]) - 200) < 8


def test_decode_grayscale_gives_three_equal_channels() -> None:
    grey = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8), (16, 1)), mode="L")
    image = decode_image(png_bytes(grey), MAX_PIXELS)
    assert image.shape == (16, 64, 3)
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    assert image[0, 63, 0] == 63


def test_decode_16_bit_grayscale_is_rescaled_not_clipped() -> None:
    values = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (4, 1))
    image = decode_image(png_bytes(Image.fromarray(values)), MAX_PIXELS)
    assert image[0, 0, 0] == 0
    assert image[0, 16, 0] in range(120, 140)  # mid-grey, not clipped to white
    assert image[0, 31, 0] == 255


def test_decode_alpha_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (8, 8), (0, 0, 255, 0))  # fully transparent blue
    rgba.putpixel((0, 0), (0, 0, 255, 255))  # one opaque blue pixel
    image = decode_image(png_bytes(rgba), MAX_PIXELS)
    assert image.shape == (8, 8, 3)
    assert image[0, 0].tolist() == [255, 0, 0]  # BGR blue
    assert image[4, 4].tolist() == [255, 255, 255]


def test_decode_palette_with_transparency() -> None:
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 200, 10, 10])
    palette.info["transparency"] = 0
    palette.putpixel((1, 1), 1)
    image = decode_image(png_bytes(palette), MAX_PIXELS)
    assert image[0, 0].tolist() == [255, 255, 255]
    assert image[1, 1].tolist() == [10, 10, 200]


@pytest.mark.parametrize(
    ("orientation", "marker_at"), [(1, (0, 0)), (3, (59, 39)), (6, (0, 59)), (8, (39, 0))]
)
def test_decode_applies_exif_orientation(
    orientation: int, marker_at: tuple[int, int], tmp_path: Path
) -> None:
    """A 40x60 (w x h) photo stored sideways with a white marker at its stored top-left corner."""
    stored = np.zeros((60, 40, 3), np.uint8)
    stored[:10, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "exif.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    image = decode_image(path.read_bytes(), MAX_PIXELS)
    rotated = orientation in (6, 8)
    assert image.shape[:2] == ((40, 60) if rotated else (60, 40))
    row, col = marker_at
    assert image[row, col].mean() > 200  # the marker moved where the orientation says
    assert image[image.shape[0] // 2, image.shape[1] // 2].mean() < 50


def test_decompression_bomb_refused_from_header() -> None:
    bomb = png_bomb(8000, 8000)  # 64 Mpx: over our limit, under Pillow's own
    assert len(bomb) < 200
    assert decode_error(bomb) is ErrorCode.TOO_MANY_PIXELS


def test_huge_bomb_refused_by_pillow_guard_too() -> None:
    assert decode_error(png_bomb(60_000, 60_000)) is ErrorCode.TOO_MANY_PIXELS


def test_pixel_limit_is_a_parameter() -> None:
    data = png_bytes(Image.new("RGB", (100, 100)))
    assert decode_image(data, 10_000).shape == (100, 100, 3)
    assert decode_error(data, 9_999) is ErrorCode.TOO_MANY_PIXELS


def test_truncated_jpeg_is_corrupt(face_photo: Path) -> None:
    data = face_photo.read_bytes()
    assert decode_error(data[: len(data) // 2]) is ErrorCode.CORRUPT_MEDIA


def test_truncated_png_is_corrupt() -> None:
    data = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    assert decode_error(data[: len(data) // 2]) is ErrorCode.CORRUPT_MEDIA
    assert decode_error(data[:30]) is ErrorCode.CORRUPT_MEDIA  # cut inside the header


def test_a_damaged_image_is_refused_in_the_service_words_not_the_librarys() -> None:
    data = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    with pytest.raises(MediaError) as caught:
        decode_image(data[: len(data) // 2], MAX_PIXELS)
    message = caught.value.message
    assert message.startswith("the image is damaged or truncated")
    assert "bytes not processed" not in message and "image file is" not in message
    assert caught.value.__cause__ is not None  # the library's words stay with the log


def test_image_magic_followed_by_garbage_is_corrupt() -> None:
    assert decode_error(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10) is ErrorCode.CORRUPT_MEDIA


def test_decode_refuses_non_images() -> None:
    assert decode_error(b"just some text") is ErrorCode.UNSUPPORTED_TYPE
    assert decode_error(b"") is ErrorCode.UNSUPPORTED_TYPE


def test_decode_refuses_formats_we_do_not_support(tmp_path: Path) -> None:
    path = tmp_path / "x.gif"
    Image.new("RGB", (8, 8)).save(path, format="GIF")
    assert decode_error(path.read_bytes()) is ErrorCode.UNSUPPORTED_TYPE


# --- videos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame_count", "samples", "expected"),
    [
        (100, 4, [12, 37, 62, 87]),
        (10, 32, list(range(10))),  # fewer frames than samples: every frame once
        (1, 5, [0]),
        (0, 5, []),
        (7, 0, []),
    ],
)
def test_sample_indices(frame_count: int, samples: int, expected: list[int]) -> None:
    assert sample_indices(frame_count, samples) == expected


@pytest.mark.parametrize("frame_count", [1, 2, 31, 32, 33, 299, 1000])
def test_sample_indices_are_sorted_distinct_and_in_range(frame_count: int) -> None:
    indices = sample_indices(frame_count, 32)
    assert len(indices) == min(32, frame_count)
    assert indices == sorted(set(indices))
    assert indices[0] >= 0 and indices[-1] < frame_count


def test_open_and_sample_synthetic_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "grey.mp4", 40, fps=20)
    capture, info = open_video(path, 10_000_000, 60)
    try:
        assert (info.width, info.height, info.frame_count) == (160, 120, 40)
        assert info.duration_s == pytest.approx(2.0)
        frames = list(sample_frames(capture, info, 4))
    finally:
        capture.release()
    assert [f.index for f in frames] == [5, 15, 25, 35]
    assert [f.timestamp_s for f in frames] == pytest.approx([0.25, 0.75, 1.25, 1.75])
    for frame in frames:  # the grey level encodes the frame index: we got the frame we asked for
        assert frame.image.shape == (120, 160, 3)
        assert abs(float(frame.image.mean()) - (frame.index * 7) % 256) < 4


def test_sampling_across_long_gaps_seeks_to_the_right_frames(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "long.avi",
        400,
        fps=25,
        fourcc="MJPG",
        draw=lambda i: np.full((120, 160, 3), (i * 5) % 250, np.uint8),
    )
    capture, info = open_video(path, 10_000_000, 60)
    try:
        frames = list(sample_frames(capture, info, 2))  # 300 frames apart: seek, not grab
    finally:
        capture.release()
    assert [f.index for f in frames] == [100, 300]
    for frame in frames:
        assert abs(float(frame.image.mean()) - (frame.index * 5) % 250) < 4


@pytest.mark.parametrize(("suffix", "fourcc"), [(".avi", "MJPG"), (".mkv", "XVID"), (".mov", "mp4v")])
def test_other_containers_open(suffix: str, fourcc: str, tmp_path: Path) -> None:
    path = write_video(tmp_path / f"clip{suffix}", 12, fourcc=fourcc)
    kind, _ = probe_file(path, 10_000_000)
    assert kind is MediaKind.VIDEO
    capture, info = open_video(path, 10_000_000, 60)
    try:
        assert len(list(sample_frames(capture, info, 3))) == 3
    finally:
        capture.release()


def test_real_video_metadata(real_video: Path) -> None:
    capture, info = open_video(real_video, 3840 * 2160, 3600)
    capture.release()
    assert (info.width, info.height) == (1280, 720)
    assert info.frame_count > 100 and info.fps > 0


def test_truncated_mp4_is_corrupt(real_video: Path, tmp_path: Path) -> None:
    data = real_video.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as caught:
        open_video(path, 3840 * 2160, 3600)
    assert caught.value.code is ErrorCode.CORRUPT_MEDIA


def test_truncated_avi_detected_while_sampling(tmp_path: Path) -> None:
    """An AVI keeps its frame count in the header: cut in half it still opens, then runs dry."""
    rng = np.random.default_rng(1)
    path = write_video(
        tmp_path / "full.avi", 60, fourcc="MJPG", draw=lambda i: rng.integers(0, 255, (120, 160, 3), np.uint8)
    )
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError) as caught:
        capture, info = open_video(cut, 10_000_000, 60)
        try:
            list(sample_frames(capture, info, 16))
        finally:
            capture.release()
    assert caught.value.code is ErrorCode.CORRUPT_MEDIA


def test_video_pixel_limit(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 3)
    with pytest.raises(MediaError) as caught:
        open_video(path, 160 * 120 - 1, 60)
    assert caught.value.code is ErrorCode.TOO_MANY_PIXELS


def test_video_length_limit(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 30, fps=10)  # 3 s
    with pytest.raises(MediaError) as caught:
        open_video(path, 10_000_000, 2.5)
    assert caught.value.code is ErrorCode.VIDEO_TOO_LONG


def test_sampling_stops_quietly_when_the_count_is_a_slight_overestimate(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 20)
    capture, info = open_video(path, 10_000_000, 60)
    try:
        inflated = VideoInfo(info.width, info.height, info.fps, frame_count=21)
        frames = list(sample_frames(capture, inflated, 21))
    finally:
        capture.release()
    assert len(frames) == 20


def test_decode_camera_multi_picture_jpeg_and_cmyk() -> None:
    """Phones write MPO (a JPEG with extra pictures); print workflows write CMYK JPEGs."""
    mpo = io.BytesIO()
    Image.new("RGB", (20, 10), (255, 0, 0)).save(
        mpo, format="MPO", save_all=True, append_images=[Image.new("RGB", (20, 10))]
    )
    blue, green, red = decode_image(mpo.getvalue(), MAX_PIXELS)[0, 0].tolist()  # the first picture
    assert red > 240 and blue < 15 and green < 15
    cmyk = io.BytesIO()
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk, format="JPEG")  # red in CMYK
    blue, green, red = decode_image(cmyk.getvalue(), MAX_PIXELS)[0, 0].tolist()
    assert red > 240 and blue < 15 and green < 15


_RealCapture = cv2.VideoCapture


class _NoFrameCount:
    """A capture whose container does not announce its frame count (as streamed mkv/webm)."""

    def __init__(self, path: str, *args: Any) -> None:
        self._capture = _RealCapture(path, *args)

    def get(self, prop: int) -> float:
        return -1.0 if prop == cv2.CAP_PROP_FRAME_COUNT else float(self._capture.get(prop))

    def __getattr__(self, name: str) -> object:
        return getattr(self._capture, name)


def test_videos_without_a_frame_count_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "stream.mp4", 30, fps=10)
    monkeypatch.setattr(cv2, "VideoCapture", _NoFrameCount)  # the one cv2 module media/video.py uses
    capture, info = open_video(path, 10_000_000, 60)
    try:
        assert info.frame_count == 30
        frames = list(sample_frames(capture, info, 3))
    finally:
        capture.release()
    assert [f.index for f in frames] == [5, 15, 25]
    for frame in frames:
        assert abs(float(frame.image.mean()) - (frame.index * 7) % 256) < 4
    with pytest.raises(MediaError) as caught:  # the length limit holds without a header count
        open_video(path, 10_000_000, 2.0)
    assert caught.value.code is ErrorCode.VIDEO_TOO_LONG


class _CountingCapture:
    """A capture that counts the frames it decodes (raw-packet captures decode nothing)."""

    decoded = 0

    def __init__(self, path: str, *args: Any) -> None:
        self._capture = _RealCapture(path, *args)
        self._raw = bool(args)

    def grab(self) -> bool:
        _CountingCapture.decoded += not self._raw
        return bool(self._capture.grab())

    def read(self) -> tuple[bool, np.ndarray | None]:
        _CountingCapture.decoded += not self._raw
        return self._capture.read()  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._capture, name)


@pytest.fixture
def streamed_webm(tmp_path: Path) -> Path:
    """A VP8 WebM without Duration or Cues, as a browser's MediaRecorder writes one."""
    from tests.support.hostile import streamed_webm as strip

    written = write_video(tmp_path / "written.webm", 120, fps=20, fourcc="VP80")
    path = tmp_path / "stream.webm"
    path.write_bytes(strip(written.read_bytes()))
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) <= 0  # OpenCV cannot tell the length
    capture.release()
    return path


def test_a_streamed_webm_is_counted_without_decoding_and_decoded_once(
    streamed_webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", _CountingCapture)
    _CountingCapture.decoded = 0
    capture, info = open_video(streamed_webm, 10_000_000, 60)
    try:
        assert (info.frame_count, info.seekable) == (120, False)
        assert info.fps == pytest.approx(20.0) and info.duration_s == pytest.approx(6.0)
        assert _CountingCapture.decoded == 0  # counted from packets
        frames = list(sample_frames(capture, info, 4))
    finally:
        capture.release()
    assert [f.index for f in frames] == [15, 45, 75, 105]
    for frame in frames:
        assert abs(float(frame.image.mean()) - (frame.index * 7) % 256) < 6
    assert _CountingCapture.decoded <= 106  # every frame up to the last sample, once
    with pytest.raises(MediaError) as caught:
        open_video(streamed_webm, 10_000_000, 5.0)
    assert caught.value.code is ErrorCode.VIDEO_TOO_LONG


def test_keyframes_decide_between_seeking_and_decoding_on(tmp_path: Path) -> None:
    """mp4v from OpenCV has a keyframe every 12 frames: samples 100 frames apart are reached by
    seeking to the keyframe before them; samples 8 apart by decoding on."""
    from deepfake_detect.core.media.video import _seek_pays

    background = np.tile(np.linspace(0, 255, 160, dtype=np.uint8), (120, 1))[:, :, None].repeat(3, axis=2)

    def draw(i: int) -> np.ndarray:  # a still picture with a patch whose grey encodes the index
        frame = background.copy()
        frame[:48, :48] = (i * 3) % 250
        return frame

    path = write_video(tmp_path / "gop.mp4", 400, fps=25, draw=draw)
    capture, info = open_video(path, 10_000_000, 60, index=True)
    try:
        assert info.keyframes is not None and info.keyframes[:3] == (0, 12, 24)
        assert _seek_pays(0, 200, info) and not _seek_pays(192, 200, info)
        frames = list(sample_frames(capture, info, 4))
    finally:
        capture.release()
    assert [f.index for f in frames] == [50, 150, 250, 350]
    for frame in frames:
        assert abs(float(frame.image[8:40, 8:40].mean()) - (frame.index * 3) % 250) < 6
    assert not _seek_pays(0, 200, VideoInfo(160, 120, 25.0, 400, keyframes=(0,)))  # one GOP: never
    assert not _seek_pays(0, 200, VideoInfo(160, 120, 25.0, 400, seekable=False))


def test_video_frames_with_extreme_sides_are_bad_dimensions(tmp_path: Path) -> None:
    path = write_video(tmp_path / "strip.avi", 3, size=(800, 32), fourcc="MJPG")
    with pytest.raises(MediaError) as caught:
        open_video(path, 10_000_000, 60)
    assert caught.value.code is ErrorCode.BAD_DIMENSIONS
