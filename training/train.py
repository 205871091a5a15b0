"""Fine-tune MobileNetV2 on real faces and photos, DFDC swaps, GAN and diffusion faces and
self-blended fakes; calibrate and set the threshold on validation; export to ONNX with its card.

    python -m training.train                # full CPU run, writes models/deepfake_classifier.{onnx,json}
    python -m training.train --help         # every knob; SageMaker hyperparameters use the same names

Schedule (defaults): 6 epochs x 25,000 streamed samples, batch 32, AdamW (lr 5e-4, weight decay
1e-4), one-cycle learning rate (10 % warm-up, cosine decay), the first 4 MobileNetV2 blocks frozen,
160 px crops. Seeds are fixed (python, numpy, torch, and every sample's augmentation). A checkpoint
is written after every epoch and a rerun with the same configuration resumes from the last one.

Only the train and validation splits are read here: temperature, threshold and the choice of
run use validation alone. The test split is measured once, by ``python -m training.evaluate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from deepfake_detect.core.align import mirrored, to_tensor
from deepfake_detect.core.constants import CLASSIFIER_FILE, IMAGENET_MEAN, IMAGENET_STD
from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import (
    Calibration,
    KindEvidence,
    ModelCard,
    Outputs,
    Preprocessing,
)
from training.adversarial import mix_adversarial
from training.card_text import LICENSE, LIMITATIONS
from training.config import TrainConfig, parse_config
from training.dataset import DEFAULT_WEIGHTS, IGNORE, TrainStream, build_kinds, kind_targets
from training.feedback import FeedbackSummary, add_feedback
from training.manifest import CROP_PATH, Crops, Manifest, SplitSpec, get_crops, get_manifest
from training.metrics import fit_temperature, nll, sigmoid, threshold_for_fpr
from training.model import KINDS, FakeFaceNet
from training.onnx_export import (
    CAM_NAME,
    KINDS_NAME,
    LOGIT_NAME,
    OPSET,
    check_parity,
    export_onnx,
    latency_ms_per_face,
)
from training.report import summarise
from training.sources import FAKE, PHOTO_SOURCES, REAL

log = logging.getLogger("training")

# Mirror test-time augmentation: measured on the v2 model against real photos from unseen sources,
# 12.2 -> 9.6 % called fake at unchanged catch rates, for one more classifier pass.
FLIP_TTA = True
KIND_LOSS_WEIGHT = 0.5  # the kind logits share the features; the fake logit stays the main task
MEAN, STD = IMAGENET_MEAN, IMAGENET_STD  # the backbone was trained with them


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


Floats = np.ndarray[Any, np.dtype[np.float64]]


def onnx_logits(
    path: Path, crops: Crops, indices: list[int], batch_size: int = 64, flip_tta: bool = FLIP_TTA
) -> tuple[Floats, Floats]:
    """Fake logits (N,) and kind logits (N, 2) of the exported model through ONNX Runtime, with
    the serving path's flip test-time augmentation: what the service will compute."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, kinds = [], []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        batch = to_tensor([np.asarray(crops.images[i]) for i in chunk], MEAN, STD)
        views = [batch, mirrored(batch)] if flip_tta else [batch]
        outputs = [session.run([LOGIT_NAME, KINDS_NAME], {"input": view}) for view in views]
        logits.append(np.mean([np.asarray(o[0]).ravel() for o in outputs], axis=0))
        kinds.append(np.mean([np.asarray(o[1]) for o in outputs], axis=0))
    if not logits:
        return np.zeros(0), np.zeros((0, len(KINDS)))
    return np.concatenate(logits).astype(np.float64), np.concatenate(kinds).astype(np.float64)


def preprocessing_of(cfg: TrainConfig) -> Preprocessing:
    """The card's preprocessing for this run: the crop and normalisation training used."""
    return Preprocessing(
        input_size=cfg.input_size,
        margin=cfg.margin,
        shift=cfg.shift,
        border=cfg.border,  # type: ignore[arg-type]
        mean=MEAN,
        std=STD,
        flip_tta=FLIP_TTA,
    )


def geometry_of(cfg: TrainConfig) -> CropGeometry:
    return preprocessing_of(cfg).geometry()


# Settings that change what a checkpoint means; output paths and the version do not.
_RUN_KEYS = (
    "input_size",
    "margin",
    "shift",
    "border",
    "epochs",
    "samples_per_epoch",
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_fraction",
    "dropout",
    "freeze_blocks",
    "seed",
    "limit_per_source",
    "pretrained",
)
_HARDENING_KEYS = ("edit_share", "adversarial_eps", "adversarial_share")


