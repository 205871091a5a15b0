"""Browser tests: a live ``deepfake-detect serve`` on a free loopback port, driven by Debian's
Chromium through Playwright.

The service runs with the tiny test classifier (so the tests do not wait for the trained model)
and the real face detector, in a throw-away data folder seeded with old results for the history.
Its model card has the three verdict bands, its two thresholds placed between the tiny
classifier's scores of three photos (``BAND_PHOTOS``) so that each lands in its own band, and
measured figures made up for the tests (``BANDED_CARD_EVALUATION``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, TrackResult, Verdict
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.model_files import YUNET_FILE
from deepfake_detect.settings import PROJECT_ROOT, Settings
from tests.conftest import TINY_MODEL
from tests.support.browser import (
    BAND_PHOTOS,
    BANDED_CARD_EVALUATION,
    CHROMIUM_ARGS,
    CHROMIUM_CANDIDATES,
    MAX_UPLOAD_BYTES,
    NEAR_THRESHOLD,
    SEEDED_RESULTS,
    LiveServer,
    PageErrors,
)
from tests.support.net import free_port
from tests.support.tiny_model import build_tiny_classifier

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"
SERVER_START_TIMEOUT_S = 90.0


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("deepfake-detect")
    if script.is_file():
        return [str(script), "serve"]
    return [sys.executable, "-m", "deepfake_detect.cli", "serve"]


def _seed_history(data_dir: Path) -> list[DetectionResult]:
    """Old finished results, so the history has more than one page before any test uploads."""
    store = SQLiteResultStore(data_dir / "results.sqlite3")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    seeded = []
    try:
        for i in range(SEEDED_RESULTS):
            score = round(0.05 + 0.07 * i, 4)
            verdict = Verdict.FAKE if score >= 0.5 else Verdict.REAL
            record = DetectionResult(
                path=f"seed-{i:02d}.jpg",
                media_kind=MediaKind.IMAGE,
                status=Status.DONE,
                verdict=verdict,
                score=score,
                threshold=0.5,
                width=640,
                height=480,
                tracks=[
                    TrackResult(
                        track=0,
                        score=score,
                        verdict=verdict,
                        frames=1,
                        first_timestamp_s=0.0,
                        last_timestamp_s=0.0,
                    )
                ],
                created_at=start + timedelta(minutes=i),
                source={"store": "seed"},
            )
            store.put(record)
            seeded.append(record)
    finally:
        store.close()
    return seeded


@pytest.fixture(scope="session")
def banded_model_dir(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, base_settings: Settings
) -> Path:
    """A models folder like ``tiny_model_dir`` (tests/conftest.py), with the tiny classifier's kind
    outputs (so a fake names what it looks like) and a card with two thresholds: t_real halfway
    between the "real" and the "inconclusive" photos' scores, t_fake just under the "fake" one's.
    Without the shared photos the card keeps one threshold (the tests that need bands need them)."""
    directory = tmp_path_factory.mktemp("banded-model")
    model = build_tiny_classifier(directory, kinds=True)
    (directory / YUNET_FILE).symlink_to((tiny_model_dir / YUNET_FILE).resolve())
    photos = base_settings.shared_dir / "data" / "deepface_photos"
    if not photos.is_dir():
        return directory
    pipeline = ScanPipeline(base_settings.model_copy(update={"models_dir": directory}).pipeline())
    scores = {band: pipeline.analyze(photos / name).result.score for band, name in BAND_PHOTOS.items()}
    low, middle, high = scores["real"], scores["inconclusive"], scores["fake"]
    assert low is not None and middle is not None and high is not None, scores
    assert low + 0.01 < middle < high - 0.01, f"the band photos' scores are too close to part: {scores}"
    t_real = round((low + middle) / 2, 4)
    t_fake = just_under(high, middle)
    card_path = model.with_suffix(".json")
    card = ModelCard.load(card_path)
    evaluation = {
        **BANDED_CARD_EVALUATION,
        "bands": {**BANDED_CARD_EVALUATION["bands"], "t_real": t_real, "t_fake": t_fake},
    }
    card.model_copy(
        update={"threshold": t_fake, "threshold_real": t_real, "metrics": {"evaluation": evaluation}}
    ).save(card_path)
    return directory


def just_under(score: float, middle: float) -> float:
    """A t_fake at most ``NEAR_THRESHOLD`` under the "fake" photo's score and in the same whole
    percent, so the page needs a decimal to tell them apart (the band tests check it does);
    halfway to the "inconclusive" photo where the scores leave no such room."""
    same_percent_from = (math.floor(score * 100 + 0.5) - 0.5) / 100 + 0.0001  # records keep 4 digits
    near = round(max(score - NEAR_THRESHOLD, same_percent_from), 4)
    return near if middle + 0.005 < near < score else (middle + score) / 2


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, banded_model_dir: Path) -> Iterator[LiveServer]:
    """``banded_model_dir`` holds the tiny classifier, its three-band card and the face detector."""
    root = tmp_path_factory.mktemp("e2e-server")
    data_dir = root / "data"
    data_dir.mkdir()
    seeded = _seed_history(data_dir)

    port = free_port()
    env = {
        **os.environ,
        "DEEPFAKE_DATA_DIR": str(data_dir),
        "DEEPFAKE_MODELS_DIR": str(banded_model_dir),
        "DEEPFAKE_CLASSIFIER_MODEL": TINY_MODEL,
        "DEEPFAKE_LIMITS_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "DEEPFAKE_VIDEO_SAMPLE_FRAMES": "16",
        "DEEPFAKE_INTRA_OP_THREADS": "1",  # the CI machine is small and shared
    }
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_serve_command(), "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            try:
                if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer within {SERVER_START_TIMEOUT_S:.0f} s:\n"
                    f"{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield LiveServer(url=url, data_dir=data_dir, log_path=log_path, seeded=seeded)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail(
        "Chromium is not installed: the browser tests need Debian's `chromium` "
        "(run `make system-deps`, or `apt-get install -y chromium`)",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 900}


@pytest.fixture
def page(browser: Browser, viewport: dict[str, int], page_errors: PageErrors) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.exceptions.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_errors.console.append(message.text)

    page.on("console", on_console)
    yield page
    context.close()
    # A script error would leave a half-working page that a test might not notice.
    assert not page_errors.exceptions, f"JavaScript errors on the page: {page_errors.exceptions}"
    refused = [m for m in page_errors.console if "Content Security Policy" in m]
    assert not refused, f"the page breaks its own Content-Security-Policy: {refused}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
