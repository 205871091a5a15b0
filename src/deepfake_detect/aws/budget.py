"""The detect function's time: what one invocation has left, per object.

Lambda ends an invocation at its timeout whatever it is doing, and then every message of the batch
comes back, the ones already scanned included, and counts one more receive toward the dead-letter
queue. So the handler spends its time per object:

- an object is not started with less than ``aws.min_start_s`` left: its message is sent again as
  a new message (``aws/adapters/requeue.py``: the deferral uses up none of its receives, so a
  file deferred again and again never reaches the dead-letter queue for it) and this one is done;
  a later invocation scans it with the whole timeout to itself. Without a queue to send to, or
  past ``aws.max_deferrals``, the message is handed back (a batch item failure) instead;
- a scan still running ``aws.finish_reserve_s`` before the end is stopped (the pipeline reports
  progress per video frame, and the check runs there), leaving the time to store a result. A
  file that was the first of its invocation had the whole timeout and still did not finish:
  it never will, and is failed at once (``scan_timeout``); one that started after others is
  retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class ScanTimeoutError(Exception):
    """A scan ran out of the invocation's time. ``retry``: it started after other objects, so a
    later invocation, with its whole timeout, may finish it."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class NotStartedError(Exception):
    """Too little time was left to start this object: it is left to a later invocation."""


class _OutOfTime(BaseException):
    """Raised from the pipeline's progress callback: a ``BaseException``, so that the pipeline's
    own ``except Exception`` (which turns a bug into a failed result) lets it through to
    ``ScanBudget.run``, which turns it into ``ScanTimeoutError``."""


class ScanBudget:
    """One invocation's clock (the Lambda context's remaining time) and its reserves."""

    def __init__(
        self, remaining_ms: Callable[[], int], *, finish_reserve_s: float, min_start_s: float
    ) -> None:
        self._remaining_ms = remaining_ms
        self.finish_reserve_s = finish_reserve_s
        self.min_start_s = min_start_s
        self.started = 0  # objects whose scan began in this invocation

    @classmethod
    def of(cls, context: Any, *, finish_reserve_s: float, min_start_s: float) -> ScanBudget | None:
        """The budget of an invocation; None for a context without a clock (no limit)."""
        clock = getattr(context, "get_remaining_time_in_millis", None)
        if not callable(clock):
            return None
        try:
            float(clock())
        except (TypeError, ValueError):  # not a number: a stand-in context
            return None
        return cls(lambda: int(clock()), finish_reserve_s=finish_reserve_s, min_start_s=min_start_s)

    def remaining_s(self) -> float:
        return self._remaining_ms() / 1000.0

    def may_start(self) -> bool:
        return self.remaining_s() >= self.min_start_s

    def begin(self) -> bool:
        """Count one more object started; True for the invocation's first (it had all the time)."""
        self.started += 1
        return self.started == 1

    def check(self, done: int = 0, total: int = 0) -> None:
        """The pipeline's progress callback: stops the scan once only the reserve is left."""
        if self.remaining_s() <= self.finish_reserve_s:
            raise _OutOfTime

    def run(self, scan: Callable[[Callable[[int, int], None]], Any], *, first: bool) -> Any:
        """``scan(progress)`` under this budget; ``ScanTimeoutError`` when it runs out."""
        timed_out = ScanTimeoutError(
            "the file could not be scanned within the detect function's time limit", retry=not first
        )
        if self.remaining_s() <= self.finish_reserve_s:
            raise timed_out
        try:
            return scan(self.check)
        except _OutOfTime:
            raise timed_out from None


def receive_count(record: SQSRecord) -> int:
    """How many times SQS has handed out this message, this time included (1 if unknown)."""
    try:
        return int(record.attributes.approximate_receive_count)
    except (KeyError, TypeError, ValueError):
        return 1


DEFERRALS_ATTRIBUTE = "deepfake-deferrals"


def deferrals(record: SQSRecord) -> int:
    """How many times this message's file was deferred and sent again (0 for an original)."""
    attributes = record.raw_event.get("messageAttributes") or {}
    attribute = attributes.get(DEFERRALS_ATTRIBUTE) or {}
    value = attribute.get("stringValue", attribute.get("StringValue"))  # Lambda's shape, SQS's
    try:
        return max(0, int(str(value)))
    except (TypeError, ValueError):
        return 0
