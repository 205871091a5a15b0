"""Adversarial attacks on the shipped classifier: white-box on its torch twin, black-box on ONNX.

    python -m training.attacks --report-dir var/attacks            # test split, shipped model
    python -m training.attacks --update-card                       # also card.metrics["attacks"]

The twin is ``FakeFaceNet`` rebuilt at the card's input size with the final training checkpoint's
weights (``card.training["checkpoint"]`` in ``--cache-dir``/checkpoints, or ``--checkpoint``; without
one the white-box part is skipped), wrapped in the service's preprocessing: RGB pixels in [0, 1]
-> ImageNet normalisation -> the fake logit, averaged with the mirror image's logit when the card
has ``flip_tta``. Before anything else its logits are checked
against ONNX Runtime on the shipped file (max |diff| < 1e-3), so the attack targets what is served.

White box: FGSM and PGD (L-infinity, 10 steps of eps/4 from a random start, eps = 1, 2, 4 / 255)
in pixel space, on a fixed sample of test-split fakes the model catches (score >= t_fake), pushed
down, and on test-split reals it does not call fake, pushed up. The perturbed crops are rounded to
8-bit pixels (what a file carries) and scored by the core's ``Classifier``; then again after a
JPEG q90 round trip (what survives a re-encode). Black box: a random-search L-infinity attack
(square attack, Andriushchenko et al. 2020) with a 500-query budget against the core's
``Classifier`` on a sample of caught fakes; each query is one scoring request (both TTA views).

Reported per eps, with n: the share of caught fakes flipped below t_fake (no longer "fake") and
below t_real ("real"), and the share of clean reals pushed to "fake".
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from deepfake_detect.core.align import mirrored, to_tensor
from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.settings import Settings
from training.adversarial import pgd as linf_pgd
from training.augment import jpeg
from training.evaluate import split_spec
from training.evasion import write_report
from training.manifest import Manifest, get_crops, get_manifest
from training.metrics import wilson_interval
from training.model import FakeFaceNet
from training.onnx_export import onnx_outputs
from training.sources import FAKE, REAL

log = logging.getLogger("training.attacks")

SEED = 2025
EPSILONS = (1, 2, 4)  # in 8-bit pixel levels: eps = k / 255
STEPS = 10
PARITY_TOLERANCE = 1e-3
Image = NDArray[np.uint8]


class Twin(nn.Module):
    """The served model as a function of RGB pixels in [0, 1] (N, 3, S, S): the fake logit, the
    mirror view's averaged in when ``flip_tta``. Uncalibrated (the temperature only rescales)."""

    def __init__(
        self, net: FakeFaceNet, mean: tuple[float, ...], std: tuple[float, ...], flip_tta: bool
    ) -> None:
        super().__init__()
        self.net = net.eval()
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.flip_tta = flip_tta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        logit: torch.Tensor = self.net(z)[0][:, 0]
        if self.flip_tta:
            logit = 0.5 * (logit + self.net(z.flip(-1))[0][:, 0])
        return logit


def load_twin(card: ModelCard, checkpoint: Path) -> Twin:
    pre = card.preprocessing
    net = FakeFaceNet(pretrained=False, input_size=pre.input_size)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    net.load_state_dict(state.get("model", state))
    for p in net.parameters():
        p.requires_grad_(False)
    return Twin(net, pre.mean, pre.std, pre.flip_tta).eval()


def find_checkpoint(card: ModelCard, checkpoint_dir: Path) -> Path:
    """The checkpoint the card names (``training.checkpoint``), else the newest in the folder."""
    named = card.training.get("checkpoint") if isinstance(card.training, dict) else None
    if named and (checkpoint_dir / named).is_file():
        return checkpoint_dir / str(named)
    found = sorted(checkpoint_dir.glob("checkpoint_*.pt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no training checkpoint in {checkpoint_dir}")
    log.warning(
        "the card names no checkpoint found in %s: using the newest, %s", checkpoint_dir, found[-1].name
    )
    return found[-1]


def to_pixels(crops: list[Image]) -> torch.Tensor:
    """BGR uint8 crops -> RGB float pixels in [0, 1], NCHW."""
    rgb = np.stack(crops)[..., ::-1].astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))


def to_crops(x: torch.Tensor) -> list[Image]:
    """RGB pixels in [0, 1] -> BGR uint8 crops (rounded to the nearest level)."""
    rgb = np.round(x.detach().numpy().transpose(0, 2, 3, 1) * 255.0).clip(0, 255).astype(np.uint8)
    return [np.ascontiguousarray(im[..., ::-1]) for im in rgb]


