"""The gate's rule: non-inferiority at each model's card threshold on a paired bootstrap, AUC and ECE,
a minimum of gate files per class; and its metrics."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detect.core.metrics import roc_auc
from deepfake_detect.registry.gate import (
    GatePolicy,
    ModelScores,
    Reference,
    compare,
    decide,
    expected_calibration_error,
    gate_metrics,
    render_summary,
)
from tests.support.gate_scores import POLICY, scores


def live(model: object) -> list[Reference]:
    return [Reference("live", "1", model)]  # type: ignore[arg-type]


def test_a_model_as_good_as_the_live_one_is_promoted() -> None:
    same = scores(caught=45, flagged=1)
    decision = decide(same, live(same), POLICY)
    assert decision.promote, decision.reasons
    [comparison] = decision.comparisons
    assert comparison.passed and comparison.tpr is not None
    assert (comparison.tpr.point, comparison.tpr.low, comparison.tpr.high) == (0.0, 0.0, 0.0)
    assert decision.current_version == "1" and decision.policy["seed"] == 0


def test_equal_auc_but_lower_tpr_at_the_operating_point_is_rejected() -> None:
    """The same scores, so the same ranking and AUC; but the candidate's card threshold sits above
    most of its fakes: at the threshold the product uses it catches far fewer."""
    reference = scores(caught=45, flagged=1, threshold=0.5)
    fake = [0.8] * 10 + [0.75] * 35 + [0.4] * 5
    candidate = scores(fake=fake, flagged=1, threshold=0.78)
    current = scores(fake=fake, flagged=1, threshold=0.5)
    assert candidate.metrics().auc == current.metrics().auc == pytest.approx(reference.metrics().auc)
    decision = decide(candidate, live(current), POLICY)
    assert not decision.promote
    [reason] = decision.reasons
    assert reason.startswith("TPR at the card threshold 0.2000 vs 0.9000")
    [comparison] = decision.comparisons
    assert comparison.auc is not None and comparison.auc.point == 0.0  # AUC alone would have passed
    assert comparison.tpr is not None and comparison.tpr.high < -POLICY.tpr_margin


def test_more_false_positives_at_the_threshold_are_rejected() -> None:
    decision = decide(scores(flagged=6), live(scores(flagged=1)), POLICY)
    assert not decision.promote
    assert any(
        r.startswith("false positive rate at the card threshold 0.1200 vs 0.0200") for r in decision.reasons
    )


def test_a_small_difference_within_the_margin_passes_and_a_large_one_does_not() -> None:
    base = scores(caught=45, n=400)
    assert decide(scores(caught=44, n=400), live(base), POLICY).promote  # one fake in 400
    assert not decide(scores(caught=30, n=400), live(base), POLICY).promote  # fifteen


def test_worse_calibration_is_rejected() -> None:
    candidate = scores(real=[0.45] * 49 + [0.6], fake=[0.55] * 45 + [0.4] * 5)  # the same calls, mushy
    decision = decide(candidate, live(scores(caught=45, flagged=1)), POLICY)
    assert not decision.promote
    assert any("calibration error (ECE)" in r for r in decision.reasons), decision.reasons


def test_below_the_minimum_per_class_is_rejected_with_the_counts() -> None:
    small = scores(n=19)
    decision = decide(small, live(small), POLICY)
    assert not decision.promote and decision.comparisons == []
    assert decision.reasons == [
        "the gate set has 19 scored real and 19 scored fake files (0 without a face or unreadable); "
        "the gate needs at least 20 of each to compare models"
    ]


def test_unscored_files_count_against_the_minimum() -> None:
    candidate = scores(real=[0.2] * 18 + [None] * 10, fake=[0.8] * 30)
    decision = decide(candidate, live(candidate), POLICY)
    assert not decision.promote and "18 scored real" in decision.reasons[0]
    assert "(10 without a face or unreadable)" in decision.reasons[0]


def test_only_files_both_models_scored_are_paired() -> None:
    reference = scores(real=[0.2] * 30 + [None] * 20, fake=[0.8] * 50)
    comparison = compare(scores(), Reference("live", "1", reference), GatePolicy(min_per_class=40))
    assert not comparison.passed
    assert comparison.candidate.n_real == comparison.reference.n_real == 30
    assert "scored by both the candidate and the live model 1" in comparison.reasons[0]


def test_the_decision_is_reproducible() -> None:
    candidate, reference = scores(caught=42, flagged=2, n=60), scores(caught=44, flagged=1, n=60)
    first = decide(candidate, live(reference), POLICY)
    assert decide(candidate, live(reference), POLICY) == first
    other_seed = decide(candidate, live(reference), GatePolicy(min_per_class=20, resamples=1000, seed=7))
    assert other_seed.comparisons != first.comparisons  # the seed is what fixes the intervals


def test_the_first_model_needs_only_to_be_measurable() -> None:
    assert decide(scores(), [], POLICY).promote
    assert not decide(scores(n=5), [], POLICY).promote


def test_the_summary_names_the_decision_and_every_comparison() -> None:
    decision = decide(scores(caught=30), [*live(scores()), Reference("best", "0.9", scores())], POLICY)
    text = render_summary("2.0", decision, {"real_used": 50, "fake_used": 50})
    assert text.startswith("gate report for candidate 2.0: REJECT\n")
    assert "vs live 1:" in text and "vs best 0.9:" in text and "TPR difference -0.3000" in text
    assert "gate set: real_used 50, fake_used 50" in text


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


def test_expected_calibration_error() -> None:
    labels = np.array([0, 0, 1, 1])
    assert expected_calibration_error(labels, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    # Bin 5 holds all four at 0.5 with half of them fake: calibrated.
    assert expected_calibration_error(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.0
    assert expected_calibration_error(labels, np.array([0.9, 0.9, 0.1, 0.1])) == pytest.approx(0.9)
    assert expected_calibration_error(np.array([], dtype=np.int64), np.array([])) is None


def test_the_vectorised_bootstrap_equals_resampling_the_files() -> None:
    """Each resample's statistics, computed from multiplicities, equal those of the resampled list."""
    from deepfake_detect.registry.gate import _bootstrap, _Paired

    rng = np.random.default_rng(3)
    candidate = scores(real=list(rng.random(23)), fake=list(rng.random(17)), threshold=0.55)
    reference = scores(real=list(rng.random(23)), fake=list(rng.random(17)), threshold=0.45)
    paired = _Paired.of(candidate, reference)
    policy = GatePolicy(resamples=100, seed=11)
    deltas = _bootstrap(paired, (0.55, 0.45), policy)
    draws = np.random.default_rng(11)
    real, fake = np.flatnonzero(paired.labels == 0), np.flatnonzero(paired.labels == 1)
    w_real = draws.multinomial(real.size, np.full(real.size, 1 / real.size), size=100)
    w_fake = draws.multinomial(fake.size, np.full(fake.size, 1 / fake.size), size=100)
    for b in (0, 57, 99):
        rows = np.concatenate([np.repeat(real, w_real[b]), np.repeat(fake, w_fake[b])])
        y = paired.labels[rows]
        mine = gate_metrics(y, paired.candidate[rows], 0.55)
        theirs = gate_metrics(y, paired.reference[rows], 0.45)
        for name in ("tpr", "fpr", "auc", "ece"):
            assert deltas[name][b] == pytest.approx(getattr(mine, name) - getattr(theirs, name)), name


