"""The AWS registry: models under immutable ``models/<version>/`` keys in the models bucket, one
DynamoDB item per model (job, data, metrics, decision), and the SSM parameter as the pointer the
detect functions and the API read.

The pointer scheme. SSM ``PutParameter`` has no compare-and-swap, so the authoritative pointer is
one item in the models table (``version = "#pointer"``: ``current``, the pointer's JSON, a serial
number), moved only by a conditional write on the version it replaces; the SSM parameter is its
served copy, written right after. Readers (the detect functions, the API) read SSM only and need
no table. A crash between the two writes leaves SSM one step behind; ``repair`` (run first by
every retrain event, by ``rollback`` and by every conditional update) copies the item to SSM again.
Two writers that race each re-read the item after their SSM write and copy it again until both
agree, so the last write to SSM is the item's value. Before the item exists (a stack deployed
before this scheme, or a registry seeded by hand) the SSM value is taken as the current pointer and
the first conditional write creates the item (``attribute_not_exists``).

The parameter is not a CloudFormation resource: a redeploy never moves it back. The stack's
``SeedModelPointer`` custom resource (and every retrain event) seeds it once, only if absent, with
the shipped model's version and sha256 (``promote.adopt_baseline``); until then readers serve the
model baked into their image, and ``CurrentModelCard`` falls back to the card beside it.

Gate reports are written next to the candidate: beside the job's ``model.tar.gz`` under
``training-jobs/<job>/output/``.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.registry.base import (
    ModelPointer,
    ModelRecord,
    PointerConflictError,
    RegistryError,
    utc_now,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient

    from deepfake_detect.settings import Settings

_MISSING = {"404", "NoSuchKey", "NotFound"}
POINTER_ITEM = "#pointer"  # the authoritative pointer's key in the models table (versions never start with #)
REPORT_FILE = "gate-report.json"
_MIRROR_ATTEMPTS = 5


class AwsModelRegistry:
    def __init__(
        self,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        ssm: SSMClient,
        *,
        bucket: str,
        table: str,
        parameter: str,
        shipped_card: Path | None = None,
    ) -> None:
        self.s3, self.dynamodb, self.ssm = s3, dynamodb, ssm
        self.bucket, self.table, self.parameter = bucket, table, parameter
        self.shipped_card = shipped_card  # the card baked into this image: what runs while no pointer exists

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsModelRegistry:
        from deepfake_detect.aws.adapters.clients import dynamodb_client, s3_client, ssm_client

        # The table is only needed by writers (the retrain trigger, the CLI); readers such as the
        # detect function's live swap only read the parameter and the bucket.
        missing = [name for name in ("models_bucket", "model_parameter") if not getattr(settings.aws, name)]
        if missing:
            raise RegistryError(
                f"the AWS registry needs the settings {missing} "
                f"(DEEPFAKE_AWS_{missing[0].upper()}: see the stack's outputs)"
            )
        return cls(
            s3_client(settings),
            dynamodb_client(settings),
            ssm_client(settings),
            bucket=settings.aws.models_bucket,
            table=settings.aws.models_table,
            parameter=settings.aws.model_parameter,
            shipped_card=settings.model_card_path,
        )

    # ---------------------------------------------------------------- pointer
    def current(self) -> ModelPointer | None:
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        try:
            return ModelPointer.model_validate_json(value)
        except ValidationError as exc:
            raise RegistryError(f"the SSM parameter {self.parameter} is not a model pointer: {exc}") from exc

    def _authoritative(self) -> tuple[ModelPointer | None, int | None]:
        """The table's pointer and its serial; (the SSM value, None) while the item does not exist."""
        item = self.dynamodb.get_item(
            TableName=self._table(), Key={"version": {"S": POINTER_ITEM}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return self.current(), None
        pointer = ModelPointer.model_validate_json(item["document"]["S"])  # type: ignore[index]
        return pointer, int(item["serial"]["N"])  # type: ignore[index]

    def set_current(self, pointer: ModelPointer, *, expected: str | None) -> None:
        if not self._exists(pointer.onnx_key) or not self._exists(pointer.card_key):
            raise RegistryError(f"version {pointer.version} is not published in s3://{self.bucket}/")
        found, serial = self._authoritative()
        actual = found.version if found else None
        if actual != expected:
            raise PointerConflictError(expected, actual)
        try:
            self._put_pointer(pointer, replaced=actual, serial=serial)
        except self.dynamodb.exceptions.ConditionalCheckFailedException as exc:
            now, _ = self._authoritative()
            raise PointerConflictError(expected, now.version if now else None) from exc
        self.repair()

    def _put_pointer(self, pointer: ModelPointer, *, replaced: str | None, serial: int | None) -> None:
        """The conditional write: create the item, or replace it if it still names ``replaced`` at
        ``serial`` (the serial also refuses an A -> B -> A change made in between)."""
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(version)"}
            if serial is None
            else {
                "ConditionExpression": "#current = :replaced AND #serial = :serial",
                "ExpressionAttributeNames": {"#current": "current", "#serial": "serial"},
                "ExpressionAttributeValues": {
                    ":replaced": {"S": replaced or ""},
                    ":serial": {"N": str(serial)},
                },
            }
        )
        self.dynamodb.put_item(
            TableName=self._table(),
            Item={
                "version": {"S": POINTER_ITEM},
                "current": {"S": pointer.version},
                "document": {"S": pointer.model_dump_json()},
                "serial": {"N": str((serial or 0) + 1)},
                "replaced": {"S": replaced or "-"},
                "updated_at": {"S": utc_now().isoformat()},
            },
            **condition,
        )

    def repair(self) -> ModelPointer | None:
        """Make the SSM parameter agree with the table's pointer (a crash between the two writes, a
        racing writer's late copy, a parameter deleted by hand or by a stack update); returns the
        authoritative pointer. A pointer that exists only in SSM is adopted into the table."""
        if not self.table:
            return self.current()
        for _ in range(_MIRROR_ATTEMPTS):
            found, serial = self._authoritative()
            if found is None:
                return None
            if serial is None:  # SSM only (a stack from before the table held the pointer): adopt it
                # If another writer created the item meanwhile, the next round reads it.
                with suppress(self.dynamodb.exceptions.ConditionalCheckFailedException):
                    self._put_pointer(found, replaced=None, serial=None)
                continue
            served = self.current()
            if served is not None and served.model_dump() == found.model_dump():
                return found
            # SSM keeps every value in the parameter's history: the audit trail of promotions and rollbacks.
            self.ssm.put_parameter(
                Name=self.parameter, Value=found.model_dump_json(), Type="String", Overwrite=True
            )
        raise RegistryError(f"the SSM parameter {self.parameter} keeps changing; try again")

    # ---------------------------------------------------------------- files
    def _exists(self, key: str) -> bool:
        return self._head(key) is not None

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = dict(self.s3.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                return None
            raise
        return head

    def publish(self, version: str, onnx_path: Path, card_path: Path) -> ModelPointer:
        pointer = ModelPointer.for_version(version, file_sha256(onnx_path))
        existing = self._head(pointer.onnx_key)
        if existing is not None:
            if existing.get("Metadata", {}).get("sha256") != pointer.sha256:
                raise RegistryError(f"version {version} is already published with a different model")
            return pointer  # a retried promotion of the same file
        metadata = {"sha256": pointer.sha256, "version": version}
        # The card goes first: the .onnx key is what marks a version as published.
        self.s3.upload_file(
            str(card_path),
            self.bucket,
            pointer.card_key,
            ExtraArgs={"ContentType": "application/json", "Metadata": metadata},
        )
        self.s3.upload_file(
            str(onnx_path),
            self.bucket,
            pointer.onnx_key,
            ExtraArgs={"ContentType": "application/octet-stream", "Metadata": metadata},
        )
        return pointer

    def fetch(self, pointer: ModelPointer, directory: Path) -> Path:
        target = directory / pointer.version / PurePosixPath(pointer.onnx_key).name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.download_file(self.bucket, pointer.onnx_key, str(target))
            # The Classifier reads the card beside the model under the same stem.
            self.s3.download_file(self.bucket, pointer.card_key, str(target.with_suffix(".json")))
        except ClientError as exc:
            raise RegistryError(
                f"cannot download version {pointer.version} from s3://{self.bucket}/: {exc}"
            ) from exc
        return target

    def card(self, pointer: ModelPointer) -> ModelCard:
        """The model card of a published version, read from the bucket."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=pointer.card_key)["Body"].read()
        except ClientError as exc:
            raise RegistryError(
                f"cannot read the model card s3://{self.bucket}/{pointer.card_key}: {exc}"
            ) from exc
        try:
            return ModelCard.model_validate_json(body)
        except ValidationError as exc:
            raise RegistryError(f"s3://{self.bucket}/{pointer.card_key} is not a model card") from exc

    # ---------------------------------------------------------------- records
    def _table(self) -> str:
        if not self.table:
            raise RegistryError("the models table is not configured (DEEPFAKE_AWS_MODELS_TABLE)")
        return self.table

    @staticmethod
    def _item(record: ModelRecord) -> dict[str, Any]:
        if record.version.startswith("#"):
            raise RegistryError(f"{record.version!r} is not a model version")
        return {
            "version": {"S": record.version},
            "status": {"S": record.status.value},
            "created_at": {"S": record.created_at.isoformat()},
            "job_name": {"S": record.job_name or "-"},
            "document": {"S": record.model_dump_json()},
        }

    def put_record(self, record: ModelRecord) -> None:
        self.dynamodb.put_item(TableName=self._table(), Item=self._item(record))

    def create_record(self, record: ModelRecord) -> bool:
        try:
            self.dynamodb.put_item(
                TableName=self._table(),
                Item=self._item(record),
                ConditionExpression="attribute_not_exists(version)",
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_record(self, version: str) -> ModelRecord | None:
        if version.startswith("#"):
            return None  # the pointer's item, not a model
        item = self.dynamodb.get_item(
            TableName=self._table(), Key={"version": {"S": version}}, ConsistentRead=True
        ).get("Item")
        return ModelRecord.model_validate_json(item["document"]["S"]) if item else None  # type: ignore[index]

    def records(self) -> list[ModelRecord]:
        # One item per training job (a few a month): a scan is cheaper than keeping an index.
        found: list[ModelRecord] = []
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table(), ConsistentRead=True):
            found += [
                ModelRecord.model_validate_json(item["document"]["S"])  # type: ignore[index]
                for item in page.get("Items", [])
                if not item["version"]["S"].startswith("#")  # type: ignore[index]  # the pointer item
            ]
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    # ---------------------------------------------------------------- gate reports
    def _report_key(self, record: ModelRecord) -> str:
        """Beside the job's model.tar.gz when it lies in this bucket, else under reports/<version>/."""
        prefix = f"s3://{self.bucket}/"
        if record.artifact.startswith(prefix) and "/" in record.artifact[len(prefix) :]:
            return f"{record.artifact[len(prefix) :].rsplit('/', 1)[0]}/{REPORT_FILE}"
        return f"reports/{record.version}/{REPORT_FILE}"

    def save_report(self, record: ModelRecord, report_json: str, summary: str) -> str:
        key = self._report_key(record)
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=report_json.encode(), ContentType="application/json"
        )
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key.removesuffix(".json") + ".txt",
            Body=summary.encode(),
            ContentType="text/plain; charset=utf-8",
        )
        return f"s3://{self.bucket}/{key}"

    def load_report(self, record: ModelRecord) -> str | None:
        prefix = f"s3://{self.bucket}/"
        key = record.report[len(prefix) :] if record.report.startswith(prefix) else self._report_key(record)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key.removesuffix(".json") + ".txt")["Body"]
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                return None
            raise
        return body.read().decode()


class CurrentModelCard:
    """The current model's card for the cloud API's ``GET /v1/model``: the registry's pointer and
    the card it names, re-read at most every ``ttl_s`` seconds. Before the pointer is seeded the
    functions serve the model baked into their image, so its card is the answer when it is at hand."""

    def __init__(self, registry: AwsModelRegistry, ttl_s: float = 300.0) -> None:
        self.registry, self.ttl_s = registry, ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, ModelCard] | None = None

    def __call__(self) -> ModelCard:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.ttl_s:
                pointer = self.registry.current()
                if pointer is not None:
                    self._cached = (now, self.registry.card(pointer))
                elif self.registry.shipped_card is not None and self.registry.shipped_card.is_file():
                    self._cached = (now, ModelCard.load(self.registry.shipped_card))
                else:
                    raise RegistryError(
                        f"the SSM parameter {self.registry.parameter} names no model yet "
                        "(the stack's SeedModelPointer step creates it on deploy)"
                    )
            return self._cached[1]
