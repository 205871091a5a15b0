"""The web page in a real browser against the live local service: upload, verdict, evidence,
timeline, errors, history, model card, keyboard use and a phone-width layout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.sync_api import FileChooser, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import MAX_UPLOAD_BYTES, SEEDED_RESULTS, LiveServer, PageErrors

pytestmark = pytest.mark.e2e

SCAN_TIMEOUT_MS = 120_000


@pytest.fixture
def photo(shared_data: Path) -> Path:
    return shared_data / "deepface_photos" / "img1.jpg"


@pytest.fixture
def video(shared_data: Path) -> Path:
    return shared_data / "ffpp_c23" / "real_634.mp4"


def open_page(page: Page, server: LiveServer, fragment: str = "") -> None:
    page.goto(f"{server.url}/{fragment}")
    page.wait_for_selector("body[data-ready='true']")


def job_row(page: Page, name: str) -> Locator:
    return page.locator("#jobs > li").filter(has=page.locator(".job-name", has_text=name))


def wait_finished(page: Page, name: str) -> Locator:
    row = job_row(page, name)
    expect(row.get_by_role("button", name="View result")).to_be_visible(timeout=SCAN_TIMEOUT_MS)
    return row


def wait_failed(page: Page, name: str) -> Locator:
    row = job_row(page, name)
    expect(row).to_have_class(re.compile(r"\berror\b"), timeout=SCAN_TIMEOUT_MS)
    return row


def shown_result(page: Page, server: LiveServer) -> dict[str, Any]:
    """The record behind the result panel, read from the API (the page's claims are checked
    against it, not against itself)."""
    result_id = page.locator("#result-panel").get_attribute("data-result-id")
    assert result_id, "the result panel names no result"
    response = server.api(f"/v1/results/{result_id}")
    assert response.status_code == 200
    record: dict[str, Any] = response.json()
    return record


def record_texts(page: Page, selector: str) -> None:
    """Keep every text the elements under ``selector`` ever show, in ``window.__seen``."""
    page.evaluate(
        """(selector) => {
            window.__seen = [];
            const root = document.querySelector(selector);
            new MutationObserver(() => {
                for (const node of root.querySelectorAll('*')) {
                    const text = node.textContent.trim();
                    if (text && !window.__seen.includes(text)) window.__seen.push(text);
                }
                const own = root.textContent.trim();
                if (own && !window.__seen.includes(own)) window.__seen.push(own);
            }).observe(root, {subtree: true, childList: true, characterData: true});
        }""",
        selector,
    )


def seen_texts(page: Page) -> list[str]:
    seen: list[str] = page.evaluate("window.__seen")
    return seen


def overlay_pixel(page: Page, x: float, y: float, original_width: float) -> list[int]:
    """RGBA of the overlay canvas at a point given in original image pixels: the most opaque of
    the pixel there and its neighbours (a 2.5 px line centred on a pixel's edge, x.5, covers the
    pixel that x rounds to only in part)."""
    pixel: list[int] = page.evaluate(
        """([x, y, width]) => {
            const canvas = document.getElementById('evidence-overlay');
            const s = canvas.width / width;
            const clamp = (v, most) => Math.min(most, Math.max(0, v));
            const px = clamp(Math.round(x * s) - 1, canvas.width - 3);
            const py = clamp(Math.round(y * s) - 1, canvas.height - 3);
            const data = canvas.getContext('2d').getImageData(px, py, 3, 3).data;
            let best = 0;
            for (let i = 4; i < data.length; i += 4) if (data[i + 3] > data[best + 3]) best = i;
            return Array.from(data.slice(best, best + 4));
        }""",
        [x, y, original_width],
    )
    return pixel


def overlay_alpha_sum(page: Page, box: list[float], original_width: float) -> int:
    """Total overlay opacity inside the middle of a face box (the heat map lives there)."""
    total: int = page.evaluate(
        """([box, width]) => {
            const canvas = document.getElementById('evidence-overlay');
            const s = canvas.width / width;
            const [x, y, w, h] = box;
            const left = Math.round((x + 0.2 * w) * s), top = Math.round((y + 0.2 * h) * s);
            const cw = Math.max(1, Math.round(0.6 * w * s)), ch = Math.max(1, Math.round(0.6 * h * s));
            const data = canvas.getContext('2d').getImageData(left, top, cw, ch).data;
            let sum = 0;
            for (let i = 3; i < data.length; i += 4) sum += data[i];
            return sum;
        }""",
        [box, original_width],
    )
    return total


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def tab_until(page: Page, predicate: str, max_presses: int = 60) -> None:
    """Press Tab until ``predicate`` (a JS expression about document.activeElement) holds."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return Boolean({predicate}); }})()"):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}")


