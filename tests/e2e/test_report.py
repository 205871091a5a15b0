"""A result to share and to review, against the live local service: the address names the result
(a link opens it after a reload, back and forward move between results), its JSON downloads, the
page prints as a report (print media shows the facts, the verdict, the evidence, the faces, the
timeline and the credentials, and hides every control; ``page.pdf()`` makes a real PDF of it), and
a reviewer's "Real"/"Fake" label is posted, shown on the result and tagged in the history."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from deepfake_detect.settings import PROJECT_ROOT
from tests.support.browser import BAND_PHOTOS, LiveServer
from tests.support.layout import assert_accessible
from tests.support.page import (
    assert_verdict_matches,
    job_row,
    open_page,
    score_texts,
    shown_result,
    wait_finished,
)

pytestmark = pytest.mark.e2e

SHIPPED_CARD = PROJECT_ROOT / "models" / "deepfake_classifier.json"
# Shown on screen, never printed.
CONTROLS = (
    "#upload-panel",
    "#history",
    "#model-card",
    "#accuracy-panel",
    "#result-actions",
    "#print-report",
    "#review",
    "#heatmap-toggle",
    "#frame-picker",
    ".face-jump",
    ".site-header",
)
# The report: shown in print.
REPORT_PARTS = (
    "#report-header",
    "#verdict-title",
    "#evidence-image",
    "#faces",
    "#faces img.face-crop",
    "#faces canvas.face-heat",
    "#faces .sparkline",
    "#timeline svg",
    "#credentials",
)


@pytest.fixture
def photo(shared_data: Path) -> Path:
    return shared_data / "deepface_photos" / "img1.jpg"


@pytest.fixture
def video(shared_data: Path) -> Path:
    return shared_data / "ffpp_c23" / "real_634.mp4"


def with_shipped_metrics(page: Page) -> dict[str, Any]:
    """The live model card with the shipped card's measured figures (the tiny test model has none);
    its name, version and threshold stay the live service's. Returns the shipped card."""
    shipped: dict[str, Any] = json.loads(SHIPPED_CARD.read_text())

    def model_card(route: Route) -> None:
        response = route.fetch()
        card = response.json()
        card["metrics"] = shipped["metrics"]
        route.fulfill(response=response, json=card)

    page.route("**/v1/model", model_card)
    return shipped


def headline(figures: dict[str, Any]) -> str:
    """The report's words for a split's overall figures (report.js ``measured``)."""
    return (
        f"{figures['n']:,} faces: accuracy {figures['accuracy'] * 100:.1f}%, AUC {figures['auc']:.3f}, "
        f"fakes caught {figures['tpr'] * 100:.1f}%, real faces called fake {figures['fpr'] * 100:.1f}%"
    )


def result_hash(page: Page) -> str:
    match = re.search(r"#result/([0-9a-f]+)$", page.url)
    assert match, f"the address names no result: {page.url}"
    return match.group(1)


# ---------------------------------------------------------------- a PDF, read without a PDF library
def _pdf_string(raw: bytes) -> str:
    """A PDF text string: ``(literal)`` or ``<hex>`` (UTF-16 with a byte-order mark, or bytes)."""
    if raw.startswith(b"<"):
        data = bytes.fromhex(raw[1:-1].decode())
        return data[2:].decode("utf-16-be") if data.startswith(b"\xfe\xff") else data.decode("latin-1")
    body = raw[1:-1]
    body = re.sub(
        rb"\\([nrtbf()\\])", lambda m: {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m[1], m[1]), body
    )
    return body.decode("latin-1")


def pdf_summary(data: bytes) -> dict[str, Any]:
    """Pages, title, embedded images and decompressed stream bytes of a PDF that Chromium wrote."""
    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            streams.append(zlib.decompress(match.group(1)))
        except zlib.error:
            streams.append(match.group(1))
    everything = data + b"".join(streams)  # objects may sit inside compressed object streams
    title = re.search(rb"/Title\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", everything)
    return {
        "pages": len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", everything)),
        "title": _pdf_string(title.group(1)) if title else "",
        "images": len(re.findall(rb"/Subtype\s*/Image", everything)),
    }


