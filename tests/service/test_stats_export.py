"""Accuracy over time (``GET /v1/stats``) and export (``GET /v1/results/export``, ``deepfake-detect
export``) on the local service: real scans and labels through the API, and hand-made records of
earlier weeks and other model versions put in its store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from deepfake_detect.api.services import Services
from deepfake_detect.cli import main
from deepfake_detect.client import DeepfakeClient
from deepfake_detect.core.result import DetectionResult, ModelInfo, Status, Verdict
from deepfake_detect.local.wiring import local_app
from deepfake_detect.registry.accuracy import iso_week
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.settings import Settings
from deepfake_detect.store.export import CSV_COLUMNS
from tests.support.http import error_body
from tests.support.live import serve_in_thread
from tests.support.local_api import services_of, upload

OLD_MODEL = ModelInfo(name="old", version="2025.01", sha256="1" * 64)


def earlier(services: Services, n: int, when: datetime, verdict: Verdict, label: Label | None) -> str:
    """A finished result of the old model made at ``when``, labelled ``label``."""
    result = DetectionResult(
        id=f"old{n}",
        path=f"old-{n}.jpg",
        status=Status.DONE,
        verdict=verdict,
        score=0.9 if verdict is Verdict.FAKE else 0.1,
        model=OLD_MODEL,
        created_at=when,
        owner="local",
        source={"key": f"uploads/old{n}/old-{n}.jpg"},
    )
    services.results.put(result)
    if label is not None:
        assert services.feedback is not None
        services.feedback.put(Feedback(result_id=result.id, label=label, media_key=result.source["key"]))
    return result.id


def test_stats_compare_labels_with_verdicts_per_version_and_week(
    client: TestClient, face_photo: Path, couple_photo: Path
) -> None:
    assert client.get("/v1/stats").json()["rows"] == []
    scanned = [
        upload(client, "face.jpg", face_photo.read_bytes()),
        upload(client, "couple.jpg", couple_photo.read_bytes()),
    ]
    current = scanned[0]["model"]["version"]
    # The reviewer says the first is fake: agreement if the model said so too, a miss if not.
    first_verdict = scanned[0]["verdict"]
    posted = client.post(f"/v1/results/{scanned[0]['id']}/feedback", json={"label": "fake"})
    assert posted.status_code == 200, posted.text

    services = services_of(client)
    last_week = datetime.now(UTC) - timedelta(weeks=1)
    earlier(services, 1, last_week, Verdict.FAKE, Label.REAL)  # a false positive
    earlier(services, 2, last_week, Verdict.FAKE, Label.FAKE)  # agreed
    earlier(services, 3, last_week, Verdict.REAL, None)
    earlier(services, 4, datetime.now(UTC) - timedelta(weeks=20), Verdict.FAKE, Label.REAL)  # too old

    report = client.get("/v1/stats", params={"weeks": 2}).json()
    assert report["weeks"] == 2 and report["truncated"] is False and report["limit"] is None
    assert report["results_read"] == 5
    rows = {(r["week"], r["model_version"]): r for r in report["rows"]}
    this_week, _ = iso_week(datetime.now(UTC))
    old = rows[(iso_week(last_week)[0], "2025.01")]
    assert (old["results"], old["done"], old["fake"], old["fake_rate"]) == (3, 3, 2, 2 / 3)
    assert (old["labels"], old["agreed"], old["overturned"]) == (2, 1, 1)
    assert (old["false_positives"], old["misses"], old["agreement"]) == (1, 0, 0.5)
    new = rows[(this_week, current)]
    fakes = sum(r["verdict"] == "fake" for r in scanned)
    assert (new["results"], new["done"], new["fake"], new["labels"]) == (2, 2, fakes, 1)
    assert new["agreed"] == (first_verdict == "fake")
    assert new["misses"] == (first_verdict == "real")
    assert [r["week"] for r in report["rows"]] == sorted((r["week"] for r in report["rows"]), reverse=True)

    # Relabelling replaces the label: still one label on that result.
    client.post(f"/v1/results/{scanned[0]['id']}/feedback", json={"label": "real"})
    again = client.get("/v1/stats", params={"weeks": 2}).json()
    new = next(r for r in again["rows"] if r["model_version"] == current)
    assert new["labels"] == 1 and new["agreed"] == (first_verdict == "real")

    assert client.get("/v1/stats", params={"weeks": 27}).status_code == 422
    assert client.get("/v1/stats", params={"weeks": 0}).status_code == 422
    wide = client.get("/v1/stats", params={"weeks": 26}).json()
    assert wide["results_read"] == 6


def test_export_streams_jsonl_and_csv_for_a_range(client: TestClient, face_photo: Path) -> None:
    services = services_of(client)
    base = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    ids = [earlier(services, n, base + timedelta(days=n), Verdict.FAKE, None) for n in range(5)]
    scanned = upload(client, "face.jpg", face_photo.read_bytes())

    answer = client.get("/v1/results/export", params={"since": "2026-01-06", "until": "2026-01-09"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in answer.headers["content-disposition"]
    lines = answer.text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids[1:4]  # since included, until excluded
    for line in lines:
        record = json.loads(line)
        read = client.get(f"/v1/results/{record['id']}").json()
        read.pop("same_file")  # the reading adds the file's other results; the export is the record
        assert record == read
    assert "X-Next-Token" not in answer.headers  # locally the whole range streams in one answer

    everything = client.get("/v1/results/export", params={"format": "csv"})
    assert everything.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(everything.text, newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["id"] for r in rows] == [*ids, scanned["id"]]  # oldest first; until: now
    assert rows[-1]["model_version"] == scanned["model"]["version"]
    assert rows[-1]["sha256"] == scanned["source"]["sha256"]
    assert rows[0]["model_version"] == "2025.01" and rows[0]["verdict"] == "fake"

    for params, code in (
        ({"since": "2026-01-09", "until": "2026-01-06"}, "invalid_range"),
        ({"token": "not-a-token"}, "invalid_token"),
    ):
        refused = client.get("/v1/results/export", params=params)
        assert refused.status_code == 400 and error_body(refused)["code"] == code
    assert client.get("/v1/results/export", params={"format": "xml"}).status_code == 422
    assert client.get("/v1/results/export", params={"since": "1700000000"}).status_code == 422
    # "export" is not a result id: the other routes of /v1/results/{id} stay what they were.
    assert client.get("/v1/results/exported").status_code == 404


def test_a_bounded_export_hands_out_a_token_for_the_rest(client: TestClient) -> None:
    services = services_of(client)
    base = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    ids = [earlier(services, n, base + timedelta(minutes=n), Verdict.REAL, None) for n in range(9)]
    services.export_max_bytes = 800  # as the cloud does, with a budget of a few records
    params: dict[str, str] = {"since": "2026-01-05", "until": "2026-01-06", "format": "csv"}
    seen: list[str] = []
    answers = 0
    while True:
        answer = client.get("/v1/results/export", params=params)
        assert answer.status_code == 200
        answers += 1
        seen += [r["id"] for r in csv.DictReader(io.StringIO(answer.text, newline=""))]
        token = answer.headers.get("X-Next-Token")
        if not token:
            assert "Link" not in answer.headers
            break
        assert answer.headers["Link"].endswith('rel="next"') and token in answer.headers["Link"]
        params["token"] = token
    assert seen == ids and answers > 2


def test_the_cli_exports_the_local_store_and_through_the_api(
    settings: Settings, settings_env: dict[str, str], tmp_path: Path, face_photo: Path
) -> None:
    app = local_app(settings)
    with serve_in_thread(app) as url:
        api = DeepfakeClient(url)
        scanned = api.scan(face_photo)
        services: Services = app.state.services
        base = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        old = [earlier(services, n, base + timedelta(hours=n), Verdict.FAKE, None) for n in range(3)]
        services.export_max_bytes = 1_000  # the client follows X-Next-Token

        out = tmp_path / "all.csv"
        assert main(["export", "--api", url, "--out", str(out)]) == 0
        remote = list(csv.DictReader(out.open(newline="")))
        assert [r["id"] for r in remote] == [*old, scanned.id]
        lines = tmp_path / "range.jsonl"
        assert main(["export", "--api", url, "--since", "2026-01-05T13:00", "--out", str(lines)]) == 0
        assert [json.loads(line)["id"] for line in lines.read_text().splitlines()] == [*old[1:], scanned.id]
        with (tmp_path / "client.jsonl").open("wb") as sink:
            assert api.export(sink, until=base + timedelta(hours=2)) == 2

    local = tmp_path / "local.jsonl"
    assert main(["export", "--out", str(local), "--until", "2026-01-05T14:00:00+00:00"]) == 0
    assert [json.loads(line)["id"] for line in local.read_text().splitlines()] == old[:2]
    assert main(["export", "--format", "csv", "--out", str(tmp_path / "x.txt")]) == 0
    assert (tmp_path / "x.txt").read_text().startswith(",".join(CSV_COLUMNS))
    assert main(["export", "--since", "2026-02-01", "--until", "2026-01-01"]) == 2
    assert main(["export", "--data-dir", str(tmp_path / "nothing-here")]) == 2
    assert not list(tmp_path.glob("*.partial"))
