"""What the page's report and reviewer's side read from the API: the uploaded file's sha256 in the
record (``source.sha256``), and the reviewers' labels of a set of results (``GET /v1/feedback``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.testclient import TestClient

from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict
from deepfake_detect.registry.feedback import Feedback, Label
from tests.support.http import error_body
from tests.support.local_api import services_of, upload


def test_an_upload_records_the_sha256_of_its_bytes(client: TestClient, face_photo: Path) -> None:
    data = face_photo.read_bytes()
    result = upload(client, "face.jpg", data)
    source = result["source"]
    assert isinstance(source, dict) and source["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get(f"/v1/results/{result['id']}").json()["source"]["sha256"] == source["sha256"]


def test_labels_are_read_back_for_a_set_of_results(
    client: TestClient, face_photo: Path, couple_photo: Path
) -> None:
    labelled = upload(client, "face.jpg", face_photo.read_bytes())["id"]
    unlabelled = upload(client, "couple.jpg", couple_photo.read_bytes())["id"]
    posted = client.post(f"/v1/results/{labelled}/feedback", json={"label": "fake", "note": "seen before"})
    assert posted.status_code == 200, posted.text

    response = client.get(
        "/v1/feedback",
        params=[
            ("result_id", unlabelled),
            ("result_id", labelled),
            ("result_id", "0" * 32),
            ("result_id", labelled),
        ],
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1
    assert items[0]["result_id"] == labelled and items[0]["label"] == "fake"
    assert items[0]["note"] == "seen before" and items[0]["reviewer"] == posted.json()["reviewer"]
    assert items[0]["created_at"]
    assert "media_key" not in items[0]  # where the file is stored stays inside

    # A new label replaces the old one.
    client.post(f"/v1/results/{labelled}/feedback", json={"label": "real"})
    again = client.get("/v1/feedback", params={"result_id": labelled}).json()["items"]
    assert [item["label"] for item in again] == ["real"]


def test_another_owners_label_is_not_listed(client: TestClient) -> None:
    services = services_of(client)
    assert services.feedback is not None
    theirs = DetectionResult(
        path="theirs.jpg",
        media_kind=MediaKind.IMAGE,
        status=Status.DONE,
        verdict=Verdict.REAL,
        score=0.1,
        owner="someone-else",
        source={"key": "uploads/theirs.jpg", "store": "local"},
    )
    services.results.put(theirs)
    services.feedback.put(Feedback(result_id=theirs.id, label=Label.FAKE, media_key="uploads/theirs.jpg"))
    response = client.get("/v1/feedback", params={"result_id": theirs.id})
    assert response.status_code == 200 and response.json() == {"items": []}


def test_the_list_of_ids_is_bounded(client: TestClient) -> None:
    assert client.get("/v1/feedback").status_code == 422
    too_many = [("result_id", f"{i:032x}") for i in range(101)]
    assert client.get("/v1/feedback", params=too_many).status_code == 422
    assert client.get("/v1/feedback", params=too_many[:100]).json() == {"items": []}


def test_a_deployment_without_feedback_says_so(client: TestClient) -> None:
    services_of(client).feedback = None
    response = client.get("/v1/feedback", params={"result_id": "x"})
    assert response.status_code == 404 and error_body(response)["code"] == "not_available"


def test_the_route_is_in_the_openapi_document(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/feedback"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"result_id"}
    assert "ReviewLabels" in schema["components"]["schemas"]
