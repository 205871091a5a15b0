"""The web page in a real browser against the live local service: upload, verdict, evidence,
timeline, errors, history, model card, keyboard use and a phone-width layout."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest
from playwright.sync_api import FileChooser, Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import BAND_PHOTOS, MAX_UPLOAD_BYTES, SEEDED_RESULTS, LiveServer, PageErrors
from tests.support.layout import assert_accessible
from tests.support.page import (
    BAND_SHORT,
    assert_boxes_follow_bands,
    assert_verdict_matches,
    card_rate,
    check_each_band,
    check_face_cards,
    check_frame_viewer,
    digits_for,
    format_percent,
    format_seconds,
    history_badge,
    job_row,
    open_page,
    overlay_alpha_sum,
    overlay_pixel,
    record_texts,
    sampled_frames,
    score_percent,
    seen_texts,
    shown_result,
    wait_failed,
    wait_finished,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def photo(shared_data: Path) -> Path:
    return shared_data / "deepface_photos" / "img1.jpg"


@pytest.fixture
def video(shared_data: Path) -> Path:
    return shared_data / "ffpp_c23" / "real_634.mp4"


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
    assert result["path"] == photo.name and result["verdict"] in BAND_SHORT
    assert_verdict_matches(page, result)
    expect(page.locator("#faces > li")).to_have_count(len(result["faces"]))
    assert result["faces"], "the test photo has a face"

    image = page.locator("#evidence-image")
    expect(image).to_be_visible()
    # Every face is boxed where the API says it is, in its band's colour, and nothing is drawn far
    # from the faces.
    assert_boxes_follow_bands(page, result)
    for number, face in enumerate(sorted(result["faces"], key=lambda f: f["box"][0]), 1):
        x, y, w, h = face["box"]
        assert overlay_pixel(page, x + w, y + h / 2, result["width"])[3] == 255, "no box at the right side"
        label = f"Face {number}: score {score_percent(face['score'], result)}, {BAND_SHORT[face['verdict']]}"
        assert label in (image.get_attribute("alt") or "")
    assert overlay_pixel(page, 2, result["height"] - 2, result["width"])[3] == 0

    page.screenshot(path=str(artifacts / "photo-verdict.png"), full_page=True)

    # The heat map toggle paints inside the face; switching it off clears it again.
    box = result["faces"][0]["box"]
    before = overlay_alpha_sum(page, box, result["width"])
    page.get_by_label("Show heat map of where the model looked").check()
    with_heatmap = overlay_alpha_sum(page, box, result["width"])
    assert with_heatmap > before + 1000, (before, with_heatmap)
    # Its colour scale, and that each map is scaled to its own face.
    expect(page.get_by_role("img", name=re.compile("^Colour scale: blue for low"))).to_be_visible()
    expect(page.locator("#heatmap-help")).to_contain_text("scaled to its own range")
    expect(page.locator("#faces-hint-heat")).to_contain_text("scaled to its own face")
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
    expect(page.locator("#verdict-score")).to_have_text(re.compile(r"^Manipulation score \d+(\.\d+)?%$"))

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

    # Records older than the bands (one threshold, no t_real) read in two bands, and their badges
    # call the number a score.
    for seeded in live_server.seeded:
        record = live_server.api(f"/v1/results/{seeded.id}").json()
        badge = page.locator(f"#history > li[data-result-id='{seeded.id}'] .h-verdict")
        expect(badge).to_have_text(history_badge(record))
    # Searched by name, verdict and date on the server: a fresh page has loaded one page, and the
    # search still finds the oldest results, which are not on it.
    open_page(page, live_server)
    expect(items).to_have_count(10)
    assert not items.filter(has_text="seed-00").count()  # 12 seeds or more: the oldest is on page 2
    search = page.get_by_role("searchbox", name="File name contains")
    verdict = page.get_by_role("combobox", name="Verdict")
    since, until = page.get_by_label("Checked from"), page.get_by_label("Checked until")
    note = page.locator("#history-filter-note")
    with page.expect_request(lambda request: "q=SEED-0" in request.url):
        search.fill("SEED-0")
    wanted = [item for item in total if "seed-0" in item["path"].lower()]
    assert len(wanted) == 10
    expect(items).to_have_count(len(wanted))
    expect(note).to_have_text("10 matching results.")
    expect(items.first).to_contain_text(wanted[0]["path"])
    expect(items.last).to_contain_text("seed-00.jpg")
    verdict.select_option("fake")
    both = [item for item in wanted if item["verdict"] == "fake"]
    assert 0 < len(both) < len(wanted)
    expect(items).to_have_count(len(both))
    expect(note).to_have_text(f"{len(both)} matching result{'s' if len(both) > 1 else ''}.")
    search.fill("")
    fakes = [item for item in total if item["verdict"] == "fake"]
    expect(items).to_have_count(min(len(fakes), 10))
    for row in items.all():
        expect(row.locator(".h-verdict")).to_contain_text(re.compile("Likely manipulated|AI-generated"))
    verdict.select_option("")
    # Dates: the seeds were checked on 1 January 2020 (UTC), everything else since.
    since.fill("2019-12-31")
    until.fill("2020-01-02")
    expect(items).to_have_count(10)
    expect(note).to_have_text("10 matching results so far. Show older results to search further back.")
    more.click()  # the next page of the same search
    expect(items).to_have_count(SEEDED_RESULTS)
    expect(note).to_have_text(f"{SEEDED_RESULTS} matching results.")
    expect(items.last).to_contain_text("seed-00.jpg")
    since.fill("")
    until.fill("2019-12-30")
    expect(items).to_have_count(0)
    expect(page.locator("#history-filter-note")).to_have_text("No results match.")
    expect(page.locator("#history-empty")).to_be_hidden()
    since.fill("2020-01-03")  # the wrong way round: the server's reason is shown
    expect(page.locator("#history-empty")).to_contain_text("The history could not be searched")
    until.fill("")
    since.fill("")
    expect(items).to_have_count(10)
    expect(note).to_be_hidden()
    more.click()
    expect(items).to_have_count(min(20, len(total)))
    while more.is_visible() and not items.filter(has_text=oldest.path).count():
        count = items.count()  # other tests' uploads on the shared server come first
        more.click()
        expect(items).not_to_have_count(count)

    items.filter(has_text=oldest.path).get_by_role("button").click()
    expect(page.locator("#result-heading")).to_be_focused()
    expect(page.locator("#result-file")).to_have_text(oldest.path)
    record = live_server.api(f"/v1/results/{oldest.id}").json()
    assert record["threshold_real"] is None and record["verdict"] == "real"
    assert_verdict_matches(page, record)
    expect(page.locator("#verdict-detail")).to_contain_text("no inconclusive band")
    assert page.evaluate("location.hash") == f"#result/{oldest.id}"

    # The model panel, readers first: what the bands are and what the model catches and misses,
    # from the card; the card in full folded away.
    card = live_server.api("/v1/model").json()
    digits = digits_for(card["threshold"], [card["threshold_real"]])
    fake, real = (format_percent(card[key], digits) for key in ("threshold", "threshold_real"))
    expect(page.locator("#model-name")).to_contain_text(f"{card['name']} {card['version']}")
    facts = page.locator("#model-facts")
    expect(facts).to_contain_text(
        f"Verdicts: Likely manipulated from {fake}; inconclusive from {real} to {fake}; "
        f"no sign of manipulation below {real}."
    )
    measured = card["metrics"]["evaluation"]["image_level"]
    tpr = measured["by_method"]["dfdc_faceswap"]["vs_all_reals"]["tpr"]
    expect(facts).to_contain_text(f"Swapped or reenacted faces: catches {card_rate(tpr)} of DFDC face swaps.")
    fpr = measured["overall"]["fpr"]
    expect(facts).to_contain_text(f"Real faces: calls {card_rate(fpr)} of them likely manipulated.")
    expect(facts).to_contain_text("In the bands: real faces: ")
    developer = page.locator("#model-developer")
    expect(developer).not_to_have_attribute("open", "")
    expect(page.locator("#model-card")).to_be_hidden()
    developer.locator("> summary").click()
    expect(page.locator("#model-card")).to_contain_text(card["name"])
    expect(page.locator("#model-card")).to_contain_text(fake)
    # The test faces of each source in each band, in words (and a bar).
    page.locator("#model-bands-block > summary").click()
    groups = card["metrics"]["evaluation"]["bands"]["by_group"]
    rows = page.locator("#model-bands li")
    expect(rows).to_have_count(len(groups))
    swaps = groups["dfdc:fake"]
    expect(page.locator("#model-bands li[data-group='dfdc:fake']")).to_have_text(
        f"DFDC, fakes ({swaps['n']}){card_rate(swaps['real'])} no sign, {card_rate(swaps['inconclusive'])} "
        f"inconclusive, {card_rate(swaps['fake'])} likely manipulated"
    )
    page.locator("section[aria-labelledby='model-heading']").screenshot(
        path=str(artifacts / "model-panel.png")
    )
    page.screenshot(path=str(artifacts / "history-model.png"), full_page=True)

    # The address of a result opens it, on the same page and on a fresh load.
    newest_fake = next(r for r in reversed(live_server.seeded) if r.verdict == "fake")
    page.goto(f"{live_server.url}/#result/{newest_fake.id}")
    expect(page.locator("#result-file")).to_have_text(newest_fake.path)
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#result-file")).to_have_text(newest_fake.path)
    assert_verdict_matches(page, live_server.api(f"/v1/results/{newest_fake.id}").json())


def test_each_band_reads_the_same_everywhere(
    page: Page, live_server: LiveServer, shared_data: Path, artifacts: Path
) -> None:
    photos = {band: shared_data / "deepface_photos" / name for band, name in BAND_PHOTOS.items()}
    check_each_band(page, live_server, photos, artifacts, "band")
    # The inconclusive band's amber passes AA contrast, in light and in dark mode.
    job_row(page, photos["inconclusive"].name).get_by_role("button", name="View result").click()
    record = shown_result(page, live_server)
    assert record["verdict"] == "inconclusive"
    assert_accessible(page, artifacts, "band-inconclusive")
    page.emulate_media(color_scheme="dark")
    assert_verdict_matches(page, record)
    page.locator("#result-panel").screenshot(path=str(artifacts / "band-inconclusive-dark.png"))
    assert_accessible(page, artifacts, "band-inconclusive-dark")


def test_a_card_older_than_the_bands(page: Page, live_server: LiveServer, shared_data: Path) -> None:
    """A card without t_real, band table or catch rates (the shipped one, until the next model):
    the model panel says there are two bands, and a "no sign" verdict says nothing it cannot
    back with the card's figures."""

    def older_card(route: Route) -> None:
        response = route.fetch()
        card = response.json()
        card["threshold_real"] = None
        card["metrics"] = {}
        route.fulfill(response=response, json=card)

    page.route("**/v1/model", older_card)
    photo = shared_data / "deepface_photos" / BAND_PHOTOS["real"]
    open_page(page, live_server)
    expect(page.locator("#model-facts")).to_contain_text("This model has no inconclusive band")
    expect(page.locator("#model-facts")).not_to_contain_text("catches")
    expect(page.locator("#model-bands-block")).to_be_hidden()
    page.set_input_files("#file-input", photo)
    wait_finished(page, photo.name)
    record = shown_result(page, live_server)
    assert record["verdict"] == "real"
    assert_verdict_matches(page, record)
    expect(page.locator("#verdict-caveat")).to_have_text("")


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


