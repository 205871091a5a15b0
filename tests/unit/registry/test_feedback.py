"""Reviewer feedback: the endpoint, the store, and the export as a labelled training channel."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, MediaKind, ModelInfo, Status
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.registry.feedback import (
    LABELS_FILE,
    Feedback,
    Label,
    export_channel,
)
from deepfake_detect.settings import Settings


@pytest.fixture
def stores(tmp_path: Path) -> tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore]:
    return (
        LocalMediaStore(tmp_path / "media"),
        SQLiteResultStore(tmp_path / "results.sqlite3"),
        SQLiteFeedbackStore(tmp_path / "feedback.sqlite3"),
    )


def scanned(
    media: LocalMediaStore, results: SQLiteResultStore, result_id: str, status: Status = Status.DONE
) -> DetectionResult:
    key = f"uploads/{result_id}/upload.jpg"
    media.put(key, b"jpeg bytes of " + result_id.encode())
    result = DetectionResult(
        id=result_id,
        path="holiday.jpg",
        media_kind=MediaKind.IMAGE,
        status=status,
        score=0.8,
        model=ModelInfo(name="m", version="4.2", sha256="ab"),
        source={"key": key, "store": "local"},
    )
    results.put(result)
    return result


@pytest.fixture
def client(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore]
) -> TestClient:
    media, results, feedback = stores
    services = Services(
        settings=settings,
        media=media,
        results=results,
        model_card=lambda: ModelCard(name="m", version="4.2"),
        feedback=feedback,
    )
    return TestClient(create_app(settings, services))


def test_label_is_stored_with_what_the_model_said(
    client: TestClient, stores: tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore]
) -> None:
    media, results, feedback = stores
    scanned(media, results, "a" * 32)
    # A name in the body is not the reviewer: the caller is (locally, the one local owner).
    response = client.post(f"/v1/results/{'a' * 32}/feedback", json={"label": "fake", "reviewer": "kim"})
    assert response.status_code == 200, response.text
    stored = feedback.get("a" * 32)
    assert stored is not None and stored.label is Label.FAKE and stored.reviewer == "local"
    assert (stored.model_version, stored.score) == ("4.2", 0.8)
    assert stored.media_key == f"uploads/{'a' * 32}/upload.jpg"
    assert response.json()["label"] == "fake"
    # A second review replaces the first.
    assert client.post(f"/v1/results/{'a' * 32}/feedback", json={"label": "real"}).status_code == 200
    assert feedback.get("a" * 32).label is Label.REAL  # type: ignore[union-attr]
    assert len(list(feedback.all())) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [({"label": "maybe"}, 422), ({}, 422), ({"label": "real", "note": "x" * 2001}, 422)],
)
def test_bad_labels_are_refused(
    client: TestClient,
    stores: tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore],
    body: dict[str, str],
    status: int,
) -> None:
    scanned(stores[0], stores[1], "b" * 32)
    assert client.post(f"/v1/results/{'b' * 32}/feedback", json=body).status_code == status
    assert stores[2].get("b" * 32) is None


def test_unknown_or_unfinished_results_cannot_be_labelled(
    client: TestClient, stores: tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore]
) -> None:
    response = client.post("/v1/results/nope/feedback", json={"label": "real"})
    assert response.status_code == 404 and response.json()["detail"]["code"] == "result_not_found"
    scanned(stores[0], stores[1], "c" * 32, status=Status.PROCESSING)
    response = client.post(f"/v1/results/{'c' * 32}/feedback", json={"label": "real"})
    assert response.status_code == 409 and response.json()["detail"]["code"] == "result_not_done"


def test_without_a_feedback_store_the_endpoint_says_so(
    settings: Settings, stores: tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore]
) -> None:
    services = Services(
        settings=settings,
        media=stores[0],
        results=stores[1],
        model_card=lambda: ModelCard(name="m", version="1"),
    )
    client = TestClient(create_app(settings, services))
    response = client.post("/v1/results/x/feedback", json={"label": "real"})
    assert response.status_code == 404 and response.json()["detail"]["code"] == "not_available"


def test_export_writes_media_and_labels(
    tmp_path: Path, stores: tuple[LocalMediaStore, SQLiteResultStore, SQLiteFeedbackStore]
) -> None:
    media, results, feedback = stores
    for result_id, label in (("1" * 32, Label.FAKE), ("2" * 32, Label.REAL)):
        result = scanned(media, results, result_id)
        feedback.put(
            Feedback(
                result_id=result_id,
                label=label,
                media_key=result.source["key"],
                model_version="4.2",
                score=0.8,
            )
        )
    feedback.put(Feedback(result_id="3" * 32, label=Label.REAL, media_key="uploads/gone/upload.mp4"))
    channel = LocalMediaStore(tmp_path / "channel")
    summary = export_channel(feedback, media, channel, prefix="feedback/")
    assert (summary.labelled, summary.copied, summary.missing) == (2, 2, ["3" * 32])
    rows = list(csv.DictReader((tmp_path / "channel/feedback" / LABELS_FILE).open()))
    assert [(r["file"], r["label"]) for r in rows] == [
        (f"media/{'1' * 32}.jpg", "fake"),
        (f"media/{'2' * 32}.jpg", "real"),
    ]
    assert (tmp_path / "channel/feedback" / rows[0]["file"]).read_bytes() == b"jpeg bytes of " + b"1" * 32
    # Exports are incremental: files already in the channel are not copied again.
    assert export_channel(feedback, media, channel, prefix="feedback/").copied == 0


def test_the_local_service_keeps_feedback_beside_its_results(settings: Settings) -> None:
    from deepfake_detect.local.wiring import local_services

    services = local_services(settings)
    try:
        assert isinstance(services.feedback, SQLiteFeedbackStore)
        services.feedback.put(Feedback(result_id="r", label=Label.REAL, media_key="uploads/r/a.jpg"))
        assert (settings.data_dir / "feedback.sqlite3").is_file()
    finally:
        assert services.processor is not None
        services.processor.shutdown()
