"""The cloud API ships as a zip under Lambda's 250 MB limit: it must not import the scanning stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("cv2", "onnxruntime", "numpy", "PIL", "torch")


@pytest.mark.parametrize(
    "module", ["deepfake_detect.aws.handlers.api", "deepfake_detect.aws.handlers.dead_letters"]
)
def test_cloud_api_imports_no_scanning_libraries(module: str) -> None:
    # The dead-letter consumer ships in the same zip.
    code = (
        f"import json, sys\nimport {module}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_api_requirements_name_no_scanning_libraries() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[3] / "functions" / "api" / "requirements.txt").read_text()
    names = {line.split("#")[0].strip().lower() for line in text.splitlines()} - {""}
    assert "fastapi" in names
    assert not names & {"opencv-python-headless", "onnxruntime", "numpy", "pillow", "torch"}
