"""The e2e tests' live service and browser: the Chromium they launch, what the seeded service
looks like (upload limit, seeded history), and the record of a page's script errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

# The photos (in deepface_photos) the browser tests' model card puts one in each verdict band: its
# two thresholds sit between the tiny classifier's scores of them (tests/e2e/conftest.py).
BAND_PHOTOS = {"real": "img2.jpg", "inconclusive": "img1.jpg", "fake": "img3.jpg"}
# t_fake this far under the fake photo's score: near enough that the two read the same at whole
# percents, so the page must show a decimal ("46.1%" from "45.8%", never "46%" from "46%").
NEAR_THRESHOLD = 0.003

# What the browser tests' model card says it measured (made up for the tests, in the shape
# training/evaluate.py writes): what it catches per kind of fake, and the test faces per band.
BANDED_CARD_EVALUATION: dict[str, Any] = {
    "split": "test",
    "image_level": {
        "overall": {
            "n": 1000,
            "n_real": 600,
            "n_fake": 400,
            "accuracy": 0.8,
            "fpr": 0.015,
            "tpr": 0.52,
            "auc": 0.9,
        },
        "by_method": {
            "dfdc_faceswap": {"vs_all_reals": {"n_fake": 200, "tpr": 0.17, "fpr": 0.015}},
            "stylegan2": {"vs_all_reals": {"n_fake": 120, "tpr": 0.81, "fpr": 0.015}},
            "flux": {"vs_all_reals": {"n_fake": 80, "tpr": 0.06, "fpr": 0.015}},
        },
    },
    "bands": {
        "by_group": {
            "dfdc:real": {"n": 400, "real": 0.9, "inconclusive": 0.08, "fake": 0.02},
            "london:real": {"n": 200, "real": 0.7, "inconclusive": 0.3, "fake": 0.0},
            "dfdc:fake": {"n": 200, "real": 0.3, "inconclusive": 0.5, "fake": 0.2},
            "hardfake:fake": {"n": 120, "real": 0.1, "inconclusive": 0.1, "fake": 0.8},
            "modern_generated:fake": {"n": 80, "real": 0.8, "inconclusive": 0.14, "fake": 0.06},
            "modern_generated:flux": {"n": 80, "real": 0.8, "inconclusive": 0.14, "fake": 0.06},
        }
    },
}


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
