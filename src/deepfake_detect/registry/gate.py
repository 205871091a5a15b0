"""The gate: is a candidate model sound, and can it be shown not to be worse than the model it
replaces and than the best model ever promoted?

Soundness comes first and is cheap: the card parses, the file is the one the card names (sha256),
ONNX Runtime loads it, its one input is a float NCHW image of the card's size, and a batch of two
gives the outputs the card names in the shapes the service reads. Only then is every model scored
on the gate set through the service's own pipeline (``evaluate.PipelineEvaluator``) and compared
by ``decide``.

The operating point. The product calls a file ``fake`` when its score reaches the model card's
``threshold`` (``core.model_card.is_fake``), so the gate measures each model *at its own card
threshold* and compares both rates there: the true positive rate (fakes caught) and the false
positive rate (real files flagged). Re-choosing a threshold on the gate's real files at the card's
``max_fpr`` would measure a detector nobody runs: a candidate whose card threshold is badly placed
would pass on a threshold the service never uses. The card's ``max_fpr`` (``training.max_fpr``, or
the policy's ``max_fpr`` when a card lacks it) is reported beside the measured FPR.

Non-inferiority on a paired bootstrap. Both models score the same files, so the comparison is
paired by file: ``resamples`` stratified resamples (real and fake files drawn separately, with
replacement, from the files both models scored), one RNG with a fixed ``seed`` (the same scores
always give the same decision), and for each resample the difference candidate - reference of
TPR, FPR, AUC and ECE. The candidate is rejected when the interval's lower bound of the TPR
difference is below ``-tpr_margin``, its upper bound of the FPR difference above ``fpr_margin``,
or its lower bound of the AUC difference below ``-auc_margin``. ECE (10 equal-width bins) is
judged on its point estimate (``ece_margin``): a bootstrap of a binned statistic is biased upward
on small sets. A candidate that merely matches its reference passes (the interval of identical
scores is [0, 0]); a candidate that differs on a few files only passes if the gate set is large
enough to show the difference is not a loss.

No kind of fake given up. Pooled rates are dominated by the largest part of the gate set, so a
candidate could trade one kind of fake for more of another and stay level. A sub-folder of
``fake/`` or ``real/`` is a slice; in each slice of at least ``min_per_slice`` paired files the rate
at the card thresholds is bootstrapped the same paired way, and the candidate is rejected when the
slice's whole interval lies beyond ``slice_margin`` (a small slice can only show a clear loss, never
non-inferiority, so that is all it is asked to show).

No slow drift. The same comparison is made against the live model and against the best model ever
promoted (``promote.best_promoted``, re-evaluated on today's gate set), so a chain of candidates
each slightly worse than the last cannot walk the service down: every promotion is within one
margin of the best model the registry has served.
"""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from pydantic import ValidationError

from deepfake_detect.core.constants import CARD_FILE, CLASSIFIER_FILE
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.metrics import roc_auc
from deepfake_detect.core.model_card import ModelCard, is_fake
from deepfake_detect.registry.base import Comparison, Decision, Delta, GateMetrics, SliceDelta

# Re-exported: the tests import the policy beside the rule that applies it.
from deepfake_detect.registry.policy import GatePolicy as GatePolicy

ECE_BINS = 10


class ArtifactError(ValueError):
    """The candidate cannot be served: missing, corrupt, or not shaped like the service expects."""


