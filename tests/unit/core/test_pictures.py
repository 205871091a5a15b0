"""The pictures a scan keeps for the page: bounded per frame and per result, and only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake_detect.core.pictures import (
    THUMBNAIL_FULL_FRAMES,
    THUMBNAIL_MAX_SIDE,
    THUMBNAIL_MIN_SIDE,
    FrameThumbnails,
    thumbnail_side,
)
from deepfake_detect.core.pipeline import ScanPipeline


def test_thumbnails_shrink_with_many_frames_to_keep_about_the_same_total_area() -> None:
    assert thumbnail_side(1) == thumbnail_side(THUMBNAIL_FULL_FRAMES) == THUMBNAIL_MAX_SIDE
    four_times = thumbnail_side(4 * THUMBNAIL_FULL_FRAMES)
    assert four_times == THUMBNAIL_MAX_SIDE // 2
    assert thumbnail_side(1000) >= THUMBNAIL_MIN_SIDE == thumbnail_side(100_000)


def test_thumbnails_stop_at_the_byte_budget_and_keep_their_scale() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)  # incompressible: ~100 KB each
    thumbnails = FrameThumbnails(side=480, budget_bytes=300_000)
    for index in range(10):
        thumbnails.add(index, noise)
    kept = thumbnails.by_frame
    assert 1 <= len(kept) < 10 and list(kept) == list(range(len(kept)))  # the first ones, then none
    assert sum(len(t.jpeg) for t in kept.values()) <= 300_000
    assert kept[0].scale == 480 / 1280
    small = FrameThumbnails(side=480)
    small.add(3, noise[:200, :300], scale=0.5)  # already small: kept as is, its scale passed on
    assert small.by_frame[3].scale == 0.5


def test_pictures_are_kept_only_when_asked(
    detector: ScanPipeline, real_video: Path, couple_photo: Path
) -> None:
    plain = detector.analyze(real_video)
    assert plain.thumbnails == {} and plain.crops == {}
    video = detector.analyze(real_video, pictures=True)
    result = video.result
    assert set(video.thumbnails) == {f.frame_index for f in result.frames}
    assert set(video.crops) == {t.track for t in result.tracks}
    assert [f.score for f in plain.result.faces] == [f.score for f in result.faces]  # same scan
    photo = detector.analyze(couple_photo, pictures=True)
    assert photo.thumbnails == {} and sorted(photo.crops) == [0, 1]
    size = detector.classifier.geometry.size
    assert all(crop.shape == (size, size, 3) for crop in photo.crops.values())
