"""`deepfake-detect serve` as a real process on a free loopback port, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deepfake_detect.settings import Settings
from tests.support.http import error_body, wait_for_result
from tests.support.media import png_bomb
from tests.support.serve import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(settings: Settings, settings_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    running = Server(settings, settings_env, tmp_path / "serve.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        yield client


def test_serves_health_model_and_docs(http: httpx.Client) -> None:
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/v1/model").json()["name"] == "tiny-test-classifier"
    assert http.get("/docs").status_code == 200
    assert "/v1/detect" in http.get("/openapi.json").json()["paths"]


def test_scans_a_photo_and_a_video_over_http(
    http: httpx.Client, couple_photo: Path, real_video: Path
) -> None:
    photo = http.post("/v1/detect", files={"file": ("couple.jpg", couple_photo.read_bytes(), "image/jpeg")})
    assert photo.status_code == 200, photo.text[:300]
    assert len(photo.json()["faces"]) == 2

    video = http.post("/v1/detect", files={"file": ("real.mp4", real_video.read_bytes(), "video/mp4")})
    assert video.status_code == 202, video.text[:300]
    final = wait_for_result(http, video.json()["id"], timeout_s=120)
    assert final["status"] == "done" and final["media_kind"] == "video"
    assert final["frames_sampled"] == 8 and final["tracks"]
    assert http.get(f"/v1/results/{final['id']}/evidence.jpg").headers["content-type"] == "image/jpeg"

    listed = http.get("/v1/results", params={"limit": 1}).json()
    assert [r["id"] for r in listed["items"]] == [final["id"]] and listed["next_token"]


def test_bad_input_is_4xx_and_the_service_stays_up(
    http: httpx.Client, face_photo: Path, server: Server
) -> None:
    cases = [
        (b"", 400, "empty_file"),
        (b"hello\n" * 50, 415, "unsupported_type"),
        (face_photo.read_bytes()[:3000], 422, "corrupt_media"),
        (png_bomb(40_000, 40_000), 413, "too_many_pixels"),
    ]
    for data, status, code in cases:
        response = http.post("/v1/detect", files={"file": ("x.jpg", data, "image/jpeg")})
        assert response.status_code == status, response.text[:300]
        assert error_body(response)["code"] == code
    assert http.get("/v1/results/nope").status_code == 404
    assert server.process.poll() is None
    assert http.get("/health").status_code == 200
    good = http.post("/v1/detect", files={"file": ("ok.jpg", face_photo.read_bytes(), "image/jpeg")})
    assert good.status_code == 200


def test_results_survive_a_restart(
    settings: Settings, settings_env: dict[str, str], face_photo: Path, tmp_path: Path
) -> None:
    first = Server(settings, settings_env, tmp_path / "first.log")
    try:
        created = httpx.post(
            f"{first.url}/v1/detect",
            timeout=60,
            files={"file": ("a.jpg", face_photo.read_bytes(), "image/jpeg")},
        ).json()
    finally:
        first.stop()
    second = Server(settings, settings_env, tmp_path / "second.log")
    try:
        again = httpx.get(f"{second.url}/v1/results/{created['id']}", timeout=10).json()
    finally:
        second.stop()
    assert {k: v for k, v in again.items() if k != "same_file"} == {
        k: v for k, v in created.items() if k != "same_file"
    }
