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


class EvidenceSink(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...


EVIDENCE_MAX_SIDE = 1280


def evidence_key(result_id: str) -> str:
    return f"evidence/{result_id}.jpg"


def encode_evidence(analysis: Analysis) -> tuple[bytes, float] | None:
    """The evidence frame as JPEG, downscaled for the page, and the scale applied to it."""
    if analysis.evidence is None:
        return None
    image = analysis.evidence
    scale = min(1.0, EVIDENCE_MAX_SIDE / max(image.shape[:2]))
    if scale < 1.0:
        image = np.asarray(
            cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return (buffer.tobytes(), scale) if ok else None


def finish(
    record: DetectionResult, analysis: Analysis, media: EvidenceSink, results: ResultStore
) -> DetectionResult:
    """Store the analysis as the result of ``record``: its id, creation time and source carried
    over, its evidence image stored beside the upload, progress cleared."""
    result = analysis.result
    result.id, result.created_at, result.source = record.id, record.created_at, dict(record.source)
    result.progress = None
    encoded = encode_evidence(analysis)
    if encoded is not None:
        data, scale = encoded
        key = evidence_key(result.id)
        media.put(key, data, "image/jpeg")
        result.evidence = Evidence(key=key, scale=round(scale, 6))
    results.put(result)
    return result
