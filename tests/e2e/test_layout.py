"""The page's layout as a person sees it: it fits the screen from a 320 px phone to a 1920 px
desktop without sideways scrolling, no text is squeezed into a sliver, the page keeps a sane
length, and axe-core finds no serious or critical accessibility problem.

The pages are stressed the way real use stresses them: the shipped model card (dozens of metric
rows with long names) under a long unbroken model name, a photo with many faces under a long
unbroken file name, and a video with its timeline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, Route, expect

from deepfake_detect.settings import PROJECT_ROOT
from tests.support.browser import LiveServer
from tests.support.layout import (
    MAX_PHOTO_RESULT_1400,
    MAX_VIDEO_RESULT_390,
    assert_accessible,
    assert_fits,
    result_height,
)
from tests.support.page import job_row, open_page, shown_result, wait_finished

pytestmark = pytest.mark.e2e

SHIPPED_CARD = PROJECT_ROOT / "models" / "deepfake_classifier.json"
# Underscores are no break opportunity: only `overflow-wrap: anywhere` keeps these inside the page.
LONG_MODEL_NAME = "deepfake_face_mobilenetv2_calibrated_on_dfdc_utkface_london_sdfd_stylegan2_" + "x" * 40
LONG_FILE_STEM = "group_photo_from_the_annual_company_offsite_" + "0123456789" * 9
FACES_IN_MOSAIC = 6

DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
# The widths the page must hold, from the smallest phone to a full-HD desktop.
SWEEP_WIDTHS = (320, 360, 480, 600, 759, 760, 1024, 1280, 1920)


@pytest.fixture
def many_faces(shared_data: Path, tmp_path: Path) -> Path:
    """Six portraits in one picture (three by two), saved under a long unbroken name."""
    tiles = []
    for name in ("img1.jpg", "img2.jpg", "img3.jpg", "img4.jpg", "img5.jpg", "img6.jpg"):
        image = cv2.imread(str(shared_data / "deepface_photos" / name))
        assert image is not None, name
        tiles.append(cv2.resize(image, (320, 320), interpolation=cv2.INTER_AREA))
    mosaic = np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:])])
    path = tmp_path / f"{LONG_FILE_STEM}.jpg"
    cv2.imwrite(str(path), mosaic)
    return path


@pytest.fixture
def video(shared_data: Path) -> Path:
    return shared_data / "ffpp_c23" / "real_634.mp4"


@pytest.fixture
def shipped_card_page(page: Page) -> Iterator[Page]:
    """The page, with the model card the service ships (its metrics, training data, limitations
    and licence; the tiny test model has none of these) under a long unbroken model name. The
    threshold and crop size stay the live service's, so verdicts and heat maps still match."""
    shipped: dict[str, Any] = json.loads(SHIPPED_CARD.read_text())

    def model_card(route: Route) -> None:
        response = route.fetch()
        card = response.json()
        for key in ("architecture", "metrics", "training_data", "limitations", "license"):
            if key in shipped:
                card[key] = shipped[key]
        card["name"] = LONG_MODEL_NAME
        route.fulfill(response=response, json=card)

    page.route("**/v1/model", model_card)
    yield page


def scan(page: Page, server: LiveServer, files: list[Path]) -> None:
    open_page(page, server)
    expect(page.locator("#model-card")).to_contain_text(LONG_MODEL_NAME)
    page.set_input_files("#file-input", files)
    for file in files:
        wait_finished(page, file.name)


def view_result(page: Page, name: str) -> None:
    job_row(page, name).get_by_role("button", name="View result").click()
    expect(page.locator("#result-file")).to_have_text(name)
    page.wait_for_function(  # a function, not an expression: the page's CSP forbids eval
        "() => document.getElementById('evidence-image').complete "
        "&& document.getElementById('evidence-overlay').width > 0"
    )


