"""The local AWS stack for integration tests: real moto server and DynamoDB Local processes.

- ``aws_stack`` (session): both servers on free loopback ports, stopped by pid at the end.
- ``resources`` (per test): a fresh set of the template's resources (bucket + notification,
  queue + DLQ, tables, model parameter), so tests never see each other's messages or rows.
  Short visibility timeout and receive count, so retries happen in seconds.
- ``cloud_settings``: ``base_settings`` (tiny classifier, real YuNet) pointed at those resources.
- ``make_worker``: an in-process Lambda-like worker over the real handler factory, with an
  optional wrapper around the detector (to count scans or crash mid-batch).
- ``worker_processes``: worker processes that import ``functions/detect/app.py`` like Lambda does;
  starting them returns once their cold start is over.

The helpers the tests share (time limits, ``CountingDetector``, ``drain``, ...) are in
``tests/support/local_stack.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.aws.handlers.detect import Analyzer, aws_dependencies, make_detect_handler
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.settings import Settings
from infra.local.__main__ import start_workers, stop_processes
from infra.local.stack import LocalAwsStack, StackResources, aws_environment
from infra.local.worker import LambdaWorker
from tests.support.local_stack import (
    FINISH_RESERVE_S,
    FUNCTION_TIMEOUT_S,
    MAX_RECEIVE_COUNT,
    MIN_START_S,
    VISIBILITY_TIMEOUT_S,
    CountingDetector,
    MakeWorker,
    wait_for_workers,
)

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
    """The cloud settings with the template's feedback table (reviewers' labels): ``provision``
    creates it with every other table of the template."""
    assert cloud_settings.aws.feedback_table == resources.feedback_table
    return cloud_settings


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
        processes = start_workers(
            {**aws_stack.environment(cloud_settings), **(extra_env or {})},
            resources,
            count,
            tmp_path,
            batch_size=10,
            timeout_s=60.0,
        )
        started.extend(processes)
        wait_for_workers(processes, tmp_path)
        return started

    yield start
    stop_processes(started)
    for log in sorted(tmp_path.glob("worker-*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            print(f"--- {log.name} (last 3000 characters)\n{text[-3000:]}")
