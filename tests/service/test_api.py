"""The local service's HTTP API through FastAPI's TestClient (lifespan on: the worker runs)."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.local.wiring import local_app
from deepfake_detect.settings import Settings
from tests.support.http import error_body, wait_for_result
from tests.support.local_api import LOCAL_URL
from tests.support.media import png_bomb, png_with_text, read_bgr, write_video

# The local service answers loopback Host names only (TestClient's default is "testserver").


def post(client: TestClient, name: str, data: bytes, content_type: str = "application/octet-stream"):  # type: ignore[no-untyped-def]
    return client.post("/v1/detect", files={"file": (name, data, content_type)})


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["mode"] == "local"


def test_model_card(client: TestClient) -> None:
    card = client.get("/v1/model").json()
    assert card["name"] == "tiny-test-classifier"
    assert len(card["sha256"]) == 64 and card["preprocessing"]["input_size"] == 64


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/v1/detect", "/v1/results", "/v1/results/{result_id}", "/v1/model", "/health"):
        assert path in schema["paths"]


def test_openapi_describes_the_provenance_fields(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    result = schemas["DetectionResult"]["properties"]
    for name in ("provenance", "verdict_reason", "classifier_verdict", "verdict", "score"):
        assert result[name].get("description"), name
    assert "#/components/schemas/Provenance" in str(result["provenance"])
    for model in ("Provenance", "Claim", "C2paInfo"):
        assert schemas[model].get("description"), model
        undescribed = [k for k, v in schemas[model]["properties"].items() if not v.get("description")]
        assert not undescribed, f"{model}: {undescribed}"


def test_a_png_declaring_ai_is_answered_fake_with_its_provenance(
    client: TestClient, face_photo: Path, tmp_path: Path
) -> None:
    png = png_with_text(face_photo, tmp_path / "generated.png")
    response = post(client, "generated.png", png.read_bytes(), "image/png")
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["verdict"] == "fake" and body["classifier_verdict"] in ("fake", "real")
    assert "Stable Diffusion web UI parameters" in body["verdict_reason"]
    assert isinstance(body["score"], float)  # the classifier's own score is still there
    provenance = body["provenance"]
    assert provenance["declared_ai"] is True and provenance["reason"] == body["verdict_reason"]
    assert provenance["claims"][0]["source"] == "png_text" and provenance["claims"][0]["declared_ai"]
    assert "provenance" in body["timings_ms"]
    read = client.get(f"/v1/results/{body['id']}").json()
    assert read.pop("same_file") is None  # the reading adds the file's other results (none here)
    assert read == body
    listed = client.get("/v1/results", params={"limit": 1}).json()["items"][0]
    assert listed["id"] == body["id"] and listed["provenance"] == provenance


def test_a_plain_photo_has_provenance_without_claims(client: TestClient, face_photo: Path) -> None:
    body = post(client, "photo.jpg", face_photo.read_bytes(), "image/jpeg").json()
    assert body["provenance"] == {
        "claims": [],
        "declared_ai": False,
        "reason": None,
        "c2pa": None,
        "errors": [],
    }
    assert body["verdict_reason"] is None and body["verdict"] == body["classifier_verdict"]


def test_a_corrupt_upload_keeps_the_provenance_it_declared(
    client: TestClient, face_photo: Path, tmp_path: Path
) -> None:
    png = png_with_text(face_photo, tmp_path / "generated.png")
    response = post(client, "cut.png", png.read_bytes()[:20_000], "image/png")
    assert response.status_code == 422
    result_id = error_body(response)["result_id"]
    stored = client.get(f"/v1/results/{result_id}").json()
    assert stored["verdict"] == "error" and stored["verdict_reason"] is None
    assert stored["provenance"]["declared_ai"] is True


def test_image_is_answered_with_its_result(client: TestClient, couple_photo: Path) -> None:
    response = post(client, "couple.jpg", couple_photo.read_bytes(), "image/jpeg")
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    result = DetectionResult.model_validate(body)
    assert result.status is Status.DONE and result.media_kind is MediaKind.IMAGE
    assert result.path == "couple.jpg" and len(result.faces) == 2 and len(result.tracks) == 2
    assert result.verdict in ("fake", "real") and result.model is not None
    read = client.get(f"/v1/results/{result.id}").json()
    assert "same_file" in read  # the reading adds the file's other results
    assert {k: v for k, v in read.items() if k != "same_file"} == body

    evidence = client.get(f"/v1/results/{result.id}/evidence.jpg")
    assert evidence.status_code == 200 and evidence.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(evidence.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and max(image.shape[:2]) == 1280


def test_video_is_queued_then_done(client: TestClient, face_photo: Path, tmp_path: Path) -> None:
    face = cv2.resize(read_bgr(face_photo), (120, 120))
    canvas = np.full((240, 320, 3), 80, np.uint8)
    canvas[60:180, 100:220] = face
    video = write_video(tmp_path / "talk.mp4", [canvas] * 20, size=(320, 240))
    response = post(client, "talk.mp4", video.read_bytes(), "video/mp4")
    assert response.status_code == 202, response.text[:300]
    queued = response.json()
    assert queued["status"] == "queued" and queued["media_kind"] == "video" and queued["verdict"] is None
    final = wait_for_result(client, queued["id"])
    assert final["status"] == "done", final
    assert final["frames_sampled"] == 8 and len(final["frames"]) == 8
    assert len(final["tracks"]) == 1 and final["verdict"] in ("fake", "real")
    assert final["created_at"] == queued["created_at"] and final["path"] == "talk.mp4"
    assert client.get(f"/v1/results/{queued['id']}/evidence.jpg").status_code == 200


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty.jpg", lambda p: b"", 400, "empty_file"),
        ("notes.jpg", lambda p: b"just text, not a picture\n" * 10, 415, "unsupported_type"),
        ("photo.gif", lambda p: b"GIF89a" + b"\0" * 100, 415, "unsupported_type"),
        ("cut.jpg", lambda p: p.read_bytes()[:5000], 422, "corrupt_media"),
        ("bomb.png", lambda p: png_bomb(30_000, 30_000), 413, "too_many_pixels"),
        ("cut.mp4", None, 422, "corrupt_media"),
    ],
)
def test_bad_uploads_get_4xx_with_a_reason(
    client: TestClient, face_photo: Path, real_video: Path, name: str, make, status: int, code: str
) -> None:  # type: ignore[no-untyped-def]
    data = real_video.read_bytes()[:60_000] if make is None else make(face_photo)
    response = post(client, name, data)
    assert response.status_code == status, response.text[:300]
    body = error_body(response)
    assert body["code"] == code and body["message"]
    if body.get("result_id"):  # a refused scan is still on record, as failed
        stored = client.get(f"/v1/results/{body['result_id']}").json()
        assert stored["status"] == "failed" and stored["error"]["code"] == code
    assert client.get("/health").status_code == 200  # and the service stays up


def test_upload_size_limit(settings: Settings, face_photo: Path) -> None:
    small = settings.updated({"limits.max_upload_bytes": 10_000})
    with TestClient(local_app(small), base_url=LOCAL_URL) as client:
        response = post(client, "big.jpg", face_photo.read_bytes())
    assert response.status_code == 413
    assert error_body(response)["code"] == "file_too_large"


def test_missing_file_field_is_422(client: TestClient) -> None:
    assert client.post("/v1/detect").status_code == 422


@pytest.mark.parametrize("filename", ["../../../etc/evil.jpg", "..", "a\\b\\c.jpg", "x" * 400 + ".jpg", "."])
def test_hostile_filenames_do_not_decide_where_files_land(
    client: TestClient, settings: Settings, face_photo: Path, filename: str
) -> None:
    response = post(client, filename, face_photo.read_bytes(), "image/jpeg")
    assert response.status_code == 200, response.text[:300]
    shown = response.json()["path"]
    assert "/" not in shown and "\\" not in shown and 0 < len(shown) <= 255
    assert not (settings.data_dir.parent / "etc").exists()
    uploads = list((settings.data_dir / "media" / "uploads").rglob("*"))
    assert all(p.resolve().is_relative_to(settings.data_dir.resolve()) for p in uploads)


def test_results_are_listed_newest_first_with_pages(client: TestClient, face_photo: Path) -> None:
    ids = [post(client, f"p{i}.jpg", face_photo.read_bytes()).json()["id"] for i in range(3)]
    first = client.get("/v1/results", params={"limit": 2}).json()
    assert [r["id"] for r in first["items"]] == ids[::-1][:2]
    assert first["next_token"]
    second = client.get("/v1/results", params={"limit": 2, "token": first["next_token"]}).json()
    assert [r["id"] for r in second["items"]] == [ids[0]]
    assert second["next_token"] is None


def test_invalid_page_requests(client: TestClient) -> None:
    response = client.get("/v1/results", params={"token": "garbage!"})
    assert response.status_code == 400 and error_body(response)["code"] == "invalid_token"
    assert client.get("/v1/results", params={"limit": 0}).status_code == 422
    assert client.get("/v1/results", params={"limit": 1000}).status_code == 422


def test_unknown_result_and_evidence_are_404(client: TestClient) -> None:
    response = client.get("/v1/results/does-not-exist")
    assert response.status_code == 404
    assert error_body(response)["code"] == "result_not_found"
    missing = client.get("/v1/results/does-not-exist/evidence.jpg")
    assert missing.status_code == 404 and error_body(missing)["code"] == "evidence_not_found"


def test_a_restart_finishes_work_left_queued(settings: Settings, face_photo: Path, tmp_path: Path) -> None:
    """Uploads accepted just before a stop (queued, or cut off mid-scan) are finished after a start."""
    media = LocalMediaStore(settings.data_dir / "media")
    results = SQLiteResultStore(settings.data_dir / "results.sqlite3")
    left: list[str] = []
    for status, name in [(Status.QUEUED, "queued.jpg"), (Status.PROCESSING, "interrupted.mp4")]:
        record = DetectionResult(path=name, status=status, source={"key": f"uploads/x/{name}"})
        source = face_photo if name.endswith(".jpg") else write_video(tmp_path / name, 10)
        data = source.read_bytes()
        media.put(record.source["key"], data)
        results.put(record)
        left.append(record.id)
    results.close()
    with TestClient(local_app(settings), base_url=LOCAL_URL) as client:
        for result_id in left:
            assert wait_for_result(client, result_id)["status"] == "done"


def test_a_missing_model_is_503_with_a_reason_not_a_crash(settings: Settings, face_photo: Path) -> None:
    broken = settings.model_copy(update={"classifier_model": "absent.onnx"})
    with TestClient(local_app(broken), base_url=LOCAL_URL) as client:
        assert client.get("/health").status_code == 200
        card = client.get("/v1/model")
        assert card.status_code == 503 and error_body(card)["code"] == "model_error"
        scan = post(client, "a.jpg", face_photo.read_bytes(), "image/jpeg")
        assert scan.status_code == 503
        body = error_body(scan)
        assert body["code"] == "model_error" and "absent.onnx" in body["message"]
        assert client.get(f"/v1/results/{body['result_id']}").json()["status"] == "failed"


def test_waiting_for_an_image_scan_does_not_block_other_requests(
    client: TestClient, face_photo: Path
) -> None:
    """The image request awaits its scan without holding the event loop: while the worker is busy,
    /health and result look-ups still answer."""

    processor = client.app.state.services.processor  # type: ignore[attr-defined]
    release = threading.Event()
    busy = processor._lanes[MediaKind.IMAGE].executor.submit(release.wait, 10)  # a long scan
    answers: list[int] = []
    upload = threading.Thread(
        target=lambda: answers.append(
            post(client, "a.jpg", face_photo.read_bytes(), "image/jpeg").status_code
        )
    )
    upload.start()
    try:
        for _ in range(3):
            assert client.get("/health").status_code == 200
        assert client.get("/v1/results").status_code == 200
        assert answers == []  # the upload is still waiting for the worker
    finally:
        release.set()
        upload.join(30)
        busy.result(5)
    assert answers == [200]