def parity(twin: Twin, model_path: Path, crops: list[Image], card: ModelCard) -> float:
    """Max |twin - ONNX| fake logit on ``crops``, ONNX run exactly as the service runs it (mirror
    view averaged in float32 when the card has flip TTA)."""
    pre = card.preprocessing
    batch = to_tensor(crops, pre.mean, pre.std)
    logits = onnx_outputs(model_path, batch)[0].reshape(-1)
    if pre.flip_tta:
        logits = np.float32(0.5) * (logits + onnx_outputs(model_path, mirrored(batch))[0].reshape(-1))
    with torch.no_grad():
        twin_logits = twin(to_pixels(crops)).numpy()
    return float(np.abs(twin_logits - logits).max())


def pgd(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    direction: torch.Tensor,
    eps: float,
    steps: int = STEPS,
    step_size: float | None = None,
    random_start: bool = True,
    seed: int = SEED,
) -> torch.Tensor:
    """``training.adversarial.pgd`` at this suite's fixed seed and step count."""
    return linf_pgd(
        model, x, direction, eps, steps, step_size, random_start, torch.Generator().manual_seed(seed)
    )


def fgsm(model: nn.Module, x: torch.Tensor, direction: torch.Tensor, eps: float) -> torch.Tensor:
    return pgd(model, x, direction, eps, steps=1, step_size=eps, random_start=False)


def square_attack(
    score: Any,
    crops: list[Image],
    eps: int,
    queries: int = 500,
    stop_below: float = 0.0,
    seed: int = SEED,
) -> tuple[list[Image], NDArray[np.float64], NDArray[np.int64]]:
    """Random-search L-infinity attack on 8-bit crops (Andriushchenko et al. 2020, simplified):
    start from vertical stripes of +-eps levels, then each query re-draws one square of the
    perturbation (per channel +-eps) and keeps it when the score went down. ``score`` maps a list
    of BGR crops to fake probabilities; images stop once below ``stop_below``. Returns the adversarial
    crops, their final scores and the queries each used (the first counts)."""
    rng = np.random.default_rng(seed)
    base = np.stack(crops).astype(np.int16)
    n, size, _, channels = base.shape
    delta = np.repeat(rng.choice([-eps, eps], size=(n, 1, size, channels)), size, axis=1).astype(np.int16)

    def apply(d: NDArray[np.int16]) -> NDArray[np.uint8]:
        return np.asarray(np.clip(base + d, 0, 255), np.uint8)

    best = np.asarray(score(list(apply(delta))), np.float64)
    used = np.ones(n, np.int64)
    for q in range(1, queries):
        active = np.flatnonzero(best >= stop_below)
        if active.size == 0:
            break
        share = 0.1 * 0.5 ** sum(q >= k for k in (10, 50, 200, 350))  # the square shrinks over time
        side = int(np.clip(round(np.sqrt(share) * size), 1, size - 1))
        trial = delta[active].copy()
        for row in range(len(active)):
            y, x = rng.integers(0, size - side + 1, size=2)
            trial[row, y : y + side, x : x + side] = rng.choice([-eps, eps], size=(1, 1, channels))
        candidate = np.clip(base[active] + trial, 0, 255).astype(np.uint8)
        scores = np.asarray(score(list(candidate)), np.float64)
        better = scores < best[active]
        delta[active[better]] = trial[better]
        best[active[better]] = scores[better]
        used[active] += 1
    return list(apply(delta)), best, used


def _share(mask: NDArray[np.bool_]) -> float:
    return round(float(mask.mean()), 4) if mask.size else 0.0


def _ci(mask: NDArray[np.bool_]) -> tuple[float, float] | None:
    return wilson_interval(int(mask.sum()), int(mask.size))


def sample(
    classifier: Classifier,
    manifest: Manifest,
    images: Any,
    split: str,
    label: int,
    per_source: int,
    pool: int = 150,
) -> list[int]:
    """Per source, the first ``per_source`` faces of a seeded shuffle of ``split`` (at most ``pool``
    looked at) that the model gets right: fakes called fake, reals not called fake."""
    rng = np.random.default_rng(SEED)
    chosen: list[int] = []
    for source in sorted({f.source for f in manifest.faces if f.label == label}):
        members = manifest.select(split, source=source, label=label)
        if not members:
            continue
        looked = [int(i) for i in rng.permutation(members)[:pool]]
        p = classifier.score([np.asarray(images[i]) for i in looked]).probabilities
        right = p >= classifier.threshold if label == FAKE else p < classifier.threshold
        chosen += [i for i, ok in zip(looked, right, strict=True) if ok][:per_source]
    return chosen


