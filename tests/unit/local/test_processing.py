"""processing.LocalProcessor: the local service's worker (queue, statuses, evidence, restarts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.pipeline import Analysis, ScanPipeline
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.settings import Settings
from deepfake_detect.store.evidence import evidence_key
from deepfake_detect.store.queue import QueueFullError
from tests.support.media import write_video

WAIT_S = 60


@pytest.fixture
def stores(settings: Settings) -> tuple[LocalMediaStore, SQLiteResultStore]:
    return LocalMediaStore(settings.data_dir / "media"), SQLiteResultStore(settings.data_dir / "r.sqlite3")


@pytest.fixture
def processor(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore], detector: ScanPipeline
) -> Iterator[LocalProcessor]:
    media, results = stores
    worker = LocalProcessor(settings, media, results, detector=detector)
    worker.start().result(WAIT_S)
    yield worker
    worker.shutdown()


def upload(
    processor: LocalProcessor,
    source: Path,
    kind: MediaKind,
    name: str | None = None,
    owner: str | None = None,
) -> DetectionResult:
    record = DetectionResult(
        path=name or source.name,
        media_kind=kind,
        status=Status.QUEUED,
        source={"key": f"uploads/{source.name}", "store": "local"},
        owner=owner,
    )
    processor.media.put(record.source["key"], source.read_bytes())
    processor.results.put(record)
    return record


def test_image_is_scanned_with_evidence(processor: LocalProcessor, face_photo: Path) -> None:
    record = upload(processor, face_photo, MediaKind.IMAGE, name="me.jpg")
    result = processor.submit(record.id).result(WAIT_S)
    assert result is not None and result.status is Status.DONE
    assert result.id == record.id and result.created_at == record.created_at and result.path == "me.jpg"
    assert result.progress is None and len(result.faces) == 1
    assert processor.results.get(record.id) == result
    assert result.evidence is not None and result.evidence.key == evidence_key(record.id)
    jpeg = processor.media.get(evidence_key(record.id))
    evidence = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert evidence is not None
    assert evidence.shape == (400, 400, 3) and result.evidence.scale == 1.0


def test_large_evidence_is_downscaled_and_scale_recorded(
    processor: LocalProcessor, couple_photo: Path
) -> None:
    record = upload(processor, couple_photo, MediaKind.IMAGE)
    result = processor.submit(record.id).result(WAIT_S)
    assert result is not None
    evidence = cv2.imdecode(np.frombuffer(processor.media.get(evidence_key(record.id)), np.uint8), 1)
    assert evidence is not None
    assert max(evidence.shape[:2]) == 1280
    assert result.evidence is not None and result.evidence.scale == pytest.approx(1280 / 2280, rel=1e-4)


def test_video_goes_queued_processing_done(processor: LocalProcessor, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", 40)
    record = upload(processor, video, MediaKind.VIDEO)
    statuses: list[Status] = []
    original_put = processor.results.put

    def spy(result: DetectionResult) -> None:
        statuses.append(result.status)
        original_put(result)

    processor.results.put = spy  # type: ignore[method-assign]
    result = processor.submit(record.id).result(WAIT_S)
    assert result is not None and result.status is Status.DONE and result.verdict is Verdict.NO_FACE
    assert statuses[0] is Status.PROCESSING and statuses[-1] is Status.DONE


def test_finished_records_are_not_scanned_again(processor: LocalProcessor, face_photo: Path) -> None:
    record = upload(processor, face_photo, MediaKind.IMAGE)
    first = processor.submit(record.id).result(WAIT_S)
    second = processor.submit(record.id).result(WAIT_S)
    assert first == second
    assert processor.submit("unknown-id").result(WAIT_S) is None


def test_missing_upload_fails_cleanly(processor: LocalProcessor) -> None:
    record = DetectionResult(
        path="gone.jpg", media_kind=MediaKind.IMAGE, status=Status.QUEUED, source={"key": "uploads/gone.jpg"}
    )
    processor.results.put(record)
    result = processor.submit(record.id).result(WAIT_S)
    assert result is not None and result.status is Status.FAILED
    assert result.error is not None and result.error.code is ErrorCode.NOT_FOUND


def test_bad_upload_is_a_failed_record(processor: LocalProcessor, tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 100)
    record = upload(processor, tmp_path / "x.jpg", MediaKind.IMAGE)
    result = processor.submit(record.id).result(WAIT_S)
    assert result is not None and result.error is not None
    assert result.error.code is ErrorCode.CORRUPT_MEDIA
    stored = processor.results.get(record.id)
    assert stored is not None and stored.status is Status.FAILED


def test_restart_resumes_queued_and_interrupted_work(
    settings: Settings,
    detector: ScanPipeline,
    stores: tuple[LocalMediaStore, SQLiteResultStore],
    face_photo: Path,
    tmp_path: Path,
) -> None:
    """Records left queued or processing by a stopped service are scanned on the next start."""
    media, results = stores
    first = LocalProcessor(settings, media, results, detector=detector)
    queued = upload(first, face_photo, MediaKind.IMAGE)
    video = write_video(tmp_path / "clip.mp4", 10)
    interrupted = upload(first, video, MediaKind.VIDEO)
    results.put(interrupted.model_copy(update={"status": Status.PROCESSING, "progress": 0.4}))
    first.shutdown()  # never started: the records stay as they are

    restarted = LocalProcessor(
        settings, media, SQLiteResultStore(settings.data_dir / "r.sqlite3"), detector=detector
    )
    try:
        restarted.start().result(WAIT_S)
        restarted.flush(WAIT_S)  # both lanes: the resumed scans are done
    finally:
        restarted.shutdown()
    for record in (queued, interrupted):
        done = restarted.results.get(record.id)
        assert done is not None and done.status is Status.DONE and done.progress is None
    assert list(restarted.results.pending()) == []


def test_model_load_failure_fails_the_record_not_the_worker(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore], face_photo: Path
) -> None:
    media, results = stores
    broken = settings.model_copy(update={"classifier_model": "missing.onnx"})
    worker = LocalProcessor(broken, media, results)
    try:
        with pytest.raises(FileNotFoundError):
            worker.start().result(WAIT_S)
        record = upload(worker, face_photo, MediaKind.IMAGE)
        result = worker.submit(record.id).result(WAIT_S)
    finally:
        worker.shutdown()
    assert result is not None and result.status is Status.FAILED
    assert result.error is not None and result.error.code is ErrorCode.MODEL_ERROR
    assert "missing.onnx" in result.error.message


def test_model_card_does_not_wait_for_queued_scans(
    settings: Settings, detector: ScanPipeline, stores: tuple[LocalMediaStore, SQLiteResultStore]
) -> None:
    media, results = stores
    worker = LocalProcessor(settings, media, results, detector=detector)
    release = threading.Event()
    try:
        worker.start().result(WAIT_S)
        blocker = worker._lanes[MediaKind.IMAGE].executor.submit(release.wait, WAIT_S)  # a long scan
        card = worker.detector.classifier.card  # answers now, not after the scan
        assert card.name == "tiny-test-classifier"
        assert not blocker.done()
    finally:
        release.set()
        worker.shutdown()


def test_precheck_refuses_a_truncated_video_before_queueing(
    processor: LocalProcessor, real_video: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(real_video.read_bytes()[:50_000])
    record = upload(processor, cut, MediaKind.VIDEO)
    refused = processor.precheck(record)
    assert refused is not None and refused.id == record.id
    assert refused.error is not None and refused.error.code is ErrorCode.CORRUPT_MEDIA
    stored = processor.results.get(record.id)
    assert stored is not None and stored.status is Status.FAILED


def test_precheck_passes_good_media(processor: LocalProcessor, real_video: Path, face_photo: Path) -> None:
    assert processor.precheck(upload(processor, real_video, MediaKind.VIDEO)) is None
    assert processor.precheck(upload(processor, face_photo, MediaKind.IMAGE)) is None


def test_results_stored_before_the_evidence_field_still_show_their_evidence() -> None:
    from deepfake_detect.core.result import DetectionResult

    old = DetectionResult(
        path="a.jpg", source={"key": "k", "evidence_key": "evidence/x.jpg", "evidence_scale": "0.5"}
    )
    again = DetectionResult.model_validate_json(old.model_dump_json())
    assert (
        again.evidence is not None and again.evidence.key == "evidence/x.jpg" and again.evidence.scale == 0.5
    )
    assert DetectionResult(path="b.jpg").evidence is None


class FakeDetector:
    """Stands in for ``ScanPipeline``: every scan is done with no face, after ``gate`` opens."""

    def __init__(self, gate: threading.Event | None = None, crash: bool = False) -> None:
        self.gate = gate
        self.crash = crash
        self.started = threading.Event()
        self.scanned: list[str] = []

    def analyze(
        self, path: Path, *, display_path: str | None = None, progress: object = None, pictures: bool = False
    ) -> Analysis:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        if self.crash:  # what a segfault or an OOM kill looks like from the store: no ending at all
            raise Crash
        self.scanned.append(display_path or path.name)
        return Analysis(
            DetectionResult(path=display_path or path.name, status=Status.DONE, verdict=Verdict.NO_FACE)
        )


class Crash(BaseException):
    """Escapes the worker's ``except Exception`` like a dying process would."""