def run_fingerprint(cfg: TrainConfig, manifest: Manifest) -> str:
    values: dict[str, Any] = {k: getattr(cfg, k) for k in _RUN_KEYS}
    if cfg.edit_share or cfg.adversarial_eps:  # only then, so earlier runs keep their checkpoints
        values |= {k: getattr(cfg, k) for k in _HARDENING_KEYS}
    if cfg.init_from is not None:  # the starting weights, by content: a renamed file is the same run
        values["init_from"] = file_sha256(cfg.init_from)
    values["crop_path"] = CROP_PATH  # crops read another way are another run
    return hashlib.sha256(json.dumps([values, manifest.digest()], sort_keys=True).encode()).hexdigest()[:16]


def rng_state() -> dict[str, Any]:
    """Every random generator training draws from (dropout, any unseeded numpy or python use)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train_model(
    cfg: TrainConfig,
    manifest: Manifest,
    crops: Crops,
    device: torch.device,
    on_epoch: Callable[[int], None] | None = None,
) -> tuple[FakeFaceNet, dict[str, Any]]:
    """Train from scratch or from the last checkpoint of this exact configuration and data.

    ``on_epoch(epoch)`` is called once the epoch's checkpoint is on disk."""
    kinds = build_kinds(manifest, "train", DEFAULT_WEIGHTS)
    stream = TrainStream(crops, kinds, cfg.samples_per_epoch, cfg.seed, MEAN, STD, edit_share=cfg.edit_share)
    loader = DataLoader(
        stream,
        batch_size=cfg.batch_size,
        shuffle=False,
        drop_last=True,
        num_workers=cfg.workers,
        persistent_workers=False,
    )
    model = FakeFaceNet(pretrained=cfg.pretrained, dropout=cfg.dropout, input_size=cfg.input_size)
    origin: dict[str, Any] = {}  # where the starting weights came from, for the card
    if cfg.init_from is not None:
        start_state = torch.load(cfg.init_from, map_location="cpu", weights_only=False)
        model.load_state_dict(start_state["model"])
        if start_state.get("soup"):  # a weight average (training.soup): which halves, in which proportion
            origin["soup"] = start_state["soup"]
        log.info("starting from the weights of %s", cfg.init_from)
    model.freeze_blocks(cfg.freeze_blocks)
    model = model.to(device).to(memory_format=torch.channels_last)  # faster convolutions on CPU
    if cfg.epochs == 0:  # calibrate and export given weights (a soup, a finished run) as they are
        if cfg.init_from is None:
            raise ValueError("--epochs 0 needs --init-from: there would be no weights to export")
        log.info("no training: the weights of %s as they are", cfg.init_from.name)
        return model.to("cpu").to(memory_format=torch.contiguous_format).eval(), {
            "steps": 0,
            "history": [],
            "train_seconds": 0.0,
            "checkpoint": cfg.init_from.name,
            **origin,
        }
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=cfg.lr, total_steps=steps, pct_start=cfg.warmup_fraction, anneal_strategy="cos"
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    kind_loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    start, step, history = time.monotonic(), 0, []
    fingerprint = run_fingerprint(cfg, manifest)
    checkpoint = cfg.checkpoint_dir / f"checkpoint_{fingerprint}.pt"
    first_epoch = 0
    attack_rng = torch.Generator().manual_seed(cfg.seed)
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        first_epoch, step, history = state["epoch"] + 1, state["step"], state["history"]
        if "rng" in state:  # checkpoints written before the RNG state was saved resume without it
            restore_rng(state["rng"])
        if "attack_rng" in state:
            attack_rng.set_state(state["attack_rng"])
        log.info("resumed from %s after epoch %d", checkpoint, state["epoch"])
    for epoch in range(first_epoch, cfg.epochs):
        stream.epoch = epoch
        model.train()
        running, count = 0.0, 0
        for x, y in loader:
            x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            x = mix_adversarial(
                model, x, y[:, :1], cfg.adversarial_eps, cfg.adversarial_share, MEAN, STD, attack_rng
            )
            logit, _, kind_logits = model(x)
            loss = loss_fn(logit, y[:, :1])
            known = (y[:, 1:] != IGNORE).float()  # each kind logit learns from reals and its own kind
            kind_loss = kind_loss_fn(kind_logits, y[:, 1:].clamp(min=0.0)) * known
            loss = loss + KIND_LOSS_WEIGHT * kind_loss.sum() / known.sum().clamp(min=1.0)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            scheduler.step()
            step += 1
            running += float(loss.item()) * len(y)  # fake + weighted kind loss
            count += len(y)
            if step % 50 == 0:
                elapsed = time.monotonic() - start
                log.info(
                    "epoch %d step %d/%d loss %.4f  %.0f img/s  %.0f s",
                    epoch,
                    step,
                    steps,
                    running / count,
                    step * cfg.batch_size / elapsed,
                    elapsed,
                )
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(running / max(count, 1), 4),
                "elapsed_s": round(time.monotonic() - start, 1),
            }
        )
        log.info("epoch %d done: %s", epoch, history[-1])
        cfg.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch,
                "step": step,
                "history": history,
                "fingerprint": fingerprint,
                "rng": rng_state(),
                "attack_rng": attack_rng.get_state(),
            },
            tmp,
        )
        tmp.replace(checkpoint)  # a spot interruption never leaves half a checkpoint
        if on_epoch is not None:
            on_epoch(epoch)
    info = {
        "steps": steps,
        "history": history,
        "train_seconds": round(time.monotonic() - start, 1),
        "kinds": {k.name: {"weight": k.weight, "faces": len(k.pool)} for k in kinds},
        "self_blend_share_of_pairs": stream.sbi_share,
        "checkpoint": checkpoint.name,
        **origin,
    }
    return model.to("cpu").to(memory_format=torch.contiguous_format).eval(), info


