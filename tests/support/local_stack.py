"""Helpers for tests on the local AWS stack (``infra/local``: moto server, DynamoDB Local): the
stack's time limits, a detector wrapper that counts, crashes or never finishes, driving a worker
until the queue is drained, and reading the bucket, queues and results table."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.core.pipeline import Analysis, ScanPipeline
from deepfake_detect.core.result import DetectionResult
from infra.local.__main__ import WORKER_READY
from infra.local.stack import LocalAwsStack, StackResources
from infra.local.worker import LambdaWorker
from tests.support.wait import wait_until

VISIBILITY_TIMEOUT_S = 3
MAX_RECEIVE_COUNT = 3
# The context's time limit: also how long a crashed invocation's "in progress" marker blocks a retry.
FUNCTION_TIMEOUT_S = 2.0
FINISH_RESERVE_S = 0.2
MIN_START_S = 0.3


class SimulatedCrash(BaseException):
    """Escapes every ``except Exception``, like the process dying in the middle of a batch."""


@dataclass
class CountingDetector:
    """Wraps the real detector: counts scans per file and can crash the "runtime" on the n-th scan,
    or on every scan of a poison file (``crash_names``), or never finish one (``slow_names``: it
    reports progress until the time budget stops it, as a long video would)."""

    detector: ScanPipeline
    crash_on: int | None = None
    crash_names: frozenset[str] = frozenset()
    slow_names: frozenset[str] = frozenset()
    scanned: list[str] = field(default_factory=list)

    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Analysis:
        if self.crash_on is not None and len(self.scanned) + 1 == self.crash_on:
            self.scanned.append(f"crash:{display_path}")
            raise SimulatedCrash(f"runtime died while scanning {display_path}")
        if display_path in self.crash_names:
            self.scanned.append(f"crash:{display_path}")
            raise SimulatedCrash(f"{display_path} kills the runtime")
        if display_path in self.slow_names:
            self.scanned.append(f"slow:{display_path}")
            while True:  # a long video: works (10 ms a step) until the time budget stops it
                if progress is not None:
                    progress(0, 32)
                time.sleep(0.01)
        self.scanned.append(display_path or str(path))
        return self.detector.analyze(path, display_path=display_path, progress=progress, pictures=pictures)


MakeWorker = Callable[..., tuple[LambdaWorker, CountingDetector]]


def drain(worker: LambdaWorker, done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Invoke the worker until ``done()``; messages left to retry come back after the visibility timeout."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout_s:.0f} s")
        worker.poll_once()


def wait_for_workers(
    processes: list[subprocess.Popen[bytes]], log_dir: Path, timeout_s: float = 120.0
) -> None:
    """Return once each process of ``start_workers`` has said its cold start is over (imported,
    models loaded, polling); fail with its log when one exits instead."""
    logs = [log_dir / f"worker-{index}.log" for index in range(len(processes))]

    def ready() -> bool:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                text = log.read_text(errors="replace") if log.is_file() else ""
                raise AssertionError(
                    f"{log.name}: the worker exited with {process.returncode}:\n{text[-3000:]}"
                )
        return all(log.is_file() and WORKER_READY in log.read_text(errors="replace") for log in logs)

    wait_until(ready, "the workers' cold start", timeout_s=timeout_s, poll_s=0.1)


def results_store(stack: LocalAwsStack, resources: StackResources) -> DynamoDBResultStore:
    return DynamoDBResultStore(stack.client("dynamodb"), resources.results_table)


def all_results(store: DynamoDBResultStore) -> list[DetectionResult]:
    """Every record of every owner (and of none): the table, not one owner's list."""
    items = []
    for page in store.client.get_paginator("scan").paginate(TableName=store.table):
        for item in page.get("Items", []):
            if "deleted_at" not in item:
                items.append(store._decode(item))
    return items


def queue_depth(stack: LocalAwsStack, url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def put(stack: LocalAwsStack, resources: StackResources, key: str, data: bytes) -> None:
    stack.client("s3").put_object(Bucket=resources.upload_bucket, Key=key, Body=data)