def white_box(
    twin: Twin, classifier: Classifier, crops: list[Image], label: int, batch_size: int = 16
) -> dict[str, Any]:
    """FGSM and PGD at each eps on ``crops`` (all of one label), scored by the torch twin (float
    pixels), ONNX on 8-bit pixels, and ONNX after JPEG q90."""
    t_fake, t_real = classifier.threshold, classifier.threshold_real
    temperature = classifier.card.calibration.temperature
    x = to_pixels(crops)
    direction = torch.full((len(crops),), -1.0 if label == FAKE else 1.0)
    out: dict[str, Any] = {}
    for attack in ("fgsm", "pgd"):
        for k in EPSILONS:
            eps = k / 255.0
            adv = torch.cat(
                [
                    (fgsm if attack == "fgsm" else pgd)(
                        twin, x[s : s + batch_size], direction[s : s + batch_size], eps
                    )
                    for s in range(0, len(crops), batch_size)
                ]
            )
            with torch.no_grad():
                torch_p = torch.sigmoid(twin(adv) / temperature).numpy()
            adv_crops = to_crops(adv)
            onnx_p = classifier.score(adv_crops).probabilities
            jpeg_p = classifier.score([jpeg(c, 90) for c in adv_crops]).probabilities
            row: dict[str, Any] = {
                "n": len(crops),
                "eps": f"{k}/255",
                "linf_levels": int(np.abs(np.stack(adv_crops).astype(np.int16) - np.stack(crops)).max()),
            }
            for view, p in (("torch", torch_p), ("onnx", onnx_p), ("onnx_jpeg_q90", jpeg_p)):
                if label == FAKE:
                    row[view] = {"not_fake": _share(p < t_fake), "not_fake_95ci": _ci(p < t_fake)}
                    if t_real is not None:
                        row[view] |= {"real": _share(p < t_real), "real_95ci": _ci(p < t_real)}
                else:
                    row[view] = {"fake": _share(p >= t_fake), "fake_95ci": _ci(p >= t_fake)}
            out[f"{attack}_eps{k}"] = row
    return out


def black_box(classifier: Classifier, crops: list[Image], eps: int, queries: int) -> dict[str, Any]:
    t_fake, t_real = classifier.threshold, classifier.threshold_real
    stop = t_real if t_real is not None else t_fake
    adv, best, used = square_attack(lambda c: classifier.score(c).probabilities, crops, eps, queries, stop)
    jpeg_p = classifier.score([jpeg(c, 90) for c in adv]).probabilities
    flipped = best < t_fake
    row: dict[str, Any] = {
        "n": len(crops),
        "eps": f"{eps}/255",
        "query_budget": queries,
        "onnx": {"not_fake": _share(flipped)},
        "onnx_jpeg_q90": {"not_fake": _share(jpeg_p < t_fake)},
        "median_queries_used": int(np.median(used)) if len(used) else 0,
    }
    if t_real is not None:
        row["onnx"]["real"] = _share(best < t_real)
        row["onnx_jpeg_q90"]["real"] = _share(jpeg_p < t_real)
    return row