def open_chooser_by_key(page: Page, key: str, attempts: int = 3) -> FileChooser:
    """The file dialog opened from the keyboard. Headless Chromium now and then drops the
    request to open it (a known Playwright flake): the key is pressed again, focus unchanged."""
    for _ in range(attempts):
        try:
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press(key)
            return chooser.value
        except PlaywrightTimeoutError:
            assert page.evaluate("document.activeElement.id") == "file-input", "focus left the file input"
    raise AssertionError(f"pressing {key} on the file input never opened the file dialog")


def test_photo_shows_verdict_and_boxed_faces(
    page: Page, live_server: LiveServer, photo: Path, artifacts: Path
) -> None:
    open_page(page, live_server)
    page.set_input_files("#file-input", photo)
    wait_finished(page, photo.name)

    result = shown_result(page, live_server)
    assert result["path"] == photo.name and result["verdict"] in ("fake", "real")
    probability = f"{round(result['score'] * 100)}%"
    title = page.locator("#verdict-title")
    expected_words = "Likely manipulated" if result["verdict"] == "fake" else "No sign of manipulation"
    expect(title).to_have_text(f"{expected_words}: {probability}")
    expect(page.locator("#verdict")).to_have_class(re.compile(result["verdict"]))
    expect(page.locator("#faces > li")).to_have_count(len(result["faces"]))
    assert result["faces"], "the test photo has a face"

    image = page.locator("#evidence-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "document.getElementById('evidence-image').complete "
        "&& document.getElementById('evidence-overlay').width > 0"
    )
    # Every face is boxed where the API says it is, in the verdict's colour, and nothing is drawn
    # far from the faces.
    threshold = result["threshold"]
    for face in result["faces"]:
        x, y, w, h = face["box"]
        expected = hex_rgb("#e53935" if face["score"] >= threshold else "#2e9d46")
        for side, edge_x in (("left", x), ("right", x + w)):
            r, g, b, a = overlay_pixel(page, edge_x, y + h / 2, result["width"])
            assert a == 255 and max(abs(r - expected[0]), abs(g - expected[1]), abs(b - expected[2])) < 40, (
                f"no box edge at the face's {side} side: pixel {(r, g, b, a)}"
            )
        label = f"Face {result['faces'].index(face) + 1}: {round(face['score'] * 100)}%"
        assert label in (image.get_attribute("alt") or "")
    assert overlay_pixel(page, 2, result["height"] - 2, result["width"])[3] == 0

    page.screenshot(path=str(artifacts / "photo-verdict.png"), full_page=True)

    # The heat map toggle paints inside the face; switching it off clears it again.
    box = result["faces"][0]["box"]
    before = overlay_alpha_sum(page, box, result["width"])
    page.get_by_label("Show heat map of where the model looked").check()
    with_heatmap = overlay_alpha_sum(page, box, result["width"])
    assert with_heatmap > before + 1000, (before, with_heatmap)
    page.screenshot(path=str(artifacts / "photo-heatmap.png"), full_page=True)
    page.get_by_label("Show heat map of where the model looked").uncheck()
    assert overlay_alpha_sum(page, box, result["width"]) == before


