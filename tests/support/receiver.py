"""A webhook receiver for tests: a tiny ``http.server`` on loopback that checks the signature
itself (its own HMAC, not the service's helper) and answers with a scripted status."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signature_valid: bool
    status: int


@dataclass
class WebhookReceiver:
    """Answers the first ``fail_first`` requests with 500, then 200."""

    secret: str
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                timestamp = headers.get("x-deepfake-timestamp", "")
                expected = hmac.new(
                    receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                valid = (
                    timestamp.isdigit()
                    and abs(time.time() - int(timestamp)) < 300
                    and hmac.compare_digest(f"sha256={expected}", headers.get("x-deepfake-signature", ""))
                )
                status = 500 if len(receiver.received) < receiver.fail_first else (200 if valid else 401)
                receiver.received.append(Received(body, headers, valid, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/deepfake"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
