"""Hostile input against `deepfake-detect serve` as a real process: oversized and endless bodies,
foreign Host and Origin headers, parser bombs, and mutated JPEG, PNG and MP4 files.

One server (2 MB upload limit) serves the whole module; each test that uploads checks at its end
that every upload of its own the server accepted finished (done or failed), and that nothing a
refused upload sent was kept.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepfake_detect.settings import Settings
from tests.conftest import settings_as_env
from tests.support.http import FINISHED, error_body
from tests.support.media import jpeg_bytes, read_bgr, write_video
from tests.support.serve import Server

pytestmark = pytest.mark.slow

MAX_UPLOAD_BYTES = 2_000_000
GIB = 1 << 30


@pytest.fixture(scope="module")
def server(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    settings = base_settings.model_copy(update={"data_dir": root / "var"})
    env = {
        **os.environ,
        **settings_as_env(settings),
        "DEEPFAKE_LIMITS_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }
    running = Server(settings, env, root / "serve.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        yield client


def _upload_folders(server: Server) -> set[str]:
    """The result ids that have an uploaded file on disk."""
    uploads = Path(str(server.process.args[-1])) / "media" / "uploads"  # type: ignore[index]
    return {p.parent.name for p in uploads.rglob("*") if p.is_file()} if uploads.is_dir() else set()


@dataclass
class Uploads:
    """One test's uploads: the result ids the server accepted (2xx), those it refused after making
    a record (a 4xx naming a result_id: on file as failed, its file deleted), and the upload
    folders already on disk when the test began."""

    before: set[str]
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def added(self, server: Server) -> set[str]:
        """The upload folders with files in them that were not there when the test began."""
        return _upload_folders(server) - self.before

    def check(self, response: httpx.Response) -> None:
        """A 2xx with a record, or a 4xx with a JSON error body; never a 5xx."""
        assert response.status_code < 500, response.text[:500]
        body: dict[str, Any] = response.json()
        if response.status_code < 300:
            assert body["status"] in ("done", "queued", "processing"), body
            self.accepted.append(body["id"])
        else:
            detail = error_body(response)
            if response.status_code != 422 or isinstance(detail, dict):
                assert detail["code"] and detail["message"], body
                if detail.get("result_id"):
                    self.refused.append(detail["result_id"])

    def assert_nothing_lost_or_stuck(self, http: httpx.Client, server: Server) -> None:
        """Every accepted upload finished, the server is still up, every refused one is on file as
        failed, and the files the test added on disk are exactly those of uploads it accepted."""
        assert self.accepted, "no upload was accepted"
        deadline = time.monotonic() + 60
        unfinished = set(self.accepted)
        while unfinished and time.monotonic() < deadline:
            for result_id in list(unfinished):
                response = http.get(f"/v1/results/{result_id}")
                assert response.status_code == 200, (result_id, response.text)
                if response.json()["status"] in FINISHED:
                    unfinished.discard(result_id)
            time.sleep(0.1)
        assert not unfinished, f"still unfinished after 60 s: {sorted(unfinished)}"
        assert server.process.poll() is None and http.get("/health").status_code == 200
        for result_id in self.refused:
            assert http.get(f"/v1/results/{result_id}").json()["status"] == "failed"
        assert self.added(server) <= set(self.accepted), "a refused upload left its file behind"


@pytest.fixture
def uploads(server: Server) -> Uploads:
    return Uploads(before=_upload_folders(server))


def _read_response(sock: socket.socket, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 answer read off a raw socket."""
    sock.settimeout(timeout_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
    }
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _upload_head(server: Server, extra: str) -> bytes:
    return (
        f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"{extra}\r\n"
    ).encode()


