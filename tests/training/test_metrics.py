from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.metrics import (
    expected_calibration_error,
    fit_temperature,
    nll,
    rates,
    roc_auc,
    roc_curve,
    sigmoid,
    threshold_for_fpr,
)


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    neg = [s for y, s in zip(labels, scores, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_matches_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes ties
    assert roc_auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores))
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1], [0.1, 0.2]) is None


def test_roc_curve_runs_from_origin_to_one():
    fpr, tpr = roc_curve([0, 1, 0, 1], [0.1, 0.9, 0.4, 0.35])
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_temperature_fit_lowers_nll_of_overconfident_logits():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < sigmoid(true_logits)).astype(int)
    overconfident = true_logits * 4.0
    t = fit_temperature(labels, overconfident)
    assert 3.0 < t < 5.5
    assert nll(labels, overconfident, t) < nll(labels, overconfident) - 0.05
    before = expected_calibration_error(labels, sigmoid(overconfident))
    after = expected_calibration_error(labels, sigmoid(overconfident / t))
    assert after < before and after < 0.03


def test_threshold_keeps_false_positives_within_budget():
    rng = np.random.default_rng(2)
    reals = rng.random(1000)
    t = threshold_for_fpr(reals, 0.05)
    fpr = rates(np.zeros(1000, int), reals, t)["fpr"]
    assert fpr <= 0.05 and fpr >= 0.04
    assert rates(np.zeros(3, int), [0.2, 0.3, 0.4], threshold_for_fpr([0.2, 0.3, 0.4], 0.0))["fpr"] == 0.0


def test_ece_of_a_perfectly_calibrated_constant_is_zero():
    assert expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.0)
    assert expected_calibration_error([1, 1], [0.0, 0.0]) == pytest.approx(1.0)
