"""Does the training crop cache hold what the crop code makes now? Recompute a random sample of
faces one file at a time, in random order, and compare them bit for bit with the cache. A cache
built by an older state of the crop code, or crops that depend on the order files are decoded in,
show up as differences (README, Model card, "Reproduce").

    .venv/bin/python scripts/check_crop_cache.py [--faces 400] [--large 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

from deepfake_detect.core.constants import CARD_FILE
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.settings import Settings
from training.manifest import get_crops, load_manifest, make_crop, read_picture

# Sources whose files are whole photos, where faces are large enough to be read at reduced scale.
LARGE_PICTURE_SOURCES = ("london", "web_photos", "deepface", "modern_generated", "modern_swapped", "sdfd")


def main() -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    parser.add_argument("--faces", type=int, default=400, help="faces drawn from every source")
    parser.add_argument("--large", type=int, default=200, help="more from whole-photo sources")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    manifest = load_manifest(args.cache_dir / "manifest.json")
    if manifest is None:
        print(f"no manifest in {args.cache_dir}: run make train first", file=sys.stderr)
        return 2
    geometry = ModelCard.load(settings.models_dir / CARD_FILE).preprocessing.geometry()
    cached = get_crops(manifest, args.cache_dir, geometry).images
    rng = random.Random(args.seed)
    everyone = range(len(manifest.faces))
    large = [i for i in everyone if manifest.faces[i].source in LARGE_PICTURE_SOURCES]
    picked = rng.sample(everyone, min(args.faces, len(everyone)))
    picked += rng.sample(large, min(args.large, len(large)))
    rng.shuffle(picked)
    differ = []
    for i in picked:
        face = manifest.faces[i]
        crop = make_crop(read_picture(Path(manifest.data_dir) / face.key), face, geometry)[0]
        if not np.array_equal(crop, cached[i]):
            differ.append(face.key)
    print(f"{len(picked)} faces recomputed in random order, {len(differ)} differ from the cache")
    for key in differ[:20]:
        print(f"  differs: {key}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
