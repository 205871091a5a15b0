"""The result record: one per scanned file, the same shape in SQLite, DynamoDB, the CLI and the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.model_card import is_fake
from deepfake_detect.core.provenance.model import Provenance


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    """A file's, a track's or a face's verdict. From a score, by the model card's two thresholds:
    ``fake`` (likely manipulated) from t_fake, ``real`` (no sign of manipulation) below t_real,
    ``inconclusive`` between them; ``no_face`` and ``error`` when there is no score."""

    FAKE = "fake"
    INCONCLUSIVE = "inconclusive"
    REAL = "real"
    NO_FACE = "no_face"
    ERROR = "error"


def band(score: float, t_fake: float, t_real: float | None) -> Verdict:
    """The verdict band of a score: fake from ``t_fake`` (``is_fake``), real below ``t_real``,
    inconclusive between. A card without ``t_real`` has no inconclusive band."""
    if is_fake(score, t_fake):
        return Verdict.FAKE
    if t_real is None or score < min(t_real, t_fake):
        return Verdict.REAL
    return Verdict.INCONCLUSIVE


class Status(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class FaceResult(BaseModel):
    box: tuple[float, float, float, float] = Field(description="x, y, width, height in original pixels")
    landmarks: list[tuple[float, float]] = Field(
        description="right eye, left eye, nose tip, right and left mouth corners"
    )
    detector_score: float
    score: float = Field(description="calibrated probability that this face is fake")
    verdict: Verdict | None = Field(None, description="this face alone, by the two thresholds")
    kinds: dict[str, float] | None = Field(
        None,
        description="calibrated probability per kind of evidence (generated: an AI-generated face; "
        "swapped: a face swapped, reenacted or blended in), each with its own threshold in the model "
        "card; None for models without kind outputs and for older records",
    )
    track: int = Field(0, description="face track id; in an image every face is its own track")
    frame_index: int = 0
    timestamp_s: float = 0.0
    crop_to_image: list[list[float]] | None = Field(
        None, description="2x3 affine mapping aligned-crop pixels to image pixels (for heat maps)"
    )
    heatmap: list[list[float]] | None = Field(
        None, description="class-activation map over the aligned crop, values in [0, 1]"
    )


class Evidence(BaseModel):
    """A stored picture that boxes in original pixels are drawn on (the evidence image, a frame's
    thumbnail)."""

    key: str = Field(description="the JPEG's key in the media store")
    scale: float = Field(1.0, gt=0.0, description="its pixels per original pixel (it may be downscaled)")


class TrackResult(BaseModel):
    track: int
    score: float
    verdict: Verdict
    frames: int
    first_timestamp_s: float
    last_timestamp_s: float
    counted: bool = Field(
        True, description="whether the track is long enough to count toward the file's verdict"
    )
    face: int | None = Field(
        None,
        description="index in the result's faces of the track's most suspicious face (in a photo, the "
        "face itself); None in records older than it",
    )
    crop: bool = Field(
        False,
        description="whether that face's aligned crop (the classifier's input; its heatmap is over it) is "
        "stored: GET /v1/results/{id}/faces/{track}.jpg",
    )


class FrameScore(BaseModel):
    frame_index: int
    timestamp_s: float
    faces: int
    max_score: float | None = None
    scores: dict[str, float] = Field(default_factory=dict, description="track id -> face score")
    thumbnail: Evidence | None = Field(
        None,
        description="the frame as a small stored JPEG (GET /v1/results/{id}/frames/{frame_index}.jpg); "
        "None when the result's picture budget ran out, the scan stored no pictures, or the record is "
        "older than thumbnails",
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    sha256: str


class ErrorInfo(BaseModel):
    code: ErrorCode
    message: str


class DetectionResult(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    path: str
    media_kind: MediaKind = MediaKind.UNKNOWN
    status: Status = Status.DONE
    progress: float | None = Field(None, description="fraction of the work done while processing")
    verdict: Verdict | None = Field(
        None,
        description="the file's verdict: the classifier's, unless the file's own metadata declares AI "
        "generation (then fake, with verdict_reason)",
    )
    verdict_reason: str | None = Field(
        None,
        description="set only when the verdict is not the classifier's: why (the file's own metadata "
        "declares AI generation; the declaring claim is in provenance)",
    )
    classifier_verdict: Verdict | None = Field(
        None,
        description="the classifier's own verdict (fake, real or no_face); it differs from verdict only "
        "when verdict_reason is set. None for failed scans and for records older than provenance",
    )
    score: float | None = Field(
        None,
        description="the classifier's calibrated probability that the file is manipulated (provenance "
        "never changes it)",
    )
    threshold: float | None = Field(None, description="t_fake: from this score the verdict is fake")
    threshold_real: float | None = Field(
        None,
        description="t_real: below this score the verdict is real (no sign of manipulation); between "
        "threshold_real and threshold it is inconclusive. None in records older than the bands",
    )
    evidence_kind: str | None = Field(
        None,
        description="which kind of manipulation the deciding face's evidence points to: 'generated' "
        "(looks AI-generated) or 'swapped' (looks face-swapped or reenacted), the kind furthest above "
        "its own threshold; None when the verdict is not fake or the model has no kind outputs",
    )
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frames_sampled: int | None = None
    evidence_frame_index: int | None = Field(
        None, description="frame whose faces are shown as evidence (the most suspicious one)"
    )
    faces: list[FaceResult] = Field(default_factory=list)
    tracks: list[TrackResult] = Field(default_factory=list)
    frames: list[FrameScore] = Field(default_factory=list)
    model: ModelInfo | None = None
    provenance: Provenance | None = Field(
        None,
        description="what the file's own metadata says about its origin (C2PA content credentials, XMP, "
        "EXIF, PNG text): read for every file that was opened, a failed scan's included. None when the "
        "file was refused before it was opened (missing, empty, too large, unsupported) and in records "
        "made before it was read",
    )
    timings_ms: dict[str, float] = Field(
        default_factory=dict,
        description="milliseconds per stage: provenance, decode, detect, align, classify, track, total",
    )
    error: ErrorInfo | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: dict[str, str] = Field(default_factory=dict, description="where the file came from")
    owner: str | None = Field(
        None,
        description="whom the file belongs to: the signed-in user's id (the token's sub) in the cloud, "
        "'local' in the local service; None for a file put in the bucket outside the API and for "
        "records older than owners",
    )
    evidence: Evidence | None = Field(
        None, description="the stored image that the boxes refer to (GET /v1/results/{id}/evidence.jpg)"
    )

    @model_validator(mode="after")
    def _evidence_from_older_records(self) -> DetectionResult:
        """Results stored before ``evidence`` existed kept its key and scale as strings in ``source``."""
        key = self.source.get("evidence_key")
        if self.evidence is None and key:
            scale = float(self.source.get("evidence_scale") or 1.0)
            self.evidence = Evidence(key=key, scale=scale if scale > 0 else 1.0)
        return self

    @classmethod
    def failed(cls, path: str, code: ErrorCode, message: str, **fields: object) -> DetectionResult:
        return cls(
            path=path,
            status=Status.FAILED,
            verdict=Verdict.ERROR,
            error=ErrorInfo(code=code, message=message),
            **fields,  # type: ignore[arg-type]
        )
