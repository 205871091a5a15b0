"""A tiny real run: a few faces, one short epoch on the CPU, export, evaluate, serve through the core."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.core.result import Status
from deepfake_detect.settings import Settings
from training import evaluate, train
from training.manifest import Manifest, get_manifest

pytestmark = pytest.mark.slow


def test_tiny_training_run_exports_a_model_the_core_serves(shared_dir, detector_path, tmp_path, monkeypatch):
    out, cache = tmp_path / "model", tmp_path / "cache"
    # Training may read the train and validation splits only: record every face it scores.
    scored: list[int] = []
    real_onnx_logits = train.onnx_logits

    def recording_onnx_logits(path, crops, indices, *args, **kwargs):
        scored.extend(indices)
        return real_onnx_logits(path, crops, indices, *args, **kwargs)

    monkeypatch.setattr(train, "onnx_logits", recording_onnx_logits)
    built: list[object] = []
    real_get_manifest = get_manifest

    def recording_get_manifest(*args: Any, **kwargs: Any) -> Manifest:
        built.append(manifest := real_get_manifest(*args, **kwargs))
        return manifest

    monkeypatch.setattr(train, "get_manifest", recording_get_manifest)
    common = ["--shared-dir", str(shared_dir), "--cache-dir", str(cache), "--limit-per-source", "12"]
    code = train.main(
        [
            *common,
            "--output-dir",
            str(out),
            "--report-dir",
            str(out),
            "--detector-path",
            str(detector_path),
            "--epochs",
            "1",
            "--samples-per-epoch",
            "32",
            "--batch-size",
            "16",
            "--input-size",
            "64",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--version",
            "test",
        ]
    )
    assert code == 0
    model = out / "deepfake_classifier.onnx"
    card = ModelCard.load(model.with_suffix(".json"))
    assert card.sha256 == file_sha256(model)
    assert card.preprocessing.input_size == 64 and card.outputs.cam == "cam"
    assert card.calibration.temperature > 0 and 0.0 <= card.threshold <= 1.0
    assert card.metrics["onnx_parity_max_abs_diff"] <= 1e-4
    assert "utkface_fpr" in card.metrics["val"] and "test" not in card.metrics
    assert card.preprocessing.border == "constant" and card.preprocessing.margin < 0
    manifest = built[0]
    assert scored and {manifest.faces[i].split for i in scored} == {"val"}  # type: ignore[attr-defined]
    # a rerun of the same configuration resumes from the last epoch's checkpoint
    assert list((cache / "checkpoints").glob("checkpoint_*.pt"))

    settings = Settings(shared_dir=shared_dir, models_dir=out)
    classifier = Classifier(model)
    detector = ScanPipeline(settings.pipeline(), classifier, FaceDetector(detector_path))
    photo = sorted((shared_dir / "data" / "deepface_photos").glob("img*.jpg"))[0]
    result = detector.analyze(photo).result
    assert result.status is Status.DONE and result.faces
    assert result.faces[0].heatmap is not None
    assert 0.0 <= result.faces[0].score <= 1.0

    report_dir = tmp_path / "eval"
    code = evaluate.main(
        [
            "--model",
            str(model),
            *common,
            "--report-dir",
            str(report_dir),
            "--split",
            "val",
            "--skip-files",
            "--update-card",
        ]
    )
    assert code == 0
    report = json.loads((report_dir / "evaluation.json").read_text())
    assert report["model"]["sha256"] == card.sha256
    assert report["image_level"]["overall"]["n"] > 0
    assert (report_dir / "roc.png").stat().st_size > 1000
    updated = ModelCard.load(model.with_suffix(".json"))
    assert updated.metrics["evaluation"]["split"] == "val"
    assert np.isclose(updated.threshold, card.threshold)
