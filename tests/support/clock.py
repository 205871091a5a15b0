"""Clocks the test moves by hand: pass them where code takes a ``now`` or ``clock`` callable."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

T = TypeVar("T")


class ManualClock(Generic[T]):
    def __init__(self, now: T) -> None:
        self.now = now

    def __call__(self) -> T:
        return self.now


class WallClock:
    """``time.time()`` plus however far the test has moved it on: for checking stamps that other
    code took from the real clock, where moving it on stands for waiting that long."""

    def __init__(self) -> None:
        self.ahead_s = 0.0

    def advance(self, seconds: float) -> None:
        self.ahead_s += seconds

    def __call__(self) -> float:
        return time.time() + self.ahead_s
