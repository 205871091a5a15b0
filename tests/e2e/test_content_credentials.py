"""The page shows what a file's own metadata says about its origin ("Content credentials"), and a
verdict that a declaration of AI generation decided, with its reason; and the model panel renders
the shipped card's nested metrics and training data readably (no "[object Object]")."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, Route, expect

from deepfake_detect.settings import PROJECT_ROOT
from tests.support.browser import LiveServer
from tests.support.c2pa import make_pki, sign
from tests.support.layout import assert_accessible, assert_fits
from tests.support.media import png_with_text
from tests.support.page import card_rate, job_row, open_page, score_percent, shown_result, wait_finished

pytestmark = pytest.mark.e2e

SHIPPED_CARD = PROJECT_ROOT / "models" / "deepfake_classifier.json"
NESTED = " \u203a "  # the page joins nested metric names with a single right-pointing angle quote


def metric_group(page: Page, *names: str) -> Locator:
    return page.locator(f"details[data-metric='{NESTED.join(names)}']")


def view(page: Page, name: str) -> None:
    job_row(page, name).get_by_role("button", name="View result").click()
    expect(page.locator("#result-file")).to_have_text(name)
    page.wait_for_function(
        "() => document.getElementById('evidence-image').complete "
        "&& document.getElementById('evidence-overlay').width > 0"
    )


def test_png_with_generator_parameters_shows_its_declaration_and_the_overridden_verdict(
    page: Page, live_server: LiveServer, face_photo: Path, tmp_path: Path, artifacts: Path
) -> None:
    declared = png_with_text(face_photo, tmp_path / "generated-portrait.png")
    plain = tmp_path / "plain-portrait.jpg"
    plain.write_bytes(face_photo.read_bytes())
    open_page(page, live_server)
    page.set_input_files("#file-input", [declared, plain])
    wait_finished(page, declared.name)
    wait_finished(page, plain.name)
    expect(job_row(page, declared.name).locator(".job-state")).to_contain_text(
        "AI-generated, by its own metadata"
    )

    view(page, declared.name)
    result = shown_result(page, live_server)
    assert result["verdict"] == "fake" and result["verdict_reason"]
    assert result["classifier_verdict"] in ("fake", "inconclusive", "real") and isinstance(
        result["score"], float
    )

    # The verdict says who decided it, why, and what the model alone said.
    expect(page.locator("#verdict")).to_have_class(re.compile(r"\bfake\b"))
    expect(page.locator("#verdict-title")).to_have_text("AI-generated, by its own metadata")
    detail = page.locator("#verdict-detail")
    expect(detail).to_contain_text(result["verdict_reason"])
    expect(detail).to_contain_text(f"manipulation score {score_percent(result['score'], result)}")
    expect(page.locator("#verdict-score")).to_have_text(
        f"Model's manipulation score {score_percent(result['score'], result)}"
    )

    # The Content credentials panel: what was declared, where, and that it decided the verdict.
    panel = page.locator("#credentials")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading", name="Content credentials")).to_be_visible()
    expect(page.locator("#credentials-state")).to_have_text("Declares AI generation")
    note = page.locator("#credentials-note")
    expect(note).to_contain_text("Verdict overridden to fake")
    expect(note).to_contain_text(result["verdict_reason"])
    expect(note).to_contain_text("The model alone said")
    claim = page.locator("#credentials-claims > li")
    expect(claim).to_have_count(1)
    expect(claim).to_contain_text("PNG text chunks")
    expect(claim).to_contain_text("declares AI generation")
    expect(claim).to_contain_text("Stable Diffusion web UI parameters (AUTOMATIC1111 format)")
    claim.get_by_text("Fields found").click()
    expect(claim.locator(".claim-raw")).to_contain_text("Steps: 30, Sampler: DPM++ 2M Karras")
    # The faces keep the classifier's own scores.
    expect(page.locator("#faces > li")).to_have_count(len(result["faces"]))
    expect(page.locator("#faces > li").first).to_contain_text(
        f"Score {score_percent(result['faces'][0]['score'], result)}"
    )
    expect(page.locator("#evidence-caption")).to_contain_text(
        "the verdict comes from the file's own metadata"
    )
    page.locator("#result-panel").screenshot(path=str(artifacts / "credentials-declared.png"))
    page.screenshot(path=str(artifacts / "credentials-declared-page.png"), full_page=True)
    assert_accessible(page, artifacts, "credentials-declared")
    page.emulate_media(color_scheme="dark")
    assert_accessible(page, artifacts, "credentials-declared-dark")
    page.emulate_media(color_scheme="light")
    # On a phone the long reason and the generator's parameters wrap inside the page.
    page.set_viewport_size({"width": 360, "height": 740})
    page.wait_for_timeout(150)
    assert_fits(page, "declared PNG at 360 px", check_height=False)
    page.locator("#credentials").screenshot(path=str(artifacts / "credentials-declared-360.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    # The history row does not claim a probability the model did not give.
    row = page.locator("#history > li").filter(has_text=declared.name)
    expect(row.first).to_contain_text("AI-generated (declared)")

    # A plain photo: no credentials, said plainly, and the model decides.
    view(page, plain.name)
    expect(page.locator("#credentials-state")).to_have_text("No content credentials.")
    expect(page.locator("#credentials-note")).to_contain_text("proves nothing")
    expect(page.locator("#credentials-claims > li")).to_have_count(0)
    expect(page.locator("#verdict-title")).to_have_text(
        re.compile(r"^(Likely manipulated|Inconclusive — look closer|No sign of manipulation)")
    )
    page.locator("#result-panel").screenshot(path=str(artifacts / "credentials-none.png"))


def test_signed_content_credentials_show_signer_validity_and_trust(
    page: Page, live_server: LiveServer, face_photo: Path, tmp_path: Path, artifacts: Path
) -> None:
    """C2PA manifests signed by a certificate the service does not trust: an AI declaration still
    decides; a capture credential is shown for information only."""
    pki = make_pki()
    generated = tmp_path / "signed-generated.jpg"
    generated.write_bytes(sign(pki, face_photo.read_bytes(), "image/jpeg", "trainedAlgorithmicMedia"))
    captured = tmp_path / "signed-capture.jpg"
    captured.write_bytes(sign(pki, face_photo.read_bytes(), "image/jpeg", "digitalCapture"))
    open_page(page, live_server)
    page.set_input_files("#file-input", [generated, captured])
    wait_finished(page, generated.name)
    wait_finished(page, captured.name)

    view(page, generated.name)
    expect(page.locator("#verdict-title")).to_have_text("AI-generated, by its own metadata")
    expect(page.locator("#credentials-state")).to_have_text("Declares AI generation")
    claim = page.locator("#credentials-claims > li")
    expect(claim).to_contain_text("C2PA content credentials")
    expect(claim).to_contain_text("Provenance Test Signer")
    expect(claim).to_contain_text("no, not on the trust list")
    expect(claim).to_contain_text("match the file")
    store = page.locator(".c2pa-store")
    expect(store).to_contain_text("Valid")
    expect(store).to_contain_text("Provenance Test Org")
    expect(store).to_contain_text("signingCredential.untrusted")
    page.locator("#credentials").screenshot(path=str(artifacts / "credentials-c2pa-ai.png"))
    assert_accessible(page, artifacts, "credentials-c2pa")

    view(page, captured.name)
    result = shown_result(page, live_server)
    assert result["verdict"] == result["classifier_verdict"] and result["verdict_reason"] is None
    expect(page.locator("#credentials-state")).to_have_text(
        "Valid content credentials; the signer is not on the trust list"
    )
    expect(page.locator("#credentials-note")).to_contain_text("Shown for information")
    expect(page.locator("#credentials-claims > li")).to_contain_text("digitalCapture: captured by a camera")
    page.locator("#credentials").screenshot(path=str(artifacts / "credentials-c2pa-capture.png"))


def test_exif_capture_time_camera_and_software_are_shown_for_information(
    page: Page, live_server: LiveServer, face_photo: Path, tmp_path: Path, artifacts: Path
) -> None:
    """A photo whose EXIF names its capture time, camera and editing software: the panel shows them
    in words, and the verdict stays the model's."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    exif[0x0131] = "Adobe Photoshop CS6 (Windows)"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 14:03:22"
    exif.get_ifd(0x8769)[0x9011] = "+02:00"
    photo = tmp_path / "camera-photo.jpg"
    with Image.open(face_photo) as image:
        image.save(photo, "JPEG", quality=95, exif=exif.tobytes())
    open_page(page, live_server)
    page.set_input_files("#file-input", [photo])
    wait_finished(page, photo.name)
    view(page, photo.name)
    result = shown_result(page, live_server)
    assert result["verdict"] == result["classifier_verdict"] and result["verdict_reason"] is None
    [claim_record] = result["provenance"]["claims"]
    assert claim_record["captured_at"] == "2024-05-01T14:03:22+02:00"
    assert (claim_record["camera_make"], claim_record["camera_model"]) == ("Canon", "Canon EOS R5")

    expect(page.locator("#credentials-state")).to_have_text("Metadata about its origin; no AI declaration")
    expect(page.locator("#credentials-note")).to_contain_text("Shown for information")
    claim = page.locator("#credentials-claims > li")
    expect(claim).to_have_count(1)
    expect(claim).to_contain_text("EXIF metadata")
    pairs = claim.locator(":scope > dl.kv")
    expect(pairs.locator("dt")).to_have_text(["Taken", "Camera", "Software"])
    expect(pairs.locator("dd")).to_have_text(
        ["2024-05-01 14:03:22 (UTC+02:00)", "Canon EOS R5", "Adobe Photoshop CS6 (Windows)"]
    )
    page.locator("#credentials").screenshot(path=str(artifacts / "credentials-exif.png"))
    page.set_viewport_size({"width": 320, "height": 640})
    page.wait_for_timeout(150)
    assert_fits(page, "EXIF credentials at 320 px", check_height=False)
    page.locator("#credentials").screenshot(path=str(artifacts / "credentials-exif-320.png"))