def test_video_shows_progress_and_timeline(
    page: Page, live_server: LiveServer, video: Path, shared_data: Path, artifacts: Path
) -> None:
    second = shared_data / "ffpp_c23" / "real_004.mp4"
    open_page(page, live_server)
    record_texts(page, "#jobs")
    # Two videos at once: the service scans one at a time, so the second is seen waiting or
    # in progress by the page's polling.
    page.set_input_files("#file-input", [video, second])
    wait_finished(page, video.name)
    wait_finished(page, second.name)

    seen = seen_texts(page)
    assert any(t.startswith("Uploaded. Checking") for t in seen), seen
    assert any(t == "Waiting for its turn…" or re.fullmatch(r"Checking… \d+%", t) for t in seen), seen

    job_row(page, video.name).get_by_role("button", name="View result").click()
    expect(page.locator("#result-file")).to_have_text(video.name)
    expect(page.locator("#result-heading")).to_be_focused()
    result = shown_result(page, live_server)
    assert result["media_kind"] == "video" and result["tracks"]

    chart = page.locator("#timeline svg")
    expect(chart).to_be_visible()
    # One line per face track, with one point per sampled frame where that track has a face.
    for track in result["tracks"]:
        key = str(track["track"])
        points = sum(1 for f in result["frames"] if key in f["scores"])
        group = chart.locator(f"g[data-track='{key}']")
        expect(group.locator("polyline")).to_have_count(1)
        expect(group.locator("circle")).to_have_count(points)
    expect(page.locator("#timeline-legend li")).to_have_count(len(result["tracks"]))
    expect(page.locator("#timeline-table tbody tr")).to_have_count(len(result["frames"]))
    expect(page.locator("#evidence-caption")).to_contain_text("most suspicious moment")
    page.screenshot(path=str(artifacts / "video-timeline.png"), full_page=True)


def test_errors_in_plain_words(
    page: Page, live_server: LiveServer, photo: Path, tmp_path: Path, page_errors: PageErrors, artifacts: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture\n")
    blank = tmp_path / "blank-wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(photo.read_bytes()[:3000])
    huge = tmp_path / "huge.mp4"
    huge.write_bytes(b"\0" * (MAX_UPLOAD_BYTES + 1))

    open_page(page, live_server)
    page.set_input_files("#file-input", [text, blank, broken, huge])

    expect(wait_failed(page, text.name)).to_contain_text("This type of file is not supported")
    expect(wait_failed(page, broken.name)).to_contain_text("damaged")
    expect(wait_failed(page, huge.name)).to_contain_text("too large")
    expect(wait_finished(page, blank.name)).to_contain_text("no face found")
    expect(page.locator("#verdict-title")).to_have_text("No face found")
    # The screen-reader status region tells of each outcome, not only of the last one.
    status = page.locator("#status")
    expect(status).to_contain_text(f"{text.name}: This type of file is not supported")
    expect(status).to_contain_text(f"{blank.name}: no face found")

    # The oversized file was refused by the page itself, before any upload.
    names = [item["path"] for item in live_server.api("/v1/results?limit=100").json()["items"]]
    assert huge.name not in names and blank.name in names
    page.screenshot(path=str(artifacts / "errors.png"), full_page=True)


def test_keyboard_only_upload(page: Page, live_server: LiveServer, photo: Path) -> None:
    open_page(page, live_server)
    tab_until(page, "el.id === 'skip-link' || el.classList.contains('skip-link')", max_presses=3)
    tab_until(page, "el.id === 'file-input'", max_presses=5)
    open_chooser_by_key(page, "Space").set_files(photo)
    wait_finished(page, photo.name)

    tab_until(page, "el.textContent === 'View result'", max_presses=5)
    page.keyboard.press("Enter")
    expect(page.locator("#result-heading")).to_be_focused()
    expect(page.locator("#verdict-title")).to_have_text(re.compile(r"\d+%$"))

    tab_until(page, "el.id === 'heatmap-toggle'")
    page.keyboard.press("Space")
    expect(page.locator("#heatmap-toggle")).to_be_checked()
    expect(page.locator("#status > :last-child")).to_have_text("Heat map shown.")


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}])
def test_phone_width_layout(
    page: Page, live_server: LiveServer, photo: Path, video: Path, artifacts: Path
) -> None:
    open_page(page, live_server)
    page.set_input_files("#file-input", [video, photo])
    wait_finished(page, photo.name)
    wait_finished(page, video.name)
    job_row(page, video.name).get_by_role("button", name="View result").click()
    expect(page.locator("#timeline svg")).to_be_visible()

    # Nothing sticks out sideways: no horizontal scrolling at 360 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for selector in ("#evidence-image", "#timeline svg", "#history", "#model-card"):
        right = page.evaluate(f"document.querySelector({selector!r}).getBoundingClientRect().right")
        assert right <= 360, f"{selector} reaches {right}px"
    # Touch targets stay big enough to hit.
    height = page.evaluate("document.querySelector('label[for=file-input]').getBoundingClientRect().height")
    assert height >= 40
    page.screenshot(path=str(artifacts / "phone-360.png"), full_page=True)


