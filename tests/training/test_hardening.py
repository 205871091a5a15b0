"""Hardening (issue "Attacked on purpose"): forgers' edits in the training stream, FGSM examples
mixed into the batches, and a fine-tune that starts from a finished run's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_detect.core.constants import IMAGENET_MEAN, IMAGENET_STD
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard
from training import harden, train
from training.adversarial import fgsm_rs, mix_adversarial
from training.config import TrainConfig
from training.dataset import Kind, TrainStream
from training.edits import CROP_EDITS, TRAINING_EDITS, random_edit
from training.manifest import Crops, Manifest, get_crops
from training.model import FakeFaceNet
from training.soup import interpolate, write_soup
from training.sources import FAKE, REAL

SIZE = 64
MEAN, STD = IMAGENET_MEAN, IMAGENET_STD


class Linear(nn.Module):
    """A fake logit that is a fixed linear function of the pixels: its gradient sign is known."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(-1.0, 1.0, 3 * 8 * 8).view(1, 3, 8, 8))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logit = (x * self.weight).sum(dim=(1, 2, 3)).unsqueeze(1)
        return logit, logit, torch.cat([logit, logit], dim=1)


def _normalised(batch: int, seed: int = 0) -> torch.Tensor:
    pixels = torch.rand(batch, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)


def test_fgsm_stays_in_the_pixel_budget_and_the_valid_box() -> None:
    x, target = _normalised(6), torch.tensor([[0.0], [1.0]] * 3)
    adv = fgsm_rs(Linear(), x, target, 3.0, MEAN, STD, torch.Generator().manual_seed(1))
    moved = (_pixels(adv) - _pixels(x)).abs().max().item()
    assert 0 < moved <= 3.0 / 255 + 1e-6
    assert _pixels(adv).min() >= -1e-6 and _pixels(adv).max() <= 1 + 1e-6


def test_fgsm_pushes_each_sample_towards_the_wrong_label() -> None:
    model = Linear()
    x, target = _normalised(8), torch.tensor([[0.0], [1.0]] * 4)
    adv = fgsm_rs(model, x, target, 4.0, MEAN, STD, torch.Generator().manual_seed(2))
    with torch.no_grad():
        before, after = model(x)[0], model(adv)[0]
    direction = 1 - 2 * target  # reals (0) pushed up, fakes (1) pushed down
    assert torch.all((after - before) * direction > 0)


def test_mix_replaces_the_share_asked_for_and_leaves_the_rest() -> None:
    x, target = _normalised(8), torch.zeros(8, 1)
    mixed = mix_adversarial(Linear(), x, target, 2.0, 0.5, MEAN, STD, torch.Generator().manual_seed(3))
    changed = (mixed != x).flatten(1).any(dim=1)
    assert int(changed.sum()) == 4
    assert mix_adversarial(Linear(), x, target, 0.0, 0.5, MEAN, STD, torch.Generator()) is x


def test_the_emoji_sticker_stays_an_edit_training_never_sees() -> None:
    assert "emoji_sticker" not in TRAINING_EDITS
    assert set(TRAINING_EDITS) <= set(CROP_EDITS)


def _face(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 200, size=(SIZE, SIZE, 3), dtype=np.uint8)
    points = np.array([[22, 26], [42, 26], [32, 36], [24, 46], [40, 46]], np.float32)
    return image, points


def test_random_edits_are_reproducible_from_their_generator_and_change_the_face() -> None:
    image, points = _face(0)
    first = random_edit(image, points, np.random.default_rng(7))
    again = random_edit(image, points, np.random.default_rng(7))
    assert first.shape == image.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    changed = [
        not np.array_equal(random_edit(image, points, np.random.default_rng(s)), image) for s in range(20)
    ]
    assert all(changed)


