"""`deepfake-detect scan --api URL` and the API client against a running local service (the same
client against the cloud API is tested on the local AWS stack: tests/integration/test_client_cloud.py)."""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deepfake_detect.cli import main
from deepfake_detect.cli.remote import idempotency_key
from deepfake_detect.client import ApiError, DeepfakeClient, _storage_error
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.local.wiring import local_app
from deepfake_detect.settings import Settings
from tests.support.live import serve_in_thread
from tests.support.net import free_port


@pytest.fixture
def service(settings: Settings) -> Iterator[str]:
    with serve_in_thread(local_app(settings)) as url:
        yield url


def rows(out: str) -> list[str]:
    return out.strip().splitlines()[1:]


def test_scan_through_the_api_prints_what_a_local_scan_prints(
    service: str,
    settings_env: dict[str, str],
    face_photo: Path,
    couple_photo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    files = [str(face_photo), str(couple_photo), str(tmp_path / "missing.jpg"), str(notes)]
    assert main(["scan", *files]) == 1
    local = capsys.readouterr().out
    assert main(["scan", "--api", service, *files]) == 1
    remote = capsys.readouterr().out
    assert remote.splitlines()[0] == local.splitlines()[0]  # the same header
    for here, there in zip(rows(local), rows(remote), strict=True):
        # verdict, score, detail and credentials (fixed-width columns) and the path agree; only
        # the time differs
        assert here[:50] == there[:50]
        assert here.split("ms", 1)[1] == there.split("ms", 1)[1]

    assert main(["scan", "--json", "--api", service, str(face_photo)]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    record = DetectionResult.model_validate_json(line)
    assert record.status is Status.DONE and record.path == str(face_photo) and len(record.faces) == 1


def test_scan_api_sends_an_idempotency_key_so_a_rerun_scans_nothing_twice(
    service: str, face_photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "same-bytes-other-name.jpg"
    copy.write_bytes(face_photo.read_bytes())
    assert idempotency_key(face_photo) == idempotency_key(face_photo)
    assert idempotency_key(copy) != idempotency_key(face_photo)  # the name is part of the key
    assert idempotency_key(face_photo).startswith(file_sha256(face_photo))
    ids = []
    for _ in range(2):  # the command run again (after a dropped connection, say)
        assert main(["scan", "--json", "--api", service, str(face_photo)]) == 0
        ids.append(DetectionResult.model_validate_json(capsys.readouterr().out.strip()).id)
    assert ids[0] == ids[1]
    assert [r.id for r in DeepfakeClient(service).list_results(limit=10).items] == [ids[0]]


def test_the_client_scans_lists_and_reads_the_model(service: str, face_photo: Path) -> None:
    client = DeepfakeClient(service)
    assert client.mode == "local" and client.model()["name"] == "tiny-test-classifier"
    result = client.scan(face_photo)
    assert result.status is Status.DONE and result.path == face_photo.name
    assert client.get_result(result.id) == result
    page = client.list_results(limit=1)
    assert [r.id for r in page.items] == [result.id]
    with pytest.raises(ApiError) as missing:
        client.get_result("no-such-id")
    assert (missing.value.status, missing.value.code) == (404, "result_not_found")


def test_an_unreachable_api_is_one_line_and_exit_2(
    face_photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--api", f"http://127.0.0.1:{free_port()}", str(face_photo)]) == 2
    assert capsys.readouterr().err.startswith("deepfake-detect: cannot use the API at http://127.0.0.1:")
    assert main(["scan", "--api", "http://127.0.0.1:1", "--frames", "4", str(face_photo)]) == 2


class _Scripted(BaseHTTPRequestHandler):
    """Answers GETs from a script: (status, headers, body) in turn; records the headers seen."""

    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers.items()))
        status, headers, body = type(self).script.pop(0)
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_throttling_is_retried_and_the_token_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    _Scripted.script = [
        (429, {"Retry-After": "1"}, b'{"message": "Too Many Requests"}'),
        (503, {}, b""),
        (200, {"Content-Type": "application/json"}, b'{"status": "ok", "mode": "cloud"}'),
        (401, {"Content-Type": "application/json"}, b'{"message": "Unauthorized"}'),
    ]
    _Scripted.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    waits: list[float] = []
    try:
        client = DeepfakeClient(f"http://127.0.0.1:{server.server_address[1]}", "tok", sleep=waits.append)
        assert client.health()["mode"] == "cloud"
        with pytest.raises(ApiError) as refused:
            client.health()
    finally:
        server.shutdown()
        server.server_close()
    assert waits == [1.0, 2.0]  # Retry-After, then backoff
    assert {h.get("Authorization") for h in _Scripted.seen} == {"Bearer tok"}
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        401,
        "http_401",
        "Unauthorized",
    )


class _DropsFirstPost(BaseHTTPRequestHandler):
    """Drops the connection of the first POST unanswered (a reset), answers the next ones."""

    posts: list[dict[str, str]] = []

    def do_POST(self) -> None:
        type(self).posts.append(dict(self.headers.items()))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if len(type(self).posts) == 1:
            self.close_connection = True
            return  # no answer at all
        body = DetectionResult(id="r1", path="a.jpg", status=Status.DONE).model_dump_json().encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("key", ["file-key", None])
def test_a_dropped_upload_is_repeated_only_with_an_idempotency_key(key: str | None, face_photo: Path) -> None:
    import threading

    _DropsFirstPost.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DropsFirstPost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = DeepfakeClient(f"http://127.0.0.1:{server.server_address[1]}", sleep=lambda s: None)
        if key is None:  # without a key a repeat could scan the file twice: the error is the caller's
            with pytest.raises(ConnectionError):
                client.detect(face_photo, "image/jpeg")
            assert len(_DropsFirstPost.posts) == 1
        else:
            assert client.detect(face_photo, "image/jpeg", key).id == "r1"
            assert [h.get("Idempotency-Key") for h in _DropsFirstPost.posts] == [key, key]
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_presigned_post_names_the_reason() -> None:
    xml = b"<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds</Message></Error>"
    error = urllib.error.HTTPError("http://s3", 400, "Bad Request", {}, _Body(xml))  # type: ignore[arg-type]
    mapped = _storage_error(error, "r1")
    assert (mapped.status, mapped.code, mapped.result_id) == (400, "file_too_large", "r1")
    assert "exceeds" in mapped.message


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, *args: Any) -> bytes:
        return self.data

    def close(self) -> None:
        pass
