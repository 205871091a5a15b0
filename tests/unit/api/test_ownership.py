"""Owners: the caller is the JWT's ``sub`` in the cloud (claims in the Lambda event, read under
Mangum), the one local owner locally; each owner sees, deletes and labels only their own results;
only the reviewers group labels, under the name in the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.api.app import create_app
from deepfake_detect.api.identity import (
    LOCAL_CALLER,
    caller_from_claims,
    jwt_claims,
    jwt_identity,
    parse_groups,
)
from deepfake_detect.api.services import Services
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, Evidence, MediaKind, Status
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import LOCAL_OWNER
from deepfake_detect.store.keys import evidence_key
from tests.support.lambda_api import LambdaApi, LambdaClient, user_claims

ALICE, BOB = "0f6c1e9a-alice", "7b2d4c8e-bob"


# ---------------------------------------------------------------- who is calling
@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("[reviewers]", {"reviewers"}),
        ("[reviewers admins]", {"reviewers", "admins"}),  # how HTTP APIs pass a list claim
        ('["reviewers", "admins"]', {"reviewers", "admins"}),
        (["reviewers"], {"reviewers"}),
        ("reviewers", {"reviewers"}),
        ("[]", set()),
        ("", set()),
        (None, set()),
    ],
)
def test_groups_claim_in_every_shape(value: Any, groups: set[str]) -> None:
    assert parse_groups(value) == groups


def test_the_owner_is_the_sub_and_the_name_comes_from_the_token() -> None:
    caller = caller_from_claims(user_claims(ALICE, "alice@example.com", "[reviewers]"))
    assert caller is not None and caller.owner == ALICE and caller.name == "alice@example.com"
    assert caller.is_reviewer
    access_token = caller_from_claims({"sub": BOB, "username": "bob"})  # access tokens: no email
    assert access_token is not None and access_token.name == "bob" and not access_token.is_reviewer
    assert caller_from_claims({"sub": BOB}) is not None and caller_from_claims({"sub": BOB}).name == BOB  # type: ignore[union-attr]
    # Another group name can be configured.
    editor = caller_from_claims(user_claims(BOB, groups="[editors]"), reviewers_group="editors")
    assert editor is not None and editor.is_reviewer


@pytest.mark.parametrize("claims", [None, {}, {"email": "x@example.com"}, {"sub": ""}, {"sub": LOCAL_OWNER}])
def test_no_usable_sub_is_nobody(claims: dict[str, Any] | None) -> None:
    assert caller_from_claims(claims) is None


def test_claims_are_read_from_the_lambda_event_mangum_passes() -> None:
    claims = user_claims(ALICE)
    scope = {"aws.event": {"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}}
    assert jwt_claims(scope) == claims
    assert jwt_claims({}) is None and jwt_claims({"aws.event": {"requestContext": {}}}) is None


# ---------------------------------------------------------------- the cloud API under Mangum
class Signer:
    """The presigned-POST signer's contract: a queued record owned by the caller."""

    def __init__(self, results: SQLiteResultStore) -> None:
        self.results = results

    def presign(
        self,
        filename: str,
        content_type: str,
        owner: str,
        *,
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        record = DetectionResult(
            path=filename, status=Status.QUEUED, source={"key": f"uploads/x/{filename}"}, owner=owner
        )
        self.results.put(record)
        return {"result_id": record.id, "url": "https://bucket.example", "fields": {}}


class Cloud:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path)
        self.media = LocalMediaStore(tmp_path / "media")
        self.results = SQLiteResultStore(tmp_path / "results.sqlite3")
        self.feedback = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
        services = Services(
            settings=self.settings,
            media=self.media,
            results=self.results,
            model_card=lambda: ModelCard(name="m", version="1"),
            uploads=Signer(self.results),
            feedback=self.feedback,
            identity=jwt_identity(),
        )
        assert services.mode == "cloud"
        self.api = LambdaApi(create_app(self.settings, services))

    def scanned(self, owner: str | None, name: str = "face.jpg") -> DetectionResult:
        record = DetectionResult(path=name, media_kind=MediaKind.IMAGE, status=Status.DONE, owner=owner)
        record.source = {"key": f"uploads/{record.id}/{name}", "store": "s3"}
        record.evidence = Evidence(key=evidence_key(record.id))
        self.media.put(record.source["key"], b"upload")
        self.media.put(record.evidence.key, b"\xff\xd8\xff evidence")
        self.results.put(record)
        return record

    def user(self, sub: str, groups: str | None = None) -> LambdaClient:
        return self.api.as_user(user_claims(sub, f"{sub}@example.com", groups))


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path)


def test_an_upload_belongs_to_the_caller(cloud: Cloud) -> None:
    response = cloud.user(ALICE).post(
        "/v1/uploads", body={"filename": "me.jpg", "content_type": "image/jpeg"}
    )
    assert response.status_code == 200, response.content
    queued = cloud.results.get(response.json()["result_id"])
    assert queued is not None and queued.owner == ALICE
    assert cloud.user(ALICE).get(f"/v1/results/{queued.id}").json()["status"] == "queued"
    assert cloud.user(BOB).get(f"/v1/results/{queued.id}").status_code == 404