def open_all_details(page: Page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def assert_model_values_readable(page: Page, where: str) -> None:
    """Each value of the model card gets at least half the card's width (the name column is
    capped), so a long metric name cannot squeeze the values."""
    widths: dict[str, Any] = page.evaluate(
        """() => {
            const dl = document.getElementById('model-card');
            return {card: dl.getBoundingClientRect().width,
                    values: [...dl.querySelectorAll('dd')].map((dd) => dd.getBoundingClientRect().width)};
        }"""
    )
    assert widths["values"], f"{where}: the model card shows no values"
    narrow = [w for w in widths["values"] if w < 0.5 * widths["card"]]
    assert not narrow, f"{where}: model card values {narrow} px wide in a {widths['card']} px card"


# Where each face's box is drawn on the zoomed picture's overlay, checked against the result's
# boxes scaled to the zoomed image's displayed size: the overlay covers the image exactly, and it
# is painted on the middle of each box's left and right edges and of its top edge.
ZOOM_MEASURE_JS = """async () => {
    const { stagePicture } = await import("/static/evidence.js");
    const id = document.querySelector("#result-panel").dataset.resultId;
    const record = await (await fetch(`v1/results/${id}`)).json();
    const image = document.getElementById("zoom-image");
    const canvas = document.getElementById("zoom-overlay");
    const rect = (e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
    const picture = stagePicture(record);
    const s = canvas.width / (record.width || image.naturalWidth / picture.scale);
    const ctx = canvas.getContext("2d");
    const alpha = (x, y) => ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data[3];
    const faces = picture.faces.map((face) => {
        const [x, y, w, h] = face.box.map((v) => v * s);
        return { left: alpha(x, y + h / 2), right: alpha(x + w, y + h / 2), top: alpha(x + w / 2, y) };
    });
    const ratio = canvas.width / image.getBoundingClientRect().width;
    return { image: rect(image), canvas: rect(canvas), ratio,
             dpr: window.devicePixelRatio || 1, src: image.getAttribute("src"), faces,
             onPage: document.getElementById("evidence-image").getBoundingClientRect().width };
}"""


def check_zoom(page: Page, artifacts: Path, label: str, source: str) -> None:
    """The picture on the stage zooms from its button (keyboard) and from a click on it: larger in a
    dialog, every box and label drawn on its face at the zoomed size; Escape closes and focus goes
    back to the button."""
    button = page.get_by_role("button", name="Zoom the picture")
    expect(button).to_be_visible()
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=re.compile(r"^Zoomed"))
    expect(dialog).to_be_visible()
    expect(page.locator("#zoom-scroll")).to_be_focused()
    for level in (2, 3):
        page.wait_for_selector(f"#zoom-stage[data-drawn][data-level='{level}']")
        measured: dict[str, Any] = page.evaluate(ZOOM_MEASURE_JS)
        assert source in measured["src"], f"{label}: the zoom shows {measured['src']}, not the stage's"
        width = measured["image"][2]
        assert abs(width - level * measured["onPage"]) <= 1.5, f"{label}: zoomed to {width} px at {level}x"
        assert all(abs(a - b) <= 0.5 for a, b in zip(measured["image"], measured["canvas"], strict=True)), (
            f"{label}: the overlay {measured['canvas']} does not cover the image {measured['image']}"
        )
        assert abs(measured["ratio"] - measured["dpr"]) < 0.01, f"{label}: the overlay is scaled"
        assert measured["faces"], f"{label}: no face on the zoomed picture"
        off = [i for i, f in enumerate(measured["faces"]) if not (f["left"] and f["right"] and f["top"])]
        assert not off, f"{label}: boxes {off} are not drawn where their faces are: {measured['faces']}"
        page.screenshot(path=str(artifacts / f"{label}-zoom-{level}x.png"))
        if level == 2:
            page.keyboard.press("+")  # as "Zoom in"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    # A click (a tap) on the picture zooms too; Close closes.
    page.locator("#evidence-image").click()
    expect(dialog).to_be_visible()
    page.wait_for_selector("#zoom-stage[data-drawn][data-level='2']")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop-1400", "phone-390"])
def test_layout_holds_after_photo_and_video(
    shipped_card_page: Page,
    live_server: LiveServer,
    many_faces: Path,
    video: Path,
    viewport: dict[str, int],
    artifacts: Path,
) -> None:
    page = shipped_card_page
    label = f"layout-{viewport['width']}"
    scan(page, live_server, [many_faces, video])

    view_result(page, many_faces.name)
    result = shown_result(page, live_server)
    assert len(result["faces"]) >= FACES_IN_MOSAIC - 1, "the mosaic should show (nearly) every face"
    expect(page.locator("#faces > li")).to_have_count(len(result["faces"]))
    page.screenshot(path=str(artifacts / f"{label}-photo.png"), full_page=True)
    page.locator("#result-panel").screenshot(path=str(artifacts / f"{label}-photo-result.png"))
    assert_fits(page, "photo result")
    assert_model_values_readable(page, "photo result")
    heights = {"photo": result_height(page)}
    if viewport == DESKTOP:
        assert heights["photo"] <= MAX_PHOTO_RESULT_1400, f"the photo result is {heights['photo']} px tall"
    check_zoom(page, artifacts, f"{label}-photo", "/evidence.jpg")

    view_result(page, video.name)
    expect(page.locator("#timeline svg")).to_be_visible()
    page.screenshot(path=str(artifacts / f"{label}-video.png"), full_page=True)
    page.locator("#result-panel").screenshot(path=str(artifacts / f"{label}-video-result.png"))
    assert_fits(page, "video result")
    assert_model_values_readable(page, "video result")
    heights["video"] = result_height(page)
    (artifacts / f"{label}-result-heights.json").write_text(json.dumps(heights))
    if viewport == PHONE:
        assert heights["video"] <= MAX_VIDEO_RESULT_390, f"the video result is {heights['video']} px tall"
    # Another sampled frame on the stage (a 480 px thumbnail, drawn as large as the evidence frame).
    size = "(box) => [box.getBoundingClientRect().width, box.getBoundingClientRect().height]"
    evidence_size = page.locator("#evidence-image").evaluate(size)
    page.get_by_role("slider", name="Sampled frame").focus()
    page.keyboard.press("Home")
    page.wait_for_selector("#evidence-stage[data-picture='frame'][data-drawn]")
    expect(page.locator("#faces img.face-crop")).not_to_have_count(0)
    assert page.locator("#evidence-image").evaluate(size) == evidence_size, "the stage changes size"
    page.screenshot(path=str(artifacts / f"{label}-video-frame.png"), full_page=True)
    assert_fits(page, "video result, another frame")
    check_zoom(page, artifacts, f"{label}-frame", "/frames/")

    # Folded parts (timeline table, technical details, the model's metrics) hold too, and axe
    # sees them.
    open_all_details(page)
    expect(page.locator("#model-metrics")).to_be_visible()
    page.screenshot(path=str(artifacts / f"{label}-expanded.png"), full_page=True)
    assert_fits(page, "every <details> open", check_height=False)
    assert_accessible(page, artifacts, label)
    # The page follows the system's dark mode: its colours must pass too.
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(artifacts / f"{label}-dark.png"), full_page=True)
    assert_accessible(page, artifacts, f"{label}-dark")


