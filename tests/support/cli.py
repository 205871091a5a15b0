"""The installed ``deepfake-detect`` command, for tests that run it as a user would."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def cli_binary() -> str:
    beside_python = Path(sys.executable).parent / "deepfake-detect"
    found = str(beside_python) if beside_python.is_file() else shutil.which("deepfake-detect")
    if found is None:
        pytest.fail("the deepfake-detect command is not installed (pip install -e .)")
    return found