def _stream(edit_share: float) -> TrainStream:
    faces = [_face(i) for i in range(4)]
    crops = Crops(
        images=np.stack([f[0] for f in faces]),
        landmarks=np.stack([f[1] for f in faces]),
        landmarks68=np.full((4, 68, 2), np.nan, np.float32),
    )
    kinds = [
        Kind("real:a", REAL, 1.0, np.array([0, 1], np.int64)),
        Kind("fake:b", FAKE, 1.0, np.array([2, 3], np.int64)),
    ]
    return TrainStream(crops, kinds, 16, 0, MEAN, STD, edit_share=edit_share)


def test_edits_change_the_stream_only_when_asked_for() -> None:
    plain, off, on = _stream(0.0), _stream(0.0), _stream(1.0)
    for index in range(8):
        np.testing.assert_array_equal(plain.sample(index)[0], off.sample(index)[0])
    assert any(not np.array_equal(plain.sample(i)[0], on.sample(i)[0]) for i in range(8))
    assert [plain.sample(i)[1] for i in range(8)] == [on.sample(i)[1] for i in range(8)]


def _config(shared_dir: Path, detector_path: Path, cache: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(
        shared_dir=shared_dir,
        output_dir=cache / "out",
        report_dir=cache / "out",
        cache_dir=cache,
        detector_path=detector_path,
        input_size=SIZE,
        epochs=1,
        samples_per_epoch=16,
        batch_size=8,
        workers=0,
        device="cpu",
        pretrained=False,
    )
    return TrainConfig(**{**base.__dict__, **changes})  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_hardening_fine_tune_starts_from_the_given_weights(
    small_manifest: Manifest, shared_dir: Path, detector_path: Path, tmp_path: Path
) -> None:
    first = _config(shared_dir, detector_path, tmp_path / "first")
    crops = get_crops(small_manifest, tmp_path / "crops", train.geometry_of(first))
    cpu = torch.device("cpu")
    train.seed_everything(0)
    train.train_model(first, small_manifest, crops, cpu)
    [start] = first.checkpoint_dir.glob("checkpoint_*.pt")
    start_weights = torch.load(start, weights_only=False)["model"]

    tuned = _config(
        shared_dir,
        detector_path,
        tmp_path / "tuned",
        init_from=start,
        edit_share=0.5,
        adversarial_eps=3.0,
        lr=1e-12,  # so the weights stay where they started: the test is about where that is
    )
    assert train.run_fingerprint(tuned, small_manifest) != train.run_fingerprint(
        _config(shared_dir, detector_path, tmp_path / "tuned", init_from=start), small_manifest
    )
    model, info = train.train_model(tuned, small_manifest, crops, cpu)
    assert np.isfinite(info["history"][0]["train_loss"])
    head = model.state_dict()["head.weight"]
    torch.testing.assert_close(head, start_weights["head.weight"], rtol=0, atol=1e-6)

    scratch, _ = train.train_model(
        _config(shared_dir, detector_path, tmp_path / "scratch", seed=1, lr=1e-12), small_manifest, crops, cpu
    )
    assert not torch.allclose(scratch.state_dict()["head.weight"], start_weights["head.weight"])


def test_runs_without_hardening_keep_their_fingerprint(
    small_manifest: Manifest, shared_dir: Path, detector_path: Path, tmp_path: Path
) -> None:
    plain = _config(shared_dir, detector_path, tmp_path)
    explicit = _config(shared_dir, detector_path, tmp_path, edit_share=0.0, adversarial_eps=0.0)
    assert train.run_fingerprint(plain, small_manifest) == train.run_fingerprint(explicit, small_manifest)
    edited = _config(shared_dir, detector_path, tmp_path, edit_share=0.3)
    assert train.run_fingerprint(edited, small_manifest) != train.run_fingerprint(plain, small_manifest)


def test_a_soup_interpolates_weights_and_keeps_step_counters() -> None:
    first = {"w": torch.zeros(3), "bn.num_batches_tracked": torch.tensor(5)}
    second = {"w": torch.full((3,), 2.0), "bn.num_batches_tracked": torch.tensor(9)}
    torch.testing.assert_close(interpolate(first, second, 0.0)["w"], first["w"])
    torch.testing.assert_close(interpolate(first, second, 1.0)["w"], second["w"])
    half = interpolate(first, second, 0.25)
    torch.testing.assert_close(half["w"], torch.full((3,), 0.5))
    assert int(half["bn.num_batches_tracked"]) == 5
    with pytest.raises(ValueError, match="different networks"):
        interpolate(first, {"w": torch.zeros(3)}, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate(first, second, 1.5)


def test_a_soup_checkpoint_is_named_by_its_content(tmp_path: Path) -> None:
    for name, value in (("a.pt", 0.0), ("b.pt", 1.0)):
        torch.save({"model": {"w": torch.full((2,), value)}}, tmp_path / name)
    path = write_soup(tmp_path / "a.pt", tmp_path / "b.pt", 0.5, tmp_path / "soups")
    assert path.name.startswith("checkpoint_") and path.parent == tmp_path / "soups"
    state = torch.load(path, weights_only=False)
    torch.testing.assert_close(state["model"]["w"], torch.full((2,), 0.5))
    assert state["soup"] == {"first": "a.pt", "second": "b.pt", "alpha": 0.5}
    assert write_soup(tmp_path / "a.pt", tmp_path / "b.pt", 0.5, tmp_path / "soups") == path


@pytest.mark.slow
def test_zero_epochs_exports_the_given_weights_untouched(
    small_manifest: Manifest, shared_dir: Path, detector_path: Path, tmp_path: Path
) -> None:
    crops = get_crops(
        small_manifest, tmp_path / "crops", train.geometry_of(_config(shared_dir, detector_path, tmp_path))
    )
    start = tmp_path / "start.pt"
    net = FakeFaceNet(pretrained=False, input_size=SIZE)
    torch.save({"model": net.state_dict()}, start)
    with pytest.raises(ValueError, match="--init-from"):
        train.train_model(
            _config(shared_dir, detector_path, tmp_path, epochs=0), small_manifest, crops, torch.device("cpu")
        )
    model, info = train.train_model(
        _config(shared_dir, detector_path, tmp_path, epochs=0, init_from=start),
        small_manifest,
        crops,
        torch.device("cpu"),
    )
    assert info["steps"] == 0 and info["checkpoint"] == "start.pt"
    for name, value in net.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


@pytest.mark.slow
def test_harden_fine_tunes_soups_and_exports_the_average(
    shared_dir: Path, detector_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harden, "FINE_TUNE_SAMPLES", 32)
    monkeypatch.setattr(harden, "FINE_TUNE_EPOCHS", 1)
    out, cache = tmp_path / "model", tmp_path / "cache"
    flags = [
        *("--shared-dir", str(shared_dir), "--cache-dir", str(cache), "--limit-per-source", "12"),
        *("--output-dir", str(out), "--report-dir", str(tmp_path / "report")),
        *("--detector-path", str(detector_path), "--epochs", "1", "--samples-per-epoch", "32"),
        *("--batch-size", "16", "--input-size", "64", "--workers", "0", "--device", "cpu"),
        *("--no-pretrained", "--version", "test"),
    ]
    assert train.main(flags) == 0
    [base] = (cache / "checkpoints").glob("checkpoint_*.pt")
    assert harden.main(flags) == 0

    card = ModelCard.load(out / "deepfake_classifier.json")
    soup = card.training["soup"]
    assert soup["first"] == base.name and soup["alpha"] == harden.ALPHA
    assert card.training["init_from"] == card.training["checkpoint"]
    tuned = cache / "checkpoints" / soup["second"]
    assert torch.load(tuned, weights_only=False)["epoch"] == 0  # the fine-tune trained
    exported = torch.load(cache / "checkpoints" / card.training["init_from"], weights_only=False)["model"]
    halves = [torch.load(p, weights_only=False)["model"] for p in (base, tuned)]
    name = "head.weight"
    torch.testing.assert_close(exported[name], (halves[0][name] + halves[1][name]) / 2)
    assert card.sha256 == file_sha256(out / "deepfake_classifier.onnx")
