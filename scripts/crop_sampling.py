"""How densely each manifest face's crop samples its source: source pixels per crop pixel, and the
decode scale ``core.face_crop`` reads it at, per split (README, Speed: "Training reads faces the
same way").

    .venv/bin/python scripts/crop_sampling.py [--cache-dir .cache/training]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from pathlib import Path

import numpy as np

from deepfake_detect.core.face_crop import crop_factor, source_pixels_per_crop_pixel
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.settings import Settings
from training.manifest import load_manifest

BANDS = ((0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, math.inf))


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    args = parser.parse_args()
    manifest = load_manifest(args.cache_dir / "manifest.json")
    if manifest is None:
        raise SystemExit(f"no manifest in {args.cache_dir}: run make train first")
    geometry = ModelCard.load(settings.models_dir / "deepfake_classifier.json").preprocessing.geometry()
    bands: dict[str, Counter[str]] = {}
    factors: dict[str, Counter[int]] = {}
    for face in manifest.faces:
        points = np.asarray(face.landmarks, np.float64)
        ratio = source_pixels_per_crop_pixel(points, geometry)
        band = next(f"{low:g}-{high:g}" for low, high in BANDS if low <= ratio < high)
        bands.setdefault(face.split, Counter())[band] += 1
        factors.setdefault(face.split, Counter())[crop_factor(points, geometry)] += 1
    for split in sorted(bands):
        total = sum(bands[split].values())
        shares = ", ".join(f"{b}: {n} ({100 * n / total:.1f} %)" for b, n in sorted(bands[split].items()))
        read_at = ", ".join(f"1/{f}: {n}" for f, n in sorted(factors[split].items()))
        print(f"{split} ({total} faces) source px per crop px {shares}; read at {read_at}")


if __name__ == "__main__":
    main()