def unpack_artifact(archive: Path, directory: Path) -> Path:
    """Extract a SageMaker ``model.tar.gz``; returns the .onnx path (its card beside it)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            # The "data" filter refuses absolute paths, links out of the folder and device files.
            tar.extractall(directory, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"the model artifact is not a readable tar archive: {exc}") from exc
    return find_model(directory)


def find_model(directory: Path) -> Path:
    """The classifier in a training output folder: the shipped name, else the only .onnx with a card."""
    named = directory / CLASSIFIER_FILE
    if named.is_file():
        candidates = [named]
    else:
        candidates = [p for p in sorted(directory.rglob("*.onnx")) if p.with_suffix(".json").is_file()]
    if len(candidates) != 1:
        raise ArtifactError(
            f"expected one .onnx model with its .json card in the artifact, found {len(candidates)}"
        )
    if not candidates[0].with_suffix(".json").is_file():
        raise ArtifactError(f"the artifact has {CLASSIFIER_FILE} but no {CARD_FILE}")
    return candidates[0]


def validate_artifact(onnx_path: Path) -> ModelCard:
    """Check that the model can replace the current one; returns its card or raises ArtifactError."""
    try:
        card = ModelCard.load(onnx_path.with_suffix(".json"))
    except (OSError, ValidationError, ValueError) as exc:
        raise ArtifactError(f"the model card is missing or invalid: {exc}") from exc
    if card.sha256 and card.sha256 != file_sha256(onnx_path):
        raise ArtifactError("the .onnx file is not the one its model card names (sha256 differs)")
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for every kind of bad file
        raise ArtifactError(f"ONNX Runtime cannot load the model: {exc}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ArtifactError(f"the model has {len(inputs)} inputs; the service feeds one image batch")
    size = card.preprocessing.input_size
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 4:
        raise ArtifactError(f"the input is {inputs[0].type} {shape}; expected a float NCHW batch")
    for axis, expected in ((1, 3), (2, size), (3, size)):
        if isinstance(shape[axis], int) and shape[axis] != expected:
            raise ArtifactError(f"the input is {shape}; the card says [N, 3, {size}, {size}]")
    names = {o.name for o in session.get_outputs()}
    wanted = [card.outputs.logit] + ([card.outputs.cam] if card.outputs.cam else [])
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ArtifactError(f"the model has no output {missing}; its card names {wanted}")
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 2
    try:
        outputs = session.run(wanted, {inputs[0].name: np.zeros((batch, 3, size, size), np.float32)})
    except Exception as exc:
        raise ArtifactError(f"the model fails on a batch of {batch} crops: {exc}") from exc
    logits = np.asarray(outputs[0])
    if logits.size != batch or not np.all(np.isfinite(logits)):
        raise ArtifactError(
            f"the logit output has shape {logits.shape} for a batch of {batch}; "
            "expected one finite logit per crop"
        )
    if card.outputs.cam:
        cam = np.asarray(outputs[1])
        if cam.ndim not in (3, 4) or cam.shape[0] != batch:
            raise ArtifactError(f"the CAM output has shape {cam.shape}; expected one map per crop")
    return card


# ---------------------------------------------------------------- scores and policy
@dataclass(frozen=True)
class ModelScores:
    """One model's score for every gate file, paired with other models by ``files`` (the file's
    path inside the gate set). A score of None: no face found, or the file could not be read."""

    version: str
    threshold: float
    max_fpr: float | None
    files: tuple[str, ...]
    labels: tuple[int, ...]
    scores: tuple[float | None, ...]

    def __post_init__(self) -> None:
        if not len(self.files) == len(self.labels) == len(self.scores):
            raise ValueError("one label and one score per gate file")

    def scored(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        pairs = [(y, s) for y, s in zip(self.labels, self.scores, strict=True) if s is not None]
        return (
            np.array([y for y, _ in pairs], dtype=np.int64),
            np.array([s for _, s in pairs], dtype=np.float64),
        )

    def metrics(self, default_max_fpr: float | None = None) -> GateMetrics:
        labels, scores = self.scored()
        return gate_metrics(
            labels,
            scores,
            self.threshold,
            skipped=len(self.files) - len(labels),
            max_fpr=self.max_fpr if self.max_fpr is not None else default_max_fpr,
        )


@dataclass(frozen=True)
class Reference:
    """A model the candidate must not be worse than: ``live`` (the pointer's) or ``best``."""

    role: str
    version: str
    scores: ModelScores


# ---------------------------------------------------------------- metrics
def expected_calibration_error(labels: NDArray[np.int64], scores: NDArray[np.float64]) -> float | None:
    """ECE over ``ECE_BINS`` equal-width score bins: sum over bins of |fakes - summed scores| / N."""
    if labels.size == 0:
        return None
    bins = np.clip((scores * ECE_BINS).astype(np.int64), 0, ECE_BINS - 1)
    gaps = np.bincount(bins, weights=labels - scores, minlength=ECE_BINS)
    return float(np.abs(gaps).sum() / labels.size)


def gate_metrics(
    labels: Sequence[int] | NDArray[np.int64],
    scores: Sequence[float] | NDArray[np.float64],
    threshold: float,
    skipped: int = 0,
    max_fpr: float | None = None,
) -> GateMetrics:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s: NDArray[np.float64] = np.asarray(scores, dtype=np.float64).ravel()
    called = is_fake(s, threshold)  # the product's rule, at the card's own threshold
    real, fake = y == 0, y == 1
    return GateMetrics(
        auc=roc_auc(y, s),
        fpr=float(called[real].mean()) if real.any() else None,
        tpr=float(called[fake].mean()) if fake.any() else None,
        ece=expected_calibration_error(y, s),
        threshold=threshold,
        max_fpr=max_fpr,
        n_real=int(real.sum()),
        n_fake=int(fake.sum()),
        n_skipped=skipped,
    )


def slice_of(name: str) -> str | None:
    """A gate file's slice: the folder under ``real/`` or ``fake/`` it lies in (``fake/flux/a.png``
    is in ``fake/flux``); a file directly in ``real/`` or ``fake/`` is in none."""
    parts = name.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else None


@dataclass(frozen=True)
class _Paired:
    """The files both models scored, reals first: labels, the two models' scores, each file's slice."""

    labels: NDArray[np.int64]
    candidate: NDArray[np.float64]
    reference: NDArray[np.float64]
    slices: tuple[str | None, ...] = ()

    @classmethod
    def of(cls, candidate: ModelScores, reference: ModelScores) -> _Paired:
        theirs = dict(zip(reference.files, reference.scores, strict=True))
        rows = sorted(
            (label, mine, theirs[name], name)
            for name, label, mine in zip(candidate.files, candidate.labels, candidate.scores, strict=True)
            if mine is not None and theirs.get(name) is not None
        )
        array = np.array([row[:3] for row in rows], dtype=np.float64).reshape(-1, 3)
        slices = tuple(slice_of(row[3]) for row in rows)
        return cls(array[:, 0].astype(np.int64), array[:, 1], array[:, 2], slices)

    def count(self, label: int) -> int:
        return int((self.labels == label).sum())


def _bootstrap(
    paired: _Paired, thresholds: tuple[float, float], policy: GatePolicy
) -> dict[str, NDArray[np.float64]]:
    """Per resample, candidate - reference of tpr, fpr, auc, ece (stratified, paired resamples).

    A resample is a vector of multiplicities (how often each file was drawn), so every statistic is
    a weighted sum: the AUC of a resample is ``c_fake @ W @ c_real / (n_fake * n_real)`` with W the
    fake-beats-real matrix (ties half), the ECE a sum of per-bin weighted gaps."""
    rng = np.random.default_rng(policy.seed)
    real, fake = paired.labels == 0, paired.labels == 1
    n_real, n_fake = int(real.sum()), int(fake.sum())
    weights_real = rng.multinomial(n_real, np.full(n_real, 1.0 / n_real), size=policy.resamples)
    weights_fake = rng.multinomial(n_fake, np.full(n_fake, 1.0 / n_fake), size=policy.resamples)
    weights = np.concatenate([weights_real, weights_fake], axis=1).astype(np.float64)
    y = paired.labels.astype(np.float64)

    def per_resample(scores: NDArray[np.float64], threshold: float) -> dict[str, NDArray[np.float64]]:
        called = is_fake(scores, threshold).astype(np.float64)
        wins = (scores[fake][:, None] > scores[real][None, :]) + 0.5 * (
            scores[fake][:, None] == scores[real][None, :]
        )
        bins = np.clip((scores * ECE_BINS).astype(np.int64), 0, ECE_BINS - 1)
        gaps = np.zeros((scores.size, ECE_BINS))
        gaps[np.arange(scores.size), bins] = y - scores
        return {
            "tpr": weights_fake @ called[fake] / n_fake,
            "fpr": weights_real @ called[real] / n_real,
            "auc": np.einsum("bf,fr,br->b", weights_fake, wins, weights_real) / (n_fake * n_real),
            "ece": np.abs(weights @ gaps).sum(axis=1) / scores.size,
        }

    mine = per_resample(paired.candidate, thresholds[0])
    theirs = per_resample(paired.reference, thresholds[1])
    return {name: mine[name] - theirs[name] for name in mine}


def _slice_deltas(paired: _Paired, thresholds: tuple[float, float], policy: GatePolicy) -> list[SliceDelta]:
    """Each slice's rate difference at the card thresholds, with a paired bootstrap inside it.

    The pooled rule asks the candidate to be shown not worse; a slice of a few dozen files cannot
    show that, so a slice only rejects when it is shown clearly worse: its whole interval lies
    beyond ``slice_margin``. That is what stops a candidate from trading today's generators for
    more of the largest slice while the pooled rates stay level."""
    called = is_fake(paired.candidate, thresholds[0]).astype(np.float64)
    before = is_fake(paired.reference, thresholds[1]).astype(np.float64)
    rng = np.random.default_rng(policy.seed)
    tail = (1.0 - policy.confidence) / 2.0 * 100.0
    names = np.array([s or "" for s in paired.slices])
    out = []
    for name in sorted({s for s in paired.slices if s is not None}):
        rows = np.flatnonzero(names == name)
        n = rows.size
        diff = called[rows] - before[rows]
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=policy.resamples)
        low, high = np.percentile(weights @ diff / n, [tail, 100.0 - tail])
        fake = bool(paired.labels[rows[0]] == 1)
        judged = n >= policy.min_per_slice
        worse = high < -policy.slice_margin if fake else low > policy.slice_margin
        out.append(
            SliceDelta(
                name=name,
                metric="tpr" if fake else "fpr",
                n=n,
                candidate=round(float(called[rows].mean()), 6),
                reference=round(float(before[rows].mean()), 6),
                delta=Delta(
                    point=round(float(diff.mean()), 6), low=round(float(low), 6), high=round(float(high), 6)
                ),
                judged=judged,
                passed=not (judged and worse),
            )
        )
    return out