# ---------------------------------------------------------------- tests
def test_the_address_opens_a_result_and_back_forward_move_between_results(
    page: Page, live_server: LiveServer
) -> None:
    first, second = live_server.seeded[3], live_server.seeded[8]
    open_page(page, live_server)
    expect(page.locator("#result-panel")).to_be_hidden()

    # A link opens its result; a click in the history opens another as a new step.
    page.goto(f"{live_server.url}/#result/{first.id}")
    expect(page.locator("#result-file")).to_have_text(first.path)
    newest = page.locator("#history > li").first
    newest_id = newest.get_attribute("data-result-id")
    newest_path = newest.locator(".h-name").inner_text()
    assert newest_id and newest_id != first.id
    newest.get_by_role("button").click()
    expect(page.locator("#result-file")).to_have_text(newest_path)
    assert result_hash(page) == newest_id

    page.go_back()
    expect(page.locator("#result-file")).to_have_text(first.path)
    assert result_hash(page) == first.id
    page.go_back()
    expect(page.locator("#result-panel")).to_be_hidden()
    assert page.title() == "Deepfake check"
    page.go_forward()
    expect(page.locator("#result-file")).to_have_text(first.path)
    page.go_forward()
    expect(page.locator("#result-file")).to_have_text(newest_path)

    # ?result= works as well, and is rewritten to the page's own form; a reload keeps the result.
    page.goto(f"{live_server.url}/?result={second.id}")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#result-file")).to_have_text(second.path)
    assert page.url == f"{live_server.url}/#result/{second.id}"
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#result-file")).to_have_text(second.path)
    expect(page.locator("#verdict-title")).to_have_text("Likely manipulated")
    expect(page.locator("#verdict-score")).to_have_text(re.compile(r"^Manipulation score \d+%$"))
    assert second.path in page.title()

    # A link to a result that does not exist says so, visibly.
    page.goto(f"{live_server.url}/#result/{'0' * 32}")
    expect(page.locator("#address-notice")).to_contain_text("could not be opened")
    expect(page.locator("#address-notice")).to_contain_text("does not exist")


