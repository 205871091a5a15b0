"""Every setting of the system, read in one place from the environment.

Settings come in groups, each read from variables with its own prefix: top-level paths from
``DEEPFAKE_*`` (``DEEPFAKE_DATA_DIR``), then ``DEEPFAKE_DETECTION_*``, ``DEEPFAKE_VIDEO_*``,
``DEEPFAKE_LIMITS_*``, ``DEEPFAKE_PROVENANCE_*``, ``DEEPFAKE_SERVICE_*``, ``DEEPFAKE_AWS_*``,
``DEEPFAKE_TRAINING_*`` and ``DEEPFAKE_TRAINING_GATE_*``
(``DEEPFAKE_AWS_UPLOAD_BUCKET`` is ``settings.aws.upload_bucket``). The scan pipeline's groups are
defined in ``core.config`` and reach it as one ``PipelineConfig`` (``Settings.pipeline()``), so the
core never sees the service's settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from deepfake_detect.core.config import DetectionConfig, MediaLimits, PipelineConfig, VideoConfig
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.provenance.model import ProvenanceConfig
from deepfake_detect.registry.policy import GatePolicy

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(prefix: str, *, frozen: bool = False) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", frozen=frozen)


class DetectionSettings(BaseSettings, DetectionConfig):
    model_config = _env("DEEPFAKE_DETECTION_", frozen=True)


class VideoSettings(BaseSettings, VideoConfig):
    model_config = _env("DEEPFAKE_VIDEO_", frozen=True)


class LimitsSettings(BaseSettings, MediaLimits):
    model_config = _env("DEEPFAKE_LIMITS_", frozen=True)


class ProvenanceSettings(BaseSettings, ProvenanceConfig):
    """The provenance reader (docs/provenance.md): its bounds and the C2PA trust anchors.

    A PEM bundle is awkward in an environment variable, so each PEM setting also has a ``*_file``
    twin naming a file (``DEEPFAKE_PROVENANCE_C2PA_TRUST_ANCHORS_FILE=/etc/c2pa/anchors.pem``); the
    file's certificates are added to the inline ones. The files are read by ``config()`` (so by
    ``Settings.pipeline()``): a missing file stops the service at start-up, not at the first scan.
    """

    model_config = _env("DEEPFAKE_PROVENANCE_", frozen=True)

    c2pa_trust_anchors_file: Path | None = Field(
        None, description="a PEM file of root certificates a C2PA signer must chain to to count as trusted"
    )
    c2pa_allowed_certs_file: Path | None = Field(
        None, description="a PEM file of end-entity certificates trusted as they are"
    )

    def config(self) -> ProvenanceConfig:
        """The reader's configuration, with the PEM files read in."""
        fields = self.model_dump(exclude={"c2pa_trust_anchors_file", "c2pa_allowed_certs_file"})
        for name, file in (
            ("c2pa_trust_anchors_pem", self.c2pa_trust_anchors_file),
            ("c2pa_allowed_certs_pem", self.c2pa_allowed_certs_file),
        ):
            if file is not None:
                fields[name] = "\n".join(p for p in (fields[name], file.read_text()) if p)
        return ProvenanceConfig(**fields)


