"""The evasion suite's edits: each changes the crop where it says, keeps its shape, and is
reproducible; the overlays cover 10-20 % of the crop; the target check flags what it should."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from training.edits import CROP_EDITS
from training.evasion import (
    FILE_EDITS,
    edit_crop,
    face_only,
    flags,
    markdown,
    reencode_video,
    wide_border,
)

SIZE = 160


@pytest.fixture()
def crop() -> tuple[np.ndarray, np.ndarray]:
    """A face-like crop (skin-coloured disc on a grey, textured background) and its 5 landmarks
    (eyes, nose tip, mouth corners) where the card's tight crop puts them."""
    rng = np.random.default_rng(0)
    image = rng.integers(90, 150, size=(SIZE, SIZE, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    image[(yy - 80) ** 2 + (xx - 80) ** 2 < 70**2] = (120, 150, 200)
    points = np.array([[50, 55], [110, 55], [80, 90], [58, 120], [102, 120]], np.float32)
    return image, points


@pytest.mark.parametrize("name", list(CROP_EDITS))
def test_each_edit_changes_pixels_and_keeps_the_shape(crop, name):
    image, points = crop
    before = image.copy()
    edited, painted = edit_crop(name, image, points, seed=7)
    assert edited.shape == image.shape and edited.dtype == np.uint8
    assert np.any(edited != image), f"{name} left the crop unchanged"
    assert np.array_equal(image, before), f"{name} edited its input in place"
    assert 0.0 <= painted <= 1.0
    again, _ = edit_crop(name, image, points, seed=7)
    assert np.array_equal(edited, again), f"{name} is not reproducible from its seed"


@pytest.mark.parametrize("name", ["caption_banner", "bold_text", "emoji_sticker"])
def test_overlays_cover_ten_to_twenty_percent(crop, name):
    image, points = crop
    covered = [edit_crop(name, image, points, seed=s)[1] for s in range(20)]
    assert 0.08 <= float(np.mean(covered)) <= 0.22, (name, covered)


def test_occlusions_cover_their_part_of_the_face(crop):
    image, points = crop
    glasses, _ = edit_crop("sunglasses", image, points, seed=1)
    for x, y in points[:2].astype(int):
        assert glasses[y, x].max() < 45  # a dark lens on each eye
    mask, painted = edit_crop("face_mask", image, points, seed=1)
    x, y = points[3:5].mean(axis=0).astype(int)
    assert not np.array_equal(mask[y, x], image[y, x])  # the mouth is covered
    assert np.array_equal(mask[30], image[30])  # the forehead is not
    assert painted > 0.15


def test_mirror_is_the_left_right_flip(crop):
    image, points = crop
    assert np.array_equal(edit_crop("mirror", image, points, seed=0)[0], image[:, ::-1])


def test_file_edits_reframe_the_picture():
    image = np.zeros((300, 400, 3), np.uint8)
    box = [150.0, 100.0, 80.0, 100.0]
    cut = face_only(image, box)
    assert cut.shape[:2] == (120, 96)  # the box widened by 10 % on each side
    framed = wide_border(image, box)
    assert framed.shape[:2] == (300 + 2 * 240, 400 + 2 * 240)
    assert framed[0, 0].tolist() == [255, 255, 255]
    assert set(FILE_EDITS) == {"face_only", "wide_border", "mirror"}


def test_flags_name_rows_that_miss_the_targets():
    table = {
        "sdfd:fake": {"n": 100, "original": 0.90, "hand": 0.85, "face_mask": 0.70},
        "london:real": {"n": 40, "original": 0.05, "hand": 0.06, "face_mask": 0.10},
    }
    missed = flags(table, ["hand", "face_mask"])
    assert missed == [
        "sdfd:fake face_mask: catch 90.0 -> 70.0 %",
        "london:real face_mask: FPR 5.0 -> 10.0 %",
    ]
    text = markdown(table, ["hand", "face_mask"])
    assert "| sdfd:fake | 100 | 90 | 85 | 70 |" in text


def _clip(path: Path, frames: int = 10, size: tuple[int, int] = (96, 64), fps: float = 20.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * k, np.uint8))
    writer.release()


def _read(path: Path) -> tuple[int, float, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    count, shape = 0, (0, 0)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count, shape = count + 1, (frame.shape[1], frame.shape[0])
    capture.release()
    return count, fps, shape


def test_video_edits_halve_the_frame_rate_or_the_size(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    _clip(source)
    assert _read(source) == (10, 20.0, (96, 64))
    assert reencode_video(source, tmp_path / "half_rate.mp4", "half_frame_rate")
    assert _read(tmp_path / "half_rate.mp4") == (5, 10.0, (96, 64))
    assert reencode_video(source, tmp_path / "small.mp4", "half_size_low_quality")
    assert _read(tmp_path / "small.mp4") == (10, 20.0, (48, 32))
    assert not reencode_video(tmp_path / "missing.mp4", tmp_path / "none.mp4", "half_frame_rate")
