"""The cloud stores: media in S3, results in DynamoDB (the same ``DetectionResult`` documents).

Results table layout (see template.yaml, ResultsTable):
- ``id`` (hash key), ``status``, ``verdict``, ``path``: readable in the console;
- ``document``: the result JSON, zlib-compressed (face heat maps compress well); a document
  still too big for a 400 KB item goes to S3 and ``document_key`` points at it;
- ``owner`` + ``created_key`` feed the ``by_owner`` index (keys only) that lists one owner's
  results newest first; the documents of a page are then read by id (BatchGetItem). A record
  without an owner (a file put in the bucket outside the API, a record older than owners) is in
  no owner's list;
- ``file_key`` (``<owner>#<sha256 of the scanned file>``) + ``created_key`` feed the ``by_file``
  index (keys only): one owner's results of the same bytes, newest first. Set once the file's
  hash is known (at upload locally, when the scan reads the file in the cloud); records stored
  before it existed are in no file's list until they are written again;
- ``model_version``: the model that made the result (NULL without one), so that the accuracy
  report reads it without the document (records stored before it existed: from the document);
- ``expires_at``: DynamoDB TTL, short for an upload that never arrived, long for a finished scan;
- ``deleted_at``: a deleted record is replaced by a tombstone (id, ``deleted_at``, a short TTL) so
  that a scan still running cannot write it back: every put is conditional on its absence. The
  tombstone keeps the owner as ``deleted_owner`` (not ``owner``: it is in no index), so that the
  owner polling it is told 410 ``result_deleted`` rather than 404 (``tombstone``).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import os
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from botocore.exceptions import ClientError

from deepfake_detect.core.result import DetectionResult, Status, Verdict
from deepfake_detect.registry.accuracy import Reviewed
from deepfake_detect.store.base import (
    SAME_FILE_LIMIT,
    ObjectNotFoundError,
    Page,
    Position,
    RangePage,
    ResultDeletedError,
    ResultSearch,
)
from deepfake_detect.store.deletion import Tombstone

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, KeysAndAttributesTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

    from deepfake_detect.settings import Settings

_MISSING = {"NoSuchKey", "NoSuchVersion", "NotFound", "404"}
# Above this the compressed document goes to S3 (an item may hold 400 KB in all).
MAX_INLINE_DOCUMENT = 300_000
# How long a deleted record's tombstone refuses writes: longer than a message can live in the
# queue and its dead-letter queue (4 + 14 days would be the worst case; retries stop long before).
TOMBSTONE_TTL = timedelta(days=15)
# BatchGetItem reads at most 100 keys per call.
_BATCH_GET = 100
# GET /v1/results?q=&verdict=: how many of the owner's index keys one page may look through (their
# names and verdicts read by id) before it hands back what it found, maybe nothing, and a token.
SEARCH_READ_LIMIT = 500


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
                raise ObjectNotFoundError(key) from exc
            raise

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
        """Size and identity of an object (revision); ``ObjectNotFoundError`` when it does not exist."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            head = self.client.head_object(**args)
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFoundError(key) from exc
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
                        raise ObjectNotFoundError(key) from exc
                    raise
            yield path
        finally:
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the object and every version of it (and its delete markers): the bucket is
        versioned, and a plain DELETE there only hides the data behind a marker."""
        self._purge(key, exact=True)

    def delete_prefix(self, prefix: str) -> int:
        return self._purge(prefix, exact=False)

    def _purge(self, prefix: str, *, exact: bool) -> int:
        keys: set[str] = set()
        batch: list[ObjectIdentifierTypeDef] = []
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                key = entry.get("Key", "")
                if exact and key != prefix:
                    continue
                keys.add(key)
                version = entry.get("VersionId")
                # An unversioned bucket lists its objects with the version id "null".
                batch.append(
                    {"Key": key, "VersionId": version} if version and version != "null" else {"Key": key}
                )
                if len(batch) == 1000:  # DeleteObjects takes at most 1,000 keys
                    self._delete_objects(batch)
                    batch = []
        if batch:
            self._delete_objects(batch)
        return len(keys)

    def _delete_objects(self, batch: list[ObjectIdentifierTypeDef]) -> None:
        response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"{len(errors)} objects could not be deleted from {self.bucket}, e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )


_KEY_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _time_key(moment: datetime) -> str:
    """A fixed-width UTC timestamp: sorts as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_KEY_TIME)