def compare(candidate: ModelScores, reference: Reference, policy: GatePolicy) -> Comparison:
    """The candidate against one reference on the files both scored; ``passed`` is non-inferiority."""
    paired = _Paired.of(candidate, reference.scores)
    ours = gate_metrics(
        paired.labels,
        paired.candidate,
        candidate.threshold,
        skipped=len(candidate.files) - paired.labels.size,
        max_fpr=candidate.max_fpr if candidate.max_fpr is not None else policy.max_fpr,
    )
    theirs = gate_metrics(
        paired.labels,
        paired.reference,
        reference.scores.threshold,
        skipped=len(reference.scores.files) - paired.labels.size,
        max_fpr=reference.scores.max_fpr if reference.scores.max_fpr is not None else policy.max_fpr,
    )
    name = f"the {reference.role} model {reference.version}"
    n_real, n_fake = paired.count(0), paired.count(1)
    if min(n_real, n_fake) < policy.min_per_class:
        return Comparison(
            role=reference.role,
            version=reference.version,
            candidate=ours,
            reference=theirs,
            passed=False,
            reasons=[
                f"only {n_real} real and {n_fake} fake gate files are scored by both the candidate "
                f"and {name}; the gate needs at least {policy.min_per_class} of each"
            ],
        )
    resampled = _bootstrap(paired, (candidate.threshold, reference.scores.threshold), policy)
    tail = (1.0 - policy.confidence) / 2.0 * 100.0
    deltas: dict[str, Delta] = {}
    for metric, values in resampled.items():
        point = getattr(ours, metric) - getattr(theirs, metric)
        low, high = np.percentile(values, [tail, 100.0 - tail])
        deltas[metric] = Delta(point=round(point, 6), low=round(float(low), 6), high=round(float(high), 6))
    level = f"{policy.confidence:.0%} CI"
    reasons = []
    tpr, fpr, auc, ece = deltas["tpr"], deltas["fpr"], deltas["auc"], deltas["ece"]
    if tpr.low < -policy.tpr_margin:
        reasons.append(
            f"TPR at the card threshold {ours.tpr:.4f} vs {theirs.tpr:.4f} for {name}: the difference's "
            f"{level} [{tpr.low:+.4f}, {tpr.high:+.4f}] reaches below -{policy.tpr_margin}"
        )
    if fpr.high > policy.fpr_margin:
        reasons.append(
            f"false positive rate at the card threshold {ours.fpr:.4f} vs {theirs.fpr:.4f} for {name}: "
            f"the difference's {level} [{fpr.low:+.4f}, {fpr.high:+.4f}] reaches above +{policy.fpr_margin}"
        )
    if auc.low < -policy.auc_margin:
        reasons.append(
            f"AUC {ours.auc:.4f} vs {theirs.auc:.4f} for {name}: the difference's {level} "
            f"[{auc.low:+.4f}, {auc.high:+.4f}] reaches below -{policy.auc_margin}"
        )
    if ece.point > policy.ece_margin:
        reasons.append(
            f"calibration error (ECE) {ours.ece:.4f} vs {theirs.ece:.4f} for {name}: "
            f"{ece.point:+.4f} is more than +{policy.ece_margin}"
        )
    slices = _slice_deltas(paired, (candidate.threshold, reference.scores.threshold), policy)
    for sl in slices:
        if not sl.passed:
            what = "fakes caught" if sl.metric == "tpr" else "real files called fake"
            bound = f"below -{policy.slice_margin}" if sl.metric == "tpr" else f"above +{policy.slice_margin}"
            reasons.append(
                f"slice {sl.name} ({sl.n} files), {what} {sl.candidate:.4f} vs {sl.reference:.4f} "
                f"for {name}: the difference's {level} [{sl.delta.low:+.4f}, {sl.delta.high:+.4f}] "
                f"lies wholly {bound}"
            )
    return Comparison(
        role=reference.role,
        version=reference.version,
        candidate=ours,
        reference=theirs,
        tpr=tpr,
        fpr=fpr,
        auc=auc,
        ece=ece,
        slices=slices,
        passed=not reasons,
        reasons=reasons,
    )


