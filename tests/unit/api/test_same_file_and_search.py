"""Research aids (issue 22): results of the same file are linked by its SHA-256 and a reviewer's
label on one reaches the others (read at look-up time, counted once in the stats); the history is
searched on the server by name, verdict and date, page by page."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.api.app import create_app
from deepfake_detect.api.identity import jwt_identity
from deepfake_detect.api.services import Services
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict
from deepfake_detect.local.accuracy import SQLiteReviewedSource
from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import LOCAL_OWNER, ResultSearch, ResultStore
from tests.support.aws_fakes import InMemoryResults
from tests.support.lambda_api import LambdaApi, user_claims

NOW = datetime.now(UTC).replace(microsecond=0)
SHA_A, SHA_B = "a" * 64, "b" * 64
ALICE, BOB = "0f6c1e9a-alice", "7b2d4c8e-bob"


def scanned(
    name: str,
    sha256: str | None,
    minutes_ago: float,
    verdict: Verdict = Verdict.REAL,
    owner: str | None = LOCAL_OWNER,
    rid: str | None = None,
) -> DetectionResult:
    record = DetectionResult(
        path=name,
        media_kind=MediaKind.IMAGE,
        status=Status.DONE,
        verdict=verdict,
        score=0.9 if verdict is Verdict.FAKE else 0.1,
        owner=owner,
        created_at=NOW - timedelta(minutes=minutes_ago),
    )
    if rid:
        record.id = rid
    record.source = {"key": f"uploads/{record.id}/{name}", "store": "local"}
    if sha256:
        record.source["sha256"] = sha256
    return record


class Local:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path)
        self.results = SQLiteResultStore(tmp_path / "results.sqlite3")
        self.feedback = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
        self.services = Services(
            settings=self.settings,
            media=LocalMediaStore(tmp_path / "media"),
            results=self.results,
            model_card=lambda: ModelCard(name="m", version="1"),
            feedback=self.feedback,
            accuracy=SQLiteReviewedSource(tmp_path / "results.sqlite3", tmp_path / "feedback.sqlite3"),
        )

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings, self.services), base_url="http://127.0.0.1")


@pytest.fixture
def local(tmp_path: Path) -> Local:
    return Local(tmp_path)


@pytest.fixture
def client(local: Local) -> Iterator[TestClient]:
    with local.client() as client:
        yield client


def label(client: TestClient, result_id: str, value: str) -> None:
    response = client.post(f"/v1/results/{result_id}/feedback", json={"label": value})
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- the stores
@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ResultStore:
    if request.param == "sqlite":
        return SQLiteResultStore(tmp_path / "results.sqlite3")
    return InMemoryResults()


def test_the_store_finds_one_owner_s_results_of_the_same_bytes_newest_first(store: ResultStore) -> None:
    first, second, third = (scanned(f"copy{n}.jpg", SHA_A, 30 - n) for n in range(3))
    other_file = scanned("other.jpg", SHA_B, 5)
    someone_else = scanned("copy.jpg", SHA_A, 1, owner=ALICE)
    no_hash = scanned("queued.jpg", None, 0)
    for record in (first, second, third, other_file, someone_else, no_hash):
        store.put(record)
    assert [i for _, i in store.same_file(LOCAL_OWNER, SHA_A)] == [third.id, second.id, first.id]
    assert [i for _, i in store.same_file(LOCAL_OWNER, SHA_A, limit=2)] == [third.id, second.id]
    assert [i for _, i in store.same_file(ALICE, SHA_A)] == [someone_else.id]
    assert store.same_file(BOB, SHA_A) == []
    store.delete(second.id)
    assert [i for _, i in store.same_file(LOCAL_OWNER, SHA_A)] == [third.id, first.id]


def test_sqlite_files_from_before_the_hash_column_are_linked_too(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    older = scanned("old.jpg", SHA_A, 60)
    db = sqlite3.connect(path)  # the table as it was before the column
    db.execute(
        "CREATE TABLE results (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL, "
        "document TEXT NOT NULL, owner TEXT NOT NULL DEFAULT 'local')"
    )
    db.execute(
        "INSERT INTO results VALUES (?, ?, 'done', ?, 'local')",
        (older.id, older.created_at.isoformat(timespec="microseconds"), older.model_dump_json()),
    )
    db.commit()
    db.close()
    store = SQLiteResultStore(path)
    newer = scanned("new.jpg", SHA_A, 1)
    store.put(newer)
    assert [i for _, i in store.same_file(LOCAL_OWNER, SHA_A)] == [newer.id, older.id]
    plan = " ".join(
        str(row)
        for row in store._db.execute(
            "EXPLAIN QUERY PLAN SELECT created_at, id FROM results WHERE owner = ? AND sha256 = ? "
            "ORDER BY created_at DESC, id DESC",
            (LOCAL_OWNER, SHA_A),
        )
    )
    assert "results_same_file" in plan  # an index look-up, not a scan of every result


def test_the_store_searches_by_name_verdict_and_dates_and_pages_the_matches(store: ResultStore) -> None:
    names = ["Beach.JPG", "beach-2.png", "Straße.jpg", "city.jpg", "BEACH-night.mp4", "forest.jpg"]
    records = [
        scanned(name, None, 10 * n, Verdict.FAKE if n % 2 else Verdict.REAL) for n, name in enumerate(names)
    ]
    for record in records:
        store.put(record)

    def ids(search: ResultSearch, limit: int = 100) -> list[str]:
        found, token = [], None
        while True:
            page = store.list(limit=limit, token=token, owner=LOCAL_OWNER, search=search)
            assert len(page.items) <= limit
            found += [r.id for r in page.items]
            token = page.next_token
            if token is None:
                return found

    by_name = {r.path: r.id for r in records}
    beaches = [by_name["Beach.JPG"], by_name["beach-2.png"], by_name["BEACH-night.mp4"]]
    assert ids(ResultSearch(text="beach")) == beaches  # any case, newest first
    assert ids(ResultSearch(text="beach"), limit=1) == beaches  # page by page
    assert ids(ResultSearch(text="strand")) == []
    # Unicode case-folding: "ß" is "ss" in any case
    assert ids(ResultSearch(text="STRAßE")) == ids(ResultSearch(text="STRASSE")) == [by_name["Straße.jpg"]]
    fakes = [r.id for r in records if r.verdict is Verdict.FAKE]
    assert ids(ResultSearch(verdict=Verdict.FAKE), limit=2) == fakes
    assert ids(ResultSearch(text="beach", verdict=Verdict.FAKE)) == [by_name["beach-2.png"]]
    recent = ResultSearch(since=NOW - timedelta(minutes=25), until=NOW - timedelta(minutes=5))
    assert ids(recent) == [by_name["beach-2.png"], by_name["Straße.jpg"]]
    assert ids(ResultSearch(until=NOW - timedelta(minutes=35)), limit=1) == [
        by_name["BEACH-night.mp4"],
        by_name["forest.jpg"],
    ]
    assert ids(ResultSearch()) == [r.id for r in records]


# ---------------------------------------------------------------- GET /v1/results/{id}: same_file
def test_a_result_names_the_other_results_of_the_same_file(local: Local, client: TestClient) -> None:
    copies = [scanned(f"forwarded-{n}.jpg", SHA_A, 60 - n) for n in range(8)]  # oldest first
    for record in [*copies, scanned("unrelated.jpg", SHA_B, 1), scanned("no-hash.jpg", None, 1)]:
        local.results.put(record)
    middle = copies[3]
    body = client.get(f"/v1/results/{middle.id}").json()
    section = body["same_file"]
    assert section["sha256"] == SHA_A
    assert section["count"] == 7 and section["earlier"] == 3
    newest_first = [r.id for r in reversed(copies) if r.id != middle.id]
    assert [item["id"] for item in section["items"]] == newest_first[:5]
    assert section["label"] is None
    assert all(item["label"] is None for item in section["items"])
    # The record itself is unchanged; a file seen once, or without a hash, has no section.
    assert body["id"] == middle.id and body["source"]["sha256"] == SHA_A
    unrelated = local.results.list(limit=100).items
    single = [r for r in unrelated if r.path in ("unrelated.jpg", "no-hash.jpg")]
    for record in single:
        assert client.get(f"/v1/results/{record.id}").json()["same_file"] is None


def test_a_label_on_one_copy_reaches_every_copy_at_read_time(local: Local, client: TestClient) -> None:
    first, second, third = (scanned(f"copy{n}.jpg", SHA_A, 30 - n) for n in range(3))
    for record in (first, second, third):
        local.results.put(record)
    label(client, first.id, "fake")
    for other in (second, third):
        section = client.get(f"/v1/results/{other.id}").json()["same_file"]
        assert section["label"]["label"] == "fake" and section["label"]["result_id"] == first.id
        assert section["label"]["reviewer"] == "local"
        assert {item["id"]: item["label"] for item in section["items"]}[first.id] == "fake"
    # The labelled result itself does not carry its own label as an identical file's.
    assert client.get(f"/v1/results/{first.id}").json()["same_file"]["label"] is None
    # Nothing was copied: the other results have no label of their own, and a newer label on
    # another copy is the one shown next time.
    assert local.feedback.get(second.id) is None and local.feedback.get(third.id) is None
    label(client, third.id, "real")
    carried = client.get(f"/v1/results/{second.id}").json()["same_file"]["label"]
    assert (carried["label"], carried["result_id"]) == ("real", third.id)
    # A deleted copy takes its label with it.
    assert client.delete(f"/v1/results/{third.id}").status_code == 204
    carried = client.get(f"/v1/results/{second.id}").json()["same_file"]["label"]
    assert (carried["label"], carried["result_id"]) == ("fake", first.id)


def test_the_stats_count_a_label_once_however_many_copies_share_it(local: Local, client: TestClient) -> None:
    copies = [scanned(f"copy{n}.jpg", SHA_A, 3 - n, Verdict.FAKE) for n in range(3)]
    for record in copies:
        local.results.put(record)
    label(client, copies[0].id, "real")
    assert client.get(f"/v1/results/{copies[1].id}").json()["same_file"]["label"]["label"] == "real"
    rows = client.get("/v1/stats").json()["rows"]
    assert sum(row["labels"] for row in rows) == 1
    assert sum(row["false_positives"] for row in rows) == 1
    assert sum(row["done"] for row in rows) == 3


def test_same_file_is_per_owner_in_the_cloud(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    results = SQLiteResultStore(tmp_path / "results.sqlite3")
    feedback = SQLiteFeedbackStore(tmp_path / "feedback.sqlite3")
    services = Services(
        settings=settings,
        media=LocalMediaStore(tmp_path / "media"),
        results=results,
        model_card=lambda: ModelCard(name="m", version="1"),
        feedback=feedback,
        identity=jwt_identity(),
    )
    api = LambdaApi(create_app(settings, services))
    alices = [scanned(f"a{n}.jpg", SHA_A, 10 - n, owner=ALICE) for n in range(2)]
    bobs = scanned("b.jpg", SHA_A, 1, owner=BOB)
    for record in [*alices, bobs]:
        results.put(record)
    feedback.put(Feedback(result_id=bobs.id, label=Label.FAKE, media_key="k", reviewer="bob"))
    alice = api.as_user(user_claims(ALICE, "alice@example.com"))
    section = alice.get(f"/v1/results/{alices[0].id}").json()["same_file"]
    assert section["count"] == 1 and [item["id"] for item in section["items"]] == [alices[1].id]
    assert section["label"] is None  # Bob's label on his copy is not Alice's to see
    bob = api.as_user(user_claims(BOB, "bob@example.com"))
    assert bob.get(f"/v1/results/{bobs.id}").json()["same_file"] is None  # Alice's copies are not his


# ---------------------------------------------------------------- GET /v1/results: the search
def listed(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/v1/results", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [item["path"] for item in response.json()["items"]]


def test_the_history_is_searched_on_the_server(local: Local, client: TestClient) -> None:
    day = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
    for n, (name, verdict) in enumerate(
        [("Beach.jpg", Verdict.FAKE), ("beach.png", Verdict.REAL), ("city.jpg", Verdict.INCONCLUSIVE)]
    ):
        record = scanned(name, None, 0, verdict)
        record.created_at = day + timedelta(days=n)  # 14th, 15th, 16th of March
        local.results.put(record)
    assert listed(client, q="BEACH") == ["beach.png", "Beach.jpg"]
    assert listed(client, q="  ") == ["city.jpg", "beach.png", "Beach.jpg"]  # blank: no search
    assert listed(client, verdict="inconclusive") == ["city.jpg"]
    assert listed(client, q="beach", verdict="fake") == ["Beach.jpg"]
    # A date alone is a whole day (UTC): since the 15th, until the 15th inclusive.
    assert listed(client, since="2025-03-15") == ["city.jpg", "beach.png"]
    assert listed(client, until="2025-03-15") == ["beach.png", "Beach.jpg"]
    assert listed(client, since="2025-03-15", until="2025-03-15") == ["beach.png"]
    # A time with an offset is that moment; without one, UTC.
    assert listed(client, since="2025-03-15T13:30:00+02:00") == ["city.jpg", "beach.png"]
    assert listed(client, since="2025-03-15T12:00:01") == ["city.jpg"]
    # The pages of a search follow each other with the token.
    first = client.get("/v1/results", params={"limit": 1, "q": "beach"}).json()
    second = client.get("/v1/results", params={"limit": 1, "q": "beach", "token": first["next_token"]}).json()
    assert [i["path"] for i in first["items"] + second["items"]] == ["beach.png", "Beach.jpg"]
    assert second["next_token"] is None


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"since": "2025-13-01"}, "since='2025-13-01' is not a date or time in ISO 8601"),
        ({"until": "yesterday"}, "until='yesterday' is not a date or time in ISO 8601"),
        (
            {"since": "2025-03-16", "until": "2025-03-15"},
            "since (2025-03-16) must be before until (2025-03-15)",
        ),
    ],
)
def test_a_bad_date_is_a_422_that_says_which(client: TestClient, params: dict[str, str], words: str) -> None:
    response = client.get("/v1/results", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "invalid_query" and words in detail["message"]


def test_an_unknown_verdict_is_a_422_naming_the_choices(client: TestClient) -> None:
    response = client.get("/v1/results", params={"verdict": "authentic"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "verdict"]
    assert "'fake', 'inconclusive', 'real', 'no_face' or 'error'" in error["msg"]


def test_the_openapi_schema_describes_the_search_and_the_same_file_section(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/v1/results"]["get"]["parameters"]}
    assert {"q", "verdict", "since", "until", "token", "limit"} <= parameters.keys()
    assert "422" in schema["paths"]["/v1/results"]["get"]["responses"]
    one = schema["paths"]["/v1/results/{result_id}"]["get"]["responses"]["200"]
    reference = one["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    view = schema["components"]["schemas"][reference]
    assert "same_file" in view["properties"] and "verdict" in view["properties"]
    same = schema["components"]["schemas"]["SameFile"]
    assert set(same["properties"]) == {"sha256", "count", "earlier", "items", "label"}
