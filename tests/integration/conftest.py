"""The local AWS stack for integration tests: real moto server and DynamoDB Local processes.

- ``aws_stack`` (session): both servers on free loopback ports, stopped by pid at the end.
- ``resources`` (per test): a fresh set of the template's resources (bucket + notification,
  queue + DLQ, tables, model parameter), so tests never see each other's messages or rows.
  Short visibility timeout and receive count, so retries happen in seconds.
- ``cloud_settings``: ``base_settings`` (tiny classifier, real YuNet) pointed at those resources.
- ``make_worker``: an in-process Lambda-like worker over the real handler factory, with an
  optional wrapper around the detector (to count scans or crash mid-batch).
- ``worker_processes``: worker processes that import ``functions/detect/app.py`` like Lambda does.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.aws.detect import Analyzer, aws_dependencies, make_detect_handler
from deepfake_detect.core.pipeline import Analysis, ScanPipeline
from deepfake_detect.settings import Settings
from infra.local.__main__ import start_workers, stop_processes
from infra.local.stack import LocalAwsStack, StackResources, aws_environment
from infra.local.worker import LambdaWorker

VISIBILITY_TIMEOUT_S = 3
MAX_RECEIVE_COUNT = 3
# The context's time limit: also how long a crashed invocation's "in progress" marker blocks a retry.
FUNCTION_TIMEOUT_S = 2.0
FINISH_RESERVE_S = 0.2
MIN_START_S = 0.3
_suffixes = itertools.count()


@pytest.fixture(scope="session")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsStack]:
    try:
        stack = LocalAwsStack(tmp_path_factory.mktemp("aws-stack")).start()
    except FileNotFoundError as exc:  # no Java or no npm package: `make system-deps`
        pytest.fail(f"the local AWS stack cannot start: {exc}")
    with aws_environment():
        yield stack
    stack.stop()


@pytest.fixture
def resources(aws_stack: LocalAwsStack, base_settings: Settings) -> StackResources:
    return aws_stack.provision(
        StackResources.named(f"t{next(_suffixes)}"),
        base_settings,
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        max_receive_count=MAX_RECEIVE_COUNT,
    )


@pytest.fixture
def cloud_settings(aws_stack: LocalAwsStack, base_settings: Settings, resources: StackResources) -> Settings:
    # The detect function's time reserves, scaled to FUNCTION_TIMEOUT_S (in AWS: 10 and 20 of 120 s).
    return aws_stack.settings(base_settings, resources).updated(
        {"aws.finish_reserve_s": FINISH_RESERVE_S, "aws.min_start_s": MIN_START_S}
    )


@pytest.fixture
def feedback_settings(
    aws_stack: LocalAwsStack, resources: StackResources, cloud_settings: Settings
) -> Settings:
    """The cloud settings with the template's feedback table (reviewers' labels)."""
    declared = aws_stack.template["Resources"]["FeedbackTable"]["Properties"]
    name = f"deepfake-feedback-{resources.suffix}"
    dynamodb = aws_stack.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=declared["AttributeDefinitions"],
        KeySchema=declared["KeySchema"],
        BillingMode=declared["BillingMode"],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    return cloud_settings.updated({"aws.feedback_table": name})


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
            while True:
                if progress is not None:
                    progress(0, 32)
                time.sleep(0.01)
        self.scanned.append(display_path or str(path))
        return self.detector.analyze(path, display_path=display_path, progress=progress, pictures=pictures)


class SimulatedCrash(BaseException):
    """Escapes every ``except Exception``, like the process dying in the middle of a batch."""


MakeWorker = Callable[..., tuple[LambdaWorker, CountingDetector]]


@pytest.fixture
def make_worker(
    aws_stack: LocalAwsStack, cloud_settings: Settings, resources: StackResources, detector: ScanPipeline
) -> MakeWorker:
    def build(
        crash_on: int | None = None,
        batch_size: int = 10,
        crash_names: frozenset[str] = frozenset(),
        slow_names: frozenset[str] = frozenset(),
    ) -> tuple[LambdaWorker, CountingDetector]:
        counting = CountingDetector(
            detector, crash_on=crash_on, crash_names=crash_names, slow_names=slow_names
        )
        analyzer: Analyzer = counting
        handler = make_detect_handler(cloud_settings, aws_dependencies(cloud_settings, detector=analyzer))
        worker = LambdaWorker(
            aws_stack.client("sqs"),
            resources.queue_url,
            resources.queue_arn,
            handler,
            batch_size=batch_size,
            timeout_s=FUNCTION_TIMEOUT_S,
        )
        return worker, counting

    return build


@pytest.fixture
def worker_processes(
    aws_stack: LocalAwsStack, cloud_settings: Settings, resources: StackResources, tmp_path: Path
) -> Iterator[Callable[..., list[Any]]]:
    started: list[Any] = []

    def start(count: int, extra_env: dict[str, str] | None = None) -> list[Any]:
        started.extend(
            start_workers(
                {**aws_stack.environment(cloud_settings), **(extra_env or {})},
                resources,
                count,
                tmp_path,
                batch_size=10,
                timeout_s=60.0,
            )
        )
        return started

    yield start
    stop_processes(started)
    for log in sorted(tmp_path.glob("worker-*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            print(f"--- {log.name} (last 3000 characters)\n{text[-3000:]}")


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def drain(worker: LambdaWorker, done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Invoke the worker until ``done()``; messages left to retry come back after the visibility timeout."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout_s:.0f} s")
        worker.poll_once()
