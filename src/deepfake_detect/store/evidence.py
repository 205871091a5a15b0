"""The evidence image stored with a result: the image (or a video's most suspicious frame) that
the result's boxes refer to, as a JPEG downscaled for the page, under one key in any media store."""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_detect.core.pipeline import Analysis

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
