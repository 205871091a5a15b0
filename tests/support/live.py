"""An ASGI app served by uvicorn on a free loopback port in a thread (for clients that need a real
socket: urllib, the CLI's ``scan --api``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support.net import free_port


@contextmanager
def serve_in_thread(app: Any, timeout_s: float = 30.0) -> Iterator[str]:
    """Yields the base URL while the app serves; stops it (lifespan shutdown included) after."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
