"""Driving and reading the web page in the browser (Playwright): opening it, a job's row in the
upload list, the result on screen and its record from the API, texts the page showed, the overlay's
pixels, and the checks of the frame viewer and of the face cards that several e2e tests share."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.support.browser import LiveServer

SCAN_TIMEOUT_MS = 120_000

# The page's words for the verdict bands (bands.js BANDS) and evidence kinds (verdicts.js KIND_WORDS).
BAND_TITLES = {
    "fake": "Likely manipulated",
    "inconclusive": "Inconclusive — look closer",
    "real": "No sign of manipulation",
}
BAND_SHORT = {"fake": "likely manipulated", "inconclusive": "inconclusive", "real": "no sign of manipulation"}
KIND_WORDS = {"generated": "looks AI-generated", "swapped": "looks face-swapped"}
# Box colours on the evidence picture per band (bands.js BOX_COLOURS), and the CSS colour each
# band's words take (app.css).
BOX_COLOURS = {"fake": "#e53935", "inconclusive": "#f5a300", "real": "#2e9d46"}
BAND_CSS_COLOUR = {"fake": "--fake", "inconclusive": "--unsure", "real": "--real"}


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


# ---------------------------------------------------------------- scores as the page writes them
def format_percent(p: float, digits: int = 0) -> str:
    """bands.js ``formatPercent``: up to ``digits`` decimals (toFixed rounds the exact binary value
    half up), no trailing zeros, and a value below 1 never reads 100%."""

    def fixed(d: int) -> Decimal:
        return Decimal(p * 100).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)

    value = fixed(digits)
    if p < 1 and value >= 100:
        value = fixed(max(1, digits))
        if value >= 100:
            value = Decimal("99.9")
    text = format(value.normalize(), "f")
    return f"{text}%"


def digits_for(score: float, thresholds: list[float | None]) -> int:
    """bands.js ``digitsFor``: the fewest decimals at which the score reads apart from each threshold."""
    others = [t for t in thresholds if t is not None and t != score]
    for digits in range(3):
        if all(format_percent(score, digits) != format_percent(t, digits) for t in others):
            return digits
    return 3


def record_scores(record: dict[str, Any]) -> list[float]:
    scores = [record.get("score")]
    scores += [f["score"] for f in record.get("faces") or []]
    scores += [t["score"] for t in record.get("tracks") or []]
    for frame in record.get("frames") or []:
        scores += list((frame.get("scores") or {}).values())
    return [s for s in scores if isinstance(s, (int, float))]


def score_texts(score: float | None, record: dict[str, Any]) -> dict[str, str]:
    """bands.js ``scoreTexts``: the score, and the record's thresholds at the record's precision."""
    fake, real = record.get("threshold"), record.get("threshold_real")
    limits = [fake, real]
    record_digits = digits_for(fake, [real]) if fake is not None and real is not None else 0
    for other in record_scores(record):
        record_digits = max(record_digits, digits_for(other, limits))
    digits = digits_for(score, limits) if score is not None else 0
    shown = max(digits, record_digits)
    return {
        "score": format_percent(score, digits) if score is not None else "",
        "fake": format_percent(fake, shown) if fake is not None else "",
        "real": format_percent(real, shown) if real is not None else "",
    }


def score_percent(score: float, record: dict[str, Any]) -> str:
    return score_texts(score, record)["score"]


def band_title(record: dict[str, Any]) -> str:
    kind = KIND_WORDS.get(record.get("evidence_kind") or "") if record["verdict"] == "fake" else None
    return BAND_TITLES[record["verdict"]] + (f" ({kind})" if kind else "")


def history_badge(record: dict[str, Any]) -> str:
    """history.js ``historyVerdict`` for a finished result in a band."""
    title = "Inconclusive" if record["verdict"] == "inconclusive" else BAND_TITLES[record["verdict"]]
    return f"{title}, score {score_percent(record['score'], record)}"


def css_colour(page: Page, variable: str) -> str:
    """A CSS custom property of the page, as the computed colour it paints (rgb(...))."""
    colour: str = page.evaluate(
        """(name) => {
            const probe = document.createElement('span');
            probe.style.color = `var(${name})`;
            document.body.append(probe);
            const colour = getComputedStyle(probe).color;
            probe.remove();
            return colour;
        }""",
        variable,
    )
    return colour


def assert_verdict_matches(page: Page, record: dict[str, Any]) -> None:
    """The verdict box says what the record says: the band's name (and the kind of fake), its
    colour, the score called a manipulation score at the precision its thresholds ask for, and
    what the band means by the record's own thresholds."""
    verdict = record["verdict"]
    assert verdict in BAND_TITLES, f"not a band: {verdict}"
    texts = score_texts(record["score"], record)
    expect(page.locator("#verdict-title")).to_have_text(band_title(record))
    expect(page.locator("#verdict")).to_have_class(re.compile(rf"\bverdict {verdict}\b"))
    expect(page.locator("#verdict-score")).to_have_text(f"Manipulation score {texts['score']}")
    detail = page.locator("#verdict-detail")
    expect(detail).to_contain_text(f"from {texts['fake']} likely manipulated")
    if texts["real"]:
        expect(detail).to_contain_text(f"below {texts['real']} no sign of manipulation")
    colour = page.locator("#verdict-title").evaluate("(el) => getComputedStyle(el).color")
    assert colour == css_colour(page, BAND_CSS_COLOUR[verdict]), (verdict, colour)
    # Never the number next to a word that reads against it.
    text = page.locator("#verdict").inner_text()
    assert "probability" not in text and "Authentic" not in text, text


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
        face = result["faces"][track["face"]]
        band = track["verdict"] if video else face["verdict"]
        score = track["score"] if video else face["score"]
        expect(card.locator(".face-score")).to_have_text(
            f"Score {score_percent(score, result)}: {BAND_SHORT[band]}"
        )
        expect(card).to_have_class(re.compile(rf"\bface-card {band}\b"))
        if video:
            spark = card.get_by_role("img", name=re.compile("manipulation score over time"))
            expect(spark).to_be_visible()
    # Numbered left to right: a photo's faces by where each sits, a video's people by where each
    # sits in the most suspicious frame (the evidence picture), as the picture labels them.
    names = cards.locator(".face-name").all_inner_texts()
    shown = [f for f in result["faces"] if f["frame_index"] == result["evidence_frame_index"]]
    left_to_right = [f["track"] for f in sorted(shown, key=lambda f: f["box"][0])]
    by_track = {
        int(card.get_attribute("data-track") or -1): name.strip()
        for card, name in zip(cards.all(), names, strict=True)
    }
    word = "Person" if video else "Face"
    for number, track_id in enumerate(left_to_right, 1):
        assert by_track[track_id] == f"{word} {number}", (by_track, left_to_right)
    assert [n.strip() for n in names] == [f"{word} {i}" for i in range(1, len(names) + 1)], names


