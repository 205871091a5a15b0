"""Gate scores made to order and a stub evaluator, for the registry's gate, promotion and trigger."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.registry.gate import GatePolicy, ModelScores

N_PER_CLASS = 50


def scores(
    *,
    caught: int = 45,
    flagged: int = 1,
    n: int = N_PER_CLASS,
    threshold: float = 0.5,
    version: str = "stub",
    real: Sequence[float | None] | None = None,
    fake: Sequence[float | None] | None = None,
) -> ModelScores:
    """A model's gate scores: the first ``caught`` fakes score 0.8 (missed ones 0.4), the first
    ``flagged`` reals 0.6 (the others 0.2), so models built with nested counts differ only on those
    files; or ``real``/``fake`` given outright."""
    caught, flagged = min(caught, n), min(flagged, n)
    real = list(real) if real is not None else [0.6] * flagged + [0.2] * (n - flagged)
    fake = list(fake) if fake is not None else [0.8] * caught + [0.4] * (n - caught)
    files = tuple(f"real/r{i:03d}.jpg" for i in range(len(real))) + tuple(
        f"fake/f{i:03d}.jpg" for i in range(len(fake))
    )
    return ModelScores(
        version=version,
        threshold=threshold,
        max_fpr=0.05,
        files=files,
        labels=(0,) * len(real) + (1,) * len(fake),
        scores=(*real, *fake),
    )


class StubEvaluator:
    """Per-file gate scores looked up by the model file's sha256; records what it evaluated."""

    def __init__(self) -> None:
        self.by_sha: dict[str, ModelScores] = {}
        self.evaluated: list[str] = []

    def set(self, onnx_path: Path, model: ModelScores) -> None:
        self.by_sha[file_sha256(onnx_path)] = model

    def evaluate(self, onnx_path: Path) -> ModelScores:
        sha = file_sha256(onnx_path)
        self.evaluated.append(sha)
        return self.by_sha[sha]

    def info(self) -> dict[str, Any]:
        return {"real_used": N_PER_CLASS, "fake_used": N_PER_CLASS}


# Small sets, quick bootstraps: the margins the unit tests reason about.
POLICY = GatePolicy(min_per_class=20, resamples=1000)
