"""Backfill: scan objects already in the upload bucket (uploaded before the notification existed,
or while the detect function was broken) by putting on the detect queue the very message S3
would have sent for each (``aws/adapters/s3_events.py`` parses it; the detect handler cannot tell).

Nothing is scanned twice:
- an object whose result is already ``done`` or ``failed`` for this revision is skipped (its
  result id is ``result_id_for`` the object, as the detect handler computes it);
- every message carries the object's version id (else its ETag), the revision the detect
  handler's idempotency keys on (bucket + key + revision), as S3's own notification does: a
  backfilled object whose S3 notification is still in the queue is scanned once.

Resumable: after each batch the last key sent is written to a state file; a run that stops
(interrupted, ``--limit`` reached) resumes after it (S3 lists keys in order), and a finished
run's state starts the next run from the beginning (everything done is skipped). Objects are
listed with ``ListObjectVersions`` (the current version of each key; a deleted key is skipped).

Needs s3:ListBucketVersions on the bucket, sqs:SendMessage on the queue, dynamodb:GetItem on the
results table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from deepfake_detect.aws.adapters.s3_events import ObjectRef, result_id_for
from deepfake_detect.core.result import Status
from deepfake_detect.settings import Settings
from deepfake_detect.store.base import ResultStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

BATCH = 10  # SendMessageBatch's limit
CONFIGURATION_ID = "deepfake-detect-backfill"  # the s3.configurationId of a backfilled message


class BackfillError(RuntimeError):
    """The backfill cannot go on (a queue that keeps refusing messages, a bad prefix)."""


class Checkpoint(BaseModel):
    """The state file: what this backfill is, and how far it got."""

    bucket: str
    prefix: str
    since: datetime | None = None
    until: datetime | None = None
    last_key: str | None = None
    complete: bool = False
    listed: int = 0
    enqueued: int = 0
    skipped_finished: int = 0
    skipped_outside_window: int = 0
    updated_at: datetime | None = None

    def same_job(self, other: Checkpoint) -> bool:
        return (self.bucket, self.prefix, self.since, self.until) == (
            other.bucket,
            other.prefix,
            other.since,
            other.until,
        )


@dataclass
class BackfillReport:
    """Counts of this run (a resumed run counts from where it resumed)."""

    listed: int = 0
    enqueued: int = 0
    skipped_finished: int = 0
    skipped_outside_window: int = 0
    resumed_after: str | None = None
    last_key: str | None = None
    complete: bool = False
    keys: list[str] = field(default_factory=list)  # what was (or, dry run, would be) enqueued


def s3_notification(
    bucket: str, key: str, *, region: str, size: int, etag: str, version_id: str | None, event_time: str
) -> str:
    """The body S3 sends to the queue for a created object (notification structure 2.1)."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag.strip('"')}
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = ""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": CONFIGURATION_ID},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": ""}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"))


def default_state_path(
    settings: Settings, bucket: str, prefix: str, since: datetime | None, until: datetime | None
) -> Path:
    """``<data_dir>/backfill/<bucket>-<digest of prefix and window>.json``."""
    digest = hashlib.sha256(f"{prefix}|{since}|{until}".encode()).hexdigest()[:12]
    return settings.data_dir / "backfill" / f"{bucket}-{digest}.json"


