"""The live model swap: a promoted model reaches a running worker on its next file, after at most
the refresh interval, and a bad pointer never takes the worker down."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import ModelPointer
from deepfake_detect.registry.live import LivePipeline
from deepfake_detect.settings import Settings
from tests.support.clock import ManualClock
from tests.support.retrain import build_cast_classifier


def publish(registry: LocalModelRegistry, tmp_path: Path, version: str, sign: float = 1.0) -> ModelPointer:
    path = build_cast_classifier(tmp_path / f"src-{version}", version=version, sign=sign)
    pointer = registry.publish(version, path, path.with_suffix(".json"))
    current = registry.current()
    registry.set_current(pointer, expected=current.version if current else None)
    return pointer


@pytest.fixture
def live(
    base_settings: Settings, registry: LocalModelRegistry, tmp_path: Path
) -> tuple[LivePipeline, ManualClock[float]]:
    clock = ManualClock(1000.0)
    model = LivePipeline(base_settings.pipeline(), registry, tmp_path / "cache", interval_s=300, clock=clock)
    return model, clock


def test_no_pointer_keeps_the_loaded_model(
    live: tuple[LivePipeline, ManualClock[float]], face_photo: Path
) -> None:
    model, _ = live
    result = model.analyze(face_photo).result
    assert result.model is not None and result.model.version == "0.0.1" == model.version


def test_promotion_is_picked_up_after_the_interval(
    live: tuple[LivePipeline, ManualClock[float]],
    registry: LocalModelRegistry,
    tmp_path: Path,
    face_photo: Path,
) -> None:
    model, clock = live
    model.analyze(face_photo)
    publish(registry, tmp_path, "2.0")
    clock.now += 299
    assert model.analyze(face_photo).result.model.version == "0.0.1"  # type: ignore[union-attr]
    clock.now += 2
    result = model.analyze(face_photo).result
    assert result.model is not None and result.model.version == "2.0" == model.version
    assert result.model.sha256 == registry.current().sha256  # type: ignore[union-attr]
    assert not model.refresh(force=True)  # the same pointer: nothing to load
    # A rollback travels the same way.
    publish(registry, tmp_path, "2.1", sign=-1.0)
    clock.now += 301
    assert model.analyze(face_photo).result.model.version == "2.1"  # type: ignore[union-attr]


def test_cold_start_serves_the_pointers_model(
    base_settings: Settings, registry: LocalModelRegistry, tmp_path: Path
) -> None:
    publish(registry, tmp_path, "5.0")
    model = LivePipeline(base_settings.pipeline(), registry, tmp_path / "cache", interval_s=300)
    assert model.version == "5.0" == model.classifier.card.version


def test_broken_model_keeps_the_old_one(
    live: tuple[LivePipeline, ManualClock[float]],
    registry: LocalModelRegistry,
    tmp_path: Path,
    face_photo: Path,
) -> None:
    model, clock = live
    pointer = publish(registry, tmp_path, "3.0")
    onnx = registry.root / pointer.onnx_key
    onnx.chmod(0o644)
    onnx.write_bytes(b"half a model")  # a damaged copy: its sha256 no longer matches the card
    clock.now += 301
    result = model.analyze(face_photo).result
    assert result.error is None and result.model is not None and result.model.version == "0.0.1"


def test_unreadable_pointer_keeps_the_old_one(
    live: tuple[LivePipeline, ManualClock[float]], registry: LocalModelRegistry, face_photo: Path
) -> None:
    model, clock = live
    registry.root.mkdir(parents=True)
    registry.pointer_path.write_text("{not json")
    clock.now += 301
    assert not model.refresh()
    assert model.analyze(face_photo).result.model.version == "0.0.1"  # type: ignore[union-attr]
