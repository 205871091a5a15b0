"""Settings: groups read from their own prefix, dotted updates that refuse stale names."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.settings import Settings


def test_settings_updates_by_dotted_name_and_refuses_unknown_names() -> None:
    base = Settings()
    changed = base.updated({"video.sample_frames": 5, "limits.max_upload_bytes": 7, "data_dir": Path("/x")})
    assert (changed.video.sample_frames, changed.limits.max_upload_bytes) == (5, 7)
    assert changed.data_dir == Path("/x") and base.video.sample_frames != 5
    assert changed.pipeline().video.sample_frames == 5 and changed.pipeline().limits.max_upload_bytes == 7
    for stale in ("video_sample_frames", "video.frames", "nope.sample_frames"):
        with pytest.raises(KeyError, match="no setting"):
            base.updated({stale: 1})


def test_each_group_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFAKE_VIDEO_SAMPLE_FRAMES", "9")
    monkeypatch.setenv("DEEPFAKE_AWS_UPLOAD_BUCKET", "bucket")
    monkeypatch.setenv("DEEPFAKE_DETECTION_MIN_FACE_SIZE", "40")
    settings = Settings()
    assert settings.video.sample_frames == 9 and settings.aws.upload_bucket == "bucket"
    assert settings.pipeline().detection.min_face_size == 40