def _aware(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC (S3's LastModified is aware)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Backfill:
    def __init__(
        self,
        settings: Settings,
        s3: S3Client,
        sqs: SQSClient,
        results: ResultStore | None,
        *,
        bucket: str,
        prefix: str,
        queue_url: str,
        state_path: Path,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        restart: bool = False,
        dry_run: bool = False,
        progress: Callable[[BackfillReport], None] | None = None,
    ) -> None:
        upload_prefix = settings.aws.upload_prefix
        if not prefix.startswith(upload_prefix):
            raise BackfillError(
                f"the prefix {prefix!r} is outside the scanned uploads ({upload_prefix!r}): evidence and "
                "large results live elsewhere in the bucket and are never scanned"
            )
        self.settings = settings
        self.s3, self.sqs, self.results = s3, sqs, results
        self.bucket, self.prefix, self.queue_url = bucket, prefix, queue_url
        self.state_path = state_path
        self.since, self.until = _aware(since), _aware(until)
        self.limit, self.restart, self.dry_run = limit, restart, dry_run
        self.progress = progress
        self.report = BackfillReport()

    # ---------------------------------------------------------------- state
    def _load(self) -> Checkpoint:
        fresh = Checkpoint(bucket=self.bucket, prefix=self.prefix, since=self.since, until=self.until)
        if self.restart or not self.state_path.is_file():
            return fresh
        saved = Checkpoint.model_validate_json(self.state_path.read_text())
        if not saved.same_job(fresh) or saved.complete:
            return fresh  # another job's state, or a finished run: start from the beginning
        return saved

    def _save(self, state: Checkpoint) -> None:
        if self.dry_run:
            return
        state.updated_at = datetime.now(UTC)
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_suffix(".tmp")
        partial.write_text(state.model_dump_json(indent=2))
        partial.replace(self.state_path)  # never a half-written state file

    # ---------------------------------------------------------------- the run
    def run(self) -> BackfillReport:
        """List, skip, enqueue and checkpoint; an AWS error stops the run (resumable) as a
        ``BackfillError``."""
        try:
            return self._run()
        except (BotoCoreError, ClientError) as exc:
            where = f" after {self.report.last_key!r}" if self.report.last_key else ""
            raise BackfillError(f"AWS refused the backfill{where}: {exc}") from exc

    def _run(self) -> BackfillReport:
        state = self._load()
        report = self.report
        report.resumed_after = state.last_key
        batch: list[tuple[str, str]] = []  # (key, message body)

        def flush() -> None:
            if batch:
                self._send(batch)
                state.enqueued += len(batch)
                report.enqueued += len(batch)
                batch.clear()
            state.last_key = report.last_key
            self._save(state)

        paginator = self.s3.get_paginator("list_object_versions")
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        if state.last_key:
            params["KeyMarker"] = state.last_key  # S3 lists after this key: resume
        stopped = False
        for page in paginator.paginate(**params):
            for version in page.get("Versions", []):
                if not version.get("IsLatest"):
                    continue  # an older revision: only what the key holds now is scanned
                key = version["Key"]
                report.listed += 1
                state.listed += 1
                report.last_key = key
                message = self._message(version)
                if message == "window":
                    report.skipped_outside_window += 1
                    state.skipped_outside_window += 1
                elif message == "finished":
                    report.skipped_finished += 1
                    state.skipped_finished += 1
                else:
                    report.keys.append(key)
                    batch.append((key, message))
                    if len(batch) == BATCH:
                        flush()
                if self.progress is not None:
                    self.progress(report)
                if self.limit is not None and report.enqueued + len(batch) >= self.limit:
                    stopped = True
                    break
            flush()  # a checkpoint per listed page, whatever was skipped on it
            if stopped:
                break
        state.complete = report.complete = not stopped
        self._save(state)
        return report

    def _message(self, version: Any) -> str:
        """The notification body for this object, or why it is skipped (``window``, ``finished``)."""
        modified: datetime = version["LastModified"]
        if (self.since and modified < self.since) or (self.until and modified >= self.until):
            return "window"
        raw_version = version.get("VersionId")
        version_id = raw_version if raw_version and raw_version != "null" else None
        etag = str(version.get("ETag", "")).strip('"')
        if self._finished(version["Key"], version_id, etag):
            return "finished"
        return s3_notification(
            self.bucket,
            version["Key"],
            region=self.settings.aws.region,
            size=int(version.get("Size", 0)),
            etag=etag,
            version_id=version_id,
            event_time=_iso(modified),
        )

    def _finished(self, key: str, version_id: str | None, etag: str) -> bool:
        """Whether this revision already has a done or failed result. Both ids are looked up:
        the notification names the version on a versioned bucket (S3) or only the ETag (an
        object from before versioning; emulators)."""
        if self.results is None:
            return False
        upload_prefix = self.settings.aws.upload_prefix
        ids = {
            result_id_for(ObjectRef(self.bucket, key, version_id=version_id, etag=etag), upload_prefix),
            result_id_for(ObjectRef(self.bucket, key, etag=etag), upload_prefix),
        }
        for result_id in ids:
            record = self.results.get(result_id)
            if record is None or record.status not in (Status.DONE, Status.FAILED):
                continue
            source = record.source
            if source.get("key", key) != key:
                continue
            same_version = bool(version_id) and source.get("version_id") == version_id
            same_etag = bool(etag) and source.get("etag", "").strip('"') == etag
            unknown = not source.get("version_id") and not source.get("etag")
            if same_version or same_etag or unknown:
                return True
        return False

    def _send(self, batch: list[tuple[str, str]]) -> None:
        if self.dry_run:
            return
        entries = [{"Id": str(i), "MessageBody": body} for i, (_key, body) in enumerate(batch)]
        for attempt in range(1, 6):
            response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            failed = {f["Id"] for f in response.get("Failed", [])}
            if not failed:
                return
            entries = [e for e in entries if e["Id"] in failed]
            log.warning("%d messages were refused (attempt %d); retrying", len(entries), attempt)
            time.sleep(0.5 * 2**attempt)
        raise BackfillError(f"the queue refused {len(entries)} messages after 5 attempts")


def backfill_from_settings(
    settings: Settings,
    *,
    bucket: str | None = None,
    prefix: str | None = None,
    queue_url: str | None = None,
    state_path: Path | None = None,
    **options: Any,
) -> Backfill:
    """A ``Backfill`` on the deployment the settings name (``DEEPFAKE_AWS_*``)."""
    from deepfake_detect.aws.adapters.clients import dynamodb_client, s3_client, sqs_client
    from deepfake_detect.aws.adapters.stores import DynamoDBResultStore

    bucket = bucket or settings.aws.upload_bucket
    prefix = settings.aws.upload_prefix if prefix is None else prefix
    queue_url = queue_url or settings.aws.detect_queue_url
    if not bucket:
        raise BackfillError("no bucket: pass --bucket or set DEEPFAKE_AWS_UPLOAD_BUCKET")
    if not queue_url:
        raise BackfillError("no queue: pass --queue-url or set DEEPFAKE_AWS_DETECT_QUEUE_URL")
    results = (
        DynamoDBResultStore(dynamodb_client(settings), settings.aws.results_table)
        if settings.aws.results_table
        else None
    )
    if results is None:
        log.warning("no results table (DEEPFAKE_AWS_RESULTS_TABLE): finished objects are not skipped")
    since, until = _aware(options.get("since")), _aware(options.get("until"))
    return Backfill(
        settings,
        s3_client(settings),
        sqs_client(settings),
        results,
        bucket=bucket,
        prefix=prefix,
        queue_url=queue_url,
        state_path=state_path or default_state_path(settings, bucket, prefix, since, until),
        **options,
    )
