"""The DynamoDB result store on DynamoDB Local (the table and its indexes from template.yaml):
one owner's results of the same bytes come from the ``by_file`` index, newest first; the history's
search bounds the ``by_owner`` query by date and filters names and verdicts after the page read,
and its pages, short or not, follow each other to the end without losing or repeating a match."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from deepfake_detect.aws.adapters import stores as dynamo_stores
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore, S3MediaStore
from deepfake_detect.core.result import DetectionResult, MediaKind, Status, Verdict
from deepfake_detect.store.base import ResultSearch
from infra.local.stack import LocalAwsStack, StackResources

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def store(stack: LocalAwsStack, resources: StackResources) -> DynamoDBResultStore:
    media = S3MediaStore(stack.client("s3"), resources.upload_bucket)
    return DynamoDBResultStore(stack.client("dynamodb"), resources.results_table, overflow=media)


def record(
    owner: str, name: str, minutes: int, sha256: str | None = None, verdict: Verdict = Verdict.REAL
) -> DetectionResult:
    result = DetectionResult(
        path=name,
        media_kind=MediaKind.IMAGE,
        status=Status.DONE,
        verdict=verdict,
        owner=owner,
        created_at=T0 + timedelta(minutes=minutes),
    )
    if sha256:
        result.source = {"key": f"uploads/{result.id}/{name}", "sha256": sha256}
    return result


def test_the_same_file_index_lists_one_owner_s_copies_newest_first(
    aws_stack: LocalAwsStack, resources: StackResources
) -> None:
    results = store(aws_stack, resources)
    alice, bob = f"alice-{uuid.uuid4().hex}", f"bob-{uuid.uuid4().hex}"
    sha, other = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    copies = [record(alice, f"copy{n}.jpg", n, sha) for n in range(4)]
    for item in [*copies, record(alice, "other.jpg", 9, other), record(bob, "bobs.jpg", 5, sha)]:
        results.put(item)
    results.put(record(alice, "unhashed.jpg", 7))  # no hash yet (a queued cloud upload): no file key
    newest_first = [c.id for c in reversed(copies)]
    assert [i for _, i in results.same_file(alice, sha)] == newest_first
    assert [i for _, i in results.same_file(alice, sha, limit=2)] == newest_first[:2]
    assert next(created for created, _ in results.same_file(alice, sha)) == copies[-1].created_at
    assert [i for _, i in results.same_file(alice, sha.upper())] == newest_first  # hex in any case
    assert len(results.same_file(bob, sha)) == 1 and results.same_file(bob, other) == []
    # A deleted copy's tombstone holds no file key: it drops out of the index.
    results.delete(copies[1].id)
    assert copies[1].id not in [i for _, i in results.same_file(alice, sha)]


def test_the_search_pages_through_filtered_results(
    aws_stack: LocalAwsStack, resources: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = store(aws_stack, resources)
    owner = f"carol-{uuid.uuid4().hex}"
    names = [f"{'Beach' if n % 3 == 0 else 'city'}-{n:02d}.jpg" for n in range(24)]
    made = [
        record(owner, name, n, verdict=Verdict.FAKE if n % 2 else Verdict.REAL)
        for n, name in enumerate(names)
    ]
    for item in made:
        results.put(item)
    newest_first = list(reversed(made))

    def pages(search: ResultSearch, limit: int) -> tuple[list[str], int]:
        found: list[str] = []
        token, count = None, 0
        while True:
            page = results.list(limit=limit, token=token, owner=owner, search=search)
            assert len(page.items) <= limit
            found += [r.id for r in page.items]
            count += 1
            token = page.next_token
            if token is None:
                return found, count

    beaches = [r.id for r in newest_first if "beach" in r.path.lower()]
    assert pages(ResultSearch(text="BEACH"), 3)[0] == beaches
    fake_beaches = [r.id for r in newest_first if "beach" in r.path.lower() and r.verdict is Verdict.FAKE]
    assert pages(ResultSearch(text="beach", verdict=Verdict.FAKE), 2)[0] == fake_beaches
    window = ResultSearch(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=15))
    assert pages(window, 4)[0] == [r.id for r in newest_first if 5 <= made.index(r) < 15]
    dated = ResultSearch(text="city", since=T0 + timedelta(minutes=10))
    assert pages(dated, 2)[0] == [r.id for r in newest_first if "city" in r.path and made.index(r) >= 10]
    # When few keys may be read per page, pages come back short (even empty) with a token, and
    # following the tokens still finds every match once.
    monkeypatch.setattr(dynamo_stores, "SEARCH_READ_LIMIT", 5)
    found, count = pages(ResultSearch(text="beach", verdict=Verdict.FAKE), 10)
    assert found == fake_beaches and count >= 24 // 5
    assert pages(ResultSearch(text="nothing like it"), 10)[0] == []
