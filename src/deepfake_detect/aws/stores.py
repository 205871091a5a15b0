"""The cloud stores: media in S3, results in DynamoDB (the same ``DetectionResult`` documents).

Results table layout (see template.yaml, ResultsTable):
- ``id`` (hash key), ``status``, ``verdict``, ``path``: readable in the console;
- ``document``: the result JSON, zlib-compressed (face heat maps compress well); a document
  still too big for a 400 KB item goes to S3 and ``document_key`` points at it;
- ``list_pk`` + ``created_key`` feed the ``by_created`` index that lists results newest first;
- ``expires_at``: DynamoDB TTL, short for an upload that never arrived, long for a finished scan.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import ClientError

from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.store.base import Page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "NoSuchVersion", "NotFound", "404"}
# Every result shares one index partition, so one Query lists them in time order. One partition
# takes 1,000 writes/s, far beyond what the detect functions produce.
LIST_PARTITION = "results"
# Above this the compressed document goes to S3 (an item may hold 400 KB in all).
MAX_INLINE_DOCUMENT = 300_000


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    version_id: str | None
    content_type: str | None


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING


class S3MediaStore:
    def __init__(self, client: S3Client, bucket: str, tmp_dir: Path | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.tmp_dir = tmp_dir  # None: the system temp dir (/tmp in Lambda)

    def put(self, key: str, data: BinaryIO | bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        if isinstance(data, bytes):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)  # type: ignore[arg-type]
        else:
            self.client.upload_fileobj(data, self.bucket, key, ExtraArgs=extra or None)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                raise KeyError(key) from exc
            raise

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """Size and identity of an object (revision); ``KeyError`` when it does not exist."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            head = self.client.head_object(**args)
        except ClientError as exc:
            if _missing(exc):
                raise KeyError(key) from exc
            raise
        return ObjectInfo(
            size=int(head["ContentLength"]),
            etag=head.get("ETag", ""),
            version_id=head.get("VersionId"),
            content_type=head.get("ContentType"),
        )

    @contextmanager
    def local_copy(self, key: str, version_id: str | None = None) -> Iterator[Path]:
        """Stream the object (the given revision, when named) to a temporary file, deleted after."""
        fd, name = tempfile.mkstemp(prefix="media-", dir=self.tmp_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                extra = {"VersionId": version_id} if version_id else None
                try:
                    self.client.download_fileobj(self.bucket, key, out, ExtraArgs=extra)
                except ClientError as exc:
                    if _missing(exc):
                        raise KeyError(key) from exc
                    raise
            yield path
        finally:
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except KeyError:
            return False
        return True


def _created_key(result: DetectionResult) -> str:
    # A fixed-width UTC timestamp sorts as text; the id breaks ties between equal timestamps.
    created = result.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{created}#{result.id}"


class DynamoDBResultStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        index: str = "by_created",
        retention: timedelta = timedelta(days=365),
        queued_retention: timedelta = timedelta(days=2),
        overflow: S3MediaStore | None = None,
        overflow_prefix: str = "results/",
    ) -> None:
        self.client = client
        self.table = table
        self.index = index
        self.retention = retention
        self.queued_retention = queued_retention
        self.overflow = overflow
        self.overflow_prefix = overflow_prefix

    def put(self, result: DetectionResult) -> None:
        document = zlib.compress(result.model_dump_json().encode(), 6)
        # A record waiting for its upload expires soon: most often the upload never comes.
        keep = self.queued_retention if result.status is Status.QUEUED else self.retention
        item: dict[str, AttributeValueTypeDef] = {
            "id": {"S": result.id},
            "list_pk": {"S": LIST_PARTITION},
            "created_key": {"S": _created_key(result)},
            "status": {"S": result.status.value},
            "path": {"S": result.path or "-"},
            "expires_at": {"N": str(int((result.created_at + keep).timestamp()))},
        }
        if result.verdict is not None:
            item["verdict"] = {"S": result.verdict.value}
        if len(document) <= MAX_INLINE_DOCUMENT:
            item["document"] = {"B": document}
        elif self.overflow is not None:
            key = f"{self.overflow_prefix}{result.id}.json.z"
            self.overflow.put(key, document, "application/octet-stream")
            item["document_key"] = {"S": key}
        else:
            raise ValueError(
                f"result {result.id} is {len(document)} bytes compressed; "
                "too big for DynamoDB and no overflow store is configured"
            )
        self.client.put_item(TableName=self.table, Item=item)

    def get(self, result_id: str) -> DetectionResult | None:
        response = self.client.get_item(
            TableName=self.table, Key={"id": {"S": result_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return self._decode(item) if item else None

    def list(self, limit: int = 20, token: str | None = None) -> Page:
        condition = "list_pk = :pk"
        values: dict[str, AttributeValueTypeDef] = {":pk": {"S": LIST_PARTITION}}
        if token:
            condition += " AND created_key < :after"
            values[":after"] = {"S": _decode_token(token)}
        # One more than asked tells whether a next page exists without handing out a token
        # that leads to an empty page.
        items = list(self._query(condition, values, limit + 1))
        page = [self._decode(item) for item in items[:limit]]
        next_token = _encode_token(items[limit - 1]["created_key"]["S"]) if len(items) > limit else None
        return Page(items=page, next_token=next_token)

    def pending(self) -> Iterator[DetectionResult]:
        # Only the local processor resumes pending work; in the cloud SQS redelivers instead.
        # A filtered query reads the whole index, acceptable for this rare maintenance call.
        values: dict[str, AttributeValueTypeDef] = {
            ":pk": {"S": LIST_PARTITION},
            ":q": {"S": Status.QUEUED.value},
            ":p": {"S": Status.PROCESSING.value},
        }
        for item in self._query("list_pk = :pk", values, None, filter_expression="#s IN (:q, :p)"):
            yield self._decode(item)

    def _query(
        self,
        condition: str,
        values: dict[str, AttributeValueTypeDef],
        limit: int | None,
        filter_expression: str | None = None,
    ) -> Iterator[dict[str, AttributeValueTypeDef]]:
        """Items of the index, newest first, following DynamoDB's 1 MB pages until ``limit``."""
        args: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filter_expression:
            args["FilterExpression"] = filter_expression
            args["ExpressionAttributeNames"] = {"#s": "status"}
        returned = 0
        while True:
            if limit is not None:
                args["Limit"] = limit - returned
            response = self.client.query(**args)
            for item in response.get("Items", []):
                yield item
                returned += 1
            last = response.get("LastEvaluatedKey")
            if not last or (limit is not None and returned >= limit):
                return
            args["ExclusiveStartKey"] = last

    def _decode(self, item: dict[str, AttributeValueTypeDef]) -> DetectionResult:
        if "document" in item:
            blob = item["document"]["B"]
        else:
            if self.overflow is None:
                raise ValueError(f"result {item['id']['S']} is stored in S3 but no overflow store is set")
            blob = self.overflow.get(item["document_key"]["S"])
        return DetectionResult.model_validate_json(zlib.decompress(bytes(blob)))


def _encode_token(created_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": created_key}).encode()).decode()


def _decode_token(token: str) -> str:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))["before"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ValueError("invalid page token") from exc
    if not isinstance(value, str) or "#" not in value:
        raise ValueError("invalid page token")
    return value
