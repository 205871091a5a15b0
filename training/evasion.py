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
The FaceForensics++ videos likewise, re-encoded at half the frame rate and at half size with
starved frames (a handful of videos: read them one by one).

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

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.settings import Settings
from training.augment import jpeg
from training.edits import CROP_EDITS, Image, Points
from training.evaluate import split_spec
from training.manifest import Manifest, get_crops, get_manifest
from training.sources import FAKE, ffpp_videos

log = logging.getLogger("training.evasion")

SEED = 2025


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


# Video edits: what re-posting does to a clip's time axis and bit budget. cv2's writer sets no
# bitrate, so "low quality" is made the way a starved encoder looks: half size and every frame
# through JPEG at q35 before the mp4v encode.
VIDEO_EDITS = ("half_frame_rate", "half_size_low_quality")


def reencode_video(source: Path, target: Path, edit: str) -> bool:
    """``source`` re-written to ``target`` (mp4v) after one of ``VIDEO_EDITS``; False when the
    source cannot be read."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer: cv2.VideoWriter | None = None
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            index += 1
            if edit == "half_frame_rate" and index % 2 == 0:
                continue
            if edit == "half_size_low_quality":
                half = (frame.shape[1] // 2, frame.shape[0] // 2)
                frame = jpeg(np.asarray(cv2.resize(frame, half, interpolation=cv2.INTER_AREA), np.uint8), 35)
            if writer is None:
                rate = fps / 2 if edit == "half_frame_rate" else fps
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), rate, size)
            writer.write(frame)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return writer is not None


def video_level(pipeline: ScanPipeline, data_dir: Path, work: Path) -> dict[str, Any]:
    """Each FaceForensics++ video (a handful: read per video, not as rates) scanned as it is and
    after each of ``VIDEO_EDITS``: its file score and whether it lands on the right side of t_fake
    (t_real for the real ones' "no sign")."""
    t_fake = pipeline.classifier.threshold
    rows: dict[str, Any] = {}
    for path, label, method in ffpp_videos(data_dir):
        row: dict[str, Any] = {"label": "fake" if label == FAKE else "real", "method": method}
        for edit in ("original", *VIDEO_EDITS):
            target = path
            if edit != "original":
                target = work / f"{path.stem}_{edit}.mp4"
                if not reencode_video(path, target, edit):
                    row[edit] = None
                    continue
            score = pipeline.analyze(target).result.score
            row[edit] = (
                None
                if score is None
                else {
                    "score": round(float(score), 4),
                    "right_side": bool((score >= t_fake) == (label == FAKE)),
                }
            )
            if edit != "original":
                target.unlink(missing_ok=True)
        rows[path.stem] = row
    return {
        "by_video": rows,
        "right_side": {
            edit: sum(1 for r in rows.values() if r.get(edit) and r[edit]["right_side"])
            for edit in ("original", *VIDEO_EDITS)
        },
        "videos": len(rows),
    }


def video_markdown(table: dict[str, Any]) -> str:
    edits = ("original", *VIDEO_EDITS)
    lines = ["| video | label | " + " | ".join(edits) + " |", "|" + "---|" * (2 + len(edits))]
    for name, row in table["by_video"].items():
        cells = [
            "-"
            if row.get(e) is None
            else f"{row[e]['score']:.3f}{'' if row[e]['right_side'] else ' (wrong)'}"
            for e in edits
        ]
        lines.append(f"| {name} | {row['label']} | " + " | ".join(cells) + " |")
    right = table["right_side"]
    lines.append("| right side | | " + " | ".join(f"{right[e]}/{table['videos']}" for e in edits) + " |")
    return "\n".join(lines) + "\n"


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
    if not args.skip_files and args.split == "test":  # the FF++ videos are test material only
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="evasion-video-") as work:
            report["video_level"] = video_level(pipeline, args.shared_dir / "data", Path(work))
        log.info(
            "video level: %d videos in %.0f s", report["video_level"]["videos"], time.monotonic() - start
        )
        text += "\nVideos, ScanPipeline.analyze (file score; t_fake decides the side):\n\n"
        text += video_markdown(report["video_level"])
    report["misses_targets"] = flags(crops["by_slice"], list(CROP_EDITS)) + flags(
        report.get("file_level", {}).get("by_slice", {}), list(FILE_EDITS)
    )
    write_report(args.report_dir, "evasion", report, text, args.model if args.update_card else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
