"""The same page against the cloud back end: presigned POST straight to the bucket, then polling.

S3 is moto in server mode on loopback (a real HTTP endpoint, so the browser does the cross-origin
presigned POST itself). The API is the real app with the real ``S3UploadSigner``; results live in
SQLite instead of DynamoDB (the page cannot tell). A small watcher stands in for the S3 event ->
SQS -> detect function chain: when an uploaded object lands, it runs the scan.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from moto.server import ThreadedMotoServer
from playwright.sync_api import Page, expect

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.aws.api import S3UploadSigner
from deepfake_detect.aws.clients import s3_client
from deepfake_detect.aws.stores import S3MediaStore
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.local.stores import SQLiteResultStore
from deepfake_detect.local.worker import LocalProcessor
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings, VideoSettings
from tests.conftest import TINY_MODEL
from tests.e2e.conftest import LiveServer
from tests.e2e.test_web_page import (
    job_row,
    open_page,
    overlay_pixel,
    record_texts,
    seen_texts,
    shown_result,
    wait_failed,
    wait_finished,
)
from tests.support.net import free_port

pytestmark = pytest.mark.e2e

BUCKET = "deepfake-uploads-e2e"


@dataclass
class CloudStack:
    server: LiveServer
    settings: Settings


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
def cloud_stack(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[CloudStack]:
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
            models_dir=tiny_model_dir,
            classifier_model=TINY_MODEL,
            data_dir=root / "data",
            aws=AwsSettings(endpoint_url=f"http://127.0.0.1:{moto_port}", upload_bucket=BUCKET),
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
        media = S3MediaStore(s3, BUCKET, tmp_dir=root)
        results = SQLiteResultStore(root / "results.sqlite3")
        card = ModelCard.load((tiny_model_dir / TINY_MODEL).with_suffix(".json"))
        services = Services(
            settings=settings,
            media=media,
            results=results,
            model_card=lambda: card,
            uploads=S3UploadSigner(s3, settings, results),
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
            yield CloudStack(LiveServer(url=url, data_dir=root, log_path=root / "none.log"), settings)
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
    expect(page.locator("#verdict-title")).to_have_text(
        re.compile(r"^(Likely manipulated|No sign of manipulation): \d+%$")
    )
    page.wait_for_function(
        "document.getElementById('evidence-image').complete "
        "&& document.getElementById('evidence-overlay').width > 0"
    )
    x, y, _, h = result["faces"][0]["box"]
    assert overlay_pixel(page, x, y + h / 2, result["width"])[3] == 255, "no face box on the evidence image"

    job_row(page, video.name).get_by_role("button", name="View result").click()
    expect(page.locator("#timeline svg polyline")).not_to_have_count(0)
    page.screenshot(path=str(artifacts / "cloud-mode.png"), full_page=True)
