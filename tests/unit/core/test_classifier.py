"""core.classifier and core.model_card: one session, batched scores, calibration, integrity."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from deepfake_detect.core.classifier import Classifier, ModelIntegrityError
from deepfake_detect.core.model_card import ModelCard
from tests.support.tiny_model import build_tiny_classifier


@pytest.fixture(scope="module")
def classifier(tiny_model_dir: Path) -> Classifier:
    return Classifier(tiny_model_dir / "tiny.onnx", intra_op_threads=1)


def random_crops(count: int, size: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), np.uint8) for _ in range(count)]


def test_preprocessing_comes_from_the_model_card(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path, input_size=48, threshold=0.7)
    card = ModelCard.load(path.with_suffix(".json"))  # the card beside the .onnx is the default
    classifier = Classifier(path)
    assert classifier.card == card
    assert (classifier.input_size, classifier.margin, classifier.threshold) == (48, 0.2, 0.7)
    assert classifier.score(random_crops(2, size=48)).probabilities.shape == (2,)


def test_scores_are_probabilities_with_heat_maps(classifier: Classifier) -> None:
    scores = classifier.score(random_crops(5))
    assert scores.probabilities.shape == (5,) and scores.probabilities.dtype == np.float32
    assert ((scores.probabilities > 0) & (scores.probabilities < 1)).all()
    assert len(set(np.round(scores.probabilities, 6))) == 5  # different crops, different scores
    assert scores.cams is not None and scores.cams.shape[0] == 5
    assert scores.cams.min() >= 0.0 and scores.cams.max() <= 1.0
    for cam in scores.cams:  # each map is scaled over its own range
        assert cam.min() == pytest.approx(0.0) and cam.max() == pytest.approx(1.0)


def test_batch_scores_equal_one_by_one(classifier: Classifier) -> None:
    crops = random_crops(7, seed=1)
    batched = classifier.score(crops, batch_size=3)
    singles = np.concatenate([classifier.score([c]).probabilities for c in crops])
    assert np.allclose(batched.probabilities, singles, atol=1e-6)
    assert batched.cams is not None
    singles_cam = np.concatenate([classifier.score([c]).cams for c in crops])  # type: ignore[misc]
    assert np.allclose(batched.cams, singles_cam, atol=1e-5)


def test_empty_batch(classifier: Classifier) -> None:
    scores = classifier.score([])
    assert scores.probabilities.shape == (0,)


def test_temperature_calibrates_the_logit(tiny_model_dir: Path, tmp_path: Path) -> None:
    crops = random_crops(4, seed=2)
    plain = Classifier(tiny_model_dir / "tiny.onnx").score(crops).probabilities
    card = ModelCard.load(tiny_model_dir / "tiny.json")
    card.calibration.temperature = 2.0
    warm = Classifier(tiny_model_dir / "tiny.onnx", card).score(crops).probabilities
    logits = np.log(plain / (1 - plain))
    assert np.allclose(warm, 1 / (1 + np.exp(-logits / 2.0)), atol=1e-5)


def test_extreme_logits_do_not_overflow(tiny_model_dir: Path) -> None:
    card = ModelCard.load(tiny_model_dir / "tiny.json")
    card.calibration.temperature = 1e-6  # logits of +-1e5 and more
    with np.errstate(over="raise"):
        scores = Classifier(tiny_model_dir / "tiny.onnx", card).score(random_crops(3)).probabilities
    assert np.isin(scores, [0.0, 1.0]).all()


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    card = ModelCard.load(path.with_suffix(".json"))
    card.sha256 = "0" * 64
    card.save(path.with_suffix(".json"))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        Classifier(path)
    Classifier(path, verify_sha256=False)  # an explicit opt-out still loads


def test_a_different_file_under_the_same_card_is_refused(tmp_path: Path) -> None:
    one = build_tiny_classifier(tmp_path / "one", seed=1)
    other = build_tiny_classifier(tmp_path / "other", seed=2)
    shutil.copyfile(other, one)  # the card still describes seed 1
    with pytest.raises(ModelIntegrityError):
        Classifier(one)


def test_missing_logit_output_is_refused(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    card = ModelCard.load(path.with_suffix(".json"))
    card.outputs.logit = "probability"
    with pytest.raises(ModelIntegrityError, match="probability"):
        Classifier(path, card)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Classifier(tmp_path / "absent.onnx")


def test_model_without_cam_output(tmp_path: Path) -> None:
    path = build_tiny_classifier(tmp_path)
    card = ModelCard.load(path.with_suffix(".json"))
    card.outputs.cam = None
    scores = Classifier(path, card).score(random_crops(2))
    assert scores.cams is None and scores.probabilities.shape == (2,)


def test_model_card_round_trip(tmp_path: Path, tiny_model_dir: Path) -> None:
    card = ModelCard.load(tiny_model_dir / "tiny.json")
    card.metrics = {"auc": 0.9}
    card.save(tmp_path / "card.json")
    assert ModelCard.load(tmp_path / "card.json") == card


def test_a_model_with_a_fixed_batch_size_scores_any_number_of_crops(tmp_path: Path) -> None:
    dynamic = Classifier(build_tiny_classifier(tmp_path / "dynamic", seed=4))
    fixed = Classifier(build_tiny_classifier(tmp_path / "fixed", seed=4, batch=2))
    crops = random_crops(5, seed=5)  # 2 + 2 + 1 (padded)
    expected = dynamic.score(crops)
    got = fixed.score(crops, batch_size=32)
    assert got.probabilities.shape == (5,)
    assert np.allclose(got.probabilities, expected.probabilities, atol=1e-6)
    assert got.cams is not None and expected.cams is not None and got.cams.shape == expected.cams.shape


def test_flip_tta_averages_each_crop_with_its_mirror(tmp_path: Path) -> None:
    plain = Classifier(build_tiny_classifier(tmp_path / "plain", kinds=True))
    tta = Classifier(build_tiny_classifier(tmp_path / "tta", kinds=True, flip_tta=True))
    crops = random_crops(3)
    mirrors = [np.ascontiguousarray(c[:, ::-1]) for c in crops]

    def logits(p: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(p / (1 - p)))

    one, other, both = plain.score(crops), plain.score(mirrors), tta.score(crops)
    assert not np.allclose(one.probabilities, other.probabilities)  # the tiny model is not symmetric
    expected = (logits(one.probabilities) + logits(other.probabilities)) / 2
    np.testing.assert_allclose(logits(both.probabilities), expected, atol=1e-4)
    # the mirror's map is flipped back before averaging: the map of a crop and of its mirror agree
    mirrored_tta = tta.score(mirrors)
    assert both.cams is not None and mirrored_tta.cams is not None
    np.testing.assert_allclose(both.cams, mirrored_tta.cams[..., ::-1], atol=1e-4)


def test_kind_outputs_are_calibrated_probabilities_per_kind(tmp_path: Path) -> None:
    scores = Classifier(build_tiny_classifier(tmp_path, kinds=True)).score(random_crops(4))
    assert scores.kinds is not None and scores.kinds.shape == (4, 2)
    assert ((scores.kinds > 0) & (scores.kinds < 1)).all()
    without = Classifier(build_tiny_classifier(tmp_path / "none")).score(random_crops(4))
    assert without.kinds is None