MIN_FACES_FOR_THRESHOLD = 20  # a source with fewer validation reals cannot set a 5 % quantile


def choose_threshold(
    faces: list[Any], p: np.ndarray[Any, np.dtype[np.float64]], max_fpr: float
) -> tuple[float, dict[str, Any]]:
    """The lowest threshold at which every real source of the validation split, and the real
    photo files judged as files (a file is as suspicious as its most suspicious face), call at
    most ``max_fpr`` fake: the worst real source decides, not the pooled, easy majority."""
    real = np.array([f.label == REAL for f in faces])
    sources = np.array([f.source for f in faces])
    candidates: dict[str, dict[str, Any]] = {}
    for source in sorted(set(sources[real])):
        members = real & (sources == source)
        if members.sum() >= MIN_FACES_FOR_THRESHOLD:
            candidates[f"faces:{source}"] = {
                "n": int(members.sum()),
                "threshold": threshold_for_fpr(p[members], max_fpr),
            }
    by_file: dict[str, float] = {}
    for face, score in zip(faces, p, strict=True):
        if face.label == REAL and face.source in PHOTO_SOURCES:
            by_file[face.key] = max(by_file.get(face.key, 0.0), float(score))
    if len(by_file) >= MIN_FACES_FOR_THRESHOLD:
        candidates["files:real_photos"] = {
            "n": len(by_file),
            "threshold": threshold_for_fpr(list(by_file.values()), max_fpr),
        }
    if not candidates:
        candidates["faces:all_reals"] = {
            "n": int(real.sum()),
            "threshold": threshold_for_fpr(p[real], max_fpr),
        }
    decided_by = max(candidates, key=lambda k: candidates[k]["threshold"])
    threshold = float(candidates[decided_by]["threshold"])
    rule = {
        "max_fpr": max_fpr,
        "decided_by": decided_by,
        "candidates": {
            k: {"n": v["n"], "threshold": round(v["threshold"], 6)} for k, v in candidates.items()
        },
    }
    return min(threshold, 1.0), rule


MAX_FAKES_BELOW_T_REAL = 0.10  # of each kind's validation fakes, at most this share reads "no sign"


def choose_threshold_real(
    faces: list[Any], p: np.ndarray[Any, np.dtype[np.float64]], t_fake: float, max_missed: float
) -> tuple[float, dict[str, Any]]:
    """t_real: the highest score below which at most ``max_missed`` of the validation fakes of
    each kind (generated, swapped) fall, never above t_fake. Between t_real and t_fake the
    evidence is inconclusive; below t_real a face shows no sign of manipulation."""
    candidates: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(KINDS):
        fake = np.array([f.label == FAKE and kind_targets(FAKE, f.source)[k] == 1.0 for f in faces])
        if fake.sum() >= MIN_FACES_FOR_THRESHOLD:
            candidates[name] = {"n": int(fake.sum()), "threshold": float(np.quantile(p[fake], max_missed))}
    if not candidates:
        return t_fake, {"max_missed": max_missed, "decided_by": "no validation fakes: t_real = t_fake"}
    decided_by = min(candidates, key=lambda k: candidates[k]["threshold"])
    value = min(float(candidates[decided_by]["threshold"]), t_fake)
    return value, {
        "max_missed": max_missed,
        "decided_by": decided_by if value < t_fake else "t_fake (the fakes sit above it)",
        "candidates": {
            k: {"n": v["n"], "threshold": round(v["threshold"], 6)} for k, v in candidates.items()
        },
    }


