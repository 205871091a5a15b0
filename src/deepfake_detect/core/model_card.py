"""The model card that travels with the classifier: preprocessing, calibration, threshold, metrics.

Inference reads crop size, margin and normalisation from here, never from constants, so a model
trained on one crop is always served on the same crop.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from pydantic import BaseModel, Field

from deepfake_detect.core.constants import IMAGENET_MEAN, IMAGENET_STD
from deepfake_detect.core.crop_geometry import Border, CropGeometry

if TYPE_CHECKING:  # the cloud API reads model cards and ships without numpy
    import numpy as np
    from numpy.typing import NDArray


@overload
def is_fake(score: float, threshold: float) -> bool: ...
@overload
def is_fake(score: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]: ...
def is_fake(score: float | NDArray[np.float64], threshold: float) -> bool | NDArray[np.bool_]:
    """The product's verdict rule: a score (or each of an array of scores) is ``fake`` at or above
    the card's ``threshold``. The scan pipeline calls faces with it, and the gate measures every
    model with it, so a model is judged at the operating point the service runs."""
    return score >= threshold


class Preprocessing(BaseModel):
    input_size: int = Field(224, ge=16)
    margin: float = Field(
        0.25, gt=-0.45, le=1.0, description="crop side around the face template: > 0 wider, < 0 tighter"
    )
    shift: float = Field(0.0, ge=-0.5, le=0.5, description="vertical template offset, fraction of the side")
    border: Border = Field("reflect", description="fill outside the source image: constant or reflect")
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    channel_order: str = "RGB"
    layout: str = "NCHW"
    flip_tta: bool = Field(
        False, description="score each crop and its mirror and average the logits (test-time augmentation)"
    )

    def geometry(self) -> CropGeometry:
        """The crop this model was trained on; a constant border is the mean colour (0 once normalised)."""
        fill = tuple(round(255 * m) for m in reversed(self.mean))  # BGR
        return CropGeometry(
            self.input_size, self.margin, self.shift, self.border, (fill[0], fill[1], fill[2])
        )


class Calibration(BaseModel):
    method: str = "temperature"
    temperature: float = Field(1.0, gt=0.0)


class Outputs(BaseModel):
    logit: str = "logit"
    cam: str | None = Field(None, description="class-activation map output, if the model has one")
    kinds: str | None = Field(None, description="evidence-kind logits output (N, len(kind_names)), if any")
    kind_names: tuple[str, ...] = ("generated", "swapped")


class KindEvidence(BaseModel):
    """One evidence-kind output: its calibration and its own threshold, fitted on validation."""

    temperature: float = Field(1.0, gt=0.0)
    threshold: float = Field(0.5, ge=0.0, le=1.0)


class ModelCard(BaseModel):
    name: str
    version: str
    sha256: str = ""
    created_at: str = ""
    architecture: str = ""
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    calibration: Calibration = Field(default_factory=Calibration)
    outputs: Outputs = Field(default_factory=Outputs)
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="t_fake: from here a face is likely manipulated"
    )
    threshold_real: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="t_real: below it a face shows no sign of manipulation; between t_real and t_fake "
        "the evidence is inconclusive. None on cards older than it",
    )
    kinds: dict[str, KindEvidence] = Field(
        default_factory=dict, description="per evidence kind (generated, swapped): calibration and threshold"
    )
    training_data: list[str] | dict[str, Any] = Field(default_factory=list)
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    limitations: list[str] = Field(default_factory=list)
    license: str = ""

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        return cls.model_validate_json(path.read_text())

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n")
