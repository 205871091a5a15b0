"""The training stream: pairs of samples, each pair a real face and either its own self-blend or
another fake, then the same quality-equalising augmentation for every sample.

- Half of the pairs are (real, self-blend of that real): the only difference inside the pair is
  the blending seam, which is what SBI (Shiohara and Yamasaki, CVPR 2022) wants the model to find,
  and sharp reals then teach "sharp portrait with a seam is fake".
- The other half are (real, fake of a source: DFDC face swap, StyleGAN2 face, Stable Diffusion
  face, and the training families of today's generators and swap tools): the generators' own
  traces, several families in every batch.

So reals are half the stream and self-blends half the fakes. Reals are drawn by source weights
that give sharp, well-lit real photos (studio portraits, Unsplash, web and deepface photos) about
the weight the sharp generated faces have, so "a good photo" cannot stand for "generated". Every
sample's randomness comes from (seed, epoch, index): a run is reproducible whatever the number
of loader workers.

Each sample also carries targets for the two evidence-kind logits (``training.model.KINDS``):
a real is 0 for both, a generated face 1 for "generated" and unknown (``IGNORE``) for "swapped",
a swapped or self-blended face the other way round.
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
from training.edits import random_edit
from training.manifest import Crops, Manifest
from training.sources import (
    DEEPFACE,
    DFDC,
    FAKE,
    FEEDBACK,
    GENERATED_SOURCES,
    HARDFAKE,
    LONDON,
    MODERN_GENERATED,
    MODERN_SWAPPED,
    REAL,
    SDFD,
    SWAPPED_SOURCES,
    UTKFACE,
    WEB,
)

SBI = "self_blended"
SBI_SHARE = 0.5  # of the pairs: (real, its self-blend); the rest are (real, another fake)


@dataclass(frozen=True)
class Kind:
    name: str
    label: int
    weight: float
    pool: NDArray[np.int64]  # manifest indices to draw from


# Within reals and within the other fakes; "sharp" reals (the last four) weigh about as much as
# the sharp generated faces (StyleGAN2 and Stable Diffusion).
DEFAULT_WEIGHTS = {
    f"real:{DFDC}": 0.28,
    f"real:{UTKFACE}": 0.20,
    f"real:{HARDFAKE}": 0.16,
    f"real:{LONDON}": 0.10,
    f"real:{WEB}": 0.16,
    f"real:{DEEPFACE}": 0.10,
    f"fake:{DFDC}": 0.32,
    f"fake:{HARDFAKE}": 0.15,
    f"fake:{SDFD}": 0.15,
    f"fake:{MODERN_GENERATED}": 0.22,
    f"fake:{MODERN_SWAPPED}": 0.16,
    # Reviewers' labels: few files, so a small weight keeps them from being memorised, while the
    # mistakes they correct still come up every few hundred samples.
    f"real:{FEEDBACK}": 0.05,
    f"fake:{FEEDBACK}": 0.05,
}


IGNORE = -1.0  # a kind target that does not apply to the sample: masked out of the loss


def kind_targets(label: int, kind_name: str) -> tuple[float, float]:
    """(generated, swapped) targets of one sample; reviewers' fakes have no known kind."""
    if label == REAL:
        return 0.0, 0.0
    source = kind_name.split(":")[-1]
    if kind_name == SBI or source in SWAPPED_SOURCES:
        return IGNORE, 1.0
    if source in GENERATED_SOURCES:
        return 1.0, IGNORE
    return IGNORE, IGNORE


def build_kinds(manifest: Manifest, split: str, weights: dict[str, float]) -> list[Kind]:
    """Pools of manifest faces per kind; kinds with an empty pool or no weight are dropped."""
    kinds = []
    for name, weight in weights.items():
        label_name, source = name.split(":")
        label = REAL if label_name == "real" else FAKE
        pool = np.array(manifest.select(split, source=source, label=label), dtype=np.int64)
        if len(pool) and weight > 0:
            kinds.append(Kind(name, label, weight, pool))
    if not any(k.label == REAL for k in kinds):
        raise ValueError(f"no real training faces in split {split!r}")
    return kinds


def _pick(kinds: list[Kind], rng: np.random.Generator) -> Kind:
    weights = np.array([k.weight for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]


class TrainStream(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(
        self,
        crops: Crops,
        kinds: Sequence[Kind],
        length: int,
        seed: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        sbi_share: float = SBI_SHARE,
        edit_share: float = 0.0,
    ) -> None:
        self.crops, self.length, self.seed = crops, length, seed
        self.edit_share = edit_share
        self.reals = [k for k in kinds if k.label == REAL]
        self.fakes = [k for k in kinds if k.label == FAKE]
        self.sbi_share = sbi_share if self.fakes else 1.0
        self.mean, self.std = mean, std
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def sample(self, index: int) -> tuple[NDArray[np.uint8], int, str]:
        """The augmented BGR crop, its label and its kind for stream position ``index``.

        Positions 2k and 2k + 1 form a pair drawn from one generator, so with an even batch size
        a real and its self-blend always sit in the same batch."""
        pair, second = divmod(index, 2)
        rng = np.random.default_rng([self.seed, self.epoch, pair])
        real_kind = _pick(self.reals, rng)
        real = int(rng.choice(real_kind.pool))
        blended = rng.random() < self.sbi_share
        fake_kind = None if blended else _pick(self.fakes, rng)
        fake = None if fake_kind is None else int(rng.choice(fake_kind.pool))
        # each member of the pair gets its own stream for the blend and the augmentation
        rng = np.random.default_rng([self.seed, self.epoch, pair, second + 1])
        if second == 0:
            return self._finish(np.array(self.crops.images[real]), real, rng), REAL, real_kind.name
        if fake_kind is None:
            image = self_blend(
                np.array(self.crops.images[real]),
                self.crops.landmarks[real],
                rng,
                self.crops.landmarks68[real],
            ).image
            return self._finish(image, real, rng), FAKE, SBI
        assert fake is not None
        return self._finish(np.array(self.crops.images[fake]), fake, rng), FAKE, fake_kind.name

    def _finish(self, image: NDArray[np.uint8], face: int, rng: np.random.Generator) -> NDArray[np.uint8]:
        """A forger's edit now and then (on reals and fakes alike), then the degradations. The
        edit's draw happens only when edits are on, so a run without them keeps its old stream."""
        if self.edit_share > 0 and rng.random() < self.edit_share:
            image = random_edit(image, self.crops.landmarks[face], rng)
        return augment(image, rng)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised crop and its targets: [fake, generated, swapped] (``IGNORE`` masks)."""
        image, label, kind = self.sample(index)
        tensor = to_tensor([image], self.mean, self.std)[0]
        return torch.from_numpy(tensor), torch.tensor([float(label), *kind_targets(label, kind)])
