"""Run an iterator a step ahead in its own thread: a video's next sampled frame is decoded while
this one's faces are detected and classified (FFmpeg, OpenCV and ONNX Runtime release the GIL, so
the two overlap on two cores). The results and their order are the iterator's own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_S = 0.05


class _End:
    """The iterator is exhausted."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """Iterate ``items`` in a thread, at most ``depth`` items ahead of the consumer (each one held
    in memory until taken). Use it as a context manager: leaving the block stops the thread and
    waits for it, so whatever the iterator reads from (a video capture) can then be released. An
    exception in the iterator is raised to the consumer, in order."""

    def __init__(self, items: Iterator[T], depth: int = 1) -> None:
        self._items = items
        self._queue: queue.Queue[T | _End | _Failed] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, name="prefetch", daemon=True)
        self._thread.start()

    def _offer(self, item: T | _End | _Failed) -> bool:
        """Hand ``item`` over; False once the consumer has stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._offer(item):
                    return
        except BaseException as exc:  # handed to the consumer, who raises it
            self._offer(_Failed(exc))
            return
        self._offer(_End())

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _End):
            self._done = True
            raise StopIteration
        if isinstance(item, _Failed):
            self._done = True
            raise item.error
        return item

    def close(self) -> None:
        """Stop the thread (after the item it is making) and wait for it."""
        self._done = True
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