def decide(candidate: ModelScores, references: Sequence[Reference], policy: GatePolicy) -> Decision:
    """Promote only if the candidate is measurable on enough files of each class and not worse than
    every reference (the live model, and the best model ever promoted when that is another one)."""
    mine = candidate.metrics(policy.max_fpr)
    live = next((r for r in references if r.role == "live"), None)
    best = next((r for r in references if r.role == "best"), None)

    def decision(promote: bool, reasons: list[str], comparisons: list[Comparison] | None = None) -> Decision:
        return Decision(
            promote=promote,
            reasons=reasons,
            candidate=mine,
            current=live.scores.metrics(policy.max_fpr) if live else None,
            current_version=live.version if live else None,
            best_version=best.version if best else None,
            comparisons=comparisons or [],
            policy=policy.as_dict(),
        )

    if mine.n_real < policy.min_per_class or mine.n_fake < policy.min_per_class:
        return decision(
            False,
            [
                f"the gate set has {mine.n_real} scored real and {mine.n_fake} scored fake files "
                f"({mine.n_skipped} without a face or unreadable); the gate needs at least "
                f"{policy.min_per_class} of each to compare models"
            ],
        )
    if mine.auc is None or mine.tpr is None or mine.fpr is None:
        return decision(False, ["the candidate cannot be measured on the gate set"])
    if not references:
        return decision(True, ["no current model: the first sound, measurable candidate is promoted"])
    comparisons = [compare(candidate, reference, policy) for reference in references]
    failed = [reason for c in comparisons for reason in c.reasons]
    if failed:
        return decision(False, failed, comparisons)
    summary = "; ".join(_passed_line(c) for c in comparisons)
    return decision(True, [f"not worse than {summary}"], comparisons)


