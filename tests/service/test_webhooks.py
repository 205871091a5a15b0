"""The local service's completion webhook against a real HTTP receiver on loopback: signed
events, retries recorded as attempts, and a receiver that is down never holding up a scan."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.cli import main
from deepfake_detect.local.wiring import local_app
from deepfake_detect.settings import Settings
from tests.support.local_api import LOCAL_URL
from tests.support.net import free_port
from tests.support.receiver import WebhookReceiver
from tests.support.wait import wait_until

SECRET = "correct horse battery staple"


def with_webhook(settings: Settings, url: str, attempts: int = 3) -> Settings:
    return settings.updated(
        {
            "service.webhook_url": url,
            "service.webhook_secret": SECRET,
            "service.webhook_max_attempts": attempts,
            "service.webhook_backoff_s": 0.1,
        }
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver(SECRET, fail_first=2)
    yield running
    running.stop()


def deliveries(client: TestClient, result_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/results/{result_id}/deliveries")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    settings: Settings, receiver: WebhookReceiver, face_photo: Path
) -> None:
    with TestClient(local_app(with_webhook(settings, receiver.url)), base_url=LOCAL_URL) as client:
        answer = client.post(
            "/v1/detect", files={"file": ("face.jpg", face_photo.read_bytes(), "image/jpeg")}
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()
        wait_until(
            lambda: deliveries(client, result["id"])["deliveries"][0]["state"] == "delivered", "delivery"
        )
        [delivery] = deliveries(client, result["id"])["deliveries"]

    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
    assert [a["error"] for a in delivery["attempts"]] == ["HTTP 500", "HTTP 500", None]
    assert delivery["url"] == receiver.url and delivery["event_status"] == "done"
    # Every attempt was signed, and it was the same event each time.
    assert len(receiver.received) == 3 and all(r.signature_valid for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1
    assert [r.headers["x-deepfake-delivery-attempt"] for r in receiver.received] == ["1", "2", "3"]
    event = json.loads(receiver.received[-1].body)
    assert event["id"] == delivery["event_id"] == receiver.received[0].headers["x-deepfake-event-id"]
    assert (event["source"], event["detail-type"]) == ("deepfake-detect", "Scan Completed")
    detail = event["detail"]
    assert detail["id"] == result["id"] and detail["status"] == "done" and detail["path"] == "face.jpg"
    assert detail["verdict"] == result["verdict"] and detail["score"] == result["score"]
    assert detail["model_version"] == result["model"]["version"] and detail["error_code"] is None


def test_a_failed_scan_is_announced_with_its_error_code(
    settings: Settings, face_photo: Path, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(SECRET)
    try:
        with TestClient(local_app(with_webhook(settings, receiver.url)), base_url=LOCAL_URL) as client:
            cut = face_photo.read_bytes()[:5000]
            answer = client.post("/v1/detect", files={"file": ("cut.jpg", cut, "image/jpeg")})
            assert answer.status_code == 422
            result_id = answer.json()["detail"]["result_id"]
            wait_until(lambda: receiver.received, "the event")
            assert deliveries(client, result_id)["deliveries"][0]["state"] == "delivered"
    finally:
        receiver.stop()
    detail = json.loads(receiver.received[0].body)["detail"]
    assert (detail["id"], detail["status"], detail["error_code"]) == (result_id, "failed", "corrupt_media")
    assert detail["verdict"] == "error" and receiver.received[0].signature_valid


def test_a_receiver_that_is_down_never_holds_up_the_scan(
    settings: Settings, face_photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    local = with_webhook(settings, down)
    with TestClient(local_app(local), base_url=LOCAL_URL) as client:
        started = time.monotonic()
        answer = client.post(
            "/v1/detect", files={"file": ("face.jpg", face_photo.read_bytes(), "image/jpeg")}
        )
        elapsed = time.monotonic() - started
        assert answer.status_code == 200 and answer.json()["status"] == "done"
        result_id = answer.json()["id"]
        assert client.get(f"/v1/results/{result_id}").json()["status"] == "done"
        assert elapsed < 10.0
        wait_until(lambda: deliveries(client, result_id)["deliveries"][0]["state"] == "failed", "giving up")
        [delivery] = deliveries(client, result_id)["deliveries"]
    assert len(delivery["attempts"]) == 3
    for attempt in delivery["attempts"]:
        assert attempt["status_code"] is None and "refused" in attempt["error"].lower()

    # The same record from the command line.
    assert main(["deliveries", result_id, "--data-dir", str(local.data_dir)]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:2] == ["state", "attempts"]
    assert row.split()[:2] == ["failed", "3"] and row.endswith(f"{result_id} / {delivery['event_id']}")
    assert main(["deliveries", "--json", "--data-dir", str(local.data_dir)]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    assert json.loads(line)["state"] == "failed"


def test_without_a_webhook_the_deliveries_are_empty(settings: Settings, face_photo: Path) -> None:
    with TestClient(local_app(settings), base_url=LOCAL_URL) as client:
        result = client.post("/v1/detect", files={"file": ("f.jpg", face_photo.read_bytes(), "image/jpeg")})
        body = deliveries(client, result.json()["id"])
        assert body == {"result_id": result.json()["id"], "webhook": False, "deliveries": []}
        missing = client.get("/v1/results/nope/deliveries")
        assert missing.status_code == 404 and missing.json()["detail"]["code"] == "result_not_found"