def test_layout_holds_at_every_width(
    shipped_card_page: Page, live_server: LiveServer, many_faces: Path, video: Path, artifacts: Path
) -> None:
    """One scan, then the window resized from 320 px to 1920 px: the timeline and the evidence
    overlay are redrawn, and nothing sticks out or gets squeezed at any width."""
    page = shipped_card_page
    scan(page, live_server, [many_faces, video])
    view_result(page, video.name)
    for width in SWEEP_WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)  # the ResizeObservers redraw the timeline and the overlay
        assert_fits(page, f"{width} px wide", check_height=False)
        assert_model_values_readable(page, f"{width} px wide")
        if width == SWEEP_WIDTHS[-1]:
            page.screenshot(path=str(artifacts / f"layout-{width}-video.png"), full_page=True)
    page.set_viewport_size({"width": 320, "height": 640})
    view_result(page, many_faces.name)
    assert_fits(page, "photo at 320 px")
    page.screenshot(path=str(artifacts / "layout-320-photo.png"), full_page=True)

    # The mosaic's faces are packed tight, and the 320 px picture is small: each label must still
    # be readable, covering no other label, inside the picture. (Drawn naively above each box,
    # some labels do cover others here; the second check proves the case is a real one.)
    placed = page.evaluate(
        """async () => {
          const { evidenceFaces, faceLabel, labelPlaces } = await import("/static/evidence.js");
          const record = await (await fetch(`v1/results/${
            document.querySelector("#result-panel").dataset.resultId}`)).json();
          const canvas = document.querySelector("#evidence-overlay");
          const ctx = canvas.getContext("2d");
          const faces = evidenceFaces(record);
          const s = canvas.width / record.width;
          const labelled = faces.map((face) => ({ face, label: faceLabel(record, face) }));
          const { places, height } = labelPlaces(ctx, labelled, s, window.devicePixelRatio || 1, record);
          const naive = places.map((spot, i) => ({
            x: faces[i].box[0] * s, y: faces[i].box[1] * s - height, width: spot.width }));
          const boxes = faces.map((face) => face.box.map((v) => v * s));
          return { places, naive, boxes, height, width: canvas.width, canvasHeight: canvas.height };
        }"""
    )
    height = placed["height"]

    def overlapping(spots: list[dict[str, Any]]) -> list[tuple[int, int]]:
        return [
            (i, j)
            for i, a in enumerate(spots)
            for j, b in enumerate(spots[i + 1 :], i + 1)
            if a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and abs(a["y"] - b["y"]) < height
        ]

    places = placed["places"]
    assert len(places) >= FACES_IN_MOSAIC - 1
    assert not overlapping(places), f"labels cover each other: {overlapping(places)} in {places}"
    for spot in places:
        assert spot["x"] >= 0 and spot["x"] + spot["width"] <= placed["width"] + 0.5, spot
        assert spot["y"] >= 0 and spot["y"] + height <= placed["canvasHeight"], spot
    assert overlapping(placed["naive"]), "the mosaic no longer crowds its labels: this check tests nothing"
    # Nor does a label lie over another face (the most suspicious one may be under it).
    covering = [
        (i, j)
        for i, spot in enumerate(places)
        for j, (x, y, w, h) in enumerate(placed["boxes"])
        if i != j
        and spot["x"] < x + w
        and x < spot["x"] + spot["width"]
        and spot["y"] < y + h
        and y < spot["y"] + height
    ]
    assert not covering, f"labels over other faces: {covering}"