def fit_kinds(
    faces: list[Any], kind_logits: np.ndarray[Any, np.dtype[np.float64]], max_fpr: float
) -> tuple[dict[str, KindEvidence], dict[str, Any]]:
    """Each evidence kind's temperature (fitted on validation reals and that kind's fakes) and
    threshold (the worst validation real source at ``max_fpr``, as for the fake score)."""
    kinds: dict[str, KindEvidence] = {}
    rules: dict[str, Any] = {}
    for k, name in enumerate(KINDS):
        of_kind = np.array(
            [f.label == REAL or (f.label == FAKE and kind_targets(FAKE, f.source)[k] == 1.0) for f in faces]
        )
        labels = np.array([f.label for f in faces])[of_kind]
        if not of_kind.any() or labels.min() == labels.max():
            continue  # no validation fakes of this kind: nothing to calibrate it on
        temperature = fit_temperature(labels, kind_logits[of_kind, k])
        p = sigmoid(kind_logits[:, k] / temperature)
        threshold, rule = choose_threshold(faces, p, max_fpr)
        kinds[name] = KindEvidence(temperature=round(temperature, 5), threshold=round(threshold, 6))
        rules[name] = {**rule, "fakes": int(labels.sum())}
    return kinds, rules


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = parse_config(sys.argv[1:] if argv is None else argv)
    try:
        return run(cfg)
    except Exception as exc:
        log.exception("training failed")
        if cfg.failure_path is not None:
            # SageMaker shows this file's text as the job's FailureReason (at most 1 KiB of it).
            cfg.failure_path.parent.mkdir(parents=True, exist_ok=True)
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            cfg.failure_path.write_text(reason[:1000] + "\n")
        return 1


