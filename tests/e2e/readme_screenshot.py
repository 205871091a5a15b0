"""The README's picture of the page with a video result: ``docs/images/page-video.png``.

    .venv/bin/python -m tests.e2e.readme_screenshot

It makes a 6-second clip of two portraits from the Face Research Lab London Set (CC BY 4.0, in
``../shared/data/london``; one person turns from a neutral face to a smile, the frame slowly
zooms in), serves it to ``deepfake-detect serve`` with the shipped model, and photographs the
result panel in Debian's Chromium through Playwright: the verdict, the share buttons, the most
suspicious frame with both faces boxed, the credentials, the faces, the timeline and the review.
The PNG is cut to 256 colours so that it stays under 200 KB. Nothing else from ../shared is
written into the project.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from deepfake_detect.settings import PROJECT_ROOT, Settings
from tests.support.browser import CHROMIUM_ARGS, CHROMIUM_CANDIDATES
from tests.support.net import free_port

OUTPUT = PROJECT_ROOT / "docs" / "images" / "page-video.png"
MAX_BYTES = 200_000
CLIP = "two-people-london-set.mp4"
SIZE = (1280, 720)
FPS = 12
SECONDS = 6


def make_clip(london: Path, path: Path) -> Path:
    """Two portraits side by side (the middle of each, 640 x 720); the right one crossfades from
    a neutral face to a smile midway, and the whole frame slowly zooms in."""
    width, height = SIZE
    half = width // 2
    portraits = []
    for name in ("london_005_neutral.jpg", "london_002_neutral.jpg", "london_002_smiling.jpg"):
        image = cv2.imread(str(london / name))
        assert image is not None, name
        square = cv2.resize(image, (height, height), interpolation=cv2.INTER_AREA)
        left = (height - half) // 2
        portraits.append(square[:, left : left + half])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    assert writer.isOpened()
    frames = FPS * SECONDS
    for i in range(frames):
        t = i / (frames - 1)
        smile = float(np.clip((t - 0.4) / 0.2, 0.0, 1.0))
        right = cv2.addWeighted(portraits[1], 1 - smile, portraits[2], smile, 0)
        canvas = np.hstack([portraits[0], right])
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, 1.0 + 0.08 * t)
        writer.write(cv2.warpAffine(canvas, matrix, SIZE, borderMode=cv2.BORDER_REFLECT))
    writer.release()
    return path


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    script = Path(sys.executable).with_name("deepfake-detect")
    env = {**os.environ, "DEEPFAKE_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("the service did not start")


def shrink(png: bytes) -> bytes:
    """256 colours (a photo inside keeps its look; text stays sharp), optimised."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (256, 192, 128, 96):
        out = io.BytesIO()
        image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, "PNG", optimize=True
        )
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
        image = image.resize((round(image.width * 0.9), round(image.height * 0.9)), Image.Resampling.LANCZOS)
    raise SystemExit(f"the screenshot stays over {MAX_BYTES} bytes")


def main() -> None:
    london = Settings(_env_file=None).shared_dir / "data" / "london"  # type: ignore[call-arg]
    if not london.is_dir():
        raise SystemExit(f"{london} is absent (set DEEPFAKE_SHARED_DIR)")
    chromium = next((c for c in CHROMIUM_CANDIDATES if Path(c).is_file()), None)
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clip = make_clip(london, root / CLIP)
        process, url = serve(root / "data")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 960, "height": 820}, color_scheme="light")
                page.goto(url)
                page.wait_for_selector("body[data-ready='true']")
                page.set_input_files("#file-input", clip)
                row = page.locator("#jobs > li")
                expect(row.get_by_role("button", name="View result")).to_be_visible(timeout=120_000)
                expect(page.locator("#timeline svg")).to_be_visible()
                page.wait_for_function(
                    "() => document.getElementById('evidence-image').complete "
                    "&& document.getElementById('evidence-overlay').width > 0"
                )
                panel = page.locator("#result-panel")
                png = panel.screenshot(animations="disabled")
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=15)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(shrink(png))
    with Image.open(OUTPUT) as image:
        print(
            f"{OUTPUT.relative_to(PROJECT_ROOT)}: {image.width}x{image.height}, {OUTPUT.stat().st_size} bytes"
        )


if __name__ == "__main__":
    main()
