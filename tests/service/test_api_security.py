"""The local API's guards through TestClient: a full queue, refused uploads that leave nothing
behind, Host names, security headers and 500s that do not leak the machine's paths."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.api.security import trusted_hosts
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.local.wiring import local_app
from deepfake_detect.settings import ServiceSettings, Settings
from tests.support.http import error_body
from tests.support.local_api import LOCAL_URL


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        local_app(settings.updated({"service.queue_size": 1})), base_url=LOCAL_URL
    ) as test_client:
        yield test_client


def _post(client: TestClient, data: bytes, name: str = "a.jpg") -> Any:
    return client.post("/v1/detect", files={"file": (name, data, "image/jpeg")})


def _nothing_stored(client: TestClient, settings: Settings, before: set[str]) -> None:
    listed = {r["id"] for r in client.get("/v1/results", params={"limit": 100}).json()["items"]}
    assert listed == before
    uploads = settings.data_dir / "media" / "uploads"
    assert not uploads.exists() or {p.name for p in uploads.iterdir()} <= before


def test_a_full_queue_answers_429_with_retry_after_and_keeps_nothing(
    client: TestClient, settings: Settings, face_photo: Path
) -> None:
    processor = client.app.state.services.processor  # type: ignore[attr-defined]
    release = threading.Event()
    busy = processor._lanes[MediaKind.IMAGE].executor.submit(release.wait, 30)  # a long scan runs
    waiting = DetectionResult(path="w.jpg", media_kind=MediaKind.IMAGE, status=Status.QUEUED)
    processor.results.put(waiting)
    try:
        queued = processor.submit(waiting.id, bounded=True)  # the one place in the queue
        response = _post(client, face_photo.read_bytes())
        assert response.status_code == 429, response.text
        assert response.headers["retry-after"] == str(settings.service.retry_after_s)
        assert error_body(response)["code"] == "queue_full"
        _nothing_stored(client, settings, {waiting.id})
    finally:
        release.set()
        busy.result(30)
    assert queued.result(30) is not None
    assert _post(client, face_photo.read_bytes()).status_code == 200  # room again


def test_a_queue_that_fills_during_the_upload_discards_what_was_stored(
    client: TestClient, settings: Settings, face_photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue can fill between the early check and the submit: the stored file and record go."""
    processor = client.app.state.services.processor  # type: ignore[attr-defined]
    monkeypatch.setattr(processor, "check_room", lambda kind: None)
    monkeypatch.setattr(processor.settings.service, "queue_size", 0, raising=False)
    response = _post(client, face_photo.read_bytes())
    assert response.status_code == 429 and error_body(response)["code"] == "queue_full"
    _nothing_stored(client, settings, set())


def test_a_failing_store_is_a_500_that_names_no_path(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]

    def broken(**_: Any) -> None:
        raise OSError(f"unable to open database file {settings.data_dir}/results.sqlite3")

    monkeypatch.setattr(services.results, "list", broken)
    quiet = TestClient(client.app, base_url=LOCAL_URL, raise_server_exceptions=False)  # no second start
    response = quiet.get("/v1/results")
    assert response.status_code == 500
    body = error_body(response)
    assert body["code"] == "internal_error" and "OSError" in body["message"]
    assert str(settings.data_dir) not in response.text and "sqlite3" not in response.text


def test_refused_uploads_keep_their_failed_record_but_not_their_file(
    client: TestClient, settings: Settings, face_photo: Path
) -> None:
    response = _post(client, face_photo.read_bytes()[:3000])  # a cut JPEG: fails in the scan
    assert response.status_code == 422
    result_id = error_body(response)["result_id"]
    assert client.get(f"/v1/results/{result_id}").json()["status"] == "failed"
    assert not (settings.data_dir / "media" / "uploads" / result_id).exists()


def test_only_loopback_and_configured_host_names_are_answered(settings: Settings) -> None:
    assert TestClient(local_app(settings)).get("/health").status_code == 400  # Host: testserver
    allowed = settings.updated({"service.extra_hosts": ["deepfake.lan", "*.home.arpa"]})
    with TestClient(local_app(allowed), base_url="http://deepfake.lan") as client:
        assert client.get("/health").status_code == 200
        assert client.get("/health", headers={"Host": "box.home.arpa:8000"}).status_code == 200
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400


def test_trusted_hosts() -> None:
    assert trusted_hosts("127.0.0.1", []) == ["127.0.0.1", "localhost", "::1", "[::1]"]
    assert "192.168.1.5" in trusted_hosts("192.168.1.5", [])
    assert trusted_hosts("0.0.0.0", []) == trusted_hosts("::", []) == trusted_hosts("127.0.0.1", [])
    assert "[fe80::1]" in trusted_hosts("::", ["fe80::1"])
    assert ServiceSettings(extra_hosts="a.lan, B.lan").extra_hosts == ["a.lan", "b.lan"]  # type: ignore[arg-type]
    assert ServiceSettings(extra_hosts='["c.lan"]').extra_hosts == ["c.lan"]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wildcard"):
        ServiceSettings(extra_hosts=["evil*.lan"])


def test_the_page_and_the_docs(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "connect-src 'self';" in page.headers["content-security-policy"]
    docs = client.get("/docs")  # Swagger UI needs its CDN scripts: no page policy there
    assert docs.status_code == 200 and "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"
    static = client.get("/static/main.js")
    assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"


def test_other_requests_have_a_small_body_limit(client: TestClient) -> None:
    response = client.post(
        "/v1/results/x/feedback",
        content=b'{"label": "fake", "note": "' + b"x" * (2 << 20) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413 and error_body(response)["code"] == "request_too_large"