def _created_key(result: DetectionResult) -> str:
    # The id breaks ties between equal timestamps.
    return f"{_time_key(result.created_at)}#{result.id}"


def _position(created_key: str) -> Position:
    created, _, result_id = created_key.partition("#")
    return datetime.strptime(created, _KEY_TIME).replace(tzinfo=UTC), result_id


class DynamoDBResultStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        index: str = "by_owner",
        file_index: str = "by_file",
        retention: timedelta = timedelta(days=365),
        queued_retention: timedelta = timedelta(days=2),
        overflow: S3MediaStore | None = None,
        overflow_prefix: str = "results/",
    ) -> None:
        self.client = client
        self.table = table
        self.index = index
        self.file_index = file_index
        self.retention = retention
        self.queued_retention = queued_retention
        self.overflow = overflow
        self.overflow_prefix = overflow_prefix

    @classmethod
    def from_settings(
        cls, settings: Settings, overflow: S3MediaStore, client: DynamoDBClient | None = None
    ) -> DynamoDBResultStore:
        """The stack's results table, as every function that writes or reads results uses it."""
        from deepfake_detect.aws.adapters.clients import dynamodb_client

        return cls(
            client or dynamodb_client(settings),
            settings.aws.results_table,
            index=settings.aws.results_index,
            retention=timedelta(days=settings.aws.result_retention_days),
            queued_retention=timedelta(days=settings.aws.queued_retention_days),
            overflow=overflow,
        )

    def put(self, result: DetectionResult) -> None:
        document = zlib.compress(result.model_dump_json().encode(), 6)
        # A record waiting for its upload expires soon: most often the upload never comes.
        keep = self.queued_retention if result.status is Status.QUEUED else self.retention
        item: dict[str, AttributeValueTypeDef] = {
            "id": {"S": result.id},
            "created_key": {"S": _created_key(result)},
            "status": {"S": result.status.value},
            "path": {"S": result.path or "-"},
            "expires_at": {"N": str(int((result.created_at + keep).timestamp()))},
        }
        if result.verdict is not None:
            item["verdict"] = {"S": result.verdict.value}
        if result.owner:
            item["owner"] = {"S": result.owner}
            if result.source.get("sha256"):
                item["file_key"] = {"S": _file_key(result.owner, result.source["sha256"])}
        item["model_version"] = {"S": result.model.version} if result.model else {"NULL": True}
        overflow_key = None
        if len(document) <= MAX_INLINE_DOCUMENT:
            item["document"] = {"B": document}
        elif self.overflow is not None:
            overflow_key = f"{self.overflow_prefix}{result.id}.json.z"
            self.overflow.put(overflow_key, document, "application/octet-stream")
            item["document_key"] = {"S": overflow_key}
        else:
            raise ValueError(
                f"result {result.id} is {len(document)} bytes compressed; "
                "too big for DynamoDB and no overflow store is configured"
            )
        try:
            self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(deleted_at)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            if overflow_key is not None and self.overflow is not None:
                self.overflow.delete(overflow_key)
            raise ResultDeletedError(result.id) from exc

    def get(self, result_id: str) -> DetectionResult | None:
        response = self.client.get_item(
            TableName=self.table, Key={"id": {"S": result_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return self._decode(item) if item and "deleted_at" not in item else None

    def list(
        self,
        limit: int = 20,
        token: str | None = None,
        *,
        owner: str | None = None,
        search: ResultSearch | None = None,
    ) -> Page:
        """One owner's results, newest first: the index gives the ids of a page, then the
        documents are read by id.

        ``search``'s dates bound the index query (``created_key``), so they cost nothing. Its name
        and verdict cannot be asked of the index: it projects keys only (projecting ``path`` and
        ``verdict`` would mean replacing the index, and DynamoDB's ``contains`` is case-sensitive).
        They filter the keys after they are read, as a FilterExpression would: each round reads a
        page of keys, then those records' ``path`` and ``verdict`` by id, and keeps the matches,
        until ``limit`` match or ``SEARCH_READ_LIMIT`` keys were looked at. So a searched page
        may be short, even empty, and still carry a ``next_token``: only a None token ends the list."""
        if owner is None:
            raise ValueError("results in DynamoDB are listed per owner")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        search = search or ResultSearch()
        before = _decode_token(token) if token else None
        condition, values = self._owner_condition(owner, search, before)
        if ":lower" in values and ":upper" in values and values[":lower"]["S"] > values[":upper"]["S"]:
            return Page(items=[], next_token=None)  # DynamoDB refuses an empty BETWEEN
        if not (search.text or search.verdict is not None):
            # One more than asked tells whether a next page exists without handing out a token
            # that leads to an empty page.
            page = list(self._query(condition, values, limit + 1, names={"#o": "owner"}, skip=before))
            after = _encode_token(page[limit - 1]["created_key"]["S"]) if len(page) > limit else None
            return Page(items=self._documents([key["id"]["S"] for key in page[:limit]]), next_token=after)
        matched: builtins.list[str] = []  # created keys of the matches, newest first
        looked = 0
        last_looked: str | None = None
        exhausted = True
        keys = self._query(condition, values, None, names={"#o": "owner"}, skip=before, page=_BATCH_GET)
        chunk: builtins.list[dict[str, AttributeValueTypeDef]] = []
        for key in keys:
            chunk.append(key)
            if len(chunk) == _BATCH_GET or looked + len(chunk) >= SEARCH_READ_LIMIT:
                last_looked = self._keep_matches(chunk, search, matched)
                looked += len(chunk)
                chunk = []
                if len(matched) > limit or looked >= SEARCH_READ_LIMIT:
                    exhausted = False
                    break
        else:
            if chunk:
                last_looked = self._keep_matches(chunk, search, matched)
        if len(matched) > limit:  # a further match exists: a full page
            next_token: str | None = _encode_token(matched[limit - 1])
        elif exhausted:
            next_token = None
        else:  # the read budget ran out: what was found, and where the next page goes on
            next_token = _encode_token(last_looked) if last_looked else None
        ids = [key.partition("#")[2] for key in matched[:limit]]
        return Page(items=self._documents(ids), next_token=next_token)

    def _owner_condition(
        self, owner: str, search: ResultSearch, before: str | None
    ) -> tuple[str, dict[str, AttributeValueTypeDef]]:
        """The by_owner key condition: the owner, under ``before`` (a page token's created key,
        exclusive: ``_query`` skips it when BETWEEN includes it) and within the search's dates."""
        values: dict[str, AttributeValueTypeDef] = {":owner": {"S": owner}}
        bounds = [bound for bound in (before, _time_key(search.until) if search.until else None) if bound]
        upper = min(bounds) if bounds else None
        lower = _time_key(search.since) if search.since is not None else None
        condition = "#o = :owner"
        if upper is not None and lower is not None:
            condition += " AND created_key BETWEEN :lower AND :upper"
            values |= {":lower": {"S": lower}, ":upper": {"S": upper}}
        elif upper is not None:
            condition += " AND created_key < :upper"  # "<until>" sorts before every key of that moment
            values[":upper"] = {"S": upper}
        elif lower is not None:
            condition += " AND created_key >= :lower"
            values[":lower"] = {"S": lower}
        return condition, values

    def _keep_matches(
        self,
        keys: Sequence[dict[str, AttributeValueTypeDef]],
        search: ResultSearch,
        matched: builtins.list[str],
    ) -> str | None:
        """Append to ``matched`` the created keys of the records among ``keys`` whose ``path`` and
        ``verdict`` match; returns the last key's created key."""
        items = self._batch_get(
            [key["id"]["S"] for key in keys],
            projection="id, #p, verdict, deleted_at",
            names={"#p": "path"},
        )
        for key in keys:
            item = items.get(key["id"]["S"])
            if item is None or "deleted_at" in item:
                continue
            verdict = item.get("verdict", {}).get("S")
            if search.verdict is not None and verdict != search.verdict.value:
                continue
            if search.text and search.needle not in item.get("path", {}).get("S", "").casefold():
                continue
            matched.append(key["created_key"]["S"])
        return keys[-1]["created_key"]["S"] if keys else None

    def _documents(self, ids: Sequence[str]) -> builtins.list[DetectionResult]:
        """The records with these ids, in this order; one deleted meanwhile is left out."""
        documents = self._batch_get(ids)
        return [
            self._decode(documents[i]) for i in ids if i in documents and "deleted_at" not in documents[i]
        ]

    def same_file(self, owner: str, sha256: str, *, limit: int = SAME_FILE_LIMIT) -> builtins.list[Position]:
        """Newest first, from the ``by_file`` index (keys only: nothing but the index is read)."""
        keys = self._query(
            "file_key = :file",
            {":file": {"S": _file_key(owner, sha256)}},
            limit,
            index=self.file_index,
        )
        return [_position(key["created_key"]["S"]) for key in keys]

    def between(
        self,
        since: datetime,
        until: datetime,
        *,
        owner: str | None = None,
        limit: int = 100,
        after: Position | None = None,
    ) -> RangePage:
        """One owner's results created in ``[since, until)``, oldest first: the index gives the
        keys (``created_key`` BETWEEN the two times: "<since>" sorts before every key of that
        moment, "<until>" before every key of that one), then the documents are read by id."""
        if owner is None:
            raise ValueError("results in DynamoDB are listed per owner")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        start: dict[str, AttributeValueTypeDef] | None = None
        if after is not None:
            after_key = f"{_time_key(after[0])}#{after[1]}"
            if after_key >= _time_key(until):
                return RangePage(items=[], last=None)
            if after_key >= _time_key(since):  # DynamoDB refuses a start outside the condition
                start = {"id": {"S": after[1]}, "owner": {"S": owner}, "created_key": {"S": after_key}}
        keys = list(self._range(owner, since, until, limit + 1, forward=True, start=start))
        documents = self._batch_get([key["id"]["S"] for key in keys[:limit]])
        items = [
            self._decode(documents[key["id"]["S"]])
            for key in keys[:limit]
            if key["id"]["S"] in documents and "deleted_at" not in documents[key["id"]["S"]]
        ]
        last = _position(keys[limit - 1]["created_key"]["S"]) if len(keys) > limit else None
        return RangePage(items=items, last=last)

    def reviewed(
        self, owner: str, since: datetime, until: datetime, limit: int
    ) -> tuple[builtins.list[Reviewed], bool]:
        """The newest ``limit`` of ``owner``'s results created in ``[since, until)`` as the accuracy
        report needs them (without labels), and whether the range held more. Only the small
        attributes are read (``model_version`` since it was stored beside the document; older
        records' documents are read for it)."""
        keys = list(self._range(owner, since, until, limit + 1, forward=False))
        ids = [key["id"]["S"] for key in keys[:limit]]
        items = self._batch_get(
            ids,
            projection="id, #s, verdict, model_version, created_key, deleted_at",
            names={"#s": "status"},
        )
        # Records stored before ``model_version`` was: the version is in the document only.
        older = [i for i in ids if i in items and not {"model_version", "deleted_at"} & items[i].keys()]
        versions: dict[str, str | None] = {}
        for result_id, full in self._batch_get(older).items():
            if "deleted_at" not in full:
                model = self._decode(full).model
                versions[result_id] = model.version if model else None
        rows = []
        for result_id in ids:
            item = items.get(result_id)
            if item is None or "deleted_at" in item:
                continue  # deleted between the two reads
            version = item["model_version"].get("S") if "model_version" in item else versions.get(result_id)
            verdict = item.get("verdict", {}).get("S")
            rows.append(
                Reviewed(
                    result_id=result_id,
                    created_at=_position(item["created_key"]["S"])[0],
                    status=Status(item["status"]["S"]),
                    verdict=Verdict(verdict) if verdict else None,
                    model_version=version,
                )
            )
        return rows, len(keys) > limit

    def _range(
        self,
        owner: str,
        since: datetime,
        until: datetime,
        limit: int,
        *,
        forward: bool,
        start: dict[str, AttributeValueTypeDef] | None = None,
    ) -> Iterator[dict[str, AttributeValueTypeDef]]:
        return self._query(
            "#o = :owner AND created_key BETWEEN :since AND :until",
            {
                ":owner": {"S": owner},
                ":since": {"S": _time_key(since)},
                ":until": {"S": _time_key(until)},
            },
            limit,
            names={"#o": "owner"},
            forward=forward,
            start=start,
        )

    def delete(self, result_id: str) -> None:
        """Replace the record by a tombstone (later puts of it fail) and remove an overflowed document.
        The tombstone keeps the record's owner (a record's owner never changes, so reading it
        first races nothing); deleting again keeps the first tombstone's."""
        key: dict[str, AttributeValueTypeDef] = {"id": {"S": result_id}}
        old = self.client.get_item(
            TableName=self.table,
            Key=key,
            ConsistentRead=True,
            ProjectionExpression="#o, deleted_owner",
            ExpressionAttributeNames={"#o": "owner"},
        ).get("Item", {})
        owner = old.get("owner") or old.get("deleted_owner")
        now = datetime.now(UTC)
        item: dict[str, AttributeValueTypeDef] = {
            "id": {"S": result_id},
            "deleted_at": {"S": now.isoformat(timespec="seconds")},
            "expires_at": {"N": str(int((now + TOMBSTONE_TTL).timestamp()))},
        }
        if owner is not None:
            item["deleted_owner"] = owner
        self.client.put_item(TableName=self.table, Item=item)
        if self.overflow is not None:
            self.overflow.delete(f"{self.overflow_prefix}{result_id}.json.z")

    def tombstone(self, result_id: str) -> Tombstone | None:
        """The deleted record's tombstone (owner, time) while its TTL keeps it; None otherwise."""
        item = self.client.get_item(
            TableName=self.table,
            Key={"id": {"S": result_id}},
            ConsistentRead=True,
            ProjectionExpression="deleted_at, deleted_owner",
        ).get("Item")
        if not item or "deleted_at" not in item:
            return None
        owner = item["deleted_owner"].get("S") if "deleted_owner" in item else None
        return Tombstone(owner=owner, deleted_at=datetime.fromisoformat(item["deleted_at"]["S"]))

    def pending(self) -> Iterator[DetectionResult]:
        # Only the local processor resumes pending work; in the cloud SQS redelivers instead.
        # A filtered scan reads the whole table, acceptable for this rare maintenance call.
        args: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "#s IN (:q, :p) AND attribute_not_exists(deleted_at)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":q": {"S": Status.QUEUED.value},
                ":p": {"S": Status.PROCESSING.value},
            },
        }
        for page in self.client.get_paginator("scan").paginate(**args):
            for item in page.get("Items", []):
                yield self._decode(item)

    def _batch_get(
        self, ids: Sequence[str], projection: str | None = None, names: dict[str, str] | None = None
    ) -> dict[str, dict[str, AttributeValueTypeDef]]:
        """The items with these ids (consistent reads; only the ``projection`` attributes when
        given), by id; missing ones are absent."""
        found: dict[str, dict[str, AttributeValueTypeDef]] = {}
        for start in range(0, len(ids), _BATCH_GET):
            request: KeysAndAttributesTypeDef = {
                "Keys": [{"id": {"S": i}} for i in ids[start : start + _BATCH_GET]],
                "ConsistentRead": True,
            }
            if projection:
                request["ProjectionExpression"] = projection
            if names:
                request["ExpressionAttributeNames"] = names
            for attempt in range(10):
                response = self.client.batch_get_item(RequestItems={self.table: request})
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item["id"]["S"]] = item  # type: ignore[index]
                unprocessed = response.get("UnprocessedKeys", {}).get(self.table)
                if not unprocessed or not unprocessed.get("Keys"):
                    break
                request = cast("KeysAndAttributesTypeDef", unprocessed)
                time.sleep(min(0.05 * 2**attempt, 1.0))  # throttled: back off, then the rest
            else:
                raise RuntimeError(f"DynamoDB kept refusing to read {len(request['Keys'])} results")
        return found

    def _query(
        self,
        condition: str,
        values: dict[str, AttributeValueTypeDef],
        limit: int | None,
        names: dict[str, str] | None = None,
        *,
        forward: bool = False,
        start: dict[str, AttributeValueTypeDef] | None = None,
        index: str | None = None,
        skip: str | None = None,
        page: int | None = None,
    ) -> Iterator[dict[str, AttributeValueTypeDef]]:
        """Items of the index (``by_owner`` unless named), newest first (oldest with ``forward``),
        from after ``start`` (an exclusive start key), following DynamoDB's 1 MB pages until
        ``limit`` (None: to the end, ``page`` at a time); an item whose ``created_key`` is
        ``skip`` is passed over (a page token's own key, which BETWEEN includes)."""
        args: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index or self.index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
        }
        if names:
            args["ExpressionAttributeNames"] = names
        if start:
            args["ExclusiveStartKey"] = start
        returned = 0
        while True:
            if limit is not None:
                args["Limit"] = limit - returned
            elif page is not None:
                args["Limit"] = page
            response = self.client.query(**args)
            for item in response.get("Items", []):
                if skip is not None and item["created_key"]["S"] == skip:
                    continue
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


def _file_key(owner: str, sha256: str) -> str:
    """The ``by_file`` index's partition: one owner's records of one file (the hash is fixed-width
    hex, so no owner can make another's key)."""
    return f"{owner}#{sha256.lower()}"


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
