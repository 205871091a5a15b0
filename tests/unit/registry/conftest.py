"""In-memory stand-ins for the registry's collaborators (no sockets, no models trained)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deepfake_detect.core.model_card import file_sha256
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.registry.base import GateMetrics


class StubEvaluator:
    """Gate metrics looked up by the model file's sha256; records what it evaluated."""

    def __init__(self) -> None:
        self.by_sha: dict[str, GateMetrics] = {}
        self.evaluated: list[str] = []

    def set(self, onnx_path: Path, auc: float, fpr: float) -> None:
        self.by_sha[file_sha256(onnx_path)] = GateMetrics(
            auc=auc, fpr=fpr, tpr=0.9, threshold=0.5, n_real=50, n_fake=50
        )

    def evaluate(self, onnx_path: Path) -> GateMetrics:
        sha = file_sha256(onnx_path)
        self.evaluated.append(sha)
        return self.by_sha[sha]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalModelRegistry]:
    reg = LocalModelRegistry(tmp_path / "registry")
    yield reg
    reg.close()


@pytest.fixture
def evaluator() -> StubEvaluator:
    return StubEvaluator()
