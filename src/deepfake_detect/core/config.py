"""The scan pipeline's own configuration: what it needs and nothing of the service around it.

The service's ``Settings`` (deepfake_detect.settings) reads these groups from the environment and
builds a ``PipelineConfig`` with ``Settings.pipeline()``; training and tests build one directly.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from deepfake_detect.core.provenance.model import ProvenanceConfig


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DetectionConfig(_Frozen):
    """Face detection (YuNet through cv2.FaceDetectorYN)."""

    max_side: int = Field(640, ge=64, description="longest side of the detector's working size")
    score_threshold: float = Field(0.6, ge=0.0, le=1.0)
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0)
    min_face_size: int = Field(24, ge=1, description="smallest face side, in original pixels")
    max_faces: int = Field(20, ge=1, description="faces scored per image or video frame")


class VideoConfig(_Frozen):
    """How a video is sampled and its faces linked into tracks."""

    sample_frames: int = Field(32, ge=1, le=1000)
    track_iou_threshold: float = Field(0.3, ge=0.0, le=1.0)
    min_track_frames: int = Field(
        3, ge=1, description="frames a face track needs (at most 10% of samples) to count toward the verdict"
    )
    decode_threads: int = Field(
        2,
        ge=0,
        le=64,
        description="FFmpeg threads decoding one video (0: OpenCV's choice, one per CPU); each thread "
        "holds frames of its own, so memory grows with it (a 4K frame is 12 MB)",
    )


class MediaLimits(_Frozen):
    """Refuse before doing expensive work. One set of limits for every way a file comes in."""

    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1, description="largest upload the API accepts")
    max_file_bytes: int = Field(500 * 1024 * 1024, ge=1, description="largest file the pipeline opens")
    max_image_pixels: int = Field(50_000_000, ge=1)
    max_video_pixels: int = Field(3840 * 2160, ge=1, description="width x height of one video frame")
    max_video_seconds: float = Field(3600.0, gt=0.0)
    max_side: int = Field(20_000, ge=1, description="longest side of an image or a video frame, in pixels")
    max_aspect_ratio: float = Field(
        20.0, ge=1.0, description="longest side / shortest side of an image or a video frame"
    )
    max_pixels_per_byte: float = Field(
        250.0,
        gt=0.0,
        description="pixels one byte of an image file may decode to, for images over byte_check_pixels "
        "(a flat 50 MP PNG is a few tens of KB: a cheap file that costs 200 MB to decode)",
    )
    byte_check_pixels: int = Field(
        4096 * 4096, ge=0, description="images up to this many pixels are decoded whatever their file size"
    )


class PipelineConfig(_Frozen):
    """Everything ``ScanPipeline`` reads: its two model files, the three groups above and the
    provenance reader's bounds and trust anchors (``core.provenance.ProvenanceConfig``)."""

    detector_path: Path
    classifier_path: Path
    detection: DetectionConfig = DetectionConfig()
    video: VideoConfig = VideoConfig()
    limits: MediaLimits = MediaLimits()
    provenance: ProvenanceConfig = ProvenanceConfig()
    intra_op_threads: int = Field(0, ge=0, description="ONNX Runtime threads; 0 lets the runtime choose")