class ServiceSettings(BaseSettings):
    """The local web service (`deepfake-detect serve`)."""

    model_config = _env("DEEPFAKE_SERVICE_")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Host headers the local service answers: the loopback names (127.0.0.1, localhost, ::1), the
    # address it listens on (unless a wildcard) and these. Anything else is refused (400), so a
    # page whose DNS name was rebound to 127.0.0.1 cannot reach the service with its own Host.
    extra_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="more accepted Host names, comma-separated ('*.lan' patterns work)"
    )
    queue_size: int = Field(
        32, ge=1, description="scans waiting per lane (images, videos); an upload past it answers 429"
    )
    retry_after_s: int = Field(5, ge=1, description="the Retry-After of a 429 (queue full)")
    max_attempts: int = Field(
        3, ge=1, description="starts of one scan (across restarts) before it is failed as internal_error"
    )
    retention_interval_s: float = Field(
        3600.0,
        gt=0.0,
        description="how often the service deletes results past DEEPFAKE_RESULT_RETENTION_DAYS",
    )
    # Storage faults and orphans (README "Limits and guards"): a full disk answers 507, storage that
    # refuses writes 503 with this Retry-After; /health says "degraded" under min_free_bytes.
    storage_retry_after_s: int = Field(
        30, ge=1, description="the Retry-After of a 503 storage_unavailable / 507 insufficient_storage"
    )
    min_free_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="free space in the data folder under which /health is degraded"
    )
    orphan_grace_s: float = Field(
        3600.0,
        gt=0.0,
        description="age after which an uploads/<id>/ folder without a record is removed by the sweep",
    )
    # Completion events of the local service (docs/events.md): each result that reaches done or
    # failed is posted here, signed with the secret, retried with backoff, never holding up a scan.
    webhook_url: str = Field("", description="where Scan Completed events are posted ('' for none)")
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="the HMAC-SHA256 key of X-Deepfake-Signature (needed with the URL)"
    )
    webhook_max_attempts: int = Field(6, ge=1, le=50, description="deliveries tried per event")
    webhook_backoff_s: float = Field(
        2.0, gt=0.0, description="wait before the 2nd attempt; doubled after each failure"
    )
    webhook_max_backoff_s: float = Field(300.0, gt=0.0, description="the longest wait between attempts")
    webhook_timeout_s: float = Field(10.0, gt=0.0, description="one attempt's connect + answer time")
    # Read deadlines of `serve` (cli/serving.py): a client that sends slowly, or not at all, does not
    # hold a connection for ever (slowloris).
    keep_alive_s: int = Field(5, ge=1, description="an idle keep-alive connection is closed after this")
    header_timeout_s: float = Field(
        10.0, gt=0.0, description="a request's line and headers must arrive within this (else 408, closed)"
    )
    body_timeout_s: float = Field(
        900.0, gt=0.0, description="a request's body must all arrive within this once its headers are in"
    )
    read_idle_s: float = Field(
        60.0, gt=0.0, description="a request still arriving is closed after this long without a byte"
    )

    @field_validator("extra_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return json.loads(value) if value.startswith("[") else [h for h in value.split(",") if h.strip()]
        return value

    @field_validator("extra_hosts")
    @classmethod
    def _clean_hosts(cls, value: list[str]) -> list[str]:
        hosts = [h.strip().lower() for h in value if h.strip()]
        for host in hosts:
            if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
                raise ValueError(f"{host!r}: a wildcard host must look like '*.example.lan'")
        return hosts

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("the webhook URL must be http:// or https://")
        return value

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> ServiceSettings:
        if self.webhook_url and not self.webhook_secret.get_secret_value():
            raise ValueError("DEEPFAKE_SERVICE_WEBHOOK_SECRET is needed with DEEPFAKE_SERVICE_WEBHOOK_URL")
        return self


class AwsSettings(BaseSettings):
    """The cloud deployment and the local AWS stack.

    Resource names come from template.yaml through the functions' environment. Endpoints are empty
    in AWS; the local stack points them at moto server and DynamoDB Local. boto3 also honours
    AWS_ENDPOINT_URL itself; these settings win when set.
    """

    model_config = _env("DEEPFAKE_AWS_")

    region: str = "us-east-1"
    endpoint_url: str | None = Field(None, description="S3/SQS/SSM endpoint override (local stack)")
    dynamodb_endpoint_url: str | None = Field(None, description="DynamoDB endpoint override (DynamoDB Local)")
    upload_bucket: str = ""
    upload_prefix: str = Field("uploads/", description="keys under this prefix are scanned")
    results_table: str = ""
    results_index: str = Field("by_owner", description="the results table's index: owner + created_key")
    idempotency_table: str = ""
    presign_expires_s: int = Field(900, ge=60, le=7 * 24 * 3600)
    result_retention_days: int = Field(365, ge=1, description="DynamoDB TTL of finished results")
    queued_retention_days: int = Field(2, ge=1, description="TTL of a result whose upload never came")
    idempotency_expires_s: int = Field(7 * 24 * 3600, ge=60, description="how long a redelivery is a no-op")
    metrics_namespace: str = "DeepfakeDetect"
    service_name: str = "deepfake-detect"
    # The model registry in AWS: the models bucket (immutable models/<version>/ keys, the gate set,
    # the training channels), the table of jobs and decisions, and the SSM parameter naming the
    # current model.
    models_bucket: str = ""
    models_table: str = Field("", description="DynamoDB table recording every training job and decision")
    model_parameter: str = Field("", description="SSM parameter naming the current model")
    feedback_table: str = Field("", description="DynamoDB table of reviewer labels")
    gate_prefix: str = Field("gate/", description="the gate set in the models bucket: <prefix>real/, fake/")
    # Owners (the API) and the detect function's resilience (docs/deploy.md).
    reviewers_group: str = Field("reviewers", description="the Cognito group whose members may label results")
    pipeline_owner: str = Field(
        "",
        description="owner (a user's sub) of files put in the bucket outside the API; '' leaves them "
        "unowned (in no one's list)",
    )
    max_receive_count: int = Field(
        5, ge=1, description="the detect queue's maxReceiveCount: on the last receive a failure is recorded"
    )
    finish_reserve_s: float = Field(
        10.0, ge=0.0, description="seconds an invocation keeps to store a result: a scan still running is cut"
    )
    min_start_s: float = Field(
        20.0,
        ge=0.0,
        description="a file is not started with less time left; it is retried in a later invocation",
    )
    max_deferrals: int = Field(
        20,
        ge=0,
        description="times a file too late to start is sent again as a new message (its receives "
        "start over) before a deferral uses up a receive; needs DEEPFAKE_AWS_DETECT_QUEUE_URL",
    )
    # Completion events (docs/events.md) and the backfill command's queue.
    event_bus_name: str = Field(
        "", description="EventBridge bus the detect function puts Scan Completed events on ('' none)"
    )
    detect_queue_url: str = Field("", description="the detect queue (deepfake-detect backfill)")
    # template.yaml's C2paTrustAnchorsUri: a PEM bundle too big for an environment variable, read
    # by the detect function at cold start into provenance.c2pa_trust_anchors_file.
    c2pa_trust_anchors_uri: str = Field(
        "", description="s3://bucket/key of a PEM file of C2PA trust anchors ('' for none)"
    )


class GateSettings(BaseSettings, GatePolicy):
    """The promotion gate's policy (``registry.policy.GatePolicy``: defaults, bounds and meaning),
    read from ``DEEPFAKE_TRAINING_GATE_*`` (``DEEPFAKE_TRAINING_GATE_MIN_PER_CLASS``)."""

    model_config = _env("DEEPFAKE_TRAINING_GATE_", frozen=True)

    def policy(self) -> GatePolicy:
        """The gate's own model of it, without the settings machinery."""
        return GatePolicy(**self.model_dump())


class TrainingSettings(BaseSettings):
    """Retraining: the local training cache, the promotion gate and the SageMaker jobs it starts."""

    model_config = _env("DEEPFAKE_TRAINING_")

    # Face-crop manifest and crop arrays, rebuilt only when missing (gitignored).
    cache_dir: Path = PROJECT_ROOT / ".cache" / "training"
    # The gate (registry/gate.py): its policy (margins, sizes) is the ``gate`` group; the bounds
    # on the gate set it evaluates are these.
    gate: GateSettings = Field(default_factory=GateSettings)
    # Sized to the gate's margins: at 200 files a class the bootstrap interval of a TPR difference
    # between two equal models (about +-0.04) is wider than the 0.02 margin, so an equal model
    # trained on new labels could never pass; at 1,000 it is about +-0.02 (docs/retrain.md).
    gate_max_per_class: int = Field(
        1000, ge=1, description="gate files used per class (a fixed, name-independent subset beyond this)"
    )
    gate_max_videos_per_class: int = Field(10, ge=0, description="of which videos (about 40x an image)")
    gate_time_budget_s: float = Field(
        780.0, gt=0.0, description="the gate gives up (rejects) past this; the trigger's Timeout is 900 s"
    )
    image_uri: str = Field("", description="ECR image built from infra/training/Dockerfile")
    role_arn: str = ""
    instance_type: str = "ml.g4dn.xlarge"
    use_spot: bool = True
    max_run_s: int = Field(4 * 3600, ge=60)
    max_wait_s: int = Field(8 * 3600, ge=60, description="spot: run time + waiting for capacity")
    volume_gb: int = Field(50, ge=1)
    job_prefix: str = "deepfake-retrain"
    data_prefix: str = Field(
        "training-data/", description="channels in the models bucket: shared/, feedback/"
    )
    hyperparameters: dict[str, str] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = _env("DEEPFAKE_")

    # Where the read-only shared data and models live (never committed into the project).
    shared_dir: Path = PROJECT_ROOT.parent / "shared"
    models_dir: Path = PROJECT_ROOT / "models"
    detector_model: str = DETECTOR_FILE
    classifier_model: str = CLASSIFIER_FILE
    # Uploads, results, evidence, the local registry and gate set (`deepfake-detect serve`).
    data_dir: Path = PROJECT_ROOT / "var"
    registry_dir: Path | None = Field(None, description="local model registry (default: <data_dir>/registry)")
    gate_dir: Path | None = Field(None, description="local gate set: real/, fake/ (default <data_dir>/gate)")
    # How often a detect worker re-reads the model pointer (a promotion reaches it within this).
    model_refresh_s: float = Field(300.0, ge=0.0)
    intra_op_threads: int = Field(0, ge=0, description="ONNX Runtime threads; 0 lets the runtime choose")
    # The local store's retention, like the bucket's lifecycle in the cloud: results older than
    # this are deleted with their upload and evidence image (at start, then every
    # service.retention_interval_s). None keeps them.
    result_retention_days: float | None = Field(
        None, gt=0, description="local results (and their files) are deleted after this many days"
    )

    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    provenance: ProvenanceSettings = Field(default_factory=ProvenanceSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)

    @property
    def registry_path(self) -> Path:
        return self.registry_dir or self.data_dir / "registry"

    @property
    def gate_path(self) -> Path:
        return self.gate_dir or self.data_dir / "gate"

    @property
    def detector_path(self) -> Path:
        return self.models_dir / self.detector_model

    @property
    def classifier_path(self) -> Path:
        return self.models_dir / self.classifier_model

    @property
    def model_card_path(self) -> Path:
        return self.classifier_path.with_suffix(".json")

    def updated(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with ``changes`` applied; keys are dotted paths (``"video.sample_frames"``,
        ``"training.gate.min_per_class"``). Unlike ``model_copy(update=...)`` a misspelt or stale
        name is an error, not a no-op."""
        updated: Settings = _updated(self, changes, "")
        return updated

    def pipeline(self, classifier_path: Path | None = None) -> PipelineConfig:
        """The scan pipeline's configuration (optionally for another classifier file)."""
        return PipelineConfig(
            detector_path=self.detector_path,
            classifier_path=classifier_path or self.classifier_path,
            detection=DetectionConfig(**self.detection.model_dump()),
            video=VideoConfig(**self.video.model_dump()),
            limits=MediaLimits(**self.limits.model_dump()),
            provenance=self.provenance.config(),
            intra_op_threads=self.intra_op_threads,
        )


def _updated(group: BaseSettings, changes: Mapping[str, Any], prefix: str) -> Any:
    """``group`` with ``changes`` (dotted paths below it) applied, its nested groups copied too."""
    own: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in changes.items():
        field, _, rest = name.partition(".")
        inner = getattr(group, field, None) if field in type(group).model_fields else None
        if field not in type(group).model_fields or (rest and not isinstance(inner, BaseSettings)):
            raise KeyError(f"no setting {prefix + name!r}")
        if rest:
            nested.setdefault(field, {})[rest] = value
        else:
            own[field] = value
    for field, fields in nested.items():
        own[field] = _updated(getattr(group, field), fields, f"{prefix}{field}.")
    return group.model_copy(update=own)


def as_environment(settings: Settings, names: Iterable[str]) -> dict[str, str]:
    """The variables that give another process these settings; ``names`` are dotted paths
    (``"aws.upload_bucket"`` becomes ``DEEPFAKE_AWS_UPLOAD_BUCKET``). Unset (None) ones are left out."""
    env: dict[str, str] = {}
    for name in names:
        value: Any = settings
        for part in name.split("."):
            value = getattr(value, part)
        if value is not None:
            env[f"DEEPFAKE_{name.replace('.', '_').upper()}"] = str(value)
    return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
