"""The web page in a real browser against the live local service: upload, verdict, evidence,
timeline, errors, history, model card, keyboard use and a phone-width layout."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest
from playwright.sync_api import FileChooser, Locator, Page, Route, expect
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


# ---------------------------------------------------------------- sampled frames and face cards
def format_seconds(seconds: float) -> str:
    """client.js ``formatSeconds`` for times under a minute (toFixed rounds the exact binary value
    half up)."""
    return f"{Decimal(seconds).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} s"


def sampled_frames(result: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(result["frames"], key=lambda f: f["timestamp_s"])


def faces_of_frame(result: dict[str, Any], frame_index: int) -> list[dict[str, Any]]:
    return [f for f in result["faces"] if f["frame_index"] == frame_index]


def stage_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        """() => {
            const image = document.getElementById('evidence-image');
            const stage = document.getElementById('evidence-stage');
            return {src: image.getAttribute('src') || '', natural: image.naturalWidth,
                    complete: image.complete, boxes: stage.dataset.boxes, drawn: stage.dataset.drawn,
                    picture: stage.dataset.picture,
                    shown: document.getElementById('timeline').dataset.shownFrame};
        }"""
    )
    return state


def assert_stage_shows_frame(page: Page, result: dict[str, Any], frame: dict[str, Any]) -> None:
    """The stage shows ``frame``'s thumbnail, loaded, with that frame's faces boxed where the API
    says they are, a caption naming its time, and the timeline marks it."""
    frames = sampled_frames(result)
    index = frame["frame_index"]
    page.wait_for_selector(f"#evidence-stage[data-drawn='{index}']")
    state = stage_state(page)
    assert state["picture"] == "frame", state
    assert state["src"].endswith(f"/v1/results/{result['id']}/frames/{index}.jpg"), state
    assert state["complete"] and state["natural"] > 0, f"the thumbnail did not load: {state}"
    faces = faces_of_frame(result, index)
    assert state["boxes"] == str(len(faces)), (state, len(faces))
    assert state["shown"] == str(index), "the timeline does not mark the frame on the stage"
    expect(page.locator("#evidence-caption")).to_contain_text(
        f"Frame at {format_seconds(frame['timestamp_s'])} ({frames.index(frame) + 1} of {len(frames)})"
    )
    for face in faces:
        x, y, _, h = face["box"]
        assert overlay_pixel(page, x, y + h / 2, result["width"])[3] == 255, (
            f"no box at the left side of a face of frame {index}"
        )


def check_frame_viewer(page: Page, result: dict[str, Any]) -> None:
    """Every sampled frame can be put on the stage: by the keyboard along the "Sampled frame" range,
    by the Next button, by a click on the timeline near a frame's time; and the way back to the most
    suspicious frame."""
    frames = sampled_frames(result)
    assert len(frames) >= 3 and all(f["thumbnail"] for f in frames), "the scan stored no thumbnails"
    evidence_index = result["evidence_frame_index"]
    start = next(i for i, f in enumerate(frames) if f["frame_index"] == evidence_index)
    page.wait_for_selector(f"#evidence-stage[data-drawn='{evidence_index}']")
    assert stage_state(page)["src"].endswith("/evidence.jpg")
    expect(page.locator("#frame-best")).to_be_disabled()

    # The keyboard: an arrow key on the range moves one sampled frame.
    slider = page.get_by_role("slider", name="Sampled frame")
    slider.focus()
    key, target = ("ArrowLeft", start - 1) if start > 0 else ("ArrowRight", start + 1)
    page.keyboard.press(key)
    assert_stage_shows_frame(page, result, frames[target])
    expect(slider).to_have_attribute("aria-valuetext", re.compile(rf"\({target + 1} of {len(frames)}\)"))
    expect(page.locator("#frame-best")).to_be_enabled()
    # The heat map goes over that frame's faces too (placed by crop_to_image at the thumbnail's scale).
    face = next((f for f in faces_of_frame(result, frames[target]["frame_index"]) if f["heatmap"]), None)
    if face:
        toggle = page.get_by_label("Show heat map of where the model looked")
        before = overlay_alpha_sum(page, face["box"], result["width"])
        toggle.check()
        after = overlay_alpha_sum(page, face["box"], result["width"])
        assert after > before + 1000, f"no heat map on the frame: {before} -> {after}"
        toggle.uncheck()

    # The Next / Previous buttons.
    button, after = ("Next", target + 1) if target + 1 < len(frames) else ("Previous", target - 1)
    page.get_by_role("button", name=button, exact=True).click()
    if frames[after]["frame_index"] == evidence_index:
        page.wait_for_selector(f"#evidence-stage[data-drawn='{evidence_index}'][data-picture='evidence']")
    else:
        assert_stage_shows_frame(page, result, frames[after])

    # A click on the chart, at a frame's time (above the axis, not on its point), picks that frame.
    far = max(range(len(frames)), key=lambda i: abs(i - start) if i != start else -1)
    dot = page.locator(f"#timeline circle[data-frame-index='{frames[far]['frame_index']}']").first
    dot_box = dot.bounding_box()
    chart_box = page.locator("#timeline svg").bounding_box()
    assert dot_box and chart_box
    page.mouse.click(dot_box["x"] + dot_box["width"] / 2, chart_box["y"] + chart_box["height"] * 0.4)
    assert_stage_shows_frame(page, result, frames[far])

    # And back to the most suspicious frame, at full size.
    page.get_by_role("button", name="Back to the most suspicious frame").click()
    page.wait_for_selector(f"#evidence-stage[data-drawn='{evidence_index}'][data-picture='evidence']")
    assert stage_state(page)["src"].endswith(f"/v1/results/{result['id']}/evidence.jpg")
    expect(page.locator("#evidence-caption")).to_contain_text("most suspicious moment")
    expect(page.locator("#frame-best")).to_be_disabled()


# Opaque pixels of the heat-map canvas, and how far they are from the crop drawn plainly: the heat
# map must have been painted over the crop, not only the crop copied.
HEAT_CANVAS_JS = """(card) => {
    const crop = card.querySelector('img.face-crop');
    const heat = card.querySelector('canvas.face-heat');
    const plain = document.createElement('canvas');
    plain.width = heat.width;
    plain.height = heat.height;
    const pctx = plain.getContext('2d');
    pctx.drawImage(crop, 0, 0, plain.width, plain.height);
    const a = heat.getContext('2d').getImageData(0, 0, heat.width, heat.height).data;
    const b = pctx.getImageData(0, 0, plain.width, plain.height).data;
    let opaque = 0, diff = 0;
    for (let i = 0; i < a.length; i += 4) {
        if (a[i + 3] > 0) opaque += 1;
        diff += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
    }
    return {opaque, pixels: a.length / 4, meanDiff: diff / (a.length / 4) / 3};
}"""


def check_face_cards(page: Page, result: dict[str, Any]) -> None:
    """One card per face track (per face, in a photo): its aligned crop loads, its heat-map canvas
    is the crop with the map painted over it, and a video's card has its score over time."""
    cards = page.locator("#faces > li.face-card")
    tracks = result["tracks"]
    video = result["media_kind"] == "video"
    expected = len(tracks) if video else len(faces_of_frame(result, result["evidence_frame_index"]))
    expect(cards).to_have_count(expected)
    for track in tracks:
        assert track["crop"] and track["face"] is not None, f"the scan stored no crop for {track}"
        card = page.locator(f"#faces > li[data-track='{track['track']}']")
        crop = card.locator("img.face-crop")
        expect(crop).to_have_attribute(
            "src", re.compile(rf"/v1/results/{result['id']}/faces/{track['track']}\.jpg$")
        )
        expect(card.locator("canvas.face-heat[data-drawn='true']")).to_have_count(1)
        assert crop.evaluate("(img) => img.complete && img.naturalWidth") > 0, "the crop did not load"
        heat: dict[str, Any] = card.evaluate(HEAT_CANVAS_JS)
        assert heat["opaque"] == heat["pixels"] > 0, heat
        assert heat["meanDiff"] > 5, f"no heat map painted over the crop: {heat}"
        words = f"{round(track['score'] * 100)}% " + (
            "(likely manipulated)" if track["verdict"] == "fake" else "(looks authentic)"
        )
        expect(card.locator(".face-score")).to_have_text(words)
        if video:
            spark = card.get_by_role("img", name=re.compile("probability of manipulation over time"))
            expect(spark).to_be_visible()


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
    # Each row names its own moment: samples under a second apart must not read the same.
    times = page.locator("#timeline-table tbody th").all_text_contents()
    assert times == [format_seconds(f["timestamp_s"]) for f in sampled_frames(result)]
    assert len(set(times)) == len(times), f"two rows read as the same time: {times}"
    expect(page.locator("#evidence-caption")).to_contain_text("most suspicious moment")
    page.screenshot(path=str(artifacts / "video-timeline.png"), full_page=True)

    check_face_cards(page, result)
    check_frame_viewer(page, result)
    # A face card's button puts that person's most suspicious frame back on the stage.
    worst = result["faces"][result["tracks"][0]["face"]]["frame_index"]
    page.get_by_role("slider", name="Sampled frame").focus()
    page.keyboard.press("End" if worst == sampled_frames(result)[0]["frame_index"] else "Home")
    page.wait_for_selector(f"#evidence-stage[data-drawn]:not([data-drawn='{worst}'])")
    page.locator("#faces > li").first.get_by_role("button", name=re.compile("^Show frame at")).click()
    page.wait_for_selector(f"#evidence-stage[data-drawn='{worst}']")
    page.screenshot(path=str(artifacts / "video-frames.png"), full_page=True)

    # A record without stored pictures (older than them): a frame says it has no picture, politely,
    # and the face cards are words alone.
    bare = {
        **result,
        "frames": [{**f, "thumbnail": None} for f in result["frames"]],
        "tracks": [{**t, "crop": False, "face": None} for t in result["tracks"]],
    }
    page.route(f"**/v1/results/{result['id']}", lambda route: route.fulfill(json=bare))
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#faces > li")).to_have_count(len(result["tracks"]))
    expect(page.locator("#faces img")).to_have_count(0)
    expect(page.locator("#faces > li").first).to_contain_text("Person 1")
    page.get_by_role("slider", name="Sampled frame").focus()
    frames = sampled_frames(result)
    start = next(i for i, f in enumerate(frames) if f["frame_index"] == result["evidence_frame_index"])
    page.keyboard.press("ArrowLeft" if start > 0 else "ArrowRight")
    expect(page.locator("#frame-missing")).to_be_visible()
    expect(page.locator("#frame-missing")).to_contain_text("No picture of this frame was kept")
    expect(page.locator("#evidence-stage")).to_be_hidden()
    expect(page.locator("#evidence-caption")).to_contain_text("Frame at ")


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


