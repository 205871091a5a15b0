"""C2PA trust anchors from S3 (template.yaml's ``C2paTrustAnchorsUri``).

A trust list of a few root certificates is tens of KB of PEM, more than a Lambda function's whole
environment (4 KB) or an SSM parameter (4 KB; 8 KB advanced) holds, so the deployment names an S3
object and the detect function reads it once per cold start into a file under /tmp, which the
provenance settings then read like a local ``DEEPFAKE_PROVENANCE_C2PA_TRUST_ANCHORS_FILE``. Like
a missing local file, an object that cannot be read or holds no certificate stops the cold start:
a deployment that asked for anchors never scans with none.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deepfake_detect.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ANCHORS_FILE = "c2pa-trust-anchors.pem"
_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
# A trust list is kilobytes; anything near this is not one.
MAX_ANCHORS_BYTES = 4 * 1024 * 1024


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ``ValueError`` for anything else."""
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return parts.netloc, key


def with_c2pa_trust_anchors(settings: Settings, client: S3Client, directory: Path | None = None) -> Settings:
    """``settings`` with the PEM bundle at ``aws.c2pa_trust_anchors_uri`` as the provenance trust
    anchors file (added to a file already set); unchanged without a URI."""
    uri = settings.aws.c2pa_trust_anchors_uri
    if not uri:
        return settings
    bucket, key = parse_s3_uri(uri)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_ANCHORS_BYTES + 1)
    if len(body) > MAX_ANCHORS_BYTES:
        raise ValueError(f"{uri} is over {MAX_ANCHORS_BYTES} bytes: not a PEM bundle of trust anchors")
    try:
        pem = body.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{uri} is not a PEM file (not ASCII text)") from None
    if _PEM_CERTIFICATE not in pem:
        raise ValueError(f"{uri} holds no PEM certificate ({_PEM_CERTIFICATE})")
    existing = settings.provenance.c2pa_trust_anchors_file
    if existing is not None:
        pem = f"{existing.read_text().rstrip()}\n{pem}"
    path = (directory or Path(tempfile.gettempdir())) / ANCHORS_FILE
    path.write_text(pem)
    return settings.updated({"provenance.c2pa_trust_anchors_file": path})
