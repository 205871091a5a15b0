"""White-box PGD and FGSM on a randomly initialised twin, the twin's parity with its ONNX export
(mirror TTA included), and the black-box square attack against a tiny ONNX classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard, Outputs, Preprocessing
from tests.support.tiny_model import build_tiny_classifier
from training.attacks import Twin, fgsm, parity, pgd, square_attack, to_crops, to_pixels
from training.model import FakeFaceNet
from training.onnx_export import export_onnx

SIZE = 64
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def twin() -> Twin:
    torch.manual_seed(0)
    net = FakeFaceNet(pretrained=False, input_size=SIZE)
    torch.nn.init.normal_(net.head.weight, std=0.5)  # a head that reacts to its input
    # Random weights with batch-norm statistics of 0 and 1 shrink the features to ~1e-10: let
    # batch norm see some inputs first, as training would.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    net.train()
    with torch.no_grad():
        net(torch.rand(16, 3, SIZE, SIZE))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return Twin(net, MEAN, STD, flip_tta=True).eval()


@pytest.fixture()
def pixels() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(1).uniform(0, 1, (4, 3, SIZE, SIZE)).astype(np.float32))


def bce(logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(logit, label, reduction="none")


@pytest.mark.parametrize("attack", ["pgd", "fgsm"])
@pytest.mark.parametrize("eps", [2 / 255, 4 / 255])
def test_attack_raises_the_loss_inside_the_ball(twin, pixels, attack, eps):
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])  # fakes pushed down, reals pushed up
    direction = torch.where(labels > 0.5, -1.0, 1.0)
    adv = (pgd if attack == "pgd" else fgsm)(twin, pixels, direction, eps)
    with torch.no_grad():
        before, after = bce(twin(pixels), labels), bce(twin(adv), labels)
    assert torch.all(after > before), (before, after)
    assert float((adv - pixels).abs().max()) <= eps + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert adv.shape == pixels.shape and not adv.requires_grad


def test_pgd_beats_fgsm_and_is_reproducible(twin, pixels):
    direction = -torch.ones(len(pixels))
    eps = 2 / 255
    with torch.no_grad():
        strong, weak = twin(pgd(twin, pixels, direction, eps)), twin(fgsm(twin, pixels, direction, eps))
    assert float(strong.sum()) < float(weak.sum())
    assert torch.equal(pgd(twin, pixels, direction, eps), pgd(twin, pixels, direction, eps))


def test_pixels_round_trip_to_8_bit_crops():
    crops = [np.random.default_rng(s).integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8) for s in range(3)]
    back = to_crops(to_pixels(crops))
    assert all(np.array_equal(a, b) for a, b in zip(crops, back, strict=True))
    # channel order: BGR crops become RGB pixels
    assert float(to_pixels(crops)[0, 0, 0, 0]) == pytest.approx(crops[0][0, 0, 2] / 255.0)


def test_twin_matches_its_onnx_export_with_mirror_tta(twin, tmp_path):
    path = tmp_path / "model.onnx"
    export_onnx(twin.net, path, SIZE)
    card = ModelCard(
        name="t",
        version="0",
        sha256=file_sha256(path),
        preprocessing=Preprocessing(input_size=SIZE, margin=-0.2, flip_tta=True),
        outputs=Outputs(logit="logit", cam="cam"),
    )
    rng = np.random.default_rng(2)
    crops = [rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8) for _ in range(4)]
    assert parity(twin, path, crops, card) < 1e-3
    # without the mirror view the twin is another function: parity must notice
    plain = Twin(twin.net, MEAN, STD, flip_tta=False)
    lopsided = [
        np.ascontiguousarray(np.concatenate([c[:, :32], np.zeros_like(c[:, 32:])], axis=1)) for c in crops
    ]
    assert parity(plain, path, lopsided, card) > 1e-3


def test_square_attack_lowers_the_score_within_budget_and_ball(tmp_path):
    classifier = Classifier(build_tiny_classifier(tmp_path, input_size=SIZE, seed=3, flip_tta=True))
    rng = np.random.default_rng(4)
    crops = [rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8) for _ in range(6)]
    clean = classifier.score(crops).probabilities.astype(np.float64)
    calls = 0

    def score(batch):
        nonlocal calls
        calls += 1
        return classifier.score(batch).probabilities

    adv, best, used = square_attack(score, crops, eps=8, queries=60)
    assert calls <= 60 and used.max() <= 60
    assert np.all(best <= clean + 1e-6) and np.any(best < clean - 1e-4)
    assert np.allclose(classifier.score(adv).probabilities, best, atol=1e-6)
    for a, c in zip(adv, crops, strict=True):
        assert a.shape == c.shape and a.dtype == np.uint8
        assert np.abs(a.astype(int) - c.astype(int)).max() <= 8
