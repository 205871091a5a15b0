"""The step around the pipeline that both workers share: the evidence image stored with a result
(the image, or a video's most suspicious frame, that the boxes refer to, as a JPEG downscaled for
the page, under one key in any media store), then the finished result itself."""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from deepfake_detect.core.pipeline import Analysis
from deepfake_detect.core.result import DetectionResult, Evidence
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.keys import evidence_key

__all__ = ["EVIDENCE_MAX_SIDE", "EvidenceSink", "encode_evidence", "evidence_key", "finish"]


class EvidenceSink(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...


EVIDENCE_MAX_SIDE = 1280


def encode_evidence(analysis: Analysis) -> tuple[bytes, float] | None:
    """The evidence frame as JPEG, downscaled for the page, and its scale to the original pixels
    (the pipeline may hand out an evidence image already downscaled: ``analysis.evidence_scale``)."""
    if analysis.evidence is None:
        return None
    image = analysis.evidence
    height, width = image.shape[:2]
    scale = min(1.0, EVIDENCE_MAX_SIDE / max(height, width))
    if scale < 1.0:  # never a side of 0 pixels (a 65000x1 image would otherwise fail to encode)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return (buffer.tobytes(), scale * analysis.evidence_scale) if ok else None


def finish(
    record: DetectionResult, analysis: Analysis, media: EvidenceSink, results: ResultStore
) -> DetectionResult:
    """Store the analysis as the result of ``record``: its id, creation time, source and owner
    carried over, its evidence image stored beside the upload, progress cleared. Raises
    ``ResultDeletedError`` (after the evidence image was written) when the record was deleted
    meanwhile: the caller removes what this scan wrote."""
    result = analysis.result
    result.id, result.created_at, result.source = record.id, record.created_at, dict(record.source)
    result.owner = record.owner
    result.progress = None
    encoded = encode_evidence(analysis)
    if encoded is not None:
        data, scale = encoded
        key = evidence_key(result.id)
        media.put(key, data, "image/jpeg")
        result.evidence = Evidence(key=key, scale=round(scale, 6))
    results.put(result)
    return result
