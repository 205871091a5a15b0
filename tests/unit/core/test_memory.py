"""Peak memory of a scanning process: a 4K video, decompression bombs, truncated files and large
photos, one after the other in a fresh process (its peak RSS from ``resource.getrusage``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.settings import Settings
from tests.support.hostile import make_hostile_set
from tests.support.memory import peak_rss

BUDGET_MB = 500.0


@pytest.mark.slow
def test_peak_memory_of_a_run_with_a_4k_video_and_bombs_stays_under_500_mb(
    shared_data: Path, detector_model: Path, base_settings: Settings, tmp_path: Path
) -> None:
    files = make_hostile_set(shared_data.parent, tmp_path, seconds_4k=2.0)
    shipped = Settings(_env_file=None).classifier_path  # type: ignore[call-arg]
    classifier = shipped if shipped.is_file() else base_settings.classifier_path  # the real network if there
    report = peak_rss(list(files.values()), detector_model, classifier)
    assert report["results"] == {
        "bomb_1x50M.png": "bad_dimensions",
        "bomb_65000x1.png": "bad_dimensions",
        "bomb_10000x5000.png": "too_many_pixels",
        "cut_and_closed.jpg": "corrupt_media",
        "cut.jpg": "corrupt_media",
        "phone_12mp.jpg": report["results"]["phone_12mp.jpg"],
        "large_48mp_small_face.jpg": report["results"]["large_48mp_small_face.jpg"],
        "video_4k.mp4": report["results"]["video_4k.mp4"],
    }
    for name in ("phone_12mp.jpg", "large_48mp_small_face.jpg", "video_4k.mp4"):
        assert report["results"][name] in ("real", "inconclusive", "fake"), name  # scanned, a face found
    assert report["peak_rss_mb"] <= BUDGET_MB, report