# ---------------------------------------------------------------- one result in each verdict band
def card_rate(value: float) -> str:
    """card-facts.js ``rate``: a small rate keeps a decimal."""
    return format_percent(value, 1 if value < 0.1 else 0)


def box_colour_at_left_edge(page: Page, record: dict[str, Any], face: dict[str, Any]) -> list[int]:
    x, y, _, h = face["box"]
    return overlay_pixel(page, x, y + h / 2, record["width"])


def assert_boxes_follow_bands(page: Page, record: dict[str, Any]) -> None:
    """Each face on the evidence picture is boxed in its own band's colour."""
    page.wait_for_function(
        "() => document.getElementById('evidence-image').complete "
        "&& document.getElementById('evidence-overlay').width > 0 "
        "&& document.getElementById('evidence-stage').dataset.drawn !== undefined"
    )
    for face in faces_of_frame(record, record["evidence_frame_index"]):
        want = BOX_COLOURS[face["verdict"]]
        expected = (int(want[1:3], 16), int(want[3:5], 16), int(want[5:7], 16))
        r, g, b, a = box_colour_at_left_edge(page, record, face)
        assert a == 255 and max(abs(r - expected[0]), abs(g - expected[1]), abs(b - expected[2])) < 40, (
            f"a {face['verdict']} face's box is drawn in {(r, g, b, a)}, not {want}"
        )


def check_each_band(
    page: Page, server: LiveServer, photos: dict[str, Path], artifacts: Path, label: str
) -> None:
    """Upload one photo per band (``BAND_PHOTOS``): for each, the headline names the API's band in
    its colour with the API's number, the upload list and the history badge say the same, every
    face's box and card follow the face's own band, and a "no sign" verdict says what share of
    each kind of fake the model catches, from the card."""
    open_page(page, server)
    page.set_input_files("#file-input", list(photos.values()))
    for photo in photos.values():
        wait_finished(page, photo.name)
    card = server.api("/v1/model").json()
    methods = card["metrics"]["evaluation"]["image_level"]["by_method"]
    for band, photo in photos.items():
        row = job_row(page, photo.name)
        row.get_by_role("button", name="View result").click()
        expect(page.locator("#result-file")).to_have_text(photo.name)
        record = shown_result(page, server)
        assert record["verdict"] == band, (
            f"{photo.name} scores {record['score']} against {record['threshold_real']} and "
            f"{record['threshold']}: {record['verdict']}, not {band}"
        )
        assert_verdict_matches(page, record)
        texts = score_texts(record["score"], record)
        if band == "fake":
            # Just above t_fake: a decimal tells them apart.
            assert texts["score"] != texts["fake"] and "." in texts["score"], texts
            expect(page.locator("#verdict-detail")).to_contain_text(f"from {texts['fake']}")
        expect(row.locator(".job-state")).to_contain_text(BAND_SHORT[band])
        expect(row.locator(".job-state")).to_contain_text(f"manipulation score {texts['score']}")
        expect(row).to_have_class(re.compile(rf"\b{band}\b"))

        caveat = page.locator("#verdict-caveat")
        expect(caveat).to_contain_text("In its tests")
        if band == "real":
            expect(caveat).to_contain_text("No sign is not proof")
            for blocks in methods.values():
                expect(caveat).to_contain_text(f"{card_rate(blocks['vs_all_reals']['tpr'])} of ")
        else:
            expect(caveat).not_to_contain_text("No sign is not proof")

        badge = page.locator(f"#history > li[data-result-id='{record['id']}'] .h-verdict")
        expect(badge).to_have_text(history_badge(record))
        assert_boxes_follow_bands(page, record)
        check_face_cards(page, record)
        page.locator("#result-panel").screenshot(path=str(artifacts / f"{label}-{band}.png"))
    # The history never calls a score a share of authenticity.
    badges = page.locator("#history .h-verdict").all_inner_texts()
    assert not [b for b in badges if "Authentic" in b or "Manipulated " in b], badges
