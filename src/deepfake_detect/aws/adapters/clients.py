"""boto3 clients built from the settings, so the local stack can point them at moto and DynamoDB Local."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config

from deepfake_detect.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

# Standard retry mode backs off on throttling; the pool covers a few threads per container.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    max_pool_connections=16,
    connect_timeout=5,
    read_timeout=60,
)


def s3_client(settings: Settings) -> S3Client:
    # A loopback endpoint has no DNS name per bucket, so it needs path-style addressing; in AWS
    # the default (virtual-hosted) style is the one that keeps working.
    style: Literal["path", "auto"] = "path" if settings.aws.endpoint_url else "auto"
    config = _CONFIG.merge(Config(s3={"addressing_style": style}, signature_version="s3v4"))
    return boto3.client(
        "s3", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url, config=config
    )


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    return boto3.client(
        "dynamodb",
        region_name=settings.aws.region,
        endpoint_url=settings.aws.dynamodb_endpoint_url,
        config=_CONFIG,
    )


def sqs_client(settings: Settings) -> SQSClient:
    return boto3.client(
        "sqs", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url, config=_CONFIG
    )


def ssm_client(settings: Settings) -> SSMClient:
    return boto3.client(
        "ssm", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url, config=_CONFIG
    )


def events_client(settings: Settings) -> EventBridgeClient:
    return boto3.client(
        "events", region_name=settings.aws.region, endpoint_url=settings.aws.endpoint_url, config=_CONFIG
    )
