"""Waiting for what another thread or process does: a condition polled until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[..., object], what: str, *, timeout_s: float = 20.0, poll_s: float = 0.02
) -> None:
    """Return once ``condition()`` is true; fail the test after ``timeout_s`` (``what``: the message)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)
