"""The verdict rule for videos: short, transient tracks are reported but do not decide the file."""

from __future__ import annotations

from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.core.result import DetectionResult, MediaKind, TrackResult, Verdict


def _track(track: int, score: float, frames: int, counted: bool) -> TrackResult:
    return TrackResult(
        track=track,
        score=score,
        verdict=Verdict.REAL,
        frames=frames,
        first_timestamp_s=0.0,
        last_timestamp_s=1.0,
        counted=counted,
    )


def test_conclude_ignores_tracks_that_do_not_count() -> None:
    result = DetectionResult(path="v.mp4", media_kind=MediaKind.VIDEO)
    result.tracks = [_track(0, 0.1, 30, True), _track(1, 0.99, 1, False)]
    detector = ScanPipeline.__new__(ScanPipeline)
    detector.classifier = type("C", (), {"threshold": 0.5, "threshold_real": None})()  # type: ignore[assignment]
    detector._conclude(result)
    assert result.score == 0.1
    assert result.verdict is Verdict.REAL
