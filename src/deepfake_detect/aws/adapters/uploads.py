"""Cloud uploads: the client gets a presigned POST, so the file goes straight to the upload bucket
(API Gateway caps a request at 10 MB and Lambda at 6 MB), and a queued record to poll; S3 notifies
the detect queue, and the detect function writes the result (``POST /v1/uploads``).

With an ``Idempotency-Key`` (per owner) a retried ``POST /v1/uploads`` names the first upload
instead of making a second one (and a second scan). The key's claim is an item of the stack's
idempotency table (the detect function's Powertools records live there too, under other ids):

- ``id`` = ``upload-key#`` + sha256 of owner and key (neither is stored as given), ``result_id``,
  the S3 ``object_key``, what the request declared (``filename``, ``content_type``, ``size``), and
  ``expiration`` (the table's TTL attribute): as long as a finished result is kept;
- the queued record is written first and the claim after it, with ``attribute_not_exists(id)``:
  of two requests with one key only one claim is written; the other tombstones its own record
  and answers with the winner's upload. So a claim always points at a record that was written;
- a claim whose record is gone (deleted, or expired because its file never came) frees the key,
  as the local service's key lives as long as its result: the next request claims it again,
  conditionally on the old ``result_id``, so that two such requests cannot both take it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from deepfake_detect.core.formats import check_content_type, check_size, upload_name
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.uploads import UploadKeyReusedError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_s3 import S3Client

CLAIM_PREFIX = "upload-key#"
# A claim lost to a concurrent request is read again; more rounds than this means the key is
# being fought over (a client bug): answered as a server error rather than looped on.
_CLAIM_ROUNDS = 5


@dataclass(frozen=True)
class UploadClaim:
    """An ``Idempotency-Key``'s upload: its result, object key and what the request declared."""

    result_id: str
    object_key: str
    filename: str
    content_type: str
    size: int | None

    def differs_from(self, filename: str, content_type: str, size: int | None) -> str | None:
        """What a request under the same key declares differently, or None for a retry."""
        if filename != self.filename:
            return "file name"
        if content_type != self.content_type:
            return "content type"
        if size != self.size:
            return "size"
        return None


class ClaimTakenError(Exception):
    """Another request wrote the key's claim first."""


class UploadKeys(Protocol):
    """Where ``Idempotency-Key`` claims live (``DynamoDBUploadKeys``; tests: an in-memory dict)."""

    def get(self, owner: str, key: str) -> UploadClaim | None: ...

    def claim(self, owner: str, key: str, claim: UploadClaim, *, replacing: str | None = None) -> None:
        """Write ``claim`` unless the key holds a live one (with ``replacing``: one other than that
        result's); else ``ClaimTakenError``."""
        ...


class DynamoDBUploadKeys:
    """``Idempotency-Key`` claims of presigned uploads, in the stack's idempotency table."""

    def __init__(self, client: DynamoDBClient, table: str, keep: timedelta) -> None:
        self.client = client
        self.table = table
        self.keep = keep

    @staticmethod
    def item_id(owner: str, key: str) -> str:
        digest = hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()
        return f"{CLAIM_PREFIX}{digest}"

    def get(self, owner: str, key: str) -> UploadClaim | None:
        """The key's claim (consistent read); one past its TTL that DynamoDB has not removed yet
        counts as none."""
        item = self.client.get_item(
            TableName=self.table, Key={"id": {"S": self.item_id(owner, key)}}, ConsistentRead=True
        ).get("Item")
        if not item or int(item["expiration"]["N"]) <= int(datetime.now(UTC).timestamp()):
            return None
        return UploadClaim(
            result_id=item["result_id"]["S"],
            object_key=item["object_key"]["S"],
            filename=item["filename"]["S"],
            content_type=item["content_type"]["S"],
            size=int(item["size"]["N"]) if "size" in item else None,
        )

    def claim(self, owner: str, key: str, claim: UploadClaim, *, replacing: str | None = None) -> None:
        """Write the claim unless the key holds a live one (``replacing``: unless it holds one
        other than that result's, which is gone); ``ClaimTakenError`` when another request won."""
        now = datetime.now(UTC)
        item: dict[str, AttributeValueTypeDef] = {
            "id": {"S": self.item_id(owner, key)},
            "result_id": {"S": claim.result_id},
            "object_key": {"S": claim.object_key},
            "filename": {"S": claim.filename},
            "content_type": {"S": claim.content_type},
            "created_at": {"S": now.isoformat(timespec="seconds")},
            "expiration": {"N": str(int((now + self.keep).timestamp()))},
        }
        if claim.size is not None:
            item["size"] = {"N": str(claim.size)}
        values: dict[str, AttributeValueTypeDef] = {":now": {"N": str(int(now.timestamp()))}}
        if replacing is None:
            condition = "attribute_not_exists(id) OR expiration <= :now"
        else:
            condition = "result_id = :old OR expiration <= :now"
            values[":old"] = {"S": replacing}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ClaimTakenError(key) from exc
            raise


