"""Completion events: the event's shape and schema, the signature, and the local webhook sender
(its retries, backoff, attempt log and restart) over a fake transport and clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, MediaKind, ModelInfo, Status, Verdict
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.webhooks import SQLiteDeliveryLog, WebhookNotifier
from deepfake_detect.settings import PROJECT_ROOT, ServiceSettings, Settings
from deepfake_detect.store.events import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ScanCompletedEvent,
    completion_detail,
    completion_event,
    event_json_schema,
    sign,
    verify,
)
from tests.support.wait import wait_until

SECRET = "s3cret"


def done_result(**fields: Any) -> DetectionResult:
    return DetectionResult(
        path="face.jpg",
        media_kind=MediaKind.IMAGE,
        status=Status.DONE,
        verdict=Verdict.FAKE,
        score=0.97,
        threshold=0.9,
        model=ModelInfo(name="m", version="2026.1", sha256="0" * 64),
        **fields,
    )


# ---------------------------------------------------------------- the event


def test_only_a_finished_result_has_an_event() -> None:
    for status in (Status.QUEUED, Status.PROCESSING):
        assert completion_event(DetectionResult(path="a.jpg", status=status)) is None


def test_a_done_result_becomes_an_eventbridge_shaped_event() -> None:
    result = done_result(owner="user-123") if "owner" in DetectionResult.model_fields else done_result()
    event = completion_event(result)
    assert event is not None
    body = json.loads(event.body())
    assert body["source"] == "deepfake-detect" and body["detail-type"] == "Scan Completed"
    assert body["version"] == "0" and body["account"] == "local" and body["resources"] == []
    detail = body["detail"]
    assert detail["id"] == result.id and detail["status"] == "done" and detail["path"] == "face.jpg"
    assert detail["verdict"] == "fake" and detail["score"] == 0.97 and detail["threshold"] == 0.9
    assert detail["model_version"] == "2026.1" and detail["error_code"] is None
    assert detail["result_url"] == f"/v1/results/{result.id}" and detail["schema_version"] == "2"
    if "owner" in DetectionResult.model_fields:
        assert detail["owner"] == "user-123"
    assert ScanCompletedEvent.model_validate_json(event.body()) == event  # it reads back


def test_a_failed_result_names_its_error_code() -> None:
    failed = DetectionResult.failed("broken.jpg", ErrorCode.CORRUPT_MEDIA, "the image is damaged")
    detail = completion_detail(failed)
    assert detail is not None
    assert (detail.status, detail.verdict, detail.error_code) == ("failed", Verdict.ERROR, "corrupt_media")
    assert detail.owner is None and detail.score is None and detail.model_version is None


def test_the_published_schema_is_the_models_schema() -> None:
    written = json.loads((PROJECT_ROOT / "docs" / "event.schema.json").read_text())
    assert written == event_json_schema(), "regenerate docs/event.schema.json (see docs/events.md)"
    event = completion_event(done_result())
    assert event is not None
    assert set(written["required"]) == set(json.loads(event.body()))


def test_both_modes_document_the_webhook_and_only_local_lists_deliveries(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = Services(
        settings=settings,
        media=LocalMediaStore(tmp_path / "media"),
        results=SQLiteResultStore(tmp_path / "results.sqlite3"),
        model_card=lambda: ModelCard(name="m", version="1"),
        uploads=object(),  # type: ignore[arg-type]  # cloud mode: a signer, never called here
    )
    cloud = create_app(settings, services).openapi()
    from deepfake_detect.local.wiring import local_app

    local = local_app(Settings(data_dir=tmp_path, models_dir=tmp_path / "none")).openapi()
    for document in (cloud, local):
        hook = document["webhooks"]["scanCompleted"]["post"]
        assert "X-Deepfake-Signature" in hook["description"]
        assert "Scan Completed" in document["info"]["description"]
        body = hook["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith("/ScanCompletedEvent")
        assert "detail-type" in document["components"]["schemas"]["ScanCompletedEvent"]["properties"]
    assert "/v1/results/{result_id}/deliveries" in local["paths"]
    assert "/v1/results/{result_id}/deliveries" not in cloud["paths"]


# ---------------------------------------------------------------- the signature


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_raw_body() -> None:
    body = b'{"a": 1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == f"sha256={expected}"
    signature = sign(SECRET, 1700000000, body)
    assert verify(SECRET, body, "1700000000", signature, now=1700000100)
    assert not verify(SECRET, body + b" ", "1700000000", signature, now=1700000100)  # body changed
    assert not verify("other", body, "1700000000", signature, now=1700000100)  # another key
    assert not verify(SECRET, body, "1700000001", signature, now=1700000100)  # timestamp changed
    assert not verify(SECRET, body, "1700000000", signature, now=1700000000 + 301)  # replayed later
    assert not verify(SECRET, body, None, signature) and not verify(SECRET, body, "x", signature)


# ---------------------------------------------------------------- the local sender


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


class Receiver:
    """A transport that answers with the given statuses in turn (an int, or an exception)."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
        with self.lock:
            self.requests.append((url, body, headers))
            answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        if answer >= 300:
            raise urllib.error.HTTPError(url, answer, "error", {}, None)  # type: ignore[arg-type]
        return answer


def webhook_settings(**fields: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "webhook_url": "http://hooks.example:9000/in?token=abc",
        "webhook_secret": SECRET,
        "webhook_max_attempts": 4,
        "webhook_backoff_s": 2.0,
        "webhook_max_backoff_s": 5.0,
        **fields,
    }
    return ServiceSettings(_env_file=None, **values)  # type: ignore[call-arg]


