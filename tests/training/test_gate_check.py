"""The gate can tell (issue 21, item 9): on a gate set sized to its margins, a reproduction of the
training recipe passes and a deliberately worse model (one epoch) fails.

Training either model takes an hour of CPU, so the gate is replayed on the per-file scores that
``python -m training.gate_check --record`` measured through the service pipeline
(``recorded/gate_check.json``, its command inside). The replay uses the deployment's policy as it
is now (``Settings().training.gate``), so a change of margins, bootstrap or sizes that would stop
the gate from promoting an equal model, or from rejecting a worse one, fails here. Two checks tie
the recording to what ships: it names the shipped model's sha256, and a sample of its gate files
scored again by the shipped model gives the recorded scores.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.core.constants import CLASSIFIER_FILE
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.registry.base import Decision
from deepfake_detect.registry.evaluate import GateSet, PipelineEvaluator
from deepfake_detect.registry.gate import ModelScores, Reference, decide
from deepfake_detect.settings import Settings
from training.gate_check import allocate

RECORDING = Path(__file__).parent / "recorded" / "gate_check.json"
RERECORD = "re-record it with the command in recorded/gate_check.json (python -m training.gate_check)"


@cache
def recording() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDING.read_text())
    return data


def scores(name: str) -> ModelScores:
    data = recording()
    model = data["models"][name]
    return ModelScores(
        version=model["version"],
        threshold=model["threshold"],
        max_fpr=model["max_fpr"],
        files=tuple(data["files"]),
        labels=tuple(data["labels"]),
        scores=tuple(model["scores"]),
    )


def gate(name: str) -> Decision:
    reference = scores("reference")
    return decide(
        scores(name), [Reference("live", reference.version, reference)], Settings().training.gate.policy()
    )


def test_a_reproduction_of_the_shipped_recipe_is_promoted() -> None:
    """``make train``'s output against the shipped model. Training is deterministic here, so a
    reproduction is the same file: a gate that cannot promote it cannot promote an equal model."""
    decision = gate("reproduction")
    assert decision.promote, decision.reasons


def test_an_equal_but_different_model_is_promoted() -> None:
    """The previous shipped model (2026.12.07-1850: the same recipe, trained on crops warped from
    the full decode): level with the shipped model on validation, with its own threshold. Not by
    luck: the set is large enough that the intervals of its differences fit inside the margins."""
    decision = gate("previous")
    assert decision.promote, decision.reasons
    policy = Settings().training.gate.policy()
    (comparison,) = decision.comparisons
    assert comparison.tpr is not None and comparison.auc is not None
    assert comparison.tpr.low != comparison.tpr.high  # it differs from the shipped model on some files
    assert (comparison.tpr.high - comparison.tpr.low) / 2 < policy.tpr_margin
    assert (comparison.auc.high - comparison.auc.low) / 2 < policy.auc_margin


@pytest.mark.xfail(
    strict=True,
    reason="known defect (issue 21): the scheduled retraining runs training.train without "
    "training.harden; against the hardened model its pooled TPR interval [-0.022, -0.004] "
    "reaches 0.002 past the margin, so the gate rejects it. Passes once the schedule hardens too.",
)
def test_the_scheduled_recipe_is_promoted() -> None:
    """What the scheduled retraining trains (``training.train``, no hardening) should not be
    held back by the gate when it is as good as the shipped model."""
    decision = gate("base_recipe")
    assert decision.promote, decision.reasons


def test_a_one_epoch_model_is_rejected() -> None:
    decision = gate("one_epoch")
    assert not decision.promote
    assert decision.reasons


def test_the_previous_generation_is_rejected_for_the_kind_of_fake_it_misses() -> None:
    """v2 catches more fakes pooled (DFDC is most of the set) but few of today's generated faces:
    the slice rule, not the pooled rates, is what has to catch it."""
    decision = gate("v2")
    assert not decision.promote
    assert any(r.startswith("slice fake/modern_generated") for r in decision.reasons), decision.reasons
    (comparison,) = decision.comparisons
    assert comparison.tpr is not None and comparison.tpr.low > 0  # pooled, it looks better


def test_the_gate_set_is_sized_to_the_margins_with_a_slice_of_every_kind() -> None:
    data = recording()
    labels = data["labels"]
    assert labels.count(0) >= 1000 and labels.count(1) >= 1000
    slices = {"/".join(name.split("/")[:2]) for name in data["files"]}
    for kind in ("fake/modern_generated", "fake/modern_swapped", "fake/sdfd", "fake/dfdc", "fake/hardfake"):
        assert kind in slices
    for source in ("real/london", "real/web_photos", "real/deepface", "real/utkface", "real/dfdc"):
        assert source in slices


def test_the_recording_is_of_the_shipped_model() -> None:
    shipped = Settings().models_dir / CLASSIFIER_FILE
    assert recording()["models"]["reference"]["sha256"] == file_sha256(shipped), (
        f"the shipped classifier changed since the gate check was recorded: {RERECORD}"
    )


def test_the_recorded_scores_are_the_shipped_models(shared_dir: Path, tmp_path: Path) -> None:
    data = recording()
    every = 97  # a spread sample of both classes and every slice, about 20 files
    picked = list(range(0, len(data["files"]), every))
    for i in picked:
        link = tmp_path / data["files"][i]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared_dir / "data" / data["data_paths"][i])
    gate_set = GateSet.from_folder(tmp_path)
    again = PipelineEvaluator(Settings().pipeline(), gate_set).evaluate(
        Settings().models_dir / CLASSIFIER_FILE
    )
    recorded = dict(zip(data["files"], data["models"]["reference"]["scores"], strict=True))
    for name, score in zip(again.files, again.scores, strict=True):
        if recorded[name] is None or score is None:
            assert recorded[name] is score, f"{name}: recorded {recorded[name]}, now {score}"
        else:
            assert score == pytest.approx(recorded[name], abs=1e-4), f"{name}: {RERECORD}"


@pytest.mark.parametrize(
    ("sizes", "total", "expected"),
    [
        ({"small": 30, "mid": 300, "big": 5000}, 1000, {"small": 30, "mid": 300, "big": 670}),
        ({"a": 900, "b": 900}, 1000, {"a": 500, "b": 500}),
        ({"a": 10, "b": 20}, 1000, {"a": 10, "b": 20}),
    ],
)
def test_small_slices_are_kept_whole_and_the_large_ones_fill_the_rest(
    sizes: dict[str, int], total: int, expected: dict[str, int]
) -> None:
    assert allocate(sizes, total) == expected