def run(cfg: TrainConfig) -> int:
    """Train, calibrate, export and write the card (the whole job)."""
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    wall = time.monotonic()
    log.info("device %s, config %s", device, cfg.to_json())

    manifest = get_manifest(
        cfg.data_dir, cfg.cache_dir, cfg.detector_path, SplitSpec(seed=cfg.seed), cfg.limit_per_source
    )
    geometry = geometry_of(cfg)
    crops = get_crops(manifest, cfg.cache_dir, geometry)
    feedback = FeedbackSummary()
    if cfg.feedback_dir is not None:
        manifest, crops, feedback = add_feedback(
            manifest, crops, cfg.feedback_dir, cfg.detector_path, geometry
        )
    model, info = train_model(cfg, manifest, crops, device)

    # Export to a staging name; only a file that passed parity gets the shipped name.
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    staging = cfg.output_dir / f".{CLASSIFIER_FILE}.staging"
    export_onnx(model, staging, cfg.input_size)
    val = manifest.select("val")
    real_val = [i for i in val if manifest.faces[i].label == REAL]
    parity_batch = to_tensor([np.asarray(crops.images[i]) for i in real_val[:16]], MEAN, STD)
    parity = check_parity(model, staging, parity_batch)
    log.info("ONNX parity on %d real crops: max abs diff %.2e", len(parity_batch), parity)

    # Calibrate and set the thresholds on validation only, through ONNX Runtime.
    val_logits, val_kind_logits = onnx_logits(staging, crops, val)
    val_faces = [manifest.faces[i] for i in val]
    val_labels = np.array([f.label for f in val_faces])
    temperature = fit_temperature(val_labels, val_logits)
    val_p = sigmoid(val_logits / temperature)
    threshold, rule = choose_threshold(val_faces, val_p, cfg.max_fpr)
    log.info(
        "temperature %.3f (val NLL %.4f -> %.4f), threshold %.4f (%s)",
        temperature,
        nll(val_labels, val_logits),
        nll(val_labels, val_logits, temperature),
        threshold,
        rule["decided_by"],
    )
    kinds, kind_rules = fit_kinds(val_faces, val_kind_logits, cfg.max_fpr)
    threshold_real, real_rule = choose_threshold_real(val_faces, val_p, threshold, MAX_FAKES_BELOW_T_REAL)
    log.info("t_real %.4f (%s)", threshold_real, real_rule["decided_by"])
    metrics = {
        "val": summarise(val_faces, val_p, threshold),
        "threshold_rule": rule,
        "kind_threshold_rules": kind_rules,
        "threshold_real_rule": real_rule,
        "latency_ms_per_face_1thread": round(latency_ms_per_face(staging, cfg.input_size), 2),
        "onnx_parity_max_abs_diff": parity,
        "measured_by": "python -m training.train (validation split only; image level, cached core crops)",
    }

    target = cfg.output_dir / CLASSIFIER_FILE
    shutil.move(staging, target)
    version = cfg.version or dt.datetime.now(dt.UTC).strftime("%Y.%m.%d-%H%M")
    card = ModelCard(
        name=cfg.name,
        version=version,
        sha256=file_sha256(target),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        architecture=(
            f"aligned face crop {cfg.input_size} px (margin {cfg.margin:g}, shift {cfg.shift:g}, "
            f"{cfg.border} border) -> MobileNetV2 (torchvision, ImageNet IMAGENET1K_V1 weights) "
            f"-> global average pooling -> linear(1280->1) fake logit with its CAM, and linear(1280->2) "
            f"evidence-kind logits ({', '.join(KINDS)}); mirror test-time augmentation; ONNX opset {OPSET}, "
            "dynamic batch"
        ),
        preprocessing=preprocessing_of(cfg),
        calibration=Calibration(method="temperature", temperature=round(temperature, 5)),
        outputs=Outputs(logit=LOGIT_NAME, cam=CAM_NAME, kinds=KINDS_NAME, kind_names=KINDS),
        threshold=round(threshold, 6),
        threshold_real=round(threshold_real, 6),
        kinds=kinds,
        training_data={
            "sources": [
                "DFDC face crops (real + face swaps)",
                "UTKFace crop_part1 (real)",
                "hardfakevsrealfaces (real Unsplash portraits + StyleGAN2)",
                "SDFD (Stable Diffusion 2.1 portraits, fake)",
                "Face Research Lab London set (real studio portraits, by person)",
                "web_photos (ordinary real photos, by source repository)",
                "modern_fakes training families (today's generators and swap tools; whole families "
                "held out for validation and test: see training.sources.MODERN_FAMILIES)",
                "deepface_photos development part (real photos, by person)",
                "self-blended fakes made on the fly from the training reals (68-landmark masks)",
            ],
            "faces_by_source": {
                s: {split: len(manifest.select(split, source=s)) for split in ("train", "val", "test")}
                for s in sorted({f.source for f in manifest.faces})
            },
            "faces": {s: len(manifest.select(s)) for s in ("train", "val", "test")},
            "detection_failures": len(manifest.failures),
            "feedback": feedback.as_dict(),
            "split": {
                "by": "identity: DFDC original video, London person, web_photos repository, deepface "
                "person, merged with every face sharing its bytes, its thumbnail or (dlib ResNet "
                "embedding) its person; each component lands in one split",
                "identities": len({f.identity for f in manifest.faces}),
                "val": manifest.split.val,
                "test": manifest.split.test,
                "seed": manifest.split.seed,
            },
        },
        training={
            **cfg.to_json(),
            **info,
            "device": str(device),
            "torch": torch.__version__,
            "wall_seconds": round(time.monotonic() - wall, 1),
            "threshold_rule": f"lowest threshold with <= {cfg.max_fpr:.0%} FPR on validation reals "
            "of every source and on validation real photo files",
        },
        metrics=metrics,
        limitations=LIMITATIONS,
        license=LICENSE,
    )
    for key in (
        "shared_dir",
        "output_dir",
        "report_dir",
        "cache_dir",
        "detector_path",
        "checkpoints",
        "feedback_dir",
        "init_from",
        "failure_path",
    ):
        card.training.pop(key, None)  # machine paths do not belong in a shipped card
    if cfg.init_from is not None:
        card.training["init_from"] = cfg.init_from.name
    card.save(target.with_suffix(".json"))
    cfg.report_dir.mkdir(parents=True, exist_ok=True)
    (cfg.report_dir / "train_report.json").write_text(json.dumps(card.model_dump(), indent=2))
    log.info(
        "wrote %s (%s) in %.0f s; validation overall %s",
        target,
        card.sha256[:12],
        time.monotonic() - wall,
        card.metrics["val"]["overall"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