def fake_processor(
    settings: Settings,
    stores: tuple[LocalMediaStore, SQLiteResultStore],
    image: FakeDetector,
    video: FakeDetector,
    **service: int,
) -> LocalProcessor:
    changed = settings.updated({f"service.{name}": value for name, value in service.items()})
    media, results = stores
    worker = LocalProcessor(
        changed,
        media,
        results,
        detector=image,  # type: ignore[arg-type]
        video_detector=video,  # type: ignore[arg-type]
    )
    worker.start().result(WAIT_S)
    return worker


def fake_upload(worker: LocalProcessor, kind: MediaKind, name: str) -> DetectionResult:
    record = DetectionResult(
        path=name,
        media_kind=kind,
        status=Status.QUEUED,
        source={"key": f"uploads/{name}/f", "store": "local"},
    )
    worker.media.put(record.source["key"], b"bytes of " + name.encode())
    worker.results.put(record)
    return record


def test_an_image_does_not_wait_behind_videos(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore]
) -> None:
    gate = threading.Event()
    video_detector, image_detector = FakeDetector(gate), FakeDetector()
    worker = fake_processor(settings, stores, image_detector, video_detector)
    try:
        videos = [worker.submit(fake_upload(worker, MediaKind.VIDEO, f"v{i}.mp4").id) for i in range(3)]
        assert video_detector.started.wait(WAIT_S)  # the first video is being scanned, two wait
        image = worker.submit(fake_upload(worker, MediaKind.IMAGE, "a.jpg").id).result(WAIT_S)
        assert image is not None and image.status is Status.DONE
        assert not any(v.done() for v in videos)
    finally:
        gate.set()
    try:
        assert all(v.result(WAIT_S).status is Status.DONE for v in videos)  # type: ignore[union-attr]
    finally:
        worker.shutdown()


