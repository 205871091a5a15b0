"""Training configuration: CLI arguments, SageMaker's hyperparameters file and environment.

One entry point everywhere. In a SageMaker training job the hyperparameters JSON (values are
strings) becomes ``--name value`` arguments placed before the real command line, so explicit
arguments still win, and the job's folders replace the data and output folders. Training reads
SageMaker's contract itself (``SageMakerEnv``), by SageMaker's documented layout: when
/opt/ml/input/config exists the data is in /opt/ml/input/data/<channel>, the model goes to
/opt/ml/model and reports to /opt/ml/output/data; the ``SM_*`` variables, where a toolkit sets
them, say the same and win.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deepfake_detect.core.constants import DETECTOR_FILE
from deepfake_detect.settings import Settings


@dataclass(frozen=True)
class SageMakerEnv:
    """The folders of a SageMaker training job; all None outside one."""

    shared: Path | None
    feedback: Path | None  # reviewers' labels (labels.csv + media/), exported by the feedback API
    model_dir: Path | None
    output_data: Path | None
    checkpoints: Path | None
    failure: Path | None  # one line SageMaker shows as the job's FailureReason
    scratch: Path | None  # the crop cache: the job's local disk, never uploaded
    hyperparameters: Path

    @classmethod
    def detect(cls, environ: Mapping[str, str] | None = None, root: Path = Path("/opt/ml")) -> SageMakerEnv:
        environ = os.environ if environ is None else environ
        in_job = (root / "input" / "config").is_dir()

        def folder(variable: str, layout: Path) -> Path | None:
            value = environ.get(variable)
            if value:
                return Path(value)
            return layout if in_job else None

        feedback = folder("SM_CHANNEL_FEEDBACK", root / "input" / "data" / "feedback")
        return cls(
            shared=folder("SM_CHANNEL_SHARED", root / "input" / "data" / "shared"),
            feedback=feedback if feedback is not None and feedback.is_dir() else None,
            model_dir=folder("SM_MODEL_DIR", root / "model"),
            output_data=folder("SM_OUTPUT_DATA_DIR", root / "output" / "data"),
            checkpoints=root / "checkpoints" if in_job else None,
            failure=root / "output" / "failure" if in_job else None,
            scratch=Path(tempfile.gettempdir()) / "deepfake-training-cache" if in_job else None,
            hyperparameters=Path(
                environ.get("SM_HYPERPARAMETERS_PATH") or root / "input" / "config" / "hyperparameters.json"
            ),
        )


@dataclass(frozen=True)
class TrainConfig:
    shared_dir: Path
    output_dir: Path  # the .onnx and its model card
    report_dir: Path  # training report (metrics, curves)
    cache_dir: Path
    detector_path: Path
    input_size: int = 160
    # The crop geometry (see core.align): tight and shifted up so that on every training source
    # at most ~1 % of the crop lies outside the source image (tests/training/test_crop_geometry.py).
    margin: float = -0.2
    shift: float = -0.16
    border: str = "constant"
    epochs: int = 6
    samples_per_epoch: int = 25_000
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    dropout: float = 0.2
    freeze_blocks: int = 4
    seed: int = 0
    device: str = "auto"
    workers: int = 1
    threads: int = 0
    max_fpr: float = 0.05
    limit_per_source: int | None = None
    pretrained: bool = True
    name: str = "deepfake-face-mobilenetv2"
    version: str = ""
    feedback_dir: Path | None = None  # reviewer-labelled files: a training source (train split only)
    # Hardening (issue "Attacked on purpose"): start from a finished run's checkpoint, and mix
    # forgers' edits (training.edits) and adversarial examples into the batches.
    init_from: Path | None = None  # a training checkpoint whose weights the run starts from
    edit_share: float = 0.0  # of the samples, the share given one edit from training.edits
    adversarial_eps: float = 0.0  # FGSM (random start) budget in 8-bit levels; 0 = none
    adversarial_share: float = 0.5  # of each batch, the share replaced by its adversarial version
    checkpoints: Path | None = None  # SageMaker's checkpoint folder, when in a job
    failure_path: Path | None = None  # where a job's failure reason goes, when in a job

    @property
    def data_dir(self) -> Path:
        return self.shared_dir / "data"

    @property
    def checkpoint_dir(self) -> Path:
        """Where each epoch's checkpoint goes: the job's checkpoint folder in SageMaker (synced to
        S3 and restored after a spot interruption), else beside the cache."""
        return self.checkpoints or self.cache_dir / "checkpoints"

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def _hyperparameter_args(path: Path) -> list[str]:
    if not path.is_file():
        return []
    values = json.loads(path.read_text())
    args: list[str] = []
    for key, value in values.items():
        if str(value).lower() in ("true", "false") and key in ("pretrained",):
            args += [f"--{key.replace('_', '-')}" if str(value).lower() == "true" else "--no-pretrained"]
            continue
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def parse_config(
    argv: list[str] | None, settings: Settings | None = None, sagemaker: SageMakerEnv | None = None
) -> TrainConfig:
    settings = settings or Settings()
    sagemaker = sagemaker or SageMakerEnv.detect()
    shared = sagemaker.shared or settings.shared_dir
    output = sagemaker.model_dir or settings.models_dir
    defaults = TrainConfig(
        shared_dir=shared,
        output_dir=output,
        report_dir=sagemaker.output_data or settings.data_dir / "training",
        cache_dir=sagemaker.scratch or settings.training.cache_dir,
        detector_path=Path(),
    )
    p = argparse.ArgumentParser(
        prog="python -m training.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--shared-dir", type=Path, default=defaults.shared_dir, help="holds data/ and models/")
    p.add_argument("--output-dir", type=Path, default=defaults.output_dir)
    p.add_argument("--report-dir", type=Path, default=defaults.report_dir)
    p.add_argument("--cache-dir", type=Path, default=defaults.cache_dir)
    p.add_argument(
        "--feedback-dir",
        type=Path,
        default=sagemaker.feedback,
        help="reviewers' labels: labels.csv and media/ (in a job: the 'feedback' channel)",
    )
    p.add_argument(
        "--detector-path",
        type=Path,
        default=None,
        help="YuNet ONNX (default: models/ if fetched, else <shared>/models/)",
    )
    for name in (
        "input_size",
        "epochs",
        "samples_per_epoch",
        "batch_size",
        "freeze_blocks",
        "seed",
        "workers",
        "threads",
    ):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in (
        "margin",
        "shift",
        "lr",
        "weight_decay",
        "warmup_fraction",
        "dropout",
        "max_fpr",
        "edit_share",
        "adversarial_eps",
        "adversarial_share",
    ):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    p.add_argument("--border", choices=("constant", "reflect"), default=defaults.border)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument(
        "--init-from", type=Path, default=None, help="start from this training checkpoint's weights"
    )
    p.add_argument("--limit-per-source", type=int, default=None, help="first N images per source and label")
    p.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--name", default=defaults.name)
    p.add_argument("--version", default="", help="model version (default: UTC timestamp)")
    args = p.parse_args(_hyperparameter_args(sagemaker.hyperparameters) + list(argv or []))
    values = vars(args)
    if values["detector_path"] is None:
        values["detector_path"] = (
            settings.detector_path
            if settings.detector_path.is_file()
            else values["shared_dir"] / "models" / DETECTOR_FILE
        )
    return TrainConfig(**values, checkpoints=sagemaker.checkpoints, failure_path=sagemaker.failure)
