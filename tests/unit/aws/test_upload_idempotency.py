"""The cloud's ``POST /v1/uploads`` under an ``Idempotency-Key`` and a deleted result's 410; no
network (boto3 signs locally, listings are stubbed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from deepfake_detect.api.app import create_app
from deepfake_detect.api.identity import jwt_identity
from deepfake_detect.api.services import Services
from deepfake_detect.aws.adapters.uploads import ClaimTakenError, S3UploadSigner, UploadClaim
from deepfake_detect.client import UploadTicket
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import Status
from deepfake_detect.local.stores import LocalMediaStore
from deepfake_detect.settings import AwsSettings, LimitsSettings, Settings
from deepfake_detect.store.deletion import ResultDeleter
from deepfake_detect.store.uploads import UploadKeyReusedError
from tests.support.aws_fakes import InMemoryResults
from tests.support.lambda_api import LambdaApi, LambdaClient, user_claims

if TYPE_CHECKING:
    pass

ALICE, BOB = "alice-sub", "bob-sub"


class MemoryKeys:
    """The claims' rules (conditional write, conditional replacement) over a dict."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], UploadClaim] = {}
        self.writes = 0

    def get(self, owner: str, key: str) -> UploadClaim | None:
        return self.claims.get((owner, key))

    def claim(self, owner: str, key: str, claim: UploadClaim, *, replacing: str | None = None) -> None:
        held = self.claims.get((owner, key))
        if held is not None and held.result_id != replacing:
            raise ClaimTakenError(key)
        self.claims[(owner, key)] = claim
        self.writes += 1


class Cloud:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(
            data_dir=tmp_path,
            aws=AwsSettings(upload_bucket="media-bucket", presign_expires_s=600),
            limits=LimitsSettings(max_upload_bytes=5000),
        )
        # Signing is local: a client with made-up credentials; listings answer from the stubber.
        self.s3 = boto3.client(
            "s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.stub = Stubber(self.s3)
        self.stub.activate()
        self.results = InMemoryResults()
        self.keys = MemoryKeys()
        self.media = LocalMediaStore(tmp_path / "media")
        self.signer = S3UploadSigner(self.s3, self.settings, self.results, self.keys)
        services = Services(
            settings=self.settings,
            media=self.media,
            results=self.results,
            model_card=lambda: ModelCard(name="m", version="1"),
            uploads=self.signer,
            identity=jwt_identity(),
            deleter=ResultDeleter(self.media, self.results),
        )
        self.api = LambdaApi(create_app(self.settings, services))

    def user(self, sub: str) -> LambdaClient:
        return self.api.as_user(user_claims(sub, f"{sub}@example.com"))

    def arrived(self, *keys: str) -> None:
        """The next listing of the bucket finds these objects (none: the file has not come)."""
        contents: list[dict[str, Any]] = [{"Key": key} for key in keys]
        self.stub.add_response("list_objects_v2", {"Contents": contents} if contents else {})

    def live(self) -> list[str]:
        return sorted(self.results.items)


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path)


def _upload(client: LambdaClient, key: str | None, name: str = "me.jpg", size: int | None = 1000) -> Any:
    body: dict[str, Any] = {"filename": name, "content_type": "image/jpeg"}
    if size is not None:
        body["size"] = size
    return client.post("/v1/uploads", body=body, headers={"Idempotency-Key": key} if key else None)


def test_a_repeated_key_names_the_first_upload_with_a_fresh_post_for_the_same_object(cloud: Cloud) -> None:
    alice = cloud.user(ALICE)
    first = _upload(alice, "k-1")
    assert first.status_code == 200, first.content
    assert "idempotent-replayed" not in {h.lower() for h in first.headers}
    ticket = first.json()
    assert ticket["uploaded"] is False and ticket["replayed"] is False and ticket["max_bytes"] == 1000
    cloud.arrived()  # not uploaded yet
    again = _upload(alice, "k-1")
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    repeat = again.json()
    assert repeat["result_id"] == ticket["result_id"] and repeat["key"] == ticket["key"]
    assert repeat["url"] and repeat["fields"]["key"] == ticket["key"] and repeat["replayed"] is True
    assert cloud.live() == [ticket["result_id"]]  # one upload, one queued record
    # Another owner's same key is their own upload; no key at all is always a new one.
    assert _upload(cloud.user(BOB), "k-1").json()["result_id"] != ticket["result_id"]
    assert _upload(alice, None).json()["result_id"] != ticket["result_id"]
    assert len(cloud.live()) == 3


