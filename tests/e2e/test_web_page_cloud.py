"""The same page against the cloud back end: presigned POST straight to the bucket, then polling.

S3 is moto in server mode on loopback (a real HTTP endpoint, so the browser does the cross-origin
presigned POST itself). The API is the real app with the real ``S3UploadSigner``; results live in
SQLite instead of DynamoDB (the page cannot tell), reviewers' labels in a DynamoDB table on the same
moto server. A small watcher stands in for the S3 event -> SQS -> detect function chain: when an
uploaded object lands, it runs the scan. The caller is the one API Gateway's JWT authorizer would
name, set by the test (``CloudStack.caller``): a signed-in reviewer unless a test says otherwise.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from moto.server import ThreadedMotoServer
from playwright.sync_api import Page, expect
from starlette.requests import HTTPConnection

from deepfake_detect.api.app import create_app
from deepfake_detect.api.identity import REVIEWERS_GROUP, Caller
from deepfake_detect.api.services import Services
from deepfake_detect.aws.adapters.clients import dynamodb_client, s3_client
from deepfake_detect.aws.adapters.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.adapters.stores import S3MediaStore
from deepfake_detect.aws.adapters.uploads import S3UploadSigner
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings, VideoSettings
from tests.conftest import TINY_MODEL
from tests.support.browser import BAND_PHOTOS, LiveServer
from tests.support.net import free_port
from tests.support.page import (
    assert_boxes_follow_bands,
    assert_verdict_matches,
    check_each_band,
    check_face_cards,
    check_frame_viewer,
    job_row,
    open_page,
    record_texts,
    seen_texts,
    shown_result,
    wait_failed,
    wait_finished,
)

pytestmark = pytest.mark.e2e

BUCKET = "deepfake-uploads-e2e"
FEEDBACK_TABLE = "deepfake-feedback-e2e"
# The signed-in user the token would name: a reviewer, and the same person outside the group.
REVIEWER = Caller(
    owner="a1b2c3d4-sub-of-alice", name="alice@example.com", groups=frozenset({REVIEWERS_GROUP})
)
NOT_A_REVIEWER = Caller(owner=REVIEWER.owner, name=REVIEWER.name, groups=frozenset())


@dataclass
class CloudStack:
    server: LiveServer
    settings: Settings
    callers: list[Caller]  # callers[0] is who every request comes from

    @property
    def caller(self) -> Caller:
        return self.callers[0]

    @caller.setter
    def caller(self, caller: Caller) -> None:
        self.callers[0] = caller


def _scan_landed_uploads(
    results: SQLiteResultStore, media: S3MediaStore, processor: LocalProcessor, stop: threading.Event
) -> None:
    """The stand-in for S3 notification -> queue -> detect function: scan each upload once it lands."""
    submitted: set[str] = set()
    while not stop.is_set():
        for record in results.pending():
            key = record.source.get("key", "")
            if record.id not in submitted and key and media.exists(key):
                submitted.add(record.id)
                processor.submit(record.id)
        stop.wait(0.2)


@pytest.fixture(scope="module")
def cloud_stack(tmp_path_factory: pytest.TempPathFactory, banded_model_dir: Path) -> Iterator[CloudStack]:
    root = tmp_path_factory.mktemp("e2e-cloud")

    with pytest.MonkeyPatch.context() as env:
        # moto accepts any credentials; these keep boto3 from looking for real ones.
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)

        moto_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port)
        moto.start()
        api_port = free_port()
        settings = Settings(
            models_dir=banded_model_dir,
            classifier_model=TINY_MODEL,
            data_dir=root / "data",
            aws=AwsSettings(
                endpoint_url=f"http://127.0.0.1:{moto_port}",
                dynamodb_endpoint_url=f"http://127.0.0.1:{moto_port}",
                upload_bucket=BUCKET,
                feedback_table=FEEDBACK_TABLE,
            ),
            limits=LimitsSettings(max_upload_bytes=6_000_000),
            video=VideoSettings(sample_frames=16),
            intra_op_threads=1,
        )
        s3 = s3_client(settings)
        s3.create_bucket(Bucket=BUCKET)
        # As template.yaml does for the real bucket: the page's origin may POST to it.
        s3.put_bucket_cors(
            Bucket=BUCKET,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedMethods": ["POST"],
                        "AllowedOrigins": [f"http://127.0.0.1:{api_port}"],
                        "AllowedHeaders": ["*"],
                    }
                ]
            },
        )
        dynamodb = dynamodb_client(settings)
        dynamodb.create_table(  # as template.yaml's FeedbackTable
            TableName=FEEDBACK_TABLE,
            KeySchema=[{"AttributeName": "result_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "result_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        media = S3MediaStore(s3, BUCKET, tmp_dir=root)
        results = SQLiteResultStore(root / "results.sqlite3")
        card = ModelCard.load((banded_model_dir / TINY_MODEL).with_suffix(".json"))
        callers = [REVIEWER]

        def identity(connection: HTTPConnection) -> Caller:
            return callers[0]

        services = Services(
            settings=settings,
            media=media,
            results=results,
            model_card=lambda: card,
            uploads=S3UploadSigner(s3, settings, results),
            feedback=DynamoDBFeedbackStore(dynamodb, FEEDBACK_TABLE),
            identity=identity,
        )
        assert services.mode == "cloud"
        app = create_app(settings, services)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_level="warning"))
        api_thread = threading.Thread(target=server.run, name="e2e-cloud-api", daemon=True)
        api_thread.start()

        processor = LocalProcessor(settings, media, results)
        stop = threading.Event()
        scanner = threading.Thread(
            target=_scan_landed_uploads,
            args=(results, media, processor, stop),
            name="e2e-scanner",
            daemon=True,
        )
        scanner.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                if time.monotonic() > deadline or not api_thread.is_alive():
                    pytest.fail("the cloud-mode API did not start", pytrace=False)
                time.sleep(0.05)
            url = f"http://127.0.0.1:{api_port}"
            yield CloudStack(
                LiveServer(url=url, data_dir=root, log_path=root / "none.log"), settings, callers
            )
        finally:
            stop.set()
            scanner.join(timeout=10)
            processor.shutdown()
            server.should_exit = True
            api_thread.join(timeout=10)
            moto.stop()
            results.close()


def test_cloud_upload_goes_to_the_bucket_and_polls(
    page: Page, cloud_stack: CloudStack, shared_data: Path, tmp_path: Path, artifacts: Path
) -> None:
    server = cloud_stack.server
    photo = shared_data / "deepface_photos" / "img1.jpg"
    video = shared_data / "ffpp_c23" / "real_004.mp4"
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    disguised = tmp_path / "disguised.jpg"  # S3 takes it; the scan finds it is no image
    disguised.write_text("still not a picture\n")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    open_page(page, server)
    expect(page.locator("body")).to_have_attribute("data-mode", "cloud")
    expect(page.locator("#mode")).to_have_text("Cloud service")
    # This deployment keeps no accuracy report (GET /v1/stats is 404 not_available): no panel.
    expect(page.locator("#accuracy-panel")).to_be_hidden()
    record_texts(page, "#jobs")
    page.set_input_files("#file-input", [photo, video, notes, disguised])

    wait_finished(page, photo.name)
    wait_finished(page, video.name)
    expect(wait_failed(page, notes.name)).to_contain_text("This type of file is not supported")
    expect(wait_failed(page, disguised.name)).to_contain_text("This type of file is not supported")
    assert any(t.startswith("Uploaded. Waiting for the check to start") for t in seen_texts(page))

    # The files went to the bucket, never through the API; the API only handed out the grants.
    assert not any(url.endswith("/v1/detect") for url in posts), posts
    bucket_posts = [url for url in posts if url.startswith(cloud_stack.settings.aws.endpoint_url or "-")]
    assert len(bucket_posts) == 3, posts  # the .txt was refused by the page itself

    job_row(page, photo.name).get_by_role("button", name="View result").click()
    result = shown_result(page, server)
    assert result["faces"] and result["source"]["store"] == "s3"
    assert_verdict_matches(page, result)
    assert_boxes_follow_bands(page, result)

    job_row(page, video.name).get_by_role("button", name="View result").click()
    expect(page.locator("#timeline svg polyline")).not_to_have_count(0)
    page.screenshot(path=str(artifacts / "cloud-mode.png"), full_page=True)
    # The video's sampled frames and its faces' crops, stored in the bucket, served by the API.
    result = shown_result(page, server)
    assert result["media_kind"] == "video"
    check_face_cards(page, result)
    check_frame_viewer(page, result)

    # The photo's face cards too (a photo's every face is its own card).
    job_row(page, photo.name).get_by_role("button", name="View result").click()
    check_face_cards(page, shown_result(page, server))


def test_cloud_result_to_share_print_and_review(
    page: Page, cloud_stack: CloudStack, shared_data: Path, artifacts: Path
) -> None:
    """The report and the reviewer's side on the cloud back end: the address, the JSON, the print
    view and the PDF, a label recorded under the signed-in user (in DynamoDB), and the API's 403
    for a user outside the reviewers group, shown in its own words."""
    server = cloud_stack.server
    first = shared_data / "deepface_photos" / "img2.jpg"
    second = shared_data / "deepface_photos" / "img3.jpg"
    open_page(page, server)
    page.set_input_files("#file-input", [first, second])
    wait_finished(page, first.name)
    wait_finished(page, second.name)
    shown = page.locator("#result-file").inner_text()
    other = second if shown == first.name else first
    result = shown_result(page, server)
    assert page.url == f"{server.url}/#result/{result['id']}"

    # Back and forward between the result that opened by itself, the one picked, and none.
    job_row(page, other.name).get_by_role("button", name="View result").click()
    expect(page.locator("#result-file")).to_have_text(other.name)
    page.go_back()
    expect(page.locator("#result-file")).to_have_text(shown)
    page.go_back()
    expect(page.locator("#result-panel")).to_be_hidden()
    page.go_forward()
    expect(page.locator("#result-file")).to_have_text(shown)
    # The link opens it on a fresh load.
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#result-file")).to_have_text(shown)
    expect(page.locator("#evidence-image")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download JSON").click()
    assert (
        json.loads(Path(download_info.value.path()).read_text())
        == server.api(f"/v1/results/{result['id']}").json()
    )

    page.emulate_media(media="print")
    for selector in ("#report-header", "#verdict-title", "#evidence-image", "#faces"):
        expect(page.locator(selector)).to_be_visible()
    for selector in ("#upload-panel", "#history", "#model-card", "#result-actions", "#review"):
        expect(page.locator(selector)).to_be_hidden()
    facts = page.locator("#report-facts")
    # The hash is the detect function's to record (source.sha256); until it does, the report says so.
    sha256 = result["source"].get("sha256")
    expect(facts).to_contain_text(sha256 if sha256 else "not recorded by this service")
    expect(facts).to_contain_text(f"{server.url}/#result/{result['id']}")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    page.emulate_media(media="screen")

    # A label, recorded under the signed-in reviewer.
    expect(page.locator("#review-signed-in")).to_be_visible()
    page.get_by_text("Add a note").click()
    page.get_by_label("Note (optional)").fill("a known stock photo")
    page.get_by_role("button", name="Fake", exact=True).click()
    current = page.locator("#review-current")
    expect(current).to_contain_text(f"Reviewed: fake, by {REVIEWER.name} on")
    labels = server.api(f"/v1/feedback?result_id={result['id']}").json()["items"]
    assert [(x["label"], x["reviewer"], x["note"]) for x in labels] == [
        ("fake", REVIEWER.name, "a known stock photo")
    ]
    row = page.locator(f"#history > li[data-result-id='{result['id']}']")
    expect(row.locator(".h-review")).to_have_text("reviewed: fake")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(row.locator(".h-review")).to_have_text("reviewed: fake")

    # The same person outside the reviewers group: the API's 403, in its own words.
    cloud_stack.caller = NOT_A_REVIEWER
    try:
        refused = httpx.post(
            f"{server.url}/v1/results/{result['id']}/feedback", json={"label": "real"}, timeout=10
        )
        assert refused.status_code == 403
        reason = refused.json()["detail"]["message"]
        page.get_by_role("button", name="Real", exact=True).click()
        expect(page.locator("#review-error")).to_have_text(
            f"You may not label results here. The server said: {reason}"
        )
        expect(current).to_contain_text("Reviewed: fake")
        page.screenshot(path=str(artifacts / "cloud-review-refused.png"), full_page=True)
    finally:
        cloud_stack.caller = REVIEWER
    assert server.api(f"/v1/feedback?result_id={result['id']}").json()["items"][0]["label"] == "fake"


def test_cloud_each_band_reads_the_same_everywhere(
    page: Page, cloud_stack: CloudStack, shared_data: Path, artifacts: Path
) -> None:
    """The three verdict bands on the cloud back end: headline, colour, number, upload list,
    history badge, boxes and face cards agree with the API."""
    photos = {band: shared_data / "deepface_photos" / name for band, name in BAND_PHOTOS.items()}
    check_each_band(page, cloud_stack.server, photos, artifacts, "cloud-band")