def test_history_pages_and_model_card(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    open_page(page, live_server)
    items = page.locator("#history > li")
    expect(items).to_have_count(10)
    more = page.get_by_role("button", name="Show older results")
    while more.is_visible():
        count = items.count()
        more.click()
        expect(items).not_to_have_count(count)
    total = live_server.api("/v1/results?limit=100").json()["items"]
    assert items.count() == len(total) >= SEEDED_RESULTS
    # Newest first, the seeded (oldest) results at the end.
    oldest = live_server.seeded[0]
    expect(items.last).to_contain_text(oldest.path)

    items.filter(has_text=oldest.path).get_by_role("button").click()
    expect(page.locator("#result-heading")).to_be_focused()
    expect(page.locator("#result-file")).to_have_text(oldest.path)
    assert oldest.score is not None
    expect(page.locator("#verdict-title")).to_have_text(
        f"No sign of manipulation: {round(oldest.score * 100)}%"
    )
    assert page.evaluate("location.hash") == f"#result/{oldest.id}"

    card = page.locator("#model-card")
    expect(card).to_contain_text("tiny-test-classifier")
    expect(card).to_contain_text("0.0.1")
    expect(card).to_contain_text("50%")
    page.screenshot(path=str(artifacts / "history-model.png"), full_page=True)

    # The address of a result opens it, on the same page and on a fresh load.
    newest_fake = next(r for r in reversed(live_server.seeded) if r.verdict == "fake")
    page.goto(f"{live_server.url}/#result/{newest_fake.id}")
    expect(page.locator("#result-file")).to_have_text(newest_fake.path)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#result-file")).to_have_text(newest_fake.path)
    expect(page.locator("#verdict-title")).to_have_text(re.compile(r"^Likely manipulated: \d+%$"))


def test_drag_and_drop_several_files(page: Page, live_server: LiveServer, shared_data: Path) -> None:
    photos = [shared_data / "deepface_photos" / name for name in ("img2.jpg", "couple.jpg")]
    open_page(page, live_server)
    # Build the drag's DataTransfer in the page from the real bytes, as a desktop drag would.
    payload = [{"name": p.name, "bytes": list(p.read_bytes())} for p in photos]
    page.evaluate(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                transfer.items.add(new File([new Uint8Array(f.bytes)], f.name, {type: 'image/jpeg'}));
            }
            window.__transfer = transfer;
        }""",
        payload,
    )
    zone = page.locator("#dropzone")
    transfer = page.evaluate_handle("window.__transfer")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile(r"\bdragging\b"))
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).not_to_have_class(re.compile(r"\bdragging\b"))
    for photo in photos:
        wait_finished(page, photo.name)
    # The first finished result of the drop opens by itself.
    expect(page.locator("#result-file")).to_have_text(re.compile("|".join(p.name for p in photos)))
    job_row(page, "couple.jpg").get_by_role("button", name="View result").click()
    result = shown_result(page, live_server)
    assert len(result["faces"]) == 2
    expect(page.locator("#faces > li")).to_have_count(2)