class S3UploadSigner:
    """Presigned POSTs to ``<upload prefix><result id>/<name>``, with a queued record to poll.

    ``keys`` (the idempotency table) makes ``Idempotency-Key`` work; without it a key is ignored.
    ``before_claim`` is a test hook: it runs after the queued record is written and before the
    key's claim, where a concurrent request with the same key can slip in."""

    def __init__(
        self,
        client: S3Client,
        settings: Settings,
        results: ResultStore,
        keys: UploadKeys | None = None,
        *,
        before_claim: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.results = results
        self.keys = keys
        self.before_claim = before_claim

    def presign(
        self,
        filename: str,
        content_type: str,
        owner: str,
        *,
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A ticket: the result id, the presigned POST (``url``, ``fields``) and where to poll.
        ``size`` (optional) is checked against the limit now and made the only size S3 accepts.
        With ``idempotency_key``, a repeat of the same request (same name, type and size) gets the
        first upload's ticket, ``replayed`` true: a fresh POST for the same object while the file
        has not arrived, else ``uploaded`` true and the ``result`` as it stands (no POST)."""
        kind = check_content_type(content_type)
        if size is not None:
            check_size(size, self.settings.limits.max_upload_bytes)
        if idempotency_key is None or self.keys is None:
            return self._ticket(self._queue(filename, content_type, owner, kind), content_type, size)
        replacing: str | None = None
        for _ in range(_CLAIM_ROUNDS):
            claim = self.keys.get(owner, idempotency_key)
            if claim is not None:
                differs = claim.differs_from(filename, content_type, size)
                if differs is not None:
                    raise UploadKeyReusedError(claim.result_id, differs)
                first = self.results.get(claim.result_id)
                if first is not None:
                    return self._replay(first, claim)
                replacing = claim.result_id  # deleted or expired: the key is free again
            record = self._queue(filename, content_type, owner, kind)
            if self.before_claim is not None:
                self.before_claim()
            mine = UploadClaim(record.id, record.source["key"], filename, content_type, size)
            try:
                self.keys.claim(owner, idempotency_key, mine, replacing=replacing)
            except ClaimTakenError:
                self.results.delete(record.id)  # another request's upload is the key's: read it
                continue
            return self._ticket(record, content_type, size)
        raise RuntimeError(f"the Idempotency-Key was claimed by other requests {_CLAIM_ROUNDS} times")

    def _queue(self, filename: str, content_type: str, owner: str, kind: MediaKind) -> DetectionResult:
        settings = self.settings
        result_id = uuid.uuid4().hex
        name = upload_name(filename, "upload", key_safe=True)
        key = f"{settings.aws.upload_prefix}{result_id}/{name}"
        record = DetectionResult(
            id=result_id,
            path=name,
            media_kind=kind,
            status=Status.QUEUED,
            source={"store": "s3", "bucket": settings.aws.upload_bucket, "key": key},
            owner=owner,  # the detect function keeps it on the finished result
        )
        self.results.put(record)
        return record

    def _post(self, key: str, content_type: str, size: int | None) -> dict[str, Any]:
        # S3 checks these conditions against the upload itself: the declared type must be the
        # one the client asked for, and the size must be within the limit the scan accepts (the
        # declared size exactly, when the client declared one).
        low, high = (size, size) if size is not None else (1, self.settings.limits.max_upload_bytes)
        post: dict[str, Any] = self.client.generate_presigned_post(
            Bucket=self.settings.aws.upload_bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", low, high]],
            ExpiresIn=self.settings.aws.presign_expires_s,
        )
        return post

    def _ticket(
        self,
        record: DetectionResult,
        content_type: str,
        size: int | None,
        *,
        replayed: bool = False,
    ) -> dict[str, Any]:
        key = record.source["key"]
        post = self._post(key, content_type, size)
        return {
            "result_id": record.id,
            "key": key,
            "url": post["url"],
            "fields": post["fields"],
            "expires_in": self.settings.aws.presign_expires_s,
            "max_bytes": size or self.settings.limits.max_upload_bytes,
            "result_url": f"/v1/results/{record.id}",
            "uploaded": False,
            "replayed": replayed,
        }

    def _replay(self, first: DetectionResult, claim: UploadClaim) -> dict[str, Any]:
        """The first upload's ticket again: a fresh POST while its file has not arrived (the same
        object key, so a late first POST and this one are one upload), else its result."""
        if first.status is Status.QUEUED and not self._arrived(claim.object_key):
            return self._ticket(first, claim.content_type, claim.size, replayed=True)
        return {
            "result_id": first.id,
            "key": claim.object_key,
            "url": None,
            "fields": None,
            "expires_in": 0,
            "max_bytes": claim.size or self.settings.limits.max_upload_bytes,
            "result_url": f"/v1/results/{first.id}",
            "uploaded": True,
            "replayed": True,
            "result": first.model_dump(mode="json"),
        }

    def _arrived(self, key: str) -> bool:
        """Whether the object is in the bucket (listing: the API may list ``uploads/`` but not
        read it)."""
        listed = self.client.list_objects_v2(Bucket=self.settings.aws.upload_bucket, Prefix=key, MaxKeys=1)
        return any(entry.get("Key") == key for entry in listed.get("Contents", []))