class Wake(threading.Event):
    """The sending thread's wake-up call, counting the times the thread has gone to wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def let_it_look(notifier: WebhookNotifier, wake: Wake) -> None:
    """Wake the sending thread and return once it has looked at what is due and gone back to
    waiting; twice, since the first round may have begun before the wake-up."""
    for _ in range(2):
        waits = wake.waits
        notifier._wake.set()
        wait_until(lambda waits=waits: wake.waits > waits, "the sending thread to look")


@pytest.fixture
def log(tmp_path: Path) -> SQLiteDeliveryLog:
    return SQLiteDeliveryLog(tmp_path / "events.sqlite3")


def test_a_webhook_needs_a_secret_and_an_http_url() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        ServiceSettings(_env_file=None, webhook_url="https://example.com/hook")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="http"):
        ServiceSettings(_env_file=None, webhook_url="file:///etc/passwd", webhook_secret="x")  # type: ignore[call-arg]
    assert ServiceSettings(_env_file=None).webhook_url == ""  # type: ignore[call-arg]


def test_failures_are_retried_with_doubling_backoff_and_every_attempt_is_recorded(
    log: SQLiteDeliveryLog,
) -> None:
    clock = FakeClock()
    receiver = Receiver(500, urllib.error.URLError(ConnectionRefusedError("refused")), 503, 204)
    notifier = WebhookNotifier(webhook_settings(), log, post=receiver, clock=clock)
    notifier._wake = wake = Wake()
    result = done_result()
    try:
        notifier.publish(result)
        wait_until(lambda: len(receiver.requests) == 1, "the first attempt")
        # Waits of 2, 4, then 5 s (capped): nothing is sent before each is over.
        for wait, attempts in ((2.0, 2), (4.0, 3), (5.0, 4)):
            clock.advance(wait - 0.5)
            let_it_look(notifier, wake)  # ... and find nothing due yet
            assert len(receiver.requests) == attempts - 1
            clock.advance(0.5)
            notifier._wake.set()
            wait_until(lambda n=attempts: len(receiver.requests) == n, f"attempt {attempts}")
        wait_until(lambda: log.for_result(result.id)[0].state == "delivered", "the delivery")
    finally:
        notifier.close()
    [delivery] = log.for_result(result.id)
    assert [a.status_code for a in delivery.attempts] == [500, None, 503, 204]
    assert delivery.attempts[1].error is not None and "refused" in delivery.attempts[1].error
    assert delivery.attempts[-1].error is None and delivery.next_attempt_at is None
    assert delivery.url == "http://hooks.example:9000/in"  # no query string (it may hold a token)
    bodies = {body for _url, body, _headers in receiver.requests}
    assert len(bodies) == 1  # the same event every time
    for number, (_url, body, headers) in enumerate(receiver.requests, start=1):
        assert headers[ATTEMPT_HEADER] == str(number)
        assert headers[EVENT_ID_HEADER] == delivery.event_id == json.loads(body)["id"]
        assert verify(SECRET, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=clock())


def test_a_delivery_gives_up_after_the_last_attempt(log: SQLiteDeliveryLog) -> None:
    clock = FakeClock()
    receiver = Receiver(*([500] * 10))
    notifier = WebhookNotifier(webhook_settings(webhook_max_attempts=2), log, post=receiver, clock=clock)
    result = done_result()
    try:
        notifier.publish(result)
        wait_until(lambda: len(receiver.requests) == 1, "the first attempt")
        clock.advance(2.0)
        notifier._wake.set()
        wait_until(lambda: log.for_result(result.id)[0].state == "failed", "the delivery to fail")
        clock.advance(100.0)
        notifier._wake.set()
        notifier.flush()
    finally:
        notifier.close()
    assert len(receiver.requests) == 2
    assert [a.error for a in log.for_result(result.id)[0].attempts] == ["HTTP 500", "HTTP 500"]


def test_publish_never_waits_for_the_receiver(log: SQLiteDeliveryLog) -> None:
    gate = threading.Event()

    def slow(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
        gate.wait(10)
        return 200

    notifier = WebhookNotifier(webhook_settings(), log, post=slow)
    try:
        for _ in range(5):
            notifier.publish(done_result())  # returns while the first post hangs
        assert len(log.recent()) == 5
    finally:
        gate.set()
        notifier.close()


def test_pending_deliveries_are_sent_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    clock = FakeClock()
    down = Receiver(urllib.error.URLError(ConnectionRefusedError("refused")))
    first = WebhookNotifier(webhook_settings(), SQLiteDeliveryLog(path), post=down, clock=clock)
    result = done_result()
    first.publish(result)
    wait_until(lambda: first.deliveries.for_result(result.id)[0].attempts, "the first attempt")
    first.close()
    assert first.deliveries.for_result(result.id)[0].state == "pending"

    clock.advance(2.0)  # the retry is due while the service is down
    up = Receiver(200)
    second = WebhookNotifier(webhook_settings(), SQLiteDeliveryLog(path), post=up, clock=clock)
    second.start()  # what the local wiring does when the service starts
    try:
        wait_until(lambda: second.deliveries.for_result(result.id)[0].state == "delivered", "the resend")
    finally:
        second.close()
    assert len(up.requests) == 1 and up.requests[0][2][ATTEMPT_HEADER] == "2"


def test_an_unfinished_result_is_not_announced(log: SQLiteDeliveryLog) -> None:
    notifier = WebhookNotifier(webhook_settings(), log, post=Receiver())
    notifier.publish(DetectionResult(path="a.jpg", status=Status.PROCESSING))
    assert log.recent() == []


def test_the_event_time_is_utc_now() -> None:
    before = datetime.now(UTC)
    event = completion_event(done_result())
    assert event is not None and before <= event.time <= datetime.now(UTC)
    assert event.detail.completed_at == event.time
