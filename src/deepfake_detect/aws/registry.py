"""The AWS registry: models under immutable ``models/<version>/`` keys in the models bucket, one
DynamoDB item per model (job, data, metrics, decision), and the SSM parameter as the pointer the
detect functions and the API read."""

from __future__ import annotations

import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from deepfake_detect.core.model_card import ModelCard, file_sha256
from deepfake_detect.registry.base import ModelPointer, ModelRecord, RegistryError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient

    from deepfake_detect.settings import Settings

_MISSING = {"404", "NoSuchKey", "NotFound"}


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
    ) -> None:
        self.s3, self.dynamodb, self.ssm = s3, dynamodb, ssm
        self.bucket, self.table, self.parameter = bucket, table, parameter

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsModelRegistry:
        from deepfake_detect.aws.clients import dynamodb_client, s3_client, ssm_client

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

    def set_current(self, pointer: ModelPointer) -> None:
        if not self._exists(pointer.onnx_key) or not self._exists(pointer.card_key):
            raise RegistryError(f"version {pointer.version} is not published in s3://{self.bucket}/")
        # SSM keeps every value in the parameter's history: the audit trail of promotions and rollbacks.
        self.ssm.put_parameter(
            Name=self.parameter, Value=pointer.model_dump_json(), Type="String", Overwrite=True
        )

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

    def put_record(self, record: ModelRecord) -> None:
        self.dynamodb.put_item(
            TableName=self._table(),
            Item={
                "version": {"S": record.version},
                "status": {"S": record.status.value},
                "created_at": {"S": record.created_at.isoformat()},
                "job_name": {"S": record.job_name or "-"},
                "document": {"S": record.model_dump_json()},
            },
        )

    def get_record(self, version: str) -> ModelRecord | None:
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
            ]
        return sorted(found, key=lambda r: r.created_at, reverse=True)


class CurrentModelCard:
    """The current model's card for the cloud API's ``GET /v1/model``: the registry's pointer and
    the card it names, re-read at most every ``ttl_s`` seconds."""

    def __init__(self, registry: AwsModelRegistry, ttl_s: float = 300.0) -> None:
        self.registry, self.ttl_s = registry, ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, ModelCard] | None = None

    def __call__(self) -> ModelCard:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.ttl_s:
                pointer = self.registry.current()
                if pointer is None:
                    raise RegistryError(f"the SSM parameter {self.registry.parameter} names no model")
                self._cached = (now, self.registry.card(pointer))
            return self._cached[1]
