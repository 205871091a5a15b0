"""`python -m infra.local stack` (what `make stack` runs) as a real process: it creates every
table and queue of the template, runs the dead-letter consumer beside the detect worker, and
stops all of its children (moto server, DynamoDB Local, workers) on SIGTERM as on SIGINT
(issue 24, item 6)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import PROJECT_ROOT, Settings
from infra.local.stack import CREDENTIALS, REGION, StackResources, load_template
from tests.conftest import settings_as_env
from tests.support.net import free_port
from tests.support.sqs import notification
from tests.support.wait import wait_until

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class RunningStack:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.children: set[int] = set()  # once up
        env = {**os.environ, **settings_as_env(settings), **CREDENTIALS}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.local", "stack", "--workers", "1", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=PROJECT_ROOT,
                start_new_session=True,  # a signal in this test's terminal does not reach it
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def line(self, label: str) -> str:
        match = re.search(rf"^{label}\s+(\S+)", self.output(), re.MULTILINE)
        assert match, f"no {label!r} line in the stack's output:\n{self.output()[-3000:]}"
        return match.group(1)

    def up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the stack exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def workers_ready(self) -> bool:
        logs = Path(self.line("logs"))
        return all(
            (logs / name).is_file() and "worker ready" in (logs / name).read_text(errors="replace")
            for name in ("worker-0.log", "dead-letters-0.log")
        )

    def client(self, service: str, endpoint: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def kill_all(self) -> None:
        """The test's own clean-up when an assertion failed: the stack and every child it had
        once up, by pid (orphans included)."""
        for pid in [*self.children, *descendants(self.process.pid), self.process.pid]:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[RunningStack]:
    running = RunningStack(settings, tmp_path / "stack.log")
    try:
        wait_until(running.up, "the stack's cloud API", timeout_s=START_TIMEOUT_S, poll_s=0.5)
        wait_until(running.workers_ready, "the stack's workers", timeout_s=START_TIMEOUT_S, poll_s=0.5)
        running.children = descendants(running.process.pid)
        yield running
    finally:
        running.kill_all()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_stack_and_every_child(stack: RunningStack, signum: int) -> None:
    children = stack.children
    # moto server, DynamoDB Local (java), the detect worker and the dead-letter consumer
    assert len(children) >= 4, children
    stack.process.send_signal(signum)
    stack.process.wait(timeout=STOP_TIMEOUT_S)
    wait_until(lambda: not any(alive(pid) for pid in children), "the children to stop", timeout_s=15)


def test_the_stack_has_the_templates_tables_and_queues_and_a_dead_letter_consumer(
    stack: RunningStack,
) -> None:
    declared = load_template()["Resources"]
    names = StackResources.named("local")
    dynamodb_url, moto_url = stack.line("DynamoDB Local"), stack.line("moto server")
    dynamodb = stack.client("dynamodb", dynamodb_url)
    tables = set(dynamodb.list_tables()["TableNames"])
    assert set(names.tables(declared).values()) <= tables
    assert names.feedback_table == stack.line("feedback table") and names.feedback_table in tables
    sqs = stack.client("sqs", moto_url)
    queues = {url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]}
    assert set(names.queues(declared).values()) <= queues

    # A file whose scan never came back reaches the dead-letter queue: the consumer fails it.
    results = DynamoDBResultStore(dynamodb, names.results_table)
    stuck = "c" * 32
    results.put(DetectionResult(id=stuck, path="a.mp4", status=Status.PROCESSING, owner="stack-user"))
    sqs.send_message(QueueUrl=stack.line("dead letters"), MessageBody=notification(f"uploads/{stuck}/a.mp4"))

    def failed() -> bool:
        result = results.get(stuck)
        return result is not None and result.status is Status.FAILED

    wait_until(failed, "the dead-letter consumer to fail the file", timeout_s=60, poll_s=0.5)
    stack.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    stack.process.wait(timeout=STOP_TIMEOUT_S)
    assert time.monotonic() - started < STOP_TIMEOUT_S
