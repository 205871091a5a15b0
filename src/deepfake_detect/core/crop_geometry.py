"""The crop geometry a classifier was trained on: plain data, so the model card (and the cloud API
that serves it) can describe it without importing OpenCV or NumPy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Border = Literal["reflect", "constant"]


@dataclass(frozen=True)
class CropGeometry:
    """Where the face sits in the classifier's square input, and how missing pixels are filled."""

    size: int
    margin: float
    shift: float = 0.0
    border: Border = "reflect"
    fill: tuple[int, int, int] = (0, 0, 0)  # BGR, for ``border == "constant"``

    def __post_init__(self) -> None:
        if self.size < 1 or not -0.45 < self.margin <= 1.0:
            raise ValueError(f"bad crop geometry: size {self.size}, margin {self.margin}")
