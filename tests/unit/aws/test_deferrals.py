"""A file too late to start in its invocation is sent again as a new message, so deferrals do not
use up its receives and an innocent file never reaches the dead-letter queue for them (issue 24,
item 6). Deterministic: the invocation's clock moves only when a file is scanned, and a small
in-memory queue counts receives and dead-letters messages as SQS does."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from deepfake_detect.aws.budget import DEFERRALS_ATTRIBUTE
from deepfake_detect.aws.handlers.detect import DetectDependencies, DetectHandler, make_detect_handler
from deepfake_detect.core.result import Status
from deepfake_detect.settings import AwsSettings, Settings
from infra.local.worker import LocalLambdaContext
from tests.support.aws_fakes import FakeMedia, InMemoryPersistence, InMemoryResults, StubDetector
from tests.support.sqs import BUCKET, notification, sqs_record

SCAN_S = 1.0  # what one scan takes on the invocation's clock
TIMEOUT_S = 1.2  # so each invocation starts one file, and the rest are too late to start
MAX_RECEIVES = 2


@dataclass
class ClockedContext(LocalLambdaContext):
    """A Lambda context whose time moves only when ``clock[0]`` does."""

    clock: list[float] = field(default_factory=lambda: [0.0])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - self.clock[0]) * 1000))


class TimedDetector(StubDetector):
    def __init__(self) -> None:
        super().__init__()
        self.clock = [0.0]

    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Any:
        self.clock[0] += SCAN_S
        return super().analyze(path, display_path=display_path, progress=progress, pictures=pictures)


@dataclass
class Message:
    id: str
    body: str
    deferrals: int = 0
    receives: int = 0


@dataclass
class InMemoryQueue:
    """SQS with a redrive policy: a message received more than ``max_receives`` times goes to the
    dead-letter queue instead of to a consumer."""

    max_receives: int
    messages: list[Message] = field(default_factory=list)
    dead_letters: list[Message] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def send(self, body: str, deferrals: int = 0) -> None:
        self.messages.append(Message(f"m{next(self.ids)}", body, deferrals))

    def receive(self, batch_size: int = 10) -> list[Message]:
        batch: list[Message] = []
        for message in list(self.messages):
            if len(batch) == batch_size:
                break
            if message.receives >= self.max_receives:
                self.messages.remove(message)
                self.dead_letters.append(message)
                continue
            message.receives += 1
            batch.append(message)
        return batch

    def record(self, message: Message) -> dict[str, Any]:
        record = sqs_record(message.id, message.body)
        record["attributes"] = {"ApproximateReceiveCount": str(message.receives)}
        if message.deferrals:
            record["messageAttributes"] = {
                DEFERRALS_ATTRIBUTE: {"stringValue": str(message.deferrals), "dataType": "Number"}
            }
        return record


class Setup:
    def __init__(self, tmp_path: Path, *, requeue: bool, max_deferrals: int = 20) -> None:
        self.settings = Settings(
            aws=AwsSettings(
                upload_bucket=BUCKET,
                max_receive_count=MAX_RECEIVES,
                min_start_s=0.5,
                finish_reserve_s=0.1,
                max_deferrals=max_deferrals,
            )
        )
        self.queue = InMemoryQueue(MAX_RECEIVES)
        self.media, self.results, self.detector = FakeMedia(tmp_path), InMemoryResults(), TimedDetector()
        self.handler: DetectHandler = make_detect_handler(
            self.settings,
            DetectDependencies(
                detector=self.detector,
                media=self.media,
                results=self.results,
                persistence=InMemoryPersistence(),
                requeue=self.queue.send if requeue else None,
            ),
        )

    def upload(self, *names: str) -> None:
        for name in names:
            self.media.objects[f"uploads/{name}"] = b"image"
            self.queue.send(notification(f"uploads/{name}"))

    def invoke_once(self) -> bool:
        """One invocation over the next batch, as the event source mapping runs it; False when
        the queue is empty."""
        batch = self.queue.receive()
        if not batch:
            return False
        self.detector.clock[0] = 0.0
        context = ClockedContext(function_name="detect-test", timeout_s=TIMEOUT_S, clock=self.detector.clock)
        event = {"Records": [self.queue.record(m) for m in batch]}
        response = self.handler(event, cast(LambdaContext, context))
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in batch:
            if message.id not in failed:
                self.queue.messages.remove(message)
        return True

    def drain(self, invocations: int = 50) -> None:
        for _ in range(invocations):
            if not self.invoke_once():
                return
        raise AssertionError("the queue was not drained")

    def status(self, name: str) -> Status | None:
        for result in self.results.items.values():
            if result.path == name:
                return result.status
        return None


NAMES = ("a.jpg", "b.jpg", "c.jpg", "d.jpg")


def test_deferred_files_are_sent_again_and_none_reaches_the_dead_letter_queue(tmp_path: Path) -> None:
    setup = Setup(tmp_path, requeue=True)
    setup.upload(*NAMES)
    setup.drain()
    assert setup.queue.dead_letters == []
    assert {name: setup.status(name) for name in NAMES} == dict.fromkeys(NAMES, Status.DONE)
    assert sorted(setup.detector.calls) == sorted(NAMES)  # each scanned once


def test_without_sending_again_deferrals_use_up_the_receives(tmp_path: Path) -> None:
    """What the stack did before (and does with no queue URL): handed back, a deferred message
    uses a receive each time, and innocent files are failed or dead-lettered."""
    setup = Setup(tmp_path, requeue=False)
    setup.upload(*NAMES)
    setup.drain()
    lost = [name for name in NAMES if setup.status(name) is not Status.DONE]
    assert lost or setup.queue.dead_letters


def test_a_message_deferred_max_deferrals_times_is_handed_back(tmp_path: Path) -> None:
    setup = Setup(tmp_path, requeue=True, max_deferrals=1)
    setup.upload("a.jpg", "b.jpg")
    setup.invoke_once()  # a.jpg scanned; b.jpg sent again (1 deferral)
    [again] = setup.queue.messages
    assert again.deferrals == 1 and again.receives == 0
    setup.upload("c.jpg")
    setup.queue.messages.reverse()  # c.jpg first: b.jpg is too late again
    setup.invoke_once()
    [handed_back] = setup.queue.messages
    assert handed_back.id == again.id and handed_back.receives == 1  # a batch item failure


@pytest.mark.parametrize("attribute", [{"StringValue": "3"}, {"stringValue": "3"}])
def test_the_count_of_deferrals_is_read_in_either_shape(attribute: dict[str, str]) -> None:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from deepfake_detect.aws.budget import deferrals

    record = sqs_record("m0", "{}")
    assert deferrals(SQSRecord(record)) == 0
    record["messageAttributes"] = {DEFERRALS_ATTRIBUTE: {**attribute, "dataType": "Number"}}
    assert deferrals(SQSRecord(record)) == 3


def test_the_template_lets_the_detect_function_send_deferred_messages_again() -> None:
    from infra.local.stack import load_template

    detect = load_template()["Resources"]["DetectFunction"]["Properties"]
    assert detect["Environment"]["Variables"]["DEEPFAKE_AWS_DETECT_QUEUE_URL"] == {"Ref": "DetectQueue"}
    assert any(
        s["Action"] == ["sqs:SendMessage"] and s["Resource"] == {"Fn::GetAtt": ["DetectQueue", "Arn"]}
        for s in detect["Policies"][0]["Statement"]
    )