def test_a_click_on_show_older_results_while_a_page_is_loading_is_not_lost(
    page: Page, live_server: LiveServer
) -> None:
    # Three pages of history, each ending with a slow read of its labels: the "Show older results"
    # button is on screen while that read is still going, and a click then must load the next page.
    template = live_server.api("/v1/results?limit=1").json()["items"][0]
    pages = [
        [{**template, "id": f"{n:032x}", "path": f"page-{n:02d}.jpg"} for n in range(k * 10, k * 10 + 10)]
        for k in range(3)
    ]

    def history(route: Route) -> None:
        token = parse_qs(urlparse(route.request.url).query).get("token", ["0"])[0]
        k = int(token)
        route.fulfill(json={"items": pages[k], "next_token": str(k + 1) if k + 1 < len(pages) else None})

    page.route("**/v1/results?*", history)
    page.add_init_script(
        """{
          const fetch = window.fetch.bind(window);
          window.fetch = async (url, options) => {
            if (String(url).includes("v1/feedback?")) await new Promise((done) => setTimeout(done, 800));
            return fetch(url, options);
          };
        }"""
    )
    open_page(page, live_server)
    items = page.locator("#history > li")
    more = page.get_by_role("button", name="Show older results")
    for shown in (10, 20):
        expect(items).to_have_count(shown)
        more.click()
    expect(items).to_have_count(30)
    expect(items.last).to_contain_text("page-29.jpg")
    expect(more).to_be_hidden()


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
    # Two faces, two cards side by side, each with its own crop and heat map.
    check_face_cards(page, result)
    boxes = [card.bounding_box() for card in page.locator("#faces > li").all()]
    assert boxes[0] and boxes[1] and boxes[0]["y"] == boxes[1]["y"], "the two face cards are not side by side"
