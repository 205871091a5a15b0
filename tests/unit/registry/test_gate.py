"""The gate's rule and its metrics."""

from __future__ import annotations

import pytest

from deepfake_detect.core.metrics import roc_auc
from deepfake_detect.registry.base import GateMetrics
from deepfake_detect.registry.gate import decide, gate_metrics


def metrics(auc: float | None, fpr: float | None, threshold: float = 0.5) -> GateMetrics:
    return GateMetrics(auc=auc, fpr=fpr, tpr=0.9, threshold=threshold, n_real=100, n_fake=100)


@pytest.mark.parametrize(
    ("candidate", "current", "promote"),
    [
        (metrics(0.95, 0.04), metrics(0.90, 0.05), True),  # better on both
        (metrics(0.90, 0.05), metrics(0.90, 0.05), True),  # equal is not worse
        (metrics(0.896, 0.05), metrics(0.90, 0.05), True),  # AUC 0.004 lower: within the margin
        (metrics(0.894, 0.05), metrics(0.90, 0.05), False),  # AUC 0.006 lower
        (metrics(0.99, 0.051), metrics(0.90, 0.05), False),  # a higher FPR at threshold is never accepted
        (metrics(None, 0.0), metrics(0.90, 0.05), False),  # the candidate could not be measured
    ],
)
def test_promote_only_when_not_worse(candidate: GateMetrics, current: GateMetrics, promote: bool) -> None:
    decision = decide(candidate, current, max_auc_drop=0.005, current_version="1")
    assert decision.promote is promote
    assert decision.reasons
    assert decision.candidate == candidate and decision.current == current and decision.current_version == "1"


def test_both_failures_are_reported() -> None:
    decision = decide(metrics(0.5, 0.5), metrics(0.9, 0.05))
    assert not decision.promote
    assert len(decision.reasons) == 2
    assert "AUC" in decision.reasons[0] and "false positive rate" in decision.reasons[1]


def test_first_model_is_promoted_when_measurable() -> None:
    assert decide(metrics(0.7, 0.1), None).promote
    assert not decide(metrics(None, None), None).promote


def test_roc_auc_counts_ties_half() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert roc_auc([0, 0, 1], [0.1, 0.6, 0.5]) == 0.5
    assert roc_auc([1, 1], [0.1, 0.2]) is None


def test_gate_metrics_rates_at_threshold() -> None:
    m = gate_metrics([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.6, 0.3, 0.7, 0.4], threshold=0.5, skipped=3)
    assert m.fpr == 0.25 and m.tpr == 0.5
    assert (m.n_real, m.n_fake, m.n_skipped, m.threshold) == (4, 2, 3, 0.5)
    assert m.auc == pytest.approx(7 / 8)
