"""Evasion suite: the cheap edits a forger tries before posting, measured on the shipped model.

    python -m training.evasion --report-dir var/evasion            # test split, shipped model
    python -m training.evasion --update-card                       # also card.metrics["evasion"]

Complements the re-encoding table of ``training.evaluate`` (JPEG, half size, WebP, screenshot,
colour grade, retouching), which it does not repeat. Two parts, both at fixed seeds:

Crop level: every test slice (source and label, at most ``--per-slice`` faces drawn with a fixed
seed) from the cached aligned crops, edited, scored by the core's ``Classifier`` (flip TTA and
temperature from the card): horizontal mirror, a caption banner and bold text, an emoji sticker
(overlays over 10-20 % of the crop), a hand (skin-coloured ellipse), sunglasses (dark bars on the
eyes), a face mask (polygon over the lower face), gamma and Gaussian noise. The detector is
assumed to find the face as before (its landmarks place the crop).

File level: a fixed sample of test files per slice, re-written as PNG after an edit that changes
the framing (only the face kept, a wide border added, a mirror image), scanned by
``ScanPipeline.analyze`` exactly as the service runs them: the detector must find the face again.

Catch rate for fake slices and false-positive rate for real slices, each at the card's t_fake,
with n; the share called real (below t_real) as well where the card has one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.settings import Settings
from training.evaluate import split_spec
from training.manifest import Manifest, get_crops, get_manifest
from training.sources import FAKE

log = logging.getLogger("training.evasion")

Image = NDArray[np.uint8]
Points = NDArray[np.float32]
# An edit takes a BGR crop, its 5 landmarks in crop pixels (eyes, nose, mouth corners) and a
# generator; it returns the edited crop (same shape) and the fraction of pixels it painted over
# (0 for edits that touch every pixel a little).
Edit = Callable[[Image, Points, np.random.Generator], tuple[Image, float]]

SEED = 2025
WORDS = ("BREAKING", "so real?!", "#viral", "WATCH", "LOL 2026", "exclusive")


def _painted(before: Image, after: Image) -> float:
    return float(np.any(before != after, axis=2).mean())


def mirror(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    return np.ascontiguousarray(image[:, ::-1]), 0.0


def caption(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A caption banner (dark, 70 % opaque) with white text across the upper or lower face."""
    size = image.shape[0]
    out = image.copy()
    height = int(size * rng.uniform(0.12, 0.17))
    top = int(rng.choice([rng.uniform(0.15, 0.3), rng.uniform(0.6, 0.8)]) * size)
    band = out[top : top + height].astype(np.float32)
    out[top : top + height] = np.clip(band * 0.3, 0, 255).astype(np.uint8)
    word = str(rng.choice(WORDS))
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_DUPLEX, int(height * 0.6), 2)
    (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    scale *= min(1.0, 0.92 * size / max(width, 1))
    (width, text_h), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    origin = ((size - width) // 2, top + (height + text_h) // 2)
    cv2.putText(out, word, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return out, _painted(image, out)


def bold_text(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """Meme-style bold text without a banner: white letters with a black outline, two lines."""
    size = image.shape[0]
    out = image.copy()
    thickness = max(2, size // 32)
    for line, y in enumerate((rng.uniform(0.3, 0.42), rng.uniform(0.72, 0.85))):
        word = str(rng.choice(WORDS)).upper()
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, int(size * 0.16), thickness)
        (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        scale *= min(1.0, 0.95 * size / max(width, 1))
        (width, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        origin = (max(0, (size - width) // 2 + int(rng.integers(-4, 5)) * line), int(y * size))
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(out, word, origin, font, scale, (0, 0, 0), thickness + 4, cv2.LINE_AA)
        cv2.putText(out, word, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out, _painted(image, out)


def emoji(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A smiley sticker (yellow disc, eyes, smile) of about 15 % of the crop on an eye, the nose or
    the mouth."""
    size = image.shape[0]
    out = image.copy()
    radius = int(size * np.sqrt(rng.uniform(0.11, 0.17) / np.pi))
    anchor = points[int(rng.integers(len(points)))]
    cx = int(np.clip(anchor[0], radius, size - radius))
    cy = int(np.clip(anchor[1], radius, size - radius))
    cv2.circle(out, (cx, cy), radius, (0, 215, 255), -1, cv2.LINE_AA)
    eye = max(2, radius // 7)
    for dx in (-radius // 3, radius // 3):
        cv2.circle(out, (cx + dx, cy - radius // 4), eye, (30, 30, 30), -1, cv2.LINE_AA)
    cv2.ellipse(
        out, (cx, cy + radius // 8), (radius // 2, radius // 3), 0, 20, 160, (30, 30, 30), max(2, eye // 2)
    )
    return out, _painted(image, out)


def hand(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A hand over the mouth or a cheek: an ellipse of the face's own skin tone, a little darker,
    with soft edges."""
    size = image.shape[0]
    centre = points[2]  # nose tip: the middle of the face
    skin = np.median(
        image[
            int(centre[1]) - size // 10 : int(centre[1]) + size // 10,
            int(centre[0]) - size // 10 : int(centre[0]) + size // 10,
        ].reshape(-1, 3),
        axis=0,
    )
    colour = tuple(float(c) * rng.uniform(0.8, 0.95) for c in skin)
    mouth = points[3:5].mean(axis=0)
    target = mouth if rng.random() < 0.5 else points[int(rng.choice([3, 4]))] + (0, -size * 0.12)
    mask = np.zeros(image.shape[:2], np.float32)
    axes = (int(size * rng.uniform(0.16, 0.2)), int(size * rng.uniform(0.26, 0.32)))
    cv2.ellipse(
        mask, (int(target[0]), int(target[1] + size * 0.1)), axes, rng.uniform(-35, 35), 0, 360, 1.0, -1
    )
    soft = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=1.5), np.float32)[..., None]
    shade = np.linspace(1.05, 0.85, size, dtype=np.float32)[None, :, None]  # light from one side
    paint = np.clip(np.asarray(colour, np.float32) * shade, 0, 255)
    out = np.clip(image * (1 - soft) + paint * soft, 0, 255).astype(np.uint8)
    return out, float((soft > 0.5).mean())


def sunglasses(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """Dark lenses over both eyes and a bridge between them."""
    size = image.shape[0]
    out = image.copy()
    half_w, half_h = int(size * rng.uniform(0.11, 0.14)), int(size * rng.uniform(0.06, 0.08))
    colour = (int(rng.integers(10, 40)),) * 3
    for eye in points[:2]:
        x, y = int(eye[0]), int(eye[1])
        cv2.rectangle(out, (x - half_w, y - half_h), (x + half_w, y + half_h), colour, -1)
    (x0, y0), (x1, y1) = points[0].astype(int), points[1].astype(int)
    cv2.line(
        out, (int(x0), int(y0) - half_h // 2), (int(x1), int(y1) - half_h // 2), colour, max(2, size // 40)
    )
    return out, _painted(image, out)


def face_mask(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
    """A surgical mask: a light blue polygon from just under the eyes' line to below the chin,
    with pleats."""
    size = image.shape[0]
    out = image.copy()
    nose, mouth_r, mouth_l = points[2], points[3], points[4]
    eye_dist = float(np.linalg.norm(points[0] - points[1]))
    top = nose[1] - 0.15 * eye_dist
    left, right = min(mouth_r[0], mouth_l[0]) - 0.75 * eye_dist, max(mouth_r[0], mouth_l[0]) + 0.75 * eye_dist
    bottom = max(mouth_r[1], mouth_l[1]) + 1.0 * eye_dist
    polygon = np.array(
        [
            [left, top + 0.1 * eye_dist],
            [nose[0], top],
            [right, top + 0.1 * eye_dist],
            [right - 0.15 * eye_dist, bottom - 0.3 * eye_dist],
            [nose[0], bottom],
            [left + 0.15 * eye_dist, bottom - 0.3 * eye_dist],
        ],
        np.int32,
    )
    colour = (int(rng.integers(215, 245)), int(rng.integers(195, 225)), int(rng.integers(160, 190)))
    cv2.fillPoly(out, [polygon], colour, cv2.LINE_AA)
    for k in (0.35, 0.55, 0.75):
        y = int(top + k * (bottom - top))
        cv2.line(
            out,
            (int(left + 0.2 * eye_dist), y),
            (int(right - 0.2 * eye_dist), y),
            tuple(c - 40 for c in colour),
            1,
            cv2.LINE_AA,
        )
    del size
    return out, _painted(image, out)


def gamma(value: float) -> Edit:
    table = np.clip(255.0 * (np.arange(256) / 255.0) ** value, 0, 255).astype(np.uint8)

    def edit(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
        return np.asarray(cv2.LUT(image, table), np.uint8), 0.0

    return edit


def noise(sigma: float) -> Edit:
    def edit(image: Image, points: Points, rng: np.random.Generator) -> tuple[Image, float]:
        grain = rng.normal(0.0, sigma, size=image.shape)
        return np.clip(image + grain, 0, 255).astype(np.uint8), 0.0

    return edit


CROP_EDITS: dict[str, Edit] = {
    "mirror": mirror,
    "caption_banner": caption,
    "bold_text": bold_text,
    "emoji_sticker": emoji,
    "hand": hand,
    "sunglasses": sunglasses,
    "face_mask": face_mask,
    "gamma_0.6": gamma(0.6),
    "gamma_1.6": gamma(1.6),
    "noise_sigma6": noise(6.0),
    "noise_sigma12": noise(12.0),
}


def edit_crop(name: str, image: Image, points: Points, seed: int) -> tuple[Image, float]:
    """One edit of one crop, reproducible from ``seed`` (the face's own)."""
    rng = np.random.default_rng([SEED, seed, list(CROP_EDITS).index(name)])
    return CROP_EDITS[name](np.ascontiguousarray(image), np.asarray(points, np.float32), rng)


# File-level edits: the whole image and the face's box (x, y, w, h) -> the re-framed image.
FileEdit = Callable[[Image, list[float]], Image]


def face_only(image: Image, box: list[float]) -> Image:
    """Only the face: the detector's box widened by 10 % on each side, the rest cut away."""
    x, y, w, h = box
    height, width = image.shape[:2]
    x0, y0 = max(0, int(x - 0.1 * w)), max(0, int(y - 0.1 * h))
    x1, y1 = min(width, int(x + 1.1 * w)), min(height, int(y + 1.1 * h))
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def wide_border(image: Image, box: list[float]) -> Image:
    """The picture in the middle of a wide white frame (60 % of its longer side on every side)."""
    pad = int(0.6 * max(image.shape[:2]))
    return np.asarray(
        cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255)), np.uint8
    )


FILE_EDITS: dict[str, FileEdit] = {
    "face_only": face_only,
    "wide_border": wide_border,
    "mirror": lambda image, box: np.ascontiguousarray(image[:, ::-1]),
}


def slice_name(source: str, label: int) -> str:
    return f"{source}:{'fake' if label == FAKE else 'real'}"


def sample_slices(manifest: Manifest, split: str, per_slice: int, seed: int = SEED) -> dict[str, list[int]]:
    """At most ``per_slice`` faces of each source and label of ``split``, drawn with a fixed seed."""
    slices: dict[str, list[int]] = {}
    for i in manifest.select(split):
        face = manifest.faces[i]
        slices.setdefault(slice_name(face.source, face.label), []).append(i)
    return _draw(slices, per_slice, seed)


def _draw(slices: dict[str, list[int]], per_slice: int, seed: int) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    return {
        name: sorted(rng.choice(members, size=min(per_slice, len(members)), replace=False).tolist())
        for name, members in sorted(slices.items())
    }


def _row(name: str, n: int) -> dict[str, Any]:
    return {"n": n, "rate": "catch_rate" if name.endswith(":fake") else "false_positive_rate"}


def crop_level(
    classifier: Classifier, manifest: Manifest, cache_dir: Path, slices: dict[str, list[int]]
) -> dict[str, Any]:
    """Per slice: the share called fake (>= t_fake) before and after each crop edit, and the share
    called real (< t_real) where the card has a t_real; the mean painted fraction per edit."""
    crops = get_crops(manifest, cache_dir, classifier.geometry)
    t_fake, t_real = classifier.threshold, classifier.threshold_real
    table: dict[str, Any] = {}
    painted: dict[str, list[float]] = {name: [] for name in CROP_EDITS}
    for name, members in slices.items():
        images = [np.asarray(crops.images[i]) for i in members]
        points = [np.asarray(crops.landmarks[i]) for i in members]
        row = _row(name, len(members))
        below = {}
        for edit in ("original", *CROP_EDITS):
            if edit == "original":
                edited = images
            else:
                pairs = [
                    edit_crop(edit, im, pt, i) for im, pt, i in zip(images, points, members, strict=True)
                ]
                edited = [p[0] for p in pairs]
                painted[edit] += [p[1] for p in pairs]
            p = classifier.score(edited).probabilities
            row[edit] = round(float((p >= t_fake).mean()), 4)
            if t_real is not None:
                below[edit] = round(float((p < t_real).mean()), 4)
        if below:
            row["called_real"] = below
        table[name] = row
    return {
        "by_slice": table,
        "painted_fraction": {k: round(float(np.mean(v)), 3) if v else 0.0 for k, v in painted.items()},
    }


def sample_files(manifest: Manifest, split: str, per_slice: int, seed: int = SEED) -> dict[str, list[int]]:
    """Per slice, at most ``per_slice`` files of ``split`` (each as the index of its largest face)."""
    largest: dict[str, int] = {}
    for i in manifest.select(split):
        face = manifest.faces[i]
        if (
            face.key not in largest
            or face.box[2] * face.box[3]
            > manifest.faces[largest[face.key]].box[2] * manifest.faces[largest[face.key]].box[3]
        ):
            largest[face.key] = i
    by_slice: dict[str, list[int]] = {}
    for i in sorted(largest.values()):
        face = manifest.faces[i]
        by_slice.setdefault(slice_name(face.source, face.label), []).append(i)
    return _draw(by_slice, per_slice, seed)


def file_level(
    pipeline: ScanPipeline, manifest: Manifest, files: dict[str, list[int]], work: Path
) -> dict[str, Any]:
    """Per slice: files called fake (score >= t_fake) as they are and after each re-framing edit
    (written as PNG, scanned by ``ScanPipeline.analyze``), and files where no face was found."""
    data_dir = Path(manifest.data_dir)
    t_fake = pipeline.classifier.threshold
    table: dict[str, Any] = {}
    for name, members in files.items():
        row = _row(name, len(members))
        no_face: dict[str, int] = {}
        for edit in ("original", *FILE_EDITS):
            called = missing = 0
            for i in members:
                face = manifest.faces[i]
                path = data_dir / face.key
                if edit != "original":
                    decoded = cv2.imread(str(path), cv2.IMREAD_COLOR)
                    if decoded is None:
                        missing += 1
                        continue
                    path = work / f"{i}_{edit}.png"
                    cv2.imwrite(str(path), FILE_EDITS[edit](np.asarray(decoded, np.uint8), face.box))
                result = pipeline.analyze(path).result
                if result.score is None:
                    missing += 1
                elif result.score >= t_fake:
                    called += 1
                if edit != "original":
                    path.unlink(missing_ok=True)
            row[edit] = round(called / max(len(members), 1), 4)
            no_face[edit] = missing
        row["no_face_or_error"] = no_face
        table[name] = row
    return {"by_slice": table}


def flags(table: dict[str, Any], edits: list[str]) -> list[str]:
    """The rows that miss issue 25's targets: catch rate down > 10 points, false positives up > 2."""
    out = []
    for name, row in table.items():
        for edit in edits:
            if edit not in row:
                continue
            delta = row[edit] - row["original"]
            if name.endswith(":fake") and delta < -0.10:
                out.append(f"{name} {edit}: catch {100 * row['original']:.1f} -> {100 * row[edit]:.1f} %")
            if name.endswith(":real") and delta > 0.02:
                out.append(f"{name} {edit}: FPR {100 * row['original']:.1f} -> {100 * row[edit]:.1f} %")
    return out


def markdown(table: dict[str, Any], edits: list[str]) -> str:
    """A slice-by-edit table of percentages (catch rate for fakes, false positives for reals)."""
    head = "| slice | n | original | " + " | ".join(edits) + " |"
    lines = [head, "|" + "---|" * (3 + len(edits))]
    for name, row in table.items():
        cells = [f"{100 * row[e]:.0f}" if e in row else "-" for e in ("original", *edits)]
        lines.append(f"| {name} | {row['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(report_dir: Path, key: str, report: dict[str, Any], text: str, model: Path | None) -> None:
    """``<key>.json`` and ``<key>.md`` into ``report_dir``, the text to stdout and, given the
    ``model``, ``report`` as ``card.metrics[key]``: the card re-read just before writing, so only
    that key changes (other tools update the same card)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / f"{key}.json").write_text(json.dumps(report, indent=2) + "\n")
    (report_dir / f"{key}.md").write_text(text)
    print(text)
    if model is not None:
        card_path = model.with_suffix(".json")
        card = ModelCard.load(card_path)
        card.metrics[key] = report
        card.save(card_path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m training.evasion",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, default=settings.models_dir / CLASSIFIER_FILE)
    parser.add_argument("--shared-dir", type=Path, default=settings.shared_dir)
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    parser.add_argument("--report-dir", type=Path, default=settings.data_dir / "training" / "evaluation")
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument("--per-slice", type=int, default=200, help="faces per slice, crop level")
    parser.add_argument("--files-per-slice", type=int, default=40, help="files per slice, file level")
    parser.add_argument("--skip-files", action="store_true", help="crop level only")
    parser.add_argument(
        "--update-card", action="store_true", help='store the results in card.metrics["evasion"]'
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = "python -m training.evasion " + " ".join(sys.argv[1:] if argv is None else argv)

    detector_path = settings.detector_path
    if not detector_path.is_file():
        detector_path = args.shared_dir / "models" / DETECTOR_FILE
    classifier = Classifier(args.model, intra_op_threads=settings.intra_op_threads)
    manifest = get_manifest(args.shared_dir / "data", args.cache_dir, detector_path, split_spec(classifier))
    start = time.monotonic()
    slices = sample_slices(manifest, args.split, args.per_slice)
    crops = crop_level(classifier, manifest, args.cache_dir, slices)
    log.info("crop level: %d faces in %.0f s", sum(map(len, slices.values())), time.monotonic() - start)
    report: dict[str, Any] = {
        "model": {
            "name": classifier.card.name,
            "version": classifier.card.version,
            "sha256": classifier.sha256,
        },
        "split": args.split,
        "t_fake": classifier.threshold,
        "t_real": classifier.threshold_real,
        "seed": SEED,
        "crop_level": crops,
        "command": command,
    }
    text = "Crop level (% called fake at t_fake):\n\n" + markdown(crops["by_slice"], list(CROP_EDITS))
    if not args.skip_files:
        start = time.monotonic()
        face_detector = FaceDetector.from_config(detector_path, settings.detection)
        pipeline = ScanPipeline(settings.pipeline(args.model), classifier, face_detector)
        files = sample_files(manifest, args.split, args.files_per_slice)
        with tempfile.TemporaryDirectory(prefix="evasion-") as work:
            report["file_level"] = file_level(pipeline, manifest, files, Path(work))
        log.info("file level: %d files in %.0f s", sum(map(len, files.values())), time.monotonic() - start)
        text += "\nFile level, ScanPipeline.analyze (% of files called fake):\n\n"
        text += markdown(report["file_level"]["by_slice"], list(FILE_EDITS))
    report["misses_targets"] = flags(crops["by_slice"], list(CROP_EDITS)) + flags(
        report.get("file_level", {}).get("by_slice", {}), list(FILE_EDITS)
    )
    write_report(args.report_dir, "evasion", report, text, args.model if args.update_card else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