def test_a_repeat_after_the_file_arrived_gets_the_result_and_no_post(cloud: Cloud) -> None:
    alice = cloud.user(ALICE)
    ticket = _upload(alice, "k-2").json()
    cloud.arrived(ticket["key"])  # queued, but the file is in the bucket: no second POST
    waiting = _upload(alice, "k-2").json()
    assert waiting["uploaded"] is True and waiting["url"] is None and waiting["fields"] is None
    assert waiting["result"]["status"] == "queued"
    record = cloud.results.get(ticket["result_id"])
    assert record is not None
    record.status = Status.DONE
    cloud.results.put(record)
    done = _upload(alice, "k-2")  # finished: no listing needed
    assert done.headers.get("idempotent-replayed") == "true"
    assert done.json()["result"]["status"] == "done" and done.json()["result_id"] == ticket["result_id"]
    parsed = UploadTicket.from_json(done.json())
    assert parsed.url is None and parsed.uploaded and parsed.result is not None
    assert parsed.result.status is Status.DONE
    assert cloud.live() == [ticket["result_id"]]
    cloud.stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("name", "size", "differs"), [("other.jpg", 1000, "file name"), ("me.jpg", 999, "size")]
)
def test_a_key_reused_for_another_file_is_422(cloud: Cloud, name: str, size: int, differs: str) -> None:
    alice = cloud.user(ALICE)
    ticket = _upload(alice, "k-3").json()
    refused = _upload(alice, "k-3", name=name, size=size)
    assert refused.status_code == 422, refused.content
    detail = refused.json()["detail"]
    assert detail["code"] == "idempotency_key_reused" and detail["result_id"] == ticket["result_id"]
    assert differs in detail["message"]
    assert cloud.live() == [ticket["result_id"]]


def test_bad_keys_and_sizes_are_refused_before_anything_is_stored(cloud: Cloud) -> None:
    alice = cloud.user(ALICE)
    assert _upload(alice, "x" * 201).json()["detail"]["code"] == "invalid_idempotency_key"
    assert _upload(alice, "caf\u00e9").status_code == 400
    too_big = _upload(alice, "k-4", size=5001)
    assert too_big.status_code == 413 and too_big.json()["detail"]["code"] == "file_too_large"
    assert cloud.live() == [] and cloud.keys.writes == 0


def test_two_requests_with_one_key_make_one_upload(cloud: Cloud) -> None:
    """The second request runs whole between the first one's queued record and its claim: the
    first loses the conditional write, drops its record and answers with the second's upload."""
    alice = cloud.user(ALICE)
    answers: list[Any] = []

    def race() -> None:
        cloud.signer.before_claim = None
        answers.append(_upload(alice, "k-5"))
        cloud.arrived()  # the loser then replays the winner's upload, whose file has not come

    cloud.signer.before_claim = race
    loser = _upload(alice, "k-5")
    [winner] = answers
    assert winner.status_code == loser.status_code == 200
    assert loser.json()["result_id"] == winner.json()["result_id"]
    assert loser.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in {h.lower() for h in winner.headers}
    assert cloud.live() == [winner.json()["result_id"]] and cloud.keys.writes == 1
    [dropped] = cloud.results.deleted
    assert dropped != winner.json()["result_id"]
    cloud.stub.assert_no_pending_responses()


def test_a_deleted_result_frees_its_key_and_answers_410_to_its_owner(cloud: Cloud) -> None:
    alice, bob = cloud.user(ALICE), cloud.user(BOB)
    ticket = _upload(alice, "k-6").json()
    url = ticket["result_url"]
    assert alice.delete(url).status_code == 204
    gone = alice.get(url)  # the client polling the upload learns why: not a 404
    assert gone.status_code == 410, gone.content
    assert gone.json()["detail"] == {
        "code": "result_deleted",
        "message": f"result {ticket['result_id']!r} was deleted; nothing of it is kept",
        "result_id": ticket["result_id"],
    }
    assert bob.get(url).status_code == 404  # another owner learns nothing of it
    assert alice.delete(url).status_code == 404  # deleting again: nothing left, as before
    assert alice.get("/v1/results/" + "0" * 32).status_code == 404  # never existed
    # The key lives as long as its result (as in the local service): a repeat is a new upload.
    again = _upload(alice, "k-6").json()
    assert again["result_id"] != ticket["result_id"] and again["replayed"] is False
    assert cloud.live() == [again["result_id"]]


def test_claims_compare_what_the_request_declared() -> None:
    claim = UploadClaim("r", "uploads/r/me.jpg", "me.jpg", "image/jpeg", 10)
    assert claim.differs_from("me.jpg", "image/jpeg", 10) is None
    assert claim.differs_from("me.jpg", "image/png", 10) == "content type"
    assert replace(claim, size=None).differs_from("me.jpg", "image/jpeg", 10) == "size"
    with pytest.raises(UploadKeyReusedError):
        raise UploadKeyReusedError("r", "size")
