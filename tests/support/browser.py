"""The e2e tests' live service and browser: the Chromium they launch, what the seeded service
looks like (upload limit, seeded history), and the record of a page's script errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deepfake_detect.core.result import DetectionResult

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Small enough that the "too large" test needs only a few MB, large enough for the test videos.
MAX_UPLOAD_BYTES = 6_000_000
SEEDED_RESULTS = 12


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    log_path: Path
    seeded: list[DetectionResult] = field(default_factory=list)

    def api(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=30.0)


@dataclass
class PageErrors:
    """JavaScript exceptions and console errors seen by one page."""

    exceptions: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
