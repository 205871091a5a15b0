"""The SSM parameter that names the current model, and the model card it points to.

The parameter holds JSON: ``{"version": "...", "onnx_key": "models/<v>/model.onnx",
"card_key": "models/<v>/model.json"}``, keys in the models bucket. Promoting a model means
writing new immutable keys, then this one parameter; readers cache it for a few minutes.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from deepfake_detect.core.model_card import ModelCard

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient


class ModelPointer(BaseModel):
    version: str
    onnx_key: str
    card_key: str


class ModelPointerError(RuntimeError):
    """The parameter or the card it names is missing or unreadable: a deployment problem."""


def read_pointer(ssm: SSMClient, parameter: str) -> ModelPointer:
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        return ModelPointer.model_validate_json(value)
    except ssm.exceptions.ParameterNotFound as exc:
        raise ModelPointerError(f"the SSM parameter {parameter!r} does not exist") from exc
    except ValidationError as exc:
        raise ModelPointerError(f"the SSM parameter {parameter!r} is not a model pointer: {exc}") from exc


class CurrentModelCard:
    """The current model's card, re-read from SSM + S3 at most every ``ttl_s`` seconds."""

    def __init__(
        self, ssm: SSMClient, s3: S3Client, parameter: str, bucket: str, ttl_s: float = 300.0
    ) -> None:
        self.ssm, self.s3 = ssm, s3
        self.parameter, self.bucket, self.ttl_s = parameter, bucket, ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, ModelCard] | None = None

    def __call__(self) -> ModelCard:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.ttl_s:
                self._cached = (now, self._load())
            return self._cached[1]

    def _load(self) -> ModelCard:
        pointer = read_pointer(self.ssm, self.parameter)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=pointer.card_key)["Body"].read()
        except self.s3.exceptions.NoSuchKey as exc:
            raise ModelPointerError(
                f"the model card s3://{self.bucket}/{pointer.card_key} does not exist"
            ) from exc
        try:
            return ModelCard.model_validate_json(body)
        except ValidationError as exc:
            raise ModelPointerError(f"s3://{self.bucket}/{pointer.card_key} is not a model card") from exc
