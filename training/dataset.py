"""The training stream: each sample draws a kind (real of a source, DFDC swap, GAN face, or a
self-blended fake made now from a real face), then a deployment-like augmentation.

Sampling by kind, not by file, balances sources of very different sizes, and gives the
hardfake real portraits the same weight as the GAN faces they are paired with, so the source
(framing, photographer) cannot stand in for the label. Every sample's randomness comes from
(seed, epoch, index): a run is reproducible whatever the number of loader workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from deepfake_detect.core.align import to_tensor
from training.augment import augment
from training.blend import self_blend
from training.manifest import Crops, Manifest
from training.sources import DFDC, FAKE, HARDFAKE, REAL, UTKFACE

SBI = "self_blended"


@dataclass(frozen=True)
class Kind:
    name: str
    label: int
    weight: float
    pool: NDArray[np.int64]  # manifest indices to draw from
    tighten: float = 0.5  # chance of mirroring the crop border as if the source were a tight crop


DEFAULT_WEIGHTS = {
    f"real:{DFDC}": 0.17,
    f"real:{UTKFACE}": 0.17,
    f"real:{HARDFAKE}": 0.11,
    f"fake:{DFDC}": 0.20,
    f"fake:{HARDFAKE}": 0.10,
    SBI: 0.25,
}


def build_kinds(manifest: Manifest, split: str, weights: dict[str, float]) -> list[Kind]:
    """Pools of manifest faces per kind; kinds with an empty pool are dropped."""
    kinds = []
    reals = []
    for name, weight in weights.items():
        if name == SBI:
            continue
        label_name, source = name.split(":")
        label = REAL if label_name == "real" else FAKE
        pool = np.array(manifest.select(split, source=source, label=label), dtype=np.int64)
        if label == REAL:
            reals.append(pool)
        if len(pool) and weight > 0:
            # The hardfake pictures (above all the GAN ones) are the only ones with real context
            # around the face: mirror their border as often as the tight DFDC / UTKFace crops have it.
            kinds.append(Kind(name, label, weight, pool, tighten=0.9 if source == HARDFAKE else 0.5))
    if weights.get(SBI, 0) > 0 and reals:
        kinds.append(Kind(SBI, FAKE, weights[SBI], np.concatenate(reals)))
    if not kinds:
        raise ValueError(f"no training faces in split {split!r}")
    return kinds


class TrainStream(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(
        self,
        crops: Crops,
        kinds: Sequence[Kind],
        length: int,
        seed: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
    ) -> None:
        self.crops, self.kinds, self.length, self.seed = crops, list(kinds), length, seed
        self.mean, self.std = mean, std
        total = sum(k.weight for k in self.kinds)
        self.probabilities = np.array([k.weight / total for k in self.kinds])
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def sample(self, index: int) -> tuple[NDArray[np.uint8], int, str]:
        """The augmented BGR crop, its label and its kind for stream position ``index``."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        kind = self.kinds[int(rng.choice(len(self.kinds), p=self.probabilities))]
        face = int(rng.choice(kind.pool))
        image = np.array(self.crops.images[face])
        if kind.name == SBI:
            image = self_blend(image, self.crops.landmarks[face], rng).image
        return augment(image, rng, kind.tighten), kind.label, kind.name

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label, _ = self.sample(index)
        tensor = to_tensor([image], self.mean, self.std)[0]
        return torch.from_numpy(tensor), torch.tensor([float(label)])
