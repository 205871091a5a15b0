"""Scores -> numbers: ROC AUC, ROC curve, ECE, rates at a threshold, temperature and threshold fits."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from deepfake_detect.core.metrics import roc_auc

__all__ = ["roc_auc"]  # the one ROC AUC, shared with the registry's gate


def _arrays(labels: ArrayLike, scores: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels for {s.size} scores")
    return y, s


def roc_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """False and true positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    y, s = _arrays(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / max(int(y.sum()), 1)]
    fpr = np.r_[0.0, fps / max(int((1 - y).sum()), 1)]
    return fpr, tpr


def expected_calibration_error(labels: ArrayLike, probabilities: ArrayLike, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by bin size."""
    y, p = _arrays(labels, probabilities)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(float(y[members].mean()) - float(p[members].mean()))
    return float(error)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95 % Wilson score interval of a rate: sensible for small n and rates near 0 or 1."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def bootstrap_auc_interval(
    labels: ArrayLike, scores: ArrayLike, rounds: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """95 % percentile bootstrap interval of the ROC AUC (resampling reals and fakes separately)."""
    y, s = _arrays(labels, scores)
    real, fake = s[y == 0], s[y == 1]
    if real.size == 0 or fake.size == 0:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        r = rng.choice(real, real.size)
        f = rng.choice(fake, fake.size)
        auc = roc_auc(np.r_[np.zeros(r.size), np.ones(f.size)], np.r_[r, f])
        if auc is not None:
            values.append(auc)
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def rates(labels: ArrayLike, probabilities: ArrayLike, threshold: float) -> dict[str, Any]:
    """Accuracy, false positive rate (reals called fake) and true positive rate at ``threshold``,
    each rate with its 95 % Wilson interval."""
    y, p = _arrays(labels, probabilities)
    called = p >= threshold
    out: dict[str, Any] = {
        "n": int(y.size),
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "accuracy": float((called == (y == 1)).mean()) if y.size else None,
    }
    out["fpr"] = float(called[y == 0].mean()) if (y == 0).any() else None
    out["fpr_95ci"] = wilson_interval(int(called[y == 0].sum()), int((y == 0).sum()))
    out["tpr"] = float(called[y == 1].mean()) if (y == 1).any() else None
    out["tpr_95ci"] = wilson_interval(int(called[y == 1].sum()), int((y == 1).sum()))
    return out


def sigmoid(x: ArrayLike) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def nll(labels: ArrayLike, logits: ArrayLike, temperature: float = 1.0) -> float:
    """Mean binary cross-entropy of ``sigmoid(logit / T)``."""
    y, z = _arrays(labels, logits)
    z = z / temperature
    # log(1 + e^z) - y z, computed stably
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(labels: ArrayLike, logits: ArrayLike) -> float:
    """The temperature minimising the NLL of ``sigmoid(logit / T)`` (Guo et al., ICML 2017)."""
    import torch  # only the fit needs it: evaluation and the gate stay torch-free

    y, z = _arrays(labels, logits)
    target = torch.tensor(y, dtype=torch.float64)
    x = torch.tensor(z, dtype=torch.float64)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x / log_t.exp(), target)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))


def threshold_for_fpr(real_probabilities: ArrayLike, max_fpr: float) -> float:
    """The lowest threshold that calls at most ``max_fpr`` of the real faces fake (score >= t)."""
    p = np.sort(np.asarray(real_probabilities, dtype=np.float64).ravel())
    if p.size == 0:
        raise ValueError("no real faces to set the threshold on")
    allowed = int(np.floor(max_fpr * p.size))  # reals that may score at or above the threshold
    if allowed == 0:
        return float(np.nextafter(p[-1], np.inf))
    candidate = float(np.nextafter(p[p.size - allowed - 1], np.inf))
    return candidate