def by_source(manifest: Manifest, indices: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in indices:
        counts[manifest.faces[i].source] = counts.get(manifest.faces[i].source, 0) + 1
    return dict(sorted(counts.items()))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| attack | eps | caught fakes n | not fake | real | not fake after JPEG q90 | real after JPEG q90 "
        "| clean reals n | reals pushed to fake | after JPEG q90 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    fakes, reals = report.get("white_box", {}).get("fakes", {}), report.get("white_box", {}).get("reals", {})

    def pct(row: dict[str, Any], view: str, key: str) -> str:
        value = row.get(view, {}).get(key)
        return "-" if value is None else f"{100 * value:.0f} %"

    for name, row in fakes.items():
        real_row = reals.get(name, {})
        lines.append(
            f"| {name.split('_')[0].upper()} | {row['eps']} | {row['n']} | {pct(row, 'onnx', 'not_fake')} | "
            f"{pct(row, 'onnx', 'real')} | {pct(row, 'onnx_jpeg_q90', 'not_fake')} | "
            f"{pct(row, 'onnx_jpeg_q90', 'real')} | {real_row.get('n', '-')} | "
            f"{pct(real_row, 'onnx', 'fake')} | {pct(real_row, 'onnx_jpeg_q90', 'fake')} |"
        )
    if "black_box" in report:
        row = report["black_box"]
        lines.append(
            f"| square attack, {row['query_budget']} queries | {row['eps']} | {row['n']} | "
            f"{pct(row, 'onnx', 'not_fake')} | {pct(row, 'onnx', 'real')} | "
            f"{pct(row, 'onnx_jpeg_q90', 'not_fake')} | {pct(row, 'onnx_jpeg_q90', 'real')} | - | - | - |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m training.attacks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, default=settings.models_dir / CLASSIFIER_FILE)
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="default: the card's, in --cache-dir/checkpoints"
    )
    parser.add_argument("--shared-dir", type=Path, default=settings.shared_dir)
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    parser.add_argument("--report-dir", type=Path, default=settings.data_dir / "training" / "evaluation")
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument("--fakes-per-source", type=int, default=6)
    parser.add_argument("--reals-per-source", type=int, default=3)
    parser.add_argument("--query-sample", type=int, default=30, help="caught fakes for the black-box attack")
    parser.add_argument("--query-budget", type=int, default=500)
    parser.add_argument("--query-eps", type=int, default=4, help="black-box eps in 8-bit levels")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--update-card", action="store_true", help='store the results in card.metrics["attacks"]'
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)

    detector_path = settings.detector_path
    if not detector_path.is_file():
        detector_path = args.shared_dir / "models" / DETECTOR_FILE
    classifier = Classifier(args.model, intra_op_threads=args.threads)
    card = classifier.card
    try:
        checkpoint: Path | None = args.checkpoint or find_checkpoint(card, args.cache_dir / "checkpoints")
    except FileNotFoundError as exc:  # a fetched model without its training run: black box only
        checkpoint = None
        log.warning("%s: the white-box attacks need the training checkpoint and are skipped", exc)
    manifest = get_manifest(args.shared_dir / "data", args.cache_dir, detector_path, split_spec(classifier))
    images = get_crops(manifest, args.cache_dir, classifier.geometry).images

    fakes = sample(classifier, manifest, images, args.split, FAKE, args.fakes_per_source)
    reals = sample(classifier, manifest, images, args.split, REAL, args.reals_per_source)
    fake_crops = [np.asarray(images[i]) for i in fakes]
    real_crops = [np.asarray(images[i]) for i in reals]
    report: dict[str, Any] = {
        "model": {"name": card.name, "version": card.version, "sha256": classifier.sha256},
        "flip_tta": card.preprocessing.flip_tta,
        "split": args.split,
        "t_fake": classifier.threshold,
        "t_real": classifier.threshold_real,
        "seed": SEED,
        "sample": {
            "fakes_by_source": by_source(manifest, fakes),
            "reals_by_source": by_source(manifest, reals),
        },
    }
    if checkpoint is not None:
        twin = load_twin(card, checkpoint)
        diff = parity(twin, args.model, (fake_crops + real_crops)[:32], card)
        log.info("twin vs ONNX (flip TTA %s): max |logit diff| %.2e", card.preprocessing.flip_tta, diff)
        if not diff < PARITY_TOLERANCE:
            raise SystemExit(
                f"the torch twin ({checkpoint.name}) is not the shipped model: logits differ by {diff:.2e}"
            )
        start = time.monotonic()
        report |= {
            "checkpoint": checkpoint.name,
            "twin_onnx_max_abs_logit_diff": diff,
            "pgd": {
                "norm": "linf",
                "steps": STEPS,
                "step": "eps/4",
                "random_start": True,
                "space": "RGB pixels in [0, 1] before normalisation",
            },
            "white_box": {
                "fakes": white_box(twin, classifier, fake_crops, FAKE),
                "reals": white_box(twin, classifier, real_crops, REAL),
            },
        }
        log.info(
            "white box on %d fakes and %d reals in %.0f s", len(fakes), len(reals), time.monotonic() - start
        )
    if args.query_sample > 0:
        start = time.monotonic()
        pick = np.random.default_rng(SEED).permutation(len(fake_crops))[: args.query_sample]
        report["black_box"] = black_box(
            classifier, [fake_crops[i] for i in sorted(pick)], args.query_eps, args.query_budget
        )
        log.info("black box on %d fakes in %.0f s", len(pick), time.monotonic() - start)
    report["command"] = "python -m training.attacks " + " ".join(sys.argv[1:] if argv is None else argv)
    text = markdown(report)
    write_report(args.report_dir, "attacks", report, text, args.model if args.update_card else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
