"""A local service killed with SIGKILL at one step of an upload or a scan (the fault-injection run,
tests/service/test_fault_injection.py).

``python -m tests.support.crash STEP FILE KEY`` starts the local app over the settings in the
environment (``DEEPFAKE_*``), uploads FILE with ``Idempotency-Key: KEY`` and kills its own process
(SIGKILL: no clean-up, no ``finally``) at STEP. It exits 3 when STEP was never reached.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.local.wiring import local_app
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.settings import get_settings
from tests.support.local_api import LOCAL_URL


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _at(owner: Any, name: str, *, after: bool = False, when: Callable[..., bool] = lambda *a: True) -> None:
    """Kill the process when ``owner.name`` is called (with arguments ``when`` accepts): before
    the call runs, or right after it returned."""
    original = getattr(owner, name)

    def killing(*args: Any, **kwargs: Any) -> Any:
        if not when(*args):
            return original(*args, **kwargs)
        if not after:
            _die()
        answer = original(*args, **kwargs)
        _die()
        return answer

    setattr(owner, name, killing)


def _status_is(status: Status) -> Callable[..., bool]:
    return lambda store, result: isinstance(result, DetectionResult) and result.status is status


# Each step of an upload and of its scan, in order, and where the process dies for it.
STEPS: dict[str, Callable[[], None]] = {
    # the upload
    "upload: file half written": lambda: _at(Path, "replace", when=lambda p, *a: p.name.endswith(".partial")),
    "upload: file stored, no record": lambda: _at(SQLiteResultStore, "put_idempotent"),
    "upload: record stored, not prechecked": lambda: _at(LocalProcessor, "precheck"),
    "upload: prechecked, not queued": lambda: _at(LocalProcessor, "submit"),
    # its scan
    "scan: attempt counted": lambda: _at(SQLiteResultStore, "begin_attempt", after=True),
    "scan: marked processing": lambda: _at(
        SQLiteResultStore, "put", after=True, when=_status_is(Status.PROCESSING)
    ),
    "scan: pictures stored, result not": lambda: _at(SQLiteResultStore, "put", when=_status_is(Status.DONE)),
    "scan: result stored, attempts not cleared": lambda: _at(SQLiteResultStore, "end_attempts"),
    "scan: finished, event not announced": lambda: _at(LocalProcessor, "_announce"),
}


def main(argv: list[str]) -> int:
    step, file, key = argv
    STEPS[step]()
    with TestClient(local_app(get_settings()), base_url=LOCAL_URL) as client:
        client.post(
            "/v1/detect",
            files={"file": (Path(file).name, Path(file).read_bytes(), "image/jpeg")},
            headers={"Idempotency-Key": key},
        )
        processor = client.app.state.services.processor  # type: ignore[attr-defined]
        processor.flush()  # the parent's timeout bounds the wait
    return 3  # still alive: the step was never reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
