"""C2PA trust anchors a deployment sets in template.yaml (``C2paTrustAnchorsUri``): read from S3 at
the detect function's cold start into the provenance config; no network (a fake S3 client)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from deepfake_detect.aws.adapters.trust import parse_s3_uri, with_c2pa_trust_anchors
from deepfake_detect.settings import AwsSettings, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class FakeS3:
    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}


def _s3(objects: dict[tuple[str, str], bytes]) -> S3Client:
    return cast("S3Client", FakeS3(objects))


def test_trust_anchors_are_read_from_s3_into_the_provenance_config(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, aws=AwsSettings(c2pa_trust_anchors_uri="s3://trust/c2pa/roots.pem")
    )
    loaded = with_c2pa_trust_anchors(settings, _s3({("trust", "c2pa/roots.pem"): PEM.encode()}), tmp_path)
    assert loaded.provenance.c2pa_trust_anchors_file == tmp_path / "c2pa-trust-anchors.pem"
    assert loaded.pipeline().provenance.c2pa_trust_anchors_pem == PEM
    # Without a URI nothing is read and nothing is trusted, as before.
    plain = Settings(data_dir=tmp_path)
    assert with_c2pa_trust_anchors(plain, _s3({})) is plain
    assert plain.pipeline().provenance.c2pa_trust_anchors_pem is None


def test_trust_anchors_add_to_a_file_already_set(tmp_path: Path) -> None:
    local = tmp_path / "local.pem"
    local.write_text(PEM.replace("MIIB", "MIIA"))
    settings = Settings(
        data_dir=tmp_path, aws=AwsSettings(c2pa_trust_anchors_uri="s3://trust/roots.pem")
    ).updated({"provenance.c2pa_trust_anchors_file": local})
    out = tmp_path / "out"
    out.mkdir()
    loaded = with_c2pa_trust_anchors(settings, _s3({("trust", "roots.pem"): PEM.encode()}), out)
    pem = loaded.pipeline().provenance.c2pa_trust_anchors_pem or ""
    assert "MIIA" in pem and "MIIB" in pem


@pytest.mark.parametrize("body", [b"not a certificate", b"\xff\xfe PEM?"])
def test_an_object_that_is_no_pem_stops_the_cold_start(tmp_path: Path, body: bytes) -> None:
    settings = Settings(data_dir=tmp_path, aws=AwsSettings(c2pa_trust_anchors_uri="s3://trust/roots.pem"))
    with pytest.raises(ValueError, match="PEM"):
        with_c2pa_trust_anchors(settings, _s3({("trust", "roots.pem"): body}), tmp_path)


@pytest.mark.parametrize("uri", ["https://trust/roots.pem", "s3://trust", "s3://trust/", "s3:///roots.pem"])
def test_only_s3_uris_of_an_object_are_accepted(uri: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket/key"):
        parse_s3_uri(uri)
    assert parse_s3_uri("s3://trust/c2pa/roots.pem") == ("trust", "c2pa/roots.pem")
