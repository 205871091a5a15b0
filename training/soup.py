"""A weight-space ensemble of two training checkpoints of the same network ("model soup";
WiSE-FT, Wortsman et al., CVPR 2022): every weight and batch-norm statistic is
``(1 - alpha) * first + alpha * second``. Interpolating a fine-tuned run with the run it started
from keeps much of what the fine-tune learned at a smaller cost to what the start already knew,
for no extra inference cost.

    python -m training.soup START.pt TUNED.pt --alpha 0.5
    python -m training.train --init-from <the printed checkpoint> --epochs 0 --output-dir var/soup

The soup is written beside the training checkpoints as ``checkpoint_<sha256 prefix>.pt``, the
name a model card records and ``training.attacks`` looks up; ``--epochs 0`` calibrates and
exports it on validation like any run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path
from typing import Any

import torch

from deepfake_detect.settings import Settings


def interpolate(
    first: dict[str, torch.Tensor], second: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """The interpolated state dict; integer buffers (batch-norm step counters) come from ``first``."""
    if first.keys() != second.keys():
        raise ValueError("the checkpoints hold different networks")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    out = {}
    for name, a in first.items():
        b = second[name]
        if a.shape != b.shape:
            raise ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
        out[name] = torch.lerp(a, b.to(a.dtype), alpha) if a.is_floating_point() else a.clone()
    return out


def write_soup(first: Path, second: Path, alpha: float, folder: Path) -> Path:
    states = [torch.load(p, map_location="cpu", weights_only=False)["model"] for p in (first, second)]
    soup: dict[str, Any] = {
        "model": interpolate(states[0], states[1], alpha),
        "soup": {"first": first.name, "second": second.name, "alpha": alpha},
    }
    buffer = io.BytesIO()
    torch.save(soup, buffer)
    data = buffer.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"checkpoint_{hashlib.sha256(data).hexdigest()[:16]}.pt"
    target.write_bytes(data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.soup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("first", type=Path, help="the checkpoint alpha 0 gives (the starting run)")
    parser.add_argument("second", type=Path, help="the checkpoint alpha 1 gives (the fine-tune)")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--folder", type=Path, default=Settings().training.cache_dir / "checkpoints")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(write_soup(args.first, args.second, args.alpha, args.folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
