"""HTTP hardening of `deepfake-detect serve` (issue 24, item 4), against a real server over raw
sockets where the server's own parsing is what is tested: a request framed two ways is refused
and its connection closed; slow or silent clients are cut at the read deadlines (short ones, set
by settings); a 422 echoes capped input; a huge BMP is refused with the service's pixel limit."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from deepfake_detect.api.limits import MAX_ECHO_CHARS
from deepfake_detect.settings import Settings
from tests.conftest import settings_as_env
from tests.support.http import error_body
from tests.support.serve import Server

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 3.0
SLACK_S = 1.5  # the timer's own lateness, a loaded machine's scheduling


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    env = {
        **os.environ,
        **settings_as_env(settings),
        "DEEPFAKE_SERVICE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "DEEPFAKE_SERVICE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "DEEPFAKE_SERVICE_READ_IDLE_S": "30",
        "DEEPFAKE_SERVICE_KEEP_ALIVE_S": "1",
    }
    running = Server(settings, env, tmp_path / "serve.log")
    try:
        yield running
    finally:
        running.stop()


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_until_closed(sock: socket.socket, timeout_s: float) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True) or ``timeout_s`` passes."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def trickle(sock: socket.socket, data: bytes, *, every_s: float, for_s: float) -> tuple[float, bool]:
    """Send ``data`` one byte every ``every_s`` seconds until the server closes the connection or
    ``for_s`` passes; returns the seconds it took and whether the server closed it."""
    start = time.monotonic()
    for byte in data:
        if time.monotonic() - start > for_s:
            return time.monotonic() - start, False
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start, True
        sock.settimeout(every_s)
        try:
            if sock.recv(65536, socket.MSG_PEEK) is not None:
                _, closed = read_until_closed(sock, 0.1)
                if closed:
                    return time.monotonic() - start, True
        except TimeoutError:
            pass
    return time.monotonic() - start, False


@pytest.mark.slow
def test_content_length_with_transfer_encoding_is_refused_and_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        answer, closed = read_until_closed(sock, 10)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"ambiguous_framing" in answer and b"connection: close" in answer.lower()
    assert closed, "the connection stayed open after the refusal"
    assert answer.count(b"HTTP/1.1 ") == 1  # the request smuggled behind it was never read


def assert_cut_at(server: Server, deadline_s: float, head: bytes, slow: bytes) -> None:
    """Send ``head`` at once, then ``slow`` a byte a second: the server closes within the deadline."""
    with connect(server) as sock:
        sock.sendall(head)
        took, closed = trickle(sock, slow, every_s=1.0, for_s=deadline_s + 10)
    assert closed, "a client sending a byte a second was held past the deadline"
    assert took <= deadline_s + SLACK_S, took


@pytest.mark.slow
def test_slow_headers_are_cut_at_the_header_deadline(server: Server) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 60 + b"\r\n\r\n"
    assert_cut_at(server, HEADER_TIMEOUT_S, b"", request)


@pytest.mark.slow
def test_a_silent_connection_is_answered_408_and_closed(server: Server) -> None:
    with connect(server) as sock:
        start = time.monotonic()
        answer, closed = read_until_closed(sock, HEADER_TIMEOUT_S + 10)
    assert closed and time.monotonic() - start <= HEADER_TIMEOUT_S + SLACK_S
    assert answer.startswith(b"HTTP/1.1 408 ")


@pytest.mark.slow
def test_a_slow_body_is_cut_at_the_body_deadline_and_the_service_stays_up(server: Server) -> None:
    head = (
        b"POST /v1/results/export HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    assert_cut_at(server, BODY_TIMEOUT_S, head, b"{" + b" " * 98 + b"}")
    # Requests that arrive in time are served, one after the other on one connection too.
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/health").status_code == 200
        assert http.get("/health").status_code == 200


def test_a_validation_error_echoes_at_most_a_capped_input(client: TestClient) -> None:
    huge = "x" * 1_000_000
    answer = client.post("/v1/detect", data={"file": huge})
    assert answer.status_code == 422
    assert len(answer.content) < 10_000, len(answer.content)
    [error] = [e for e in answer.json()["detail"] if e["loc"] == ["body", "file"]]
    assert error["msg"] and error["type"]
    assert error["input"].startswith("xxx") and len(error["input"]) <= MAX_ECHO_CHARS + 1


def huge_bmp(width: int, height: int) -> bytes:
    """A BMP header that claims ``width`` x ``height`` 24-bit pixels, with no pixels after it."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    size = 14 + len(info) + width * height * 3
    return b"BM" + struct.pack("<IHHI", size & 0xFFFFFFFF, 0, 0, 14 + len(info)) + info


def test_a_huge_bmp_is_refused_with_the_services_pixel_limit(client: TestClient, settings: Settings) -> None:
    answer = client.post("/v1/detect", files={"file": ("huge.bmp", huge_bmp(15_000, 15_000), "image/bmp")})
    body = answer.json()
    text = str(body)
    if answer.status_code in (200, 202):  # recorded: the failure is the result's
        result = client.get(f"/v1/results/{body['id']}").json()
        code, text = result["error"]["code"], result["error"]["message"]
    else:
        code, text = error_body(answer)["code"], error_body(answer)["message"]
    assert code == "too_many_pixels"
    assert str(settings.limits.max_image_pixels) in text, text
    assert "225000000" in text  # the image's own size
    assert "89478485" not in text and "decompression" not in text.lower(), text