def sliced(
    caught: dict[str, int], sizes: dict[str, int], flagged: dict[str, int] | None = None
) -> ModelScores:
    """Gate scores with slices: ``fake/<kind>/`` files (the first ``caught`` of each score 0.8, the rest
    0.4) and ``real/<source>/`` files (the first ``flagged`` 0.6, the rest 0.2), 400 reals a source."""
    flagged = flagged or {}
    files: list[str] = []
    labels: list[int] = []
    values: list[float | None] = []
    for source in ("web", "studio"):
        for i in range(400 if source == "web" else 60):
            files.append(f"real/{source}/r{i:03d}.jpg")
            labels.append(0)
            values.append(0.6 if i < flagged.get(source, 0) else 0.2)
    for kind, n in sizes.items():
        for i in range(n):
            files.append(f"fake/{kind}/f{i:03d}.jpg")
            labels.append(1)
            values.append(0.8 if i < caught[kind] else 0.4)
    return ModelScores("stub", 0.5, 0.05, tuple(files), tuple(labels), tuple(values))


SIZES = {"dfdc": 400, "flux": 60, "tiny": 20}


def test_a_candidate_that_trades_a_kind_of_fake_for_the_largest_slice_is_rejected() -> None:
    """Pooled, both catch 264 of 480 fakes with the same AUC; but today's generator (flux) drops
    from 50 of 60 to 10 of 60, paid for by 40 more of the largest slice."""
    reference = sliced({"dfdc": 200, "flux": 50, "tiny": 14}, SIZES)
    candidate = sliced({"dfdc": 240, "flux": 10, "tiny": 14}, SIZES)
    assert candidate.metrics().tpr == reference.metrics().tpr
    decision = decide(candidate, live(reference), POLICY)
    assert not decision.promote
    slice_reasons = [r for r in decision.reasons if r.startswith("slice ")]
    assert len(slice_reasons) == 1
    assert slice_reasons[0].startswith("slice fake/flux (60 files), fakes caught 0.1667 vs 0.8333")
    [comparison] = decision.comparisons
    flux = next(s for s in comparison.slices if s.name == "fake/flux")
    assert flux.judged and not flux.passed and flux.delta.high < -POLICY.slice_margin
    assert "fake/flux" in render_summary("2", decision) and "FAILED" in render_summary("2", decision)


def test_an_equal_candidate_passes_every_slice_and_a_small_slice_is_not_judged() -> None:
    reference = sliced({"dfdc": 200, "flux": 50, "tiny": 14}, SIZES)
    decision = decide(sliced({"dfdc": 200, "flux": 50, "tiny": 14}, SIZES), live(reference), POLICY)
    assert decision.promote, decision.reasons
    [comparison] = decision.comparisons
    assert {s.name for s in comparison.slices} == {
        "real/web",
        "real/studio",
        "fake/dfdc",
        "fake/flux",
        "fake/tiny",
    }
    assert all((s.delta.low, s.delta.high) == (0.0, 0.0) for s in comparison.slices)
    # A slice below min_per_slice is reported, never judged: 20 files cannot show a loss.
    worse_tiny = decide(sliced({"dfdc": 200, "flux": 50, "tiny": 0}, SIZES), live(reference), POLICY)
    tiny = next(s for s in worse_tiny.comparisons[0].slices if s.name == "fake/tiny")
    assert not tiny.judged and tiny.passed and tiny.candidate == 0.0


def test_a_slice_of_real_files_called_fake_more_often_is_named() -> None:
    reference = sliced({"dfdc": 200, "flux": 50, "tiny": 14}, SIZES)
    candidate = sliced({"dfdc": 200, "flux": 50, "tiny": 14}, SIZES, flagged={"studio": 20})
    decision = decide(candidate, live(reference), POLICY)
    assert not decision.promote
    assert any(
        r.startswith("slice real/studio (60 files), real files called fake 0.3333 vs 0.0000")
        for r in decision.reasons
    )
