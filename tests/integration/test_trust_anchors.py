"""The C2PA trust anchors of template.yaml's ``C2paTrustAnchorsUri``, read from the moto bucket as
the detect function does at cold start."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.aws.adapters.trust import with_c2pa_trust_anchors
from deepfake_detect.settings import Settings
from infra.local.stack import LocalAwsStack, StackResources

pytestmark = pytest.mark.integration


def test_trust_anchors_are_read_from_the_bucket_at_cold_start(
    aws_stack: LocalAwsStack, resources: StackResources, cloud_settings: Settings, tmp_path: Path
) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIBroot\n-----END CERTIFICATE-----\n"
    s3 = aws_stack.client("s3")
    s3.put_object(Bucket=resources.models_bucket, Key="trust/c2pa.pem", Body=pem.encode())
    settings = cloud_settings.updated(
        {"aws.c2pa_trust_anchors_uri": f"s3://{resources.models_bucket}/trust/c2pa.pem"}
    )
    loaded = with_c2pa_trust_anchors(settings, s3, tmp_path)
    assert loaded.pipeline().provenance.c2pa_trust_anchors_pem == pem
    missing = settings.updated({"aws.c2pa_trust_anchors_uri": f"s3://{resources.models_bucket}/none.pem"})
    with pytest.raises(s3.exceptions.NoSuchKey):  # a deployment that asked for anchors never scans without
        with_c2pa_trust_anchors(missing, s3, tmp_path)