def _passed_line(c: Comparison) -> str:
    def show(name: str, delta: Delta | None) -> str:
        return (
            f"{name} -"
            if delta is None
            else f"{name} {delta.point:+.4f} [{delta.low:+.4f}, {delta.high:+.4f}]"
        )

    return f"{c.role} {c.version}: " + ", ".join(
        show(name, getattr(c, name.lower())) for name in ("TPR", "FPR", "AUC", "ECE")
    )


# ---------------------------------------------------------------- the report
def _rates(m: GateMetrics) -> str:
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    budget = "" if m.max_fpr is None else f" (max FPR {m.max_fpr:g})"
    return (
        f"TPR {num(m.tpr)}  FPR {num(m.fpr)}{budget}  AUC {num(m.auc)}  ECE {num(m.ece)}  "
        f"threshold {m.threshold:.4f}  [{m.n_real} real, {m.n_fake} fake, {m.n_skipped} unscored]"
    )


def render_summary(version: str, decision: Decision, gate_info: dict[str, Any] | None = None) -> str:
    """The human-readable gate report (what ``deepfake-detect retrain status`` prints)."""
    verdict = "PROMOTE" if decision.promote else "REJECT"
    lines = [f"gate report for candidate {version}: {verdict}"]
    if gate_info:
        lines.append("gate set: " + ", ".join(f"{k} {v}" for k, v in gate_info.items()))
    policy = decision.policy
    if policy:
        lines.append(
            f"rule: paired bootstrap ({policy['resamples']} resamples, seed {policy['seed']}, "
            f"{policy['confidence']:.0%} CI) of candidate - reference at each card threshold; "
            f"TPR low >= -{policy['tpr_margin']}, FPR high <= +{policy['fpr_margin']}, "
            f"AUC low >= -{policy['auc_margin']}, ECE <= +{policy['ece_margin']}; "
            f">= {policy['min_per_class']} scored files per class; no slice of >= "
            f"{policy.get('min_per_slice', '-')} files wholly beyond {policy.get('slice_margin', '-')}"
        )
    if decision.candidate is not None:
        lines.append(f"  candidate {version}: {_rates(decision.candidate)}")
    for c in decision.comparisons:
        lines.append(f"  vs {c.role} {c.version}: {_rates(c.reference)}")
        for metric in ("tpr", "fpr", "auc", "ece"):
            delta: Delta | None = getattr(c, metric)
            if delta is not None:
                lines.append(
                    f"      {metric.upper():<3} difference {delta.point:+.4f}  "
                    f"CI [{delta.low:+.4f}, {delta.high:+.4f}]"
                )
        for sl in c.slices:
            mark = "" if sl.judged else " (too small to judge)"
            lines.append(
                f"      {sl.name:<28} {sl.metric.upper()} {sl.candidate:.4f} vs {sl.reference:.4f}  "
                f"CI [{sl.delta.low:+.4f}, {sl.delta.high:+.4f}]  n {sl.n}{mark}"
                + ("" if sl.passed else "  FAILED")
            )
        lines.append(f"      {'passed' if c.passed else 'FAILED'}")
    lines.append("reasons:")
    lines += [f"  - {reason}" for reason in decision.reasons]
    return "\n".join(lines) + "\n"
