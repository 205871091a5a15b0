"""The detect function's tracer and its cold start: the X-Ray SDK only where tracing is on (in
Lambda), and then with only botocore patched (the function's AWS calls stay traced); outside
Lambda the tracer records nothing and the SDK is never imported. Each case runs in a fresh
interpreter: what a module import pulls in, and Powertools' tracer configuration, are per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_BUILD_HANDLER = """
import json, sys
from deepfake_detect.aws.handlers.detect import DetectDependencies, make_detect_handler
from deepfake_detect.aws.observability import Telemetry
from deepfake_detect.settings import Settings
telemetry = Telemetry(Settings())
tracer = telemetry.tracer
with telemetry.subsegment("analyze"), telemetry.object_scope("r1", "bucket", "key"):
    pass
from aws_lambda_powertools.utilities.batch import BatchProcessor  # what the handler module imports
patched = []
if "aws_xray_sdk.core" in sys.modules:
    from aws_xray_sdk.core import patcher
    patched = sorted(patcher._PATCHED_MODULES)
print(json.dumps({
    "xray": "aws_xray_sdk.core" in sys.modules,
    "disabled": tracer.disabled,
    "patched": patched,
    "requests": "requests" in sys.modules,
    "httpx": "httpx" in sys.modules,
}))
"""


def _run(code: str, **env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    base.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    base.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_detect_handler_module_does_not_import_the_xray_sdk() -> None:
    # The module builds its tracer (Powertools style, at module level): outside Lambda that reads
    # the SDK's small config module, never the SDK itself (``aws_xray_sdk.core``) and its patcher.
    code = (
        "import json, sys; import deepfake_detect.aws.handlers.detect; "
        "print(json.dumps('aws_xray_sdk.core' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False


def test_outside_lambda_the_tracer_records_nothing_without_the_xray_sdk() -> None:
    seen = _run(_BUILD_HANDLER)
    assert seen == {"xray": False, "disabled": True, "patched": [], "requests": False, "httpx": False}


@pytest.mark.parametrize("env", [{"POWERTOOLS_TRACE_DISABLED": "true"}, {"AWS_SAM_LOCAL": "true"}])
def test_in_lambda_with_tracing_switched_off_the_xray_sdk_stays_out(
    env: dict[str, str], tmp_path: Path
) -> None:
    seen = _run(_BUILD_HANDLER, LAMBDA_TASK_ROOT=str(tmp_path), **env)
    assert seen["xray"] is False and seen["disabled"] is True


def test_in_lambda_the_tracer_is_xray_and_patches_botocore_only(tmp_path: Path) -> None:
    seen = _run(_BUILD_HANDLER, LAMBDA_TASK_ROOT=str(tmp_path))
    assert seen["xray"] is True and seen["disabled"] is False
    assert seen["patched"] == ["botocore"]  # every AWS call of the function is still a subsegment
    assert seen["requests"] is False and seen["httpx"] is False  # not imported to be patched
