"""The detect handler over in-memory fakes: batch failures, idempotency, permanent vs transient errors."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from deepfake_detect.aws.adapters.s3_events import ObjectRef, result_id_for
from deepfake_detect.aws.handlers.detect import DetectDependencies, make_detect_handler
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings
from infra.local.worker import LocalLambdaContext
from tests.support.aws_fakes import FakeMedia, InMemoryPersistence, InMemoryResults, StubDetector
from tests.support.clock import WallClock
from tests.support.sqs import BUCKET, failures, notification, sqs_record


class Harness:
    def __init__(self, tmp_path: Path, max_upload_bytes: int = 1000) -> None:
        self.settings = Settings(
            aws=AwsSettings(upload_bucket=BUCKET), limits=LimitsSettings(max_upload_bytes=max_upload_bytes)
        )
        self.media = FakeMedia(tmp_path)
        self.results = InMemoryResults()
        self.detector = StubDetector()
        self.persistence = InMemoryPersistence()
        self.handler = make_detect_handler(
            self.settings,
            DetectDependencies(
                detector=self.detector, media=self.media, results=self.results, persistence=self.persistence
            ),
        )

    def invoke(self, *bodies: str) -> dict[str, Any]:
        event = {"Records": [sqs_record(f"m{i}", body) for i, body in enumerate(bodies)]}
        context = LocalLambdaContext(function_name="detect-test", timeout_s=30)
        return self.handler(event, cast(LambdaContext, context))

    def result_for(self, key: str) -> Any:
        return self.results.get(result_id_for(ObjectRef(BUCKET, key, etag="e1"), "uploads/"))


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_a_file_is_scanned_and_its_result_and_evidence_stored(harness: Harness) -> None:
    harness.media.objects["uploads/a.jpg"] = b"image"
    assert failures(harness.invoke(notification("uploads/a.jpg"))) == []
    result = harness.result_for("uploads/a.jpg")
    assert result.status is Status.DONE and result.path == "a.jpg"
    assert result.source["key"] == "uploads/a.jpg" and result.source["bucket"] == BUCKET
    assert result.source["sha256"] == hashlib.sha256(b"image").hexdigest()  # the file scanned
    assert harness.media.objects[result.evidence.key][:3] == b"\xff\xd8\xff"


def test_a_redelivered_notification_writes_nothing(harness: Harness) -> None:
    harness.media.objects["uploads/a.jpg"] = b"image"
    harness.invoke(notification("uploads/a.jpg"))
    writes = dict(harness.results.writes)
    # Again in a later batch, and twice within one batch.
    assert failures(harness.invoke(notification("uploads/a.jpg"))) == []
    assert failures(harness.invoke(notification("uploads/a.jpg"), notification("uploads/a.jpg"))) == []
    assert harness.detector.calls == ["a.jpg"]
    assert dict(harness.results.writes) == writes


def test_a_corrupt_file_is_a_failed_result_and_the_batch_goes_on(harness: Harness) -> None:
    harness.media.objects.update({"uploads/good.jpg": b"image", "uploads/bad.jpg": b"bad bytes"})
    response = harness.invoke(notification("uploads/bad.jpg"), notification("uploads/good.jpg"))
    assert failures(response) == []  # permanent: recorded, not retried
    bad = harness.result_for("uploads/bad.jpg")
    assert bad.status is Status.FAILED and bad.error.code.value == "corrupt_media"
    assert harness.result_for("uploads/good.jpg").status is Status.DONE


def test_an_oversized_object_fails_without_being_downloaded(harness: Harness) -> None:
    harness.media.objects["uploads/big.mp4"] = b"x"
    assert failures(harness.invoke(notification("uploads/big.mp4", size=5000))) == []
    result = harness.result_for("uploads/big.mp4")
    assert result.status is Status.FAILED and result.error.code.value == "file_too_large"
    assert "5000" in result.error.message
    assert harness.media.downloads == [] and harness.detector.calls == []


def test_an_object_deleted_before_the_scan_is_a_failed_result(harness: Harness) -> None:
    assert failures(harness.invoke(notification("uploads/gone.jpg"))) == []
    assert harness.result_for("uploads/gone.jpg").error.code.value == "not_found"


def test_a_transient_error_fails_only_its_message_and_is_retried_later(harness: Harness) -> None:
    harness.media.objects.update({"uploads/a.jpg": b"image", "uploads/b.jpg": b"image"})
    harness.media.failures["uploads/b.jpg"] = ClientError(
        {"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject"
    )
    response = harness.invoke(notification("uploads/a.jpg"), notification("uploads/b.jpg"))
    assert failures(response) == ["m1"]
    assert harness.result_for("uploads/a.jpg").status is Status.DONE
    assert harness.result_for("uploads/b.jpg").status is Status.PROCESSING
    # The redelivery, once S3 recovers, scans it: the failed attempt left no idempotency record.
    del harness.media.failures["uploads/b.jpg"]
    assert failures(harness.invoke(notification("uploads/b.jpg"))) == []
    assert harness.result_for("uploads/b.jpg").status is Status.DONE
    assert harness.detector.calls == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize("body", ["not json", '{"hello": "world"}'])
def test_a_message_that_is_not_an_s3_notification_fails_toward_the_dlq(harness: Harness, body: str) -> None:
    assert failures(harness.invoke(body, notification("uploads/none.jpg"))) == ["m0"]


def test_the_s3_test_event_is_acknowledged_and_ignored(harness: Harness) -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert failures(harness.invoke(body)) == []
    assert harness.results.items == {} and harness.detector.calls == []


def test_the_queued_record_keeps_its_creation_time(harness: Harness) -> None:
    upload_id = "0123456789abcdef0123456789abcdef"
    queued = DetectionResult(id=upload_id, path="a.jpg", status=Status.QUEUED)
    harness.results.put(queued)
    harness.media.objects[f"uploads/{upload_id}/a.jpg"] = b"image"
    harness.invoke(notification(f"uploads/{upload_id}/a.jpg"))
    done = harness.results.get(upload_id)
    assert done is not None and done.status is Status.DONE and done.created_at == queued.created_at


# ---------------------------------------------------------------- owners, time, last tries, deletion
UPLOAD_ID = "0123456789abcdef0123456789abcdef"


class SlowDetector(StubDetector):
    """Files whose bytes start with ``slow`` never finish: they report progress until stopped."""

    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Any:
        if Path(path).read_bytes().startswith(b"slow"):
            self.calls.append(f"slow:{display_path}")
            while True:
                if progress is not None:
                    progress(0, 32)
                time.sleep(0.01)
        return super().analyze(path, display_path=display_path, progress=progress, pictures=pictures)


def timed_harness(tmp_path: Path, **aws: Any) -> Harness:
    harness = Harness(tmp_path)
    harness.settings = harness.settings.updated(
        {"aws.finish_reserve_s": 0.3, "aws.min_start_s": 0.5, "aws.max_receive_count": 3}
        | {f"aws.{k}": v for k, v in aws.items()}
    )
    harness.detector = SlowDetector()
    harness.handler = make_detect_handler(
        harness.settings,
        DetectDependencies(
            detector=harness.detector,
            media=harness.media,
            results=harness.results,
            persistence=harness.persistence,
        ),
    )
    return harness


def invoke_with(harness: Harness, records: list[dict[str, Any]], timeout_s: float = 30) -> dict[str, Any]:
    context = LocalLambdaContext(function_name="detect-test", timeout_s=timeout_s)
    return harness.handler({"Records": records}, cast(LambdaContext, context))


def received(message_id: str, body: str, count: int) -> dict[str, Any]:
    record = sqs_record(message_id, body)
    record["attributes"] = {"ApproximateReceiveCount": str(count)}
    return record


def test_the_owner_of_the_queued_record_is_kept(harness: Harness) -> None:
    harness.results.put(DetectionResult(id=UPLOAD_ID, path="a.jpg", status=Status.QUEUED, owner="alice-sub"))
    harness.media.objects[f"uploads/{UPLOAD_ID}/a.jpg"] = b"image"
    assert failures(harness.invoke(notification(f"uploads/{UPLOAD_ID}/a.jpg"))) == []
    done = harness.results.get(UPLOAD_ID)
    assert done is not None and done.status is Status.DONE and done.owner == "alice-sub"


def test_a_file_put_in_the_bucket_belongs_to_the_pipeline_owner(tmp_path: Path) -> None:
    harness = timed_harness(tmp_path, pipeline_owner="pipeline-sub")
    harness.media.objects["uploads/drop/a.jpg"] = b"image"
    invoke_with(harness, [received("m0", notification("uploads/drop/a.jpg"), 1)])
    assert harness.result_for("uploads/drop/a.jpg").owner == "pipeline-sub"
    plain = Harness(tmp_path)  # by default: nobody's (in no one's list)
    plain.media.objects["uploads/drop/a.jpg"] = b"image"
    plain.invoke(notification("uploads/drop/a.jpg"))
    assert plain.result_for("uploads/drop/a.jpg").owner is None


def test_a_slow_file_is_stopped_and_does_not_take_its_batch_down(tmp_path: Path) -> None:
    harness = timed_harness(tmp_path)
    harness.media.objects.update(
        {"uploads/slow.mp4": b"slow video", "uploads/a.jpg": b"image", "uploads/b.jpg": b"image"}
    )
    batch = [
        received("m0", notification("uploads/a.jpg"), 1),
        received("m1", notification("uploads/slow.mp4"), 1),
        received("m2", notification("uploads/b.jpg"), 1),
    ]
    started = time.monotonic()
    response = invoke_with(harness, batch, timeout_s=2.0)
    assert time.monotonic() - started < 2.0  # the invocation ended on time, with an answer
    # a.jpg was done; the slow file ran into the reserve after a.jpg had used time: retried;
    # b.jpg had too little time left to start: retried.
    assert failures(response) == ["m1", "m2"]
    assert harness.result_for("uploads/a.jpg").status is Status.DONE
    assert harness.result_for("uploads/slow.mp4").status is Status.PROCESSING
    # The retry: the slow file was started before and never finished, so it goes last.
    retry = [
        received("m1", notification("uploads/slow.mp4"), 2),
        received("m2", notification("uploads/b.jpg"), 2),
    ]
    assert failures(invoke_with(harness, retry, timeout_s=2.0)) == ["m1"]
    assert harness.result_for("uploads/b.jpg").status is Status.DONE
    # Alone, with the whole invocation, it still cannot finish: it never will.
    assert failures(invoke_with(harness, [received("m1", notification("uploads/slow.mp4"), 2)], 2.0)) == []
    slow = harness.result_for("uploads/slow.mp4")
    assert slow.status is Status.FAILED and slow.error.code.value == "scan_timeout"


def test_the_last_receive_records_a_failure_instead_of_leaving_it_processing(tmp_path: Path) -> None:
    harness = timed_harness(tmp_path)
    harness.results.put(DetectionResult(id=UPLOAD_ID, path="a.jpg", status=Status.QUEUED, owner="alice-sub"))
    key = f"uploads/{UPLOAD_ID}/a.jpg"
    harness.media.objects[key] = b"image"
    harness.media.failures[key] = ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
    assert failures(invoke_with(harness, [received("m0", notification(key), 2)])) == ["m0"]
    assert harness.results.get(UPLOAD_ID).status is Status.PROCESSING  # type: ignore[union-attr]
    # maxReceiveCount (3) reached: recorded as failed, the message is done, the owner kept.
    assert failures(invoke_with(harness, [received("m0", notification(key), 3)])) == []
    failed = harness.results.get(UPLOAD_ID)
    assert failed is not None and failed.status is Status.FAILED and failed.owner == "alice-sub"
    assert failed.error is not None and failed.error.code.value == "internal_error"
    assert "3 tries" in failed.error.message and "SlowDown" not in failed.error.message.split("(")[0]
    # A later re-send of the notification (after a fix) scans it again: no idempotency record kept.
    del harness.media.failures[key]
    harness.results.items[UPLOAD_ID].status = Status.QUEUED
    assert failures(invoke_with(harness, [received("m9", notification(key), 1)])) == []
    assert harness.results.get(UPLOAD_ID).status is Status.DONE  # type: ignore[union-attr]


def test_a_key_error_is_a_bug_not_a_deleted_object(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.media.objects["uploads/a.jpg"] = b"image"
    harness.media.failures["uploads/a.jpg"] = KeyError("size")  # not the store's "no such object"
    assert failures(harness.invoke(notification("uploads/a.jpg"))) == ["m0"]  # retried, not failed
    assert harness.result_for("uploads/a.jpg").status is Status.PROCESSING


def test_a_result_deleted_during_its_scan_is_not_written_back(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    key = f"uploads/{UPLOAD_ID}/a.jpg"
    harness.media.objects[key] = b"image"

    class DeletedMidScan(StubDetector):
        def analyze(
            self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
        ) -> Any:
            harness.results.delete(UPLOAD_ID)  # DELETE /v1/results/{id} arrives meanwhile
            harness.media.delete_prefix(f"uploads/{UPLOAD_ID}/")
            return super().analyze(path, display_path=display_path, progress=progress, pictures=pictures)

    harness.handler = make_detect_handler(
        harness.settings,
        DetectDependencies(
            detector=DeletedMidScan(),
            media=harness.media,
            results=harness.results,
            persistence=harness.persistence,
        ),
    )
    assert failures(harness.invoke(notification(key))) == []
    assert harness.results.get(UPLOAD_ID) is None
    assert harness.media.objects == {}  # the evidence image the scan wrote went too


def test_the_dead_letter_consumer_fails_what_never_finished(tmp_path: Path) -> None:
    from deepfake_detect.aws.handlers.dead_letters import make_dead_letter_handler

    harness = Harness(tmp_path)
    results = harness.results
    results.put(DetectionResult(id=UPLOAD_ID, path="a.mp4", status=Status.PROCESSING, owner="alice-sub"))
    done_id = "f" * 32
    results.put(DetectionResult(id=done_id, path="b.jpg", status=Status.DONE, owner="bob-sub"))
    handler = make_dead_letter_handler(harness.settings, results=results)
    event = {
        "Records": [
            received("d0", notification(f"uploads/{UPLOAD_ID}/a.mp4"), 5),
            received("d1", notification(f"uploads/{done_id}/b.jpg"), 5),
            received("d2", "not json", 5),
            received("d3", notification("uploads/dropped/c.jpg"), 5),
        ]
    }
    context = LocalLambdaContext(function_name="dead-letters", timeout_s=30)
    assert failures(handler(event, cast(LambdaContext, context))) == []
    failed = results.get(UPLOAD_ID)
    assert failed is not None and failed.status is Status.FAILED and failed.owner == "alice-sub"
    assert failed.error is not None and failed.error.code.value == "internal_error"
    assert results.get(done_id).status is Status.DONE  # type: ignore[union-attr]
    assert harness.result_for("uploads/dropped/c.jpg").status is Status.FAILED  # never started


class RuntimeDeath(BaseException):
    """Escapes every ``except Exception``: the runtime dying mid-batch (segfault, out of memory)."""


class CrashingDetector(StubDetector):
    def analyze(
        self, path: Any, *, display_path: str | None = None, progress: Any = None, pictures: bool = False
    ) -> Any:
        if Path(path).read_bytes().startswith(b"crash"):
            self.calls.append(f"crash:{display_path}")
            raise RuntimeDeath
        return super().analyze(path, display_path=display_path, progress=progress, pictures=pictures)


def test_a_file_that_kills_the_runtime_is_isolated_from_its_batch_mates(tmp_path: Path) -> None:
    harness = timed_harness(tmp_path)
    clock = WallClock()  # what the idempotency table checks an "in progress" mark's expiry against
    harness.persistence.clock = clock
    harness.detector = CrashingDetector()
    harness.handler = make_detect_handler(
        harness.settings,
        DetectDependencies(
            detector=harness.detector,
            media=harness.media,
            results=harness.results,
            persistence=harness.persistence,
        ),
    )
    harness.media.objects.update(
        {
            "uploads/a.jpg": b"image",
            "uploads/poison.jpg": b"crash",
            "uploads/b.jpg": b"image",
            "uploads/c.jpg": b"image",
        }
    )
    first = [
        received(f"m{i}", notification(f"uploads/{n}.jpg"), 1) for i, n in enumerate(("a", "poison", "b"))
    ]
    with pytest.raises(RuntimeDeath):
        invoke_with(harness, first, timeout_s=1.0)  # the invocation dies: every message comes back
    clock.advance(1.05)  # the dead invocation's "in progress" mark on the poison has expired
    assert harness.result_for("uploads/a.jpg").status is Status.DONE
    assert harness.result_for("uploads/b.jpg") is None  # never started
    # Redelivered: the poison's last scan never came back, so its batch-mates go without it.
    again = [received(r["messageId"], r["body"], 2) for r in first]
    assert failures(invoke_with(harness, again)) == ["m1"]
    assert harness.result_for("uploads/b.jpg").status is Status.DONE
    # Alone it is tried (and kills that invocation only).
    with pytest.raises(RuntimeDeath):
        invoke_with(harness, [received("m1", notification("uploads/poison.jpg"), 2)], timeout_s=1.0)
    clock.advance(1.05)
    # On its last receive it is tried after its batch-mates.
    last = [
        received("m1", notification("uploads/poison.jpg"), 3),
        received("m3", notification("uploads/c.jpg"), 1),
    ]
    with pytest.raises(RuntimeDeath):
        invoke_with(harness, last)
    assert harness.result_for("uploads/c.jpg").status is Status.DONE
    assert harness.detector.calls[-2:] == ["c.jpg", "crash:poison.jpg"]
    # What is left (the message goes to the dead-letter queue) the dead-letter consumer records.
    poison = harness.result_for("uploads/poison.jpg")
    assert poison.status is Status.PROCESSING
