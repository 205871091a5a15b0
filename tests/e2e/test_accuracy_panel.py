"""The "Model accuracy over time" panel in a real browser against the live local service: its
summary and table say what ``GET /v1/stats`` says, a label given on the page shows there, it is
usable with the keyboard, fits a 320 px phone and axe-core finds nothing serious in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import BAND_PHOTOS, LiveServer
from tests.support.layout import assert_accessible, assert_fits
from tests.support.page import job_row, open_page, shown_result, wait_finished

pytestmark = pytest.mark.e2e


def stats(server: LiveServer) -> dict[str, Any]:
    response = server.api("/v1/stats?weeks=8")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def table_row(page: Page, week: str, version: str) -> list[str]:
    row = (
        page.locator("#accuracy-table tbody tr")
        .filter(has=page.locator("th", has_text=week))
        .filter(has=page.locator("td", has_text=version))
    )
    expect(row).to_have_count(1)
    return [cell.strip() for cell in row.locator("th, td").all_inner_texts()]


def test_the_panel_shows_the_report_and_follows_a_label(
    page: Page, live_server: LiveServer, shared_data: Path, artifacts: Path
) -> None:
    photo = shared_data / "deepface_photos" / BAND_PHOTOS["real"]
    unsure = shared_data / "deepface_photos" / BAND_PHOTOS["inconclusive"]
    open_page(page, live_server)
    panel = page.get_by_role("region", name="Model accuracy over time")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading", level=2)).to_have_text("Model accuracy over time")

    page.set_input_files("#file-input", [photo, unsure])
    wait_finished(page, unsure.name)
    wait_finished(page, photo.name).get_by_role("button", name="View result").click()
    result = shown_result(page, live_server)
    summary = page.locator("#accuracy-summary")
    # The panel reads the report again when a check finishes: the new ones are counted, the
    # inconclusive one as such.
    report = stats(live_server)
    checks = sum(row["results"] for row in report["rows"])
    done = sum(row["done"] for row in report["rows"])
    unsure_share = round(100 * sum(row["inconclusive"] for row in report["rows"]) / done)
    expect(summary).to_contain_text(re.compile(rf"^Last 8 weeks: {checks} checks?\b"))
    expect(summary).to_contain_text(f", {unsure_share}% inconclusive")

    # A label given on the page shows in the panel: its agreement is the report's. A label on the
    # inconclusive result settles it.
    page.get_by_role("button", name="Fake", exact=True).click()
    expect(page.locator("#review-current")).to_contain_text("Reviewed: fake")
    job_row(page, unsure.name).get_by_role("button", name="View result").click()
    assert shown_result(page, live_server)["verdict"] == "inconclusive"
    page.get_by_role("button", name="Real", exact=True).click()
    expect(page.locator("#review-current")).to_contain_text("Reviewed: real")
    expect(summary).to_contain_text("settled inconclusive ones")
    # Agreement is over decided verdicts: a label on an inconclusive one settles it instead.
    report = stats(live_server)
    labels = sum(row["labels"] for row in report["rows"])
    resolved = sum(row["resolved"] for row in report["rows"])
    agreed = sum(row["agreed"] for row in report["rows"])
    decided = labels - resolved
    assert decided >= 1, report
    share = f"{round(100 * agreed / decided)}%"
    noun = "labelled verdict" if decided == 1 else "labelled verdicts"
    expect(summary).to_contain_text(f"reviewers agree with {share} of {decided} {noun}")
    assert resolved >= 1, report
    expect(summary).to_contain_text(
        f"{resolved} label{'' if resolved == 1 else 's'} settled inconclusive ones"
    )

    # The summary unfolds the table with the keyboard; the row of this week and model is the report's.
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#accuracy-block")).to_have_attribute("open", "")
    row = next(r for r in report["rows"] if r["model_version"] == result["model"]["version"] and r["labels"])
    cells = table_row(page, row["week"], row["model_version"])
    none = "\u2013"  # the page's en dash for "no figure"
    assert cells[2] == str(row["results"])
    assert cells[4] == (f"{round(100 * row['inconclusive'] / row['done'])}%" if row["done"] else none)
    assert cells[5] == str(row["labels"])
    assert cells[6] == str(row["resolved"])
    assert cells[7] == (none if row["agreement"] is None else f"{round(100 * row['agreement'])}%")
    assert cells[8:] == [str(row["false_positives"]), str(row["misses"])]
    expect(page.locator("#accuracy-table").get_by_role("region")).to_have_attribute("tabindex", "0")
    page.screenshot(path=str(artifacts / "accuracy-desktop.png"), full_page=True)
    assert_accessible(page, artifacts, "accuracy-panel")

    # On a 320 px phone the open table scrolls inside its own region; the page does not.
    page.set_viewport_size({"width": 320, "height": 640})
    page.wait_for_timeout(150)
    assert_fits(page, "accuracy table open at 320 px", check_height=False)
    heading_box = panel.get_by_role("heading", level=2).bounding_box()
    assert heading_box is not None and heading_box["height"] < 40, "the heading should keep to one line"
    page.screenshot(path=str(artifacts / "accuracy-320.png"), full_page=True)
