"""A run interrupted after an epoch resumes from its checkpoint to the same weights as a run that
was never interrupted (model, optimiser, scheduler, epoch and every RNG state are restored)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training import train
from training.config import TrainConfig
from training.manifest import Manifest, get_crops

pytestmark = pytest.mark.slow


class SpotInterruptionError(Exception):
    """Stands in for a spot interruption right after a checkpoint was written."""


def test_an_interrupted_run_resumes_to_the_same_weights(
    small_manifest: Manifest, shared_dir: Path, detector_path: Path, tmp_path: Path
) -> None:
    def config(cache: Path) -> TrainConfig:
        return TrainConfig(
            shared_dir=shared_dir,
            output_dir=tmp_path / "out",
            report_dir=tmp_path / "out",
            cache_dir=cache,
            detector_path=detector_path,
            input_size=64,
            epochs=2,
            samples_per_epoch=32,
            batch_size=8,
            workers=0,
            device="cpu",
            pretrained=False,
        )

    crops = get_crops(small_manifest, tmp_path / "crops", train.geometry_of(config(tmp_path)))
    cpu = torch.device("cpu")

    train.seed_everything(0)
    whole, whole_info = train.train_model(config(tmp_path / "whole"), small_manifest, crops, cpu)

    def stop_after_first(epoch: int) -> None:
        if epoch == 0:
            raise SpotInterruptionError

    interrupted = config(tmp_path / "interrupted")
    train.seed_everything(0)
    with pytest.raises(SpotInterruptionError):
        train.train_model(interrupted, small_manifest, crops, cpu, on_epoch=stop_after_first)
    [checkpoint] = (interrupted.checkpoint_dir).glob("checkpoint_*.pt")
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 0

    train.seed_everything(123)  # a new process: the checkpoint, not the seed, must carry the state
    epochs_run: list[int] = []
    resumed, resumed_info = train.train_model(
        interrupted, small_manifest, crops, cpu, on_epoch=epochs_run.append
    )
    assert epochs_run == [1]  # only the second epoch ran again
    assert [h["epoch"] for h in resumed_info["history"]] == [0, 1]
    assert [h["train_loss"] for h in resumed_info["history"]] == [
        h["train_loss"] for h in whole_info["history"]
    ]
    whole_state, resumed_state = whole.state_dict(), resumed.state_dict()
    assert whole_state.keys() == resumed_state.keys()
    for name, value in whole_state.items():
        assert torch.equal(value, resumed_state[name]), name