def test_the_same_file_links_its_checks_and_carries_a_label(
    page: Page, live_server: LiveServer, shared_data: Path, tmp_path: Path, artifacts: Path
) -> None:
    # Bytes no other test uploads (a note after the JPEG's end), under two names.
    data = (shared_data / "deepface_photos" / BAND_PHOTOS["real"]).read_bytes() + f"{tmp_path}".encode()
    first, second = tmp_path / "first-copy.jpg", tmp_path / "forwarded.jpg"
    first.write_bytes(data)
    second.write_bytes(data)
    section = page.get_by_role("region", name="The same file")
    summary, carried = page.locator("#same-file-summary"), page.locator("#same-file-label")
    current = page.locator("#review-current")
    open_page(page, live_server)
    page.set_input_files("#file-input", first)
    wait_finished(page, first.name).get_by_role("button", name="View result").click()
    first_id = shown_result(page, live_server)["id"]
    expect(page.locator("#result-file")).to_have_text(first.name)
    expect(page.locator("#same-file")).to_be_hidden()  # seen once: nothing to link
    page.get_by_role("button", name="Fake", exact=True).click()
    expect(current).to_contain_text("Reviewed: fake")

    page.set_input_files("#file-input", second)
    wait_finished(page, second.name).get_by_role("button", name="View result").click()
    expect(page.locator("#result-file")).to_have_text(second.name)
    second_id = shown_result(page, live_server)["id"]
    expect(section).to_be_visible()
    expect(summary).to_have_text("Seen once before.")
    expect(carried).to_have_text(re.compile(r"^Labelled fake by a reviewer on .+, on an identical file\.$"))
    expect(current).to_have_text(
        re.compile(r"^Not reviewed yet\. An identical file was labelled fake on .+\.$")
    )
    expect(page.get_by_role("button", name="Fake", exact=True)).to_have_attribute("aria-pressed", "false")
    api = live_server.api(f"/v1/results/{second_id}").json()["same_file"]
    assert (api["count"], api["earlier"], api["label"]["label"]) == (1, 1, "fake")
    assert [item["id"] for item in api["items"]] == [first_id]
    # The label stays the first result's own: nothing was copied onto the second.
    assert live_server.api(f"/v1/feedback?result_id={second_id}").json()["items"] == []
    # The history follows the finished check (its refresh runs a moment after the result shows).
    expect(page.locator(f"#history > li[data-result-id='{second_id}']")).to_contain_text("score")
    page.screenshot(path=str(artifacts / "same-file.png"), full_page=True)
    width = page.viewport_size["width"] if page.viewport_size else 1280
    page.set_viewport_size({"width": 390, "height": 844})
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "same-file-390.png"))
    page.set_viewport_size({"width": width, "height": 900})

    # The link opens the earlier check, which says it was checked again since.
    links = section.get_by_role("link")
    expect(links).to_have_count(1)
    expect(section.locator("li")).to_contain_text("labelled fake")
    links.click()
    expect(page.locator("#result-file")).to_have_text(first.name)
    assert page.evaluate("location.hash") == f"#result/{first_id}"
    expect(summary).to_have_text("Checked again once since.")
    expect(carried).to_be_hidden()  # its own label is the one shown
    expect(current).to_contain_text("Reviewed: fake")

    # Opened from the history list (whose items carry no section), the section is read too.
    page.locator(f"#history > li[data-result-id='{second_id}'] button").click()
    expect(page.locator("#result-file")).to_have_text(second.name)
    expect(summary).to_have_text("Seen once before.")
    expect(current).to_contain_text("An identical file was labelled fake")

    # The printed report says it too.
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    expect(page.locator("#report-facts")).to_contain_text(
        re.compile(r"Same file\s*Seen once before\. Labelled fake by a reviewer on .+, on an identical file")
    )
    page.screenshot(path=str(artifacts / "same-file-report-print.png"), full_page=True)
    page.emulate_media(media="screen")