def test_a_full_lane_refuses_with_queue_full_and_the_other_lane_still_accepts(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore]
) -> None:
    gate = threading.Event()
    video_detector = FakeDetector(gate)
    worker = fake_processor(settings, stores, FakeDetector(), video_detector, queue_size=2, retry_after_s=7)
    try:
        running = worker.submit(fake_upload(worker, MediaKind.VIDEO, "v0.mp4").id, bounded=True)
        assert video_detector.started.wait(WAIT_S)
        waiting = [
            worker.submit(fake_upload(worker, MediaKind.VIDEO, f"v{i}.mp4").id, bounded=True) for i in (1, 2)
        ]
        with pytest.raises(QueueFullError) as refused:
            worker.check_room(MediaKind.VIDEO)
        assert refused.value.retry_after_s == 7 and refused.value.kind is MediaKind.VIDEO
        with pytest.raises(QueueFullError):
            worker.submit(fake_upload(worker, MediaKind.VIDEO, "v3.mp4").id, bounded=True)
        worker.check_room(MediaKind.IMAGE)  # images have their own lane
        # Work resumed after a restart is queued whatever the size: it was accepted before.
        resumed = worker.submit(fake_upload(worker, MediaKind.VIDEO, "v4.mp4").id)
    finally:
        gate.set()
    try:
        for future in (running, *waiting, resumed):
            assert future.result(WAIT_S) is not None
        worker.check_room(MediaKind.VIDEO)  # drained: room again
    finally:
        worker.shutdown()