def test_share_download_and_review_a_photo(
    page: Page, live_server: LiveServer, photo: Path, artifacts: Path
) -> None:
    open_page(page, live_server)
    page.set_input_files("#file-input", photo)
    wait_finished(page, photo.name)
    result = shown_result(page, live_server)
    # The result that opened by itself is in the address, and a reload opens it again.
    assert result_hash(page) == result["id"]
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#result-file")).to_have_text(photo.name)
    expect(page.locator("#evidence-image")).to_be_visible()

    # The file's sha256, computed by the service from the uploaded bytes.
    sha256 = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert result["source"]["sha256"] == sha256
    page.locator("details.technical > summary").click()
    expect(page.locator("#result-details")).to_contain_text(sha256)

    # The JSON download is the record the API holds.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download JSON").click()
    download = download_info.value
    assert download.suggested_filename == f"deepfake-check-{result['id']}.json"
    downloaded = json.loads(Path(download.path()).read_text())
    assert downloaded == live_server.api(f"/v1/results/{result['id']}").json()

    # Copy link puts the result's address on the clipboard (or shows it to copy by hand).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#share-note")).to_have_text("Link copied.")
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/#result/{result['id']}"

    # A reviewer's label with a note. Locally the one user is the reviewer: no name to give.
    review = page.locator("#review")
    expect(review).to_be_visible()
    # (Another test may have labelled the same bytes: that label shows as an identical file's.)
    expect(page.locator("#review-current")).to_have_text(
        re.compile(r"^Not reviewed yet\.( An identical file was labelled (real|fake) on .+\.)?$")
    )
    expect(page.locator("#review-signed-in")).to_be_hidden()
    page.get_by_text("Add a note").click()
    page.get_by_label("Note (optional)").fill("the eyes do not match the light")
    page.get_by_role("button", name="Fake", exact=True).click()
    current = page.locator("#review-current")
    expect(current).to_contain_text(
        re.compile(r"^Reviewed: fake on .+\. Note: the eyes do not match the light$")
    )
    expect(page.get_by_role("button", name="Fake", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Real", exact=True)).to_have_attribute("aria-pressed", "false")
    labels = live_server.api(f"/v1/feedback?result_id={result['id']}").json()["items"]
    assert [(x["label"], x["note"]) for x in labels] == [("fake", "the eyes do not match the light")]
    row = page.locator(f"#history > li[data-result-id='{result['id']}']")
    expect(row.locator(".h-review")).to_have_text("reviewed: fake")
    expect(row.get_by_role("button")).to_have_attribute("aria-label", re.compile(r"reviewed: fake$"))
    page.screenshot(path=str(artifacts / "review-photo.png"), full_page=True)

    # After a reload the history and the result read the label from the server.
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(row.locator(".h-review")).to_have_text("reviewed: fake")
    expect(current).to_contain_text("Reviewed: fake on")
    expect(page.get_by_role("button", name="Fake", exact=True)).to_have_attribute("aria-pressed", "true")

    # Labelling again replaces the label, in the history too.
    page.get_by_role("button", name="Real", exact=True).click()
    expect(current).to_contain_text("Reviewed: real on")
    expect(row.locator(".h-review")).to_have_text("reviewed: real")
    assert live_server.api(f"/v1/feedback?result_id={result['id']}").json()["items"][0]["label"] == "real"


def test_a_video_prints_as_a_report(
    page: Page, live_server: LiveServer, video: Path, artifacts: Path
) -> None:
    shipped = with_shipped_metrics(page)
    open_page(page, live_server)
    page.set_input_files("#file-input", video)
    wait_finished(page, video.name)
    job_row(page, video.name).get_by_role("button", name="View result").click()
    result = shown_result(page, live_server)
    assert result["media_kind"] == "video" and result["tracks"]
    expect(page.locator("#timeline svg")).to_be_visible()
    page.wait_for_function(
        "() => document.getElementById('evidence-image').complete "
        "&& document.getElementById('evidence-overlay').width > 0"
    )
    # On screen the report's header is hidden and the controls are there.
    expect(page.locator("#report-header")).to_be_hidden()
    expect(page.get_by_role("button", name="Print / save as PDF")).to_be_visible()

    # The button opens the browser's print dialog (replaced here: headless Chromium has none).
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.get_by_role("button", name="Print / save as PDF").click()
    assert page.evaluate("() => window.__printed") == 1

    page.emulate_media(media="print")
    for selector in REPORT_PARTS:
        expect(page.locator(selector).first).to_be_visible()
    for selector in CONTROLS:
        expect(page.locator(selector).first).to_be_hidden()
    facts = page.locator("#report-facts")
    sha256 = hashlib.sha256(video.read_bytes()).hexdigest()
    expect(facts).to_contain_text(sha256)
    expect(facts).to_contain_text(f"{result['model']['name']} {result['model']['version']}")
    expect(facts).to_contain_text(
        f"Test split, {headline(shipped['metrics']['evaluation']['image_level']['overall'])}"
    )
    expect(facts).to_contain_text(f"Validation split, {headline(shipped['metrics']['val']['overall'])}")
    expect(facts).to_contain_text(f"{live_server.url}/#result/{result['id']}")
    expect(facts).to_contain_text("UTC")
    verdict = page.locator("#verdict-title").inner_text()
    expect(page.locator("#faces > li")).to_have_count(len(result["tracks"]))
    page.wait_for_selector("#faces canvas.face-heat[data-drawn='true']")
    assert_accessible(page, artifacts, "report-print")
    # About the width of an A4 page's printed area (186 mm at 96 px to the inch).
    page.set_viewport_size({"width": 703, "height": 1000})
    page.screenshot(path=str(artifacts / "report-print.png"), full_page=True)

    pdf = page.pdf(format="A4")
    (artifacts / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 30_000, len(pdf)
    summary = pdf_summary(pdf)
    assert 1 <= summary["pages"] <= 4, summary
    # The evidence frame, and each face's crop and heat map.
    assert summary["images"] >= 1 + 2 * len(result["tracks"]), summary
    assert verdict in summary["title"] and video.name in summary["title"], summary

    page.emulate_media(media="screen")
    expect(page.locator("#report-header")).to_be_hidden()
    assert_accessible(page, artifacts, "report-screen")


def test_an_inconclusive_photo_prints_in_its_band(
    page: Page, live_server: LiveServer, shared_data: Path, artifacts: Path
) -> None:
    """The printed report (and its PDF) names the band in its own colour, with the score and the
    thresholds the result was judged by."""
    photo = shared_data / "deepface_photos" / BAND_PHOTOS["inconclusive"]
    open_page(page, live_server)
    page.set_input_files("#file-input", photo)
    wait_finished(page, photo.name)
    result = shown_result(page, live_server)
    assert result["verdict"] == "inconclusive"
    page.emulate_media(media="print")
    assert_verdict_matches(page, result)
    texts = score_texts(result["score"], result)
    expect(page.locator("#report-facts")).to_contain_text(
        f"Likely manipulated from {texts['fake']}; inconclusive from {texts['real']} to {texts['fake']}; "
        f"no sign of manipulation below {texts['real']}."
    )
    expect(page.locator("#faces-hint")).to_be_visible()  # what the heat maps' colours mean
    page.set_viewport_size({"width": 703, "height": 1000})
    page.screenshot(path=str(artifacts / "report-inconclusive-print.png"), full_page=True)
    pdf = page.pdf(format="A4")
    (artifacts / "report-inconclusive.pdf").write_bytes(pdf)
    summary = pdf_summary(pdf)
    assert summary["title"].startswith("Inconclusive — look closer (manipulation score "), summary
    assert_accessible(page, artifacts, "report-inconclusive-print")