def test_an_oversized_content_length_is_refused_before_the_body_is_sent(
    server: Server, uploads: Uploads
) -> None:
    """Headers only, declaring 1 GiB: the 413 comes back at once, with nothing of the body sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(_upload_head(server, f"Content-Length: {GIB}\r\n"))
        status, headers, body = _read_response(sock, timeout_s=5)
        elapsed = time.monotonic() - started
        assert status == 413 and json.loads(body)["detail"]["code"] == "file_too_large"
        assert str(MAX_UPLOAD_BYTES) in json.loads(body)["detail"]["message"]
        assert elapsed < 1.0, f"413 took {elapsed:.3f} s"
        assert headers.get("connection") == "close"
        assert sock.recv(1) == b""  # and the server hung up instead of waiting for the gigabyte
    assert uploads.added(server) == set()


def test_a_chunked_body_past_the_limit_is_cut_off_while_it_streams(server: Server, uploads: Uploads) -> None:
    """No Content-Length: the server counts the bytes as they come and answers 413 as soon as the
    limit is passed, long before the client is done sending 128 MB. (What the client gets to
    send is the limit plus what the socket buffers take: about 8 MB here, at most ~38 MB.)"""
    chunk = b"\0" * 65536
    attempted = 64 * MAX_UPLOAD_BYTES
    sent = 0
    answered = False
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_upload_head(server, "Transfer-Encoding: chunked\r\n"))
        preamble = (
            b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n\xff\xd8\xff'
        )
        sock.sendall(b"%x\r\n%s\r\n" % (len(preamble), preamble))
        try:
            while sent < attempted:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                if select.select([sock], [], [], 0)[0]:
                    answered = True
                    break
        except (BrokenPipeError, ConnectionResetError):
            answered = True
        assert answered, "the server read the whole 128 MB body"
        status, _headers, body = _read_response(sock, timeout_s=5)
    assert status == 413 and json.loads(body)["detail"]["code"] == "file_too_large"
    # What the socket buffers absorbed besides, but nowhere near what the client meant to send.
    assert MAX_UPLOAD_BYTES <= sent < attempted / 2, sent
    assert uploads.added(server) == set()


def test_a_foreign_host_is_refused(http: httpx.Client, server: Server) -> None:
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.evil.example"):
        assert http.get("/health", headers={"Host": host}).status_code == 400, host
        assert http.post("/v1/detect", headers={"Host": host}).status_code == 400, host
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
        assert http.get("/health", headers={"Host": host}).status_code == 200, host


def test_a_cross_site_post_is_refused(
    http: httpx.Client, server: Server, tiny_jpeg: bytes, uploads: Uploads
) -> None:
    files = {"file": ("a.jpg", tiny_jpeg, "image/jpeg")}
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}", "https://127.0.0.1"):
        refused = http.post("/v1/detect", files=files, headers={"Origin": origin})
        assert refused.status_code == 403, (origin, refused.text)
        assert error_body(refused)["code"] == "cross_origin"
        feedback = http.post("/v1/results/x/feedback", json={"label": "fake"}, headers={"Origin": origin})
        assert feedback.status_code == 403
    assert http.get("/health", headers={"Origin": "http://evil.example"}).status_code == 200  # reads are fine
    same = http.post("/v1/detect", files=files, headers={"Origin": server.url})
    assert same.status_code == 200, same.text
    uploads.accepted.append(same.json()["id"])
    uploads.assert_nothing_lost_or_stuck(http, server)


def test_parser_bombs_are_400_with_a_reason(http: httpx.Client) -> None:
    nested = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()
    response = http.get("/v1/results", params={"token": nested})
    assert response.status_code == 400 and error_body(response)["code"] == "invalid_token"
    for token in ("%%%", base64.urlsafe_b64encode(b'{"a": 1}').decode(), "\u00e9\u00e9"):
        assert http.get("/v1/results", params={"token": token}).status_code == 400, token
    deep_json = b'{"label": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = http.post(
        "/v1/results/x/feedback", content=deep_json, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text[:200]
    broken = http.post(
        "/v1/detect",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nnot closed',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= broken.status_code < 500


def test_health_answers_head_and_every_answer_carries_the_security_headers(http: httpx.Client) -> None:
    head = http.head("/health")
    assert head.status_code == 200 and head.content == b""
    page = http.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    for response in (head, page, http.get("/v1/results"), http.get("/v1/results/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


# --- mutated media -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_jpeg(face_photo: Path) -> bytes:
    return jpeg_bytes(np.asarray(cv2.resize(read_bgr(face_photo), (160, 160)), dtype=np.uint8), quality=80)


@pytest.fixture(scope="module")
def tiny_png(face_photo: Path) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.resize(read_bgr(face_photo), (96, 96)))
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="module")
def tiny_mp4(face_photo: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    face = cv2.resize(read_bgr(face_photo), (80, 80))
    canvas = np.full((120, 160, 3), 90, np.uint8)
    canvas[20:100, 40:120] = face
    path = write_video(tmp_path_factory.mktemp("fuzz") / "clip.mp4", [canvas] * 12)
    return path.read_bytes()


@st.composite
def mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few byte-level edits: flipped bits, overwritten runs, inserted or deleted
    runs, a truncation or a duplicated block (headers included: the magic bytes may go too)."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        size = len(data)
        position = draw(st.integers(0, max(size - 1, 0)))
        # Headers are where parsers go wrong: half the edits land in the first 512 bytes, and
        # mostly past the magic bytes (a file that is not media at all is refused at once).
        if draw(st.booleans()):
            position = min(position, 511, max(size - 1, 0))
        if position < 8 and draw(st.integers(0, 4)):
            position = min(8 + position, max(size - 1, 0))
        edit = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "repeat"]))
        if edit == "flip" and size:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif edit == "overwrite":
            run = draw(st.binary(min_size=1, max_size=16))
            data[position : position + len(run)] = run
        elif edit == "insert":
            data[position:position] = draw(
                st.sampled_from(
                    [b"\0" * 64, b"\xff" * 64, b"\xff\xd8\xff", b"moov", b"IDAT", b"\x7f\xff\xff\xff"]
                )
            )
        elif edit == "delete":
            del data[position : position + draw(st.integers(1, 256))]
        elif edit == "truncate":
            del data[max(position, 1) :]
        elif edit == "repeat":
            data[position:position] = data[position : position + draw(st.integers(1, 4096))]
    return bytes(data)


FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize(
    ("name", "content_type", "fixture"),
    [
        ("photo.jpg", "image/jpeg", "tiny_jpeg"),
        ("photo.png", "image/png", "tiny_png"),
        ("clip.mp4", "video/mp4", "tiny_mp4"),
    ],
)
def test_mutated_media_is_answered_2xx_or_4xx_never_5xx(
    http: httpx.Client,
    server: Server,
    uploads: Uploads,
    request: pytest.FixtureRequest,
    name: str,
    content_type: str,
    fixture: str,
) -> None:
    seed: bytes = request.getfixturevalue(fixture)

    @FUZZ
    @given(mutations(seed))
    def upload(data: bytes) -> None:
        uploads.check(http.post("/v1/detect", files={"file": (name, data, content_type)}))

    uploads.check(http.post("/v1/detect", files={"file": (name, seed, content_type)}))  # the seed itself
    upload()
    uploads.assert_nothing_lost_or_stuck(http, server)
