"""Every setting of the system, read in one place from the environment (prefix ``DEEPFAKE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEEPFAKE_", env_file=".env", extra="ignore")

    # Where the read-only shared data and models live (never committed into the project).
    shared_dir: Path = PROJECT_ROOT.parent / "shared"
    models_dir: Path = PROJECT_ROOT / "models"
    detector_model: str = DETECTOR_FILE
    classifier_model: str = CLASSIFIER_FILE

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
    min_track_frames: int = Field(
        3, ge=1, description="frames a face track needs (at most 10% of samples) to count toward the verdict"
    )

    # ONNX Runtime threads; 0 lets the runtime choose.
    intra_op_threads: int = 0

    # Local service.
    data_dir: Path = PROJECT_ROOT / "var"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 200 * 1024 * 1024

    # --- AWS (cloud deployment and the local AWS stack) -------------------------------------
    # Resource names come from template.yaml through the functions' environment. Endpoints are
    # empty in AWS; the local stack points them at moto server and DynamoDB Local. boto3 also
    # honours AWS_ENDPOINT_URL itself; these settings win when set.
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = Field(None, description="S3/SQS/SSM endpoint override (local stack)")
    dynamodb_endpoint_url: str | None = Field(None, description="DynamoDB endpoint override (DynamoDB Local)")
    upload_bucket: str = ""
    upload_prefix: str = Field("uploads/", description="keys under this prefix are scanned")
    models_bucket: str = ""
    results_table: str = ""
    results_index: str = "by_created"
    idempotency_table: str = ""
    model_parameter: str = Field("", description="SSM parameter naming the current model")
    presign_expires_s: int = Field(900, ge=60, le=7 * 24 * 3600)
    result_retention_days: int = Field(365, ge=1, description="DynamoDB TTL of finished results")
    queued_retention_days: int = Field(2, ge=1, description="TTL of a result whose upload never came")
    idempotency_expires_s: int = Field(7 * 24 * 3600, ge=60, description="how long a redelivery is a no-op")
    metrics_namespace: str = "DeepfakeDetect"
    service_name: str = "deepfake-detect"

    # --- Retraining, model registry and feedback (the `registry` package) ---------------------
    # The registry: locally a folder (versions, SQLite records, a pointer file); in AWS the models
    # bucket (immutable models/<version>/ keys), the models table and the SSM parameter above.
    registry_dir: Path | None = Field(None, description="local model registry (default: <data_dir>/registry)")
    models_table: str = Field("", description="DynamoDB table recording every training job and decision")
    feedback_table: str = Field("", description="DynamoDB table of reviewer labels")
    # How often a detect worker re-reads the model pointer (a promotion reaches it within this).
    model_refresh_s: float = Field(300.0, ge=0.0)
    # The gate: promote only if AUC drops by at most this, and the FPR at threshold does not rise.
    gate_max_auc_drop: float = Field(0.005, ge=0.0, le=1.0)
    gate_dir: Path | None = Field(None, description="local gate set: real/, fake/ (default <data_dir>/gate)")
    gate_prefix: str = Field("gate/", description="the gate set in the models bucket: <prefix>real/, fake/")
    # SageMaker training jobs started by the retrain trigger.
    training_image_uri: str = Field("", description="ECR image built from infra/training/Dockerfile")
    training_role_arn: str = ""
    training_instance_type: str = "ml.g4dn.xlarge"
    training_use_spot: bool = True
    training_max_run_s: int = Field(4 * 3600, ge=60)
    training_max_wait_s: int = Field(8 * 3600, ge=60, description="spot: run time + waiting for capacity")
    training_volume_gb: int = Field(50, ge=1)
    training_job_prefix: str = "deepfake-retrain"
    training_data_prefix: str = Field(
        "training-data/", description="channels in the models bucket: shared/, feedback/"
    )
    training_hyperparameters: dict[str, str] = Field(default_factory=dict)

    @property
    def registry_path(self) -> Path:
        return self.registry_dir or self.data_dir / "registry"

    @property
    def gate_path(self) -> Path:
        return self.gate_dir or self.data_dir / "gate"

    # --- Training (the `training/` package) ---------------------------------------------------
    # Face-crop manifest and crop arrays, rebuilt only when missing (gitignored).
    training_cache_dir: Path = PROJECT_ROOT / ".cache" / "training"

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
