"""The step around the pipeline that both workers share: the pictures stored with a result, then the
finished result itself.

The pictures (keys in ``store.keys``, all deleted with the result): the evidence image (the image,
or a video's most suspicious frame, that the boxes refer to, as a JPEG downscaled for the page), a
video's frame thumbnails and each face track's aligned crop (bounded as ``core.pictures`` says).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from deepfake_detect.core.media.pixels import downscale
from deepfake_detect.core.pictures import CROP_QUALITY, encode_jpeg
from deepfake_detect.core.pipeline import EVIDENCE_MAX_SIDE, Analysis
from deepfake_detect.core.result import DetectionResult, Evidence
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.keys import evidence_key, face_key, frame_key
from deepfake_detect.store.records import adopt

__all__ = ["EVIDENCE_MAX_SIDE", "EvidenceSink", "encode_evidence", "evidence_key", "finish"]


class EvidenceSink(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...


def encode_evidence(analysis: Analysis) -> tuple[bytes, float] | None:
    """The evidence frame as JPEG, downscaled for the page, and its scale to the original pixels
    (the pipeline may hand out an evidence image already downscaled: ``analysis.evidence_scale``)."""
    if analysis.evidence is None:
        return None
    image, scale = downscale(analysis.evidence, EVIDENCE_MAX_SIDE)
    data = encode_jpeg(image, 88)
    return None if data is None else (data, scale * analysis.evidence_scale)


# Writes of one result's pictures at once (a video has dozens; each is one S3 request in the cloud).
PUT_THREADS = 8


def finish(
    record: DetectionResult, analysis: Analysis, media: EvidenceSink, results: ResultStore
) -> DetectionResult:
    """Store the analysis as the result of ``record``: its id, creation time, source and owner
    carried over, its pictures stored beside the upload, progress cleared. Raises
    ``ResultDeletedError`` (after the pictures were written) when the record was deleted
    meanwhile: the caller removes what this scan wrote."""
    result = adopt(record, analysis.result)
    result.progress = None
    pictures: list[tuple[str, bytes]] = []
    encoded = encode_evidence(analysis)
    if encoded is not None:
        data, scale = encoded
        key = evidence_key(result.id)
        pictures.append((key, data))
        result.evidence = Evidence(key=key, scale=round(scale, 6))
    for frame in result.frames:
        thumbnail = analysis.thumbnails.get(frame.frame_index)
        if thumbnail is not None:
            key = frame_key(result.id, frame.frame_index)
            pictures.append((key, thumbnail.jpeg))
            frame.thumbnail = Evidence(key=key, scale=round(thumbnail.scale, 6))
    for track in result.tracks:
        crop = analysis.crops.get(track.track)
        jpeg = None if crop is None else encode_jpeg(crop, CROP_QUALITY)
        if jpeg is not None:
            pictures.append((face_key(result.id, track.track), jpeg))
            track.crop = True
    _put_all(media, pictures)
    results.put(result)
    return result


def _put_all(media: EvidenceSink, pictures: list[tuple[str, bytes]]) -> None:
    if len(pictures) <= 1:
        for key, data in pictures:
            media.put(key, data, "image/jpeg")
        return
    with ThreadPoolExecutor(min(PUT_THREADS, len(pictures))) as pool:
        # list(): the first failed write raises here, before the record says the pictures exist.
        list(pool.map(lambda picture: media.put(picture[0], picture[1], "image/jpeg"), pictures))
