"""The gate's policy: its margins and sizes, with their defaults and bounds, in one place.

The service reads it from the environment as ``settings.training.gate`` (``GateSettings``, which
inherits it: ``DEEPFAKE_TRAINING_GATE_TPR_MARGIN`` and so on), the way ``core.config`` groups are
read. The rule that uses it is ``registry.gate``; this module imports nothing heavy, so the
settings can import it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GatePolicy(BaseModel):
    """The gate's margins and sizes: the candidate against the live model and the best model ever
    promoted, paired on the gate set's files, each model at its own card threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tpr_margin: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="reject if the CI's lower bound of TPR(candidate) - TPR(ref) < -this",
    )
    fpr_margin: float = Field(
        0.02, ge=0.0, le=1.0, description="reject if the CI's upper bound of FPR(candidate) - FPR(ref) > this"
    )
    auc_margin: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="reject if the CI's lower bound of AUC(candidate) - AUC(ref) < -this",
    )
    ece_margin: float = Field(
        0.03, ge=0.0, le=1.0, description="reject if ECE(candidate) - ECE(ref) > this (point estimate)"
    )
    max_fpr: float = Field(
        0.05, gt=0.0, le=1.0, description="FPR budget for a card that does not state its training max_fpr"
    )
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="two-sided bootstrap interval")
    resamples: int = Field(2000, ge=100, le=100_000, description="paired bootstrap resamples")
    seed: int = Field(0, description="the bootstrap's RNG seed: the same scores give the same decision")
    min_per_class: int = Field(20, ge=1, description="scored real and fake files the gate needs")
    slice_margin: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description=(
            "reject if a slice (a sub-folder of fake/ or real/) is clearly worse: the CI's upper bound "
            "of its TPR difference below -this, or the lower bound of its FPR difference above +this"
        ),
    )
    min_per_slice: int = Field(30, ge=1, description="paired files a slice needs to be judged")

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()
