"""Every setting of the system, read in one place from the environment (prefix ``DEEPFAKE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEEPFAKE_", env_file=".env", extra="ignore")

    # Where the read-only shared data and models live (never committed into the project).
    shared_dir: Path = PROJECT_ROOT.parent / "shared"
    models_dir: Path = PROJECT_ROOT / "models"
    detector_model: str = "face_detection_yunet_2023mar.onnx"
    classifier_model: str = "deepfake_classifier.onnx"

    # Face detection.
    detector_max_side: int = Field(640, ge=64, description="longest side of the detector's working size")
    detector_score_threshold: float = Field(0.6, ge=0.0, le=1.0)
    detector_nms_threshold: float = Field(0.3, ge=0.0, le=1.0)
    min_face_size: int = Field(24, ge=1, description="smallest face side, in original pixels")
    max_faces_per_frame: int = Field(20, ge=1)

    # Media limits: refuse before doing expensive work.
    max_file_bytes: int = 500 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_video_pixels: int = 3840 * 2160
    max_video_seconds: float = 3600.0

    # Videos.
    video_sample_frames: int = Field(32, ge=1, le=1000)
    track_iou_threshold: float = Field(0.3, ge=0.0, le=1.0)

    # ONNX Runtime threads; 0 lets the runtime choose.
    intra_op_threads: int = 0

    # Local service.
    data_dir: Path = PROJECT_ROOT / "var"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 200 * 1024 * 1024

    @property
    def detector_path(self) -> Path:
        return self.models_dir / self.detector_model

    @property
    def classifier_path(self) -> Path:
        return self.models_dir / self.classifier_model

    @property
    def model_card_path(self) -> Path:
        return self.classifier_path.with_suffix(".json")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
