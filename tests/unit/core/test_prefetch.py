"""A video's frames decoded a step ahead: the same items in the same order, errors where they
happened, and nothing left running once the block is left (the capture is released after it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from deepfake_detect.core.prefetch import Prefetch


def test_items_come_in_order_and_the_thread_ends() -> None:
    with Prefetch(iter(range(100)), depth=2) as items:
        assert list(items) == list(range(100))
        assert next(items, None) is None  # exhausted stays exhausted
    assert not any(t.name == "prefetch" for t in threading.enumerate())


def test_an_error_in_the_iterator_reaches_the_consumer_after_the_items_before_it() -> None:
    def frames() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("decoding stopped at frame 3")

    got: list[int] = []
    with pytest.raises(ValueError, match="frame 3"), Prefetch(frames()) as items:
        for item in items:
            got.append(item)
    assert got == [1, 2]


def test_leaving_early_stops_the_producer_within_its_depth() -> None:
    made: list[int] = []

    def frames() -> Iterator[int]:
        for i in range(1000):
            made.append(i)
            yield i

    with pytest.raises(RuntimeError), Prefetch(frames(), depth=1) as items:
        for item in items:
            if item == 3:
                raise RuntimeError("the scan ran out of time")
    # Taken 0..3; at most one waiting in the queue and one in the producer's hands.
    assert len(made) <= 6
    assert not any(t.name == "prefetch" for t in threading.enumerate())