def test_each_owner_sees_only_their_own_results(cloud: Cloud) -> None:
    alices = [cloud.scanned(ALICE, f"a{i}.jpg") for i in range(3)]
    bobs = cloud.scanned(BOB, "b.jpg")
    cloud.scanned(None, "dropped-by-a-pipeline.jpg")  # no owner: in no one's list
    alice, bob = cloud.user(ALICE), cloud.user(BOB)

    listed = alice.get("/v1/results", query={"limit": 2})
    page2 = alice.get("/v1/results", query={"limit": 2, "token": listed.json()["next_token"]})
    ids = [r["id"] for r in listed.json()["items"] + page2.json()["items"]]
    assert sorted(ids) == sorted(r.id for r in alices) and page2.json()["next_token"] is None
    assert [r["id"] for r in bob.get("/v1/results").json()["items"]] == [bobs.id]

    mine = alices[0]
    assert alice.get(f"/v1/results/{mine.id}").json()["owner"] == ALICE
    assert alice.get(f"/v1/results/{mine.id}/evidence.jpg").status_code == 200
    # Another owner's id answers exactly like an id that does not exist: 404, never 403.
    for response, code in (
        (bob.get(f"/v1/results/{mine.id}"), "result_not_found"),
        (bob.get(f"/v1/results/{mine.id}/evidence.jpg"), "evidence_not_found"),
        (bob.delete(f"/v1/results/{mine.id}"), "result_not_found"),
        (
            cloud.user(BOB, "[reviewers]").post(f"/v1/results/{mine.id}/feedback", body={"label": "fake"}),
            "result_not_found",
        ),
    ):
        assert response.status_code == 404 and response.json()["detail"]["code"] == code
    assert (
        bob.get("/v1/results/0123456789abcdef0123456789abcdef").json()["detail"]["code"] == "result_not_found"
    )
    assert cloud.results.get(mine.id) is not None and cloud.media.exists(mine.source["key"])  # untouched


def test_without_the_authorizers_claims_only_health_answers(cloud: Cloud) -> None:
    record = cloud.scanned(ALICE)
    anonymous = cloud.api.as_user(None)
    assert anonymous.get("/health").status_code == 200
    for response in (
        anonymous.get("/v1/results"),
        anonymous.get(f"/v1/results/{record.id}"),
        anonymous.delete(f"/v1/results/{record.id}"),
        anonymous.post("/v1/uploads", body={"filename": "a.jpg", "content_type": "image/jpeg"}),
    ):
        assert response.status_code == 401 and response.json()["detail"]["code"] == "unauthenticated"
    # Nor does a token without a sub (or one claiming to be the local owner) name anyone.
    assert cloud.api.as_user({"email": "x@example.com"}).get("/v1/results").status_code == 401
    assert cloud.api.as_user({"sub": LOCAL_OWNER}).get("/v1/results").status_code == 401


def test_only_reviewers_label_and_the_reviewer_is_the_token_s_name(cloud: Cloud) -> None:
    record = cloud.scanned(ALICE)
    body = {"label": "fake", "reviewer": "somebody else", "note": "swap at the jaw"}
    refused = cloud.user(ALICE).post(f"/v1/results/{record.id}/feedback", body=body)
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "not_a_reviewer"
    assert cloud.feedback.get(record.id) is None
    labelled = cloud.user(ALICE, "[reviewers admins]").post(f"/v1/results/{record.id}/feedback", body=body)
    assert labelled.status_code == 200, labelled.content
    stored = cloud.feedback.get(record.id)
    assert stored is not None and stored.reviewer == f"{ALICE}@example.com" and stored.note == body["note"]


def test_the_owner_deletes_their_result_and_its_files(cloud: Cloud, tmp_path: Path) -> None:
    record = cloud.scanned(ALICE)
    deleted = cloud.user(ALICE).delete(f"/v1/results/{record.id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert cloud.user(ALICE).get(f"/v1/results/{record.id}").status_code == 404
    assert cloud.results.get(record.id) is None
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert cloud.user(ALICE).delete(f"/v1/results/{record.id}").status_code == 404


# ---------------------------------------------------------------- the local service
def test_locally_everything_is_the_one_local_owner(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    services = Services(
        settings=settings,
        media=LocalMediaStore(tmp_path / "media"),
        results=results,
        model_card=lambda: ModelCard(name="m", version="1"),
    )
    assert services.identity(None) is LOCAL_CALLER  # type: ignore[arg-type]
    older = DetectionResult(path="before-owners.jpg")  # stored before records had owners
    local = DetectionResult(path="local.jpg", owner=LOCAL_OWNER)
    foreign = DetectionResult(path="someone-elses.jpg", owner=ALICE)
    for record in (older, local, foreign):
        results.put(record)
    with TestClient(create_app(settings, services), base_url="http://127.0.0.1") as client:
        listed = {r["id"] for r in client.get("/v1/results").json()["items"]}
        assert listed == {older.id, local.id}
        assert client.get(f"/v1/results/{older.id}").status_code == 200
        assert client.get(f"/v1/results/{foreign.id}").status_code == 404