def test_discard_forgets_the_file_and_the_record(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore]
) -> None:
    worker = fake_processor(settings, stores, FakeDetector(), FakeDetector())
    try:
        record = fake_upload(worker, MediaKind.IMAGE, "refused.jpg")
        worker.discard(record)
        assert worker.results.get(record.id) is None
        assert not worker.media.exists(record.source["key"])
        assert not (settings.data_dir / "media" / "uploads" / "refused.jpg").exists()  # no empty folder
        worker.discard(record)  # twice is fine
    finally:
        worker.shutdown()


def test_a_scan_that_kills_the_worker_is_failed_after_max_attempts(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore]
) -> None:
    """Each start resumes the unfinished record and counts the attempt in SQLite; past
    ``max_attempts`` the record is failed (internal_error) instead of crashing the service again."""
    media, _ = stores
    path = settings.data_dir / "r.sqlite3"
    record: DetectionResult | None = None
    for start in range(1, 5):
        results = SQLiteResultStore(path)  # a fresh process: only the file carries over
        crasher = FakeDetector(crash=True)
        worker = LocalProcessor(
            settings.updated({"service.max_attempts": 3}),
            media,
            results,
            detector=crasher,  # type: ignore[arg-type]
            video_detector=crasher,  # type: ignore[arg-type]
        )
        if record is None:
            record = fake_upload(worker, MediaKind.VIDEO, "poison.mp4")  # accepted, then the crashes
        worker.start().result(WAIT_S)  # resumes it
        worker.flush(WAIT_S)
        worker.shutdown()
        stored = results.get(record.id)
        assert stored is not None
        if start <= 3:
            assert crasher.started.is_set() and stored.status is Status.PROCESSING, start
        else:
            assert not crasher.started.is_set()
            assert stored.status is Status.FAILED and stored.error is not None
            assert stored.error.code is ErrorCode.INTERNAL_ERROR and "3 times" in stored.error.message
        results.close()
    assert list(SQLiteResultStore(path).pending()) == []


def test_a_finished_scan_forgets_its_attempts(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore]
) -> None:
    _, results = stores
    worker = fake_processor(settings, stores, FakeDetector(), FakeDetector(), max_attempts=1)
    try:
        record = fake_upload(worker, MediaKind.IMAGE, "ok.jpg")
        results.begin_attempt("other")
        assert worker.submit(record.id).result(WAIT_S).status is Status.DONE  # type: ignore[union-attr]
        assert results.begin_attempt(record.id) == 1  # counted afresh: the finished scan's count is gone
        assert results.begin_attempt("other") == 2
    finally:
        worker.shutdown()


def test_error_messages_name_files_but_not_folders(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore], face_photo: Path
) -> None:
    media, results = stores
    broken = settings.model_copy(update={"classifier_model": "missing.onnx"})
    worker = LocalProcessor(broken, media, results)
    try:
        record = upload(worker, face_photo, MediaKind.IMAGE)
        result = worker.submit(record.id).result(WAIT_S)
    finally:
        worker.shutdown()
    assert result is not None and result.error is not None
    assert "missing.onnx" in result.error.message and str(settings.models_dir) not in result.error.message
    assert "/" not in result.error.message


def test_a_failed_scan_keeps_its_record_and_owner(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore], face_photo: Path, tmp_path: Path
) -> None:
    """Every failure the worker records (the models cannot load; the upload is refused by the
    precheck) is the queued record's: same id, creation time, source, kind and owner."""
    media, results = stores
    broken = settings.model_copy(update={"classifier_model": "missing.onnx"})
    worker = LocalProcessor(broken, media, results)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not a picture at all")
    try:
        unloaded = upload(worker, face_photo, MediaKind.IMAGE, owner="alice")
        failed = worker.submit(unloaded.id).result(WAIT_S)
        refused_record = upload(worker, garbage, MediaKind.IMAGE, owner="alice")
        refused = worker.precheck(refused_record)
    finally:
        worker.shutdown()
    for record, result in ((unloaded, failed), (refused_record, refused)):
        assert result is not None and result.status is Status.FAILED and result.error is not None
        assert (result.id, result.created_at, result.source) == (record.id, record.created_at, record.source)
        assert result.media_kind is MediaKind.IMAGE and result.owner == "alice"
        assert worker.results.get(record.id) == result