def test_model_panel_renders_nested_metrics_and_training_data(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    shipped: dict[str, Any] = json.loads(SHIPPED_CARD.read_text())

    def model_card(route: Route) -> None:
        response = route.fetch()
        card = response.json()
        for key in ("architecture", "metrics", "training_data", "limitations", "license"):
            card[key] = shipped[key]
        route.fulfill(response=response, json=card)

    page.route("**/v1/model", model_card)
    open_page(page, live_server)
    # Readers first: what it catches per kind of fake, from the card's test split; the card in full
    # is folded away for developers.
    facts = page.locator("#model-facts")
    by_method = shipped["metrics"]["evaluation"]["image_level"]["by_method"]
    swaps = by_method["dfdc_faceswap"]["vs_all_reals"]["tpr"]
    expect(facts).to_contain_text(
        # The shipped card may name more kinds of swap after DFDC's ("... and 21% of GAN face swaps").
        f"Swapped or reenacted faces: catches {card_rate(swaps)} of DFDC face swaps"
    )
    expect(facts).to_contain_text("AI-generated faces: catches ")
    card = page.locator("#model-card")
    expect(card).to_be_hidden()
    page.locator("#model-developer > summary").click()
    # Training data, folded under its own summary: the sources as a list, faces per source (and in all) as a
    # table, the split as name/value pairs; not the key names.
    training = page.locator("#model-training")
    page.locator("#model-training-block > summary").click()
    sources = training.locator("ul.card-list li")
    expect(sources).to_have_count(len(shipped["training_data"]["sources"]))
    expect(sources.first).to_have_text(shipped["training_data"]["sources"][0])
    rows = training.locator("table tbody tr")
    expect(rows).to_have_count(len(shipped["training_data"]["faces_by_source"]) + 1)
    # The numbers are the shipped card's (a retrained model changes them).
    splits = ("train", "val", "test")

    def row_text(name: str, counts: dict[str, int]) -> re.Pattern[str]:
        return re.compile(name + "".join(rf"\s*{counts[s]:,}" for s in splits))

    by_source = shipped["training_data"]["faces_by_source"]
    expect(rows.filter(has_text="dfdc")).to_have_text(row_text("dfdc", by_source["dfdc"]))
    totals = {s: sum(counts[s] for counts in by_source.values()) for s in splits}
    expect(rows.last).to_have_text(row_text("all", totals))
    expect(training).to_contain_text("identities")
    expect(training).not_to_contain_text("faces_by_source")
    # The table fits beside nothing: no sideways scrolling needed at this width.
    scroller = training.locator(".table-scroll")
    assert scroller.evaluate("(el) => el.scrollWidth <= el.clientWidth"), (
        "the training table scrolls sideways"
    )

    # Measured performance: every level opened, no "[object Object]" anywhere, nested names readable.
    page.get_by_text("Measured performance").click()
    page.evaluate("document.querySelectorAll('#model-metrics details').forEach((d) => { d.open = true; })")
    metrics = page.locator("#model-metrics")
    text = metrics.inner_text()
    assert "[object Object]" not in text and "[object Object]" not in card.inner_text()
    assert "[object Object]" not in training.inner_text()
    overall = metric_group(page, "val", "overall")
    expect(overall).to_contain_text("accuracy")
    val = shipped["metrics"]["val"]["overall"]
    expect(overall).to_contain_text(f"{val['accuracy']:.1%}")
    low, high = val["fpr_95ci"]
    expect(overall).to_contain_text(f"{low * 100:.1f}% to {high * 100:.1f}% (95% interval)")
    deep = metric_group(page, "evaluation", "image level", "by method", "dfdc faceswap", "vs all reals")
    expect(deep).to_contain_text("auc")
    files = metric_group(page, "evaluation", "file level", "files").locator("table tbody tr")
    expect(files).to_have_count(len(shipped["metrics"]["evaluation"]["file_level"]["files"]))
    page.locator("#model-heading").scroll_into_view_if_needed()
    page.locator("section[aria-labelledby='model-heading']").screenshot(
        path=str(artifacts / "model-panel.png")
    )
    # Folded again, the first level only: what a person sees on opening "Measured performance".
    page.evaluate("document.querySelectorAll('#model-metrics details').forEach((d) => { d.open = false; })")
    page.locator("section[aria-labelledby='model-heading']").screenshot(
        path=str(artifacts / "model-panel-folded.png")
    )
