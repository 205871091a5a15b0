"""Settings: groups read from their own prefix, dotted updates that refuse stale names."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.core.provenance import ProvenanceConfig
from deepfake_detect.registry.policy import GatePolicy
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


def test_provenance_group_reaches_the_pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_text("-----BEGIN CERTIFICATE-----\nfile\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("DEEPFAKE_PROVENANCE_MAX_CLAIMS", "5")
    monkeypatch.setenv("DEEPFAKE_PROVENANCE_C2PA_TIMEOUT_S", "2.5")
    monkeypatch.setenv("DEEPFAKE_PROVENANCE_C2PA_TRUST_ANCHORS_PEM", "-----BEGIN CERTIFICATE-----\ninline")
    monkeypatch.setenv("DEEPFAKE_PROVENANCE_C2PA_TRUST_ANCHORS_FILE", str(anchors))
    settings = Settings()
    config = settings.pipeline().provenance
    assert type(config) is ProvenanceConfig  # the core gets its own model, not the settings class
    assert (config.max_claims, config.c2pa_timeout_s) == (5, 2.5)
    assert config.c2pa_trust_anchors_pem is not None
    assert config.c2pa_trust_anchors_pem.startswith("-----BEGIN CERTIFICATE-----\ninline\n")
    assert config.c2pa_trust_anchors_pem.endswith("file\n-----END CERTIFICATE-----\n")
    assert config.c2pa_allowed_certs_pem is None
    assert settings.updated({"provenance.max_claims": 7}).pipeline().provenance.max_claims == 7


def test_a_missing_trust_anchor_file_stops_the_pipeline_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEEPFAKE_PROVENANCE_C2PA_ALLOWED_CERTS_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        Settings().pipeline()


def test_the_gate_group_is_the_gate_policy_read_from_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFAKE_TRAINING_GATE_MIN_PER_CLASS", "7")
    monkeypatch.setenv("DEEPFAKE_TRAINING_GATE_MAX_FPR", "0.1")
    settings = Settings()
    policy = settings.training.gate.policy()
    assert type(policy) is GatePolicy  # the gate gets its own model, not the settings class
    assert (policy.min_per_class, policy.max_fpr, policy.resamples) == (7, 0.1, GatePolicy().resamples)
    changed = settings.updated({"training.gate.seed": 3, "training.gate_max_per_class": 9})
    assert (changed.training.gate.seed, changed.training.gate_max_per_class) == (3, 9)
    assert changed.training.gate.min_per_class == 7 and settings.training.gate.seed == 0
    for stale in ("training.gate_min_per_class", "training.gate.nope", "training.gate_max_per_class.x"):
        with pytest.raises(KeyError, match="no setting"):
            settings.updated({stale: 1})
