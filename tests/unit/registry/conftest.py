"""Fixtures for the registry's tests: a local registry in a temp folder and a stub evaluator
(``tests/support/gate_scores.py``: no sockets, no models trained)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deepfake_detect.local.registry import LocalModelRegistry
from tests.support.gate_scores import StubEvaluator


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalModelRegistry]:
    reg = LocalModelRegistry(tmp_path / "registry")
    yield reg
    reg.close()


@pytest.fixture
def evaluator() -> StubEvaluator:
    return StubEvaluator()
