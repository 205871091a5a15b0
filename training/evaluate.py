"""Evaluate the exported classifier through the deepfake_detect core, never the torch model.

    python -m training.evaluate                       # models/deepfake_classifier.onnx on the test split
    python -m training.evaluate --split val --model path/to/model.onnx --update-card

Image level: every face of the split, detected by the core's FaceDetector (on the padded
image, as cached in the manifest), cropped by the core's ``crop_face`` (serving's read of the
file at the scale the face needs) with the model card's geometry, scored by the core's
``Classifier`` (calibrated by the card's temperature): per source, per method (also against
reals with context), SDFD catch rate per prompt attribute, UTKFace and
London false positives per group, each rate with n and a 95 % interval.
Robustness: the same faces after their source image was re-encoded at JPEG quality 50, and
after it was resized to half and re-encoded at 75 (what platforms do to uploads).
File level: the split's real photo files, the FaceForensics++ videos and the full DFDC frame go
through ``ScanPipeline.analyze``, exactly as the service runs them (a file is as suspicious as its
most suspicious face or track); the FF++ videos also at 128 frames for a paired frame-level AUC
with a bootstrap interval. Writes ``evaluation.json`` and ``roc.png`` into the report folder.
The test split is for the one final measurement: choose nothing by it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import cv2
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.face_crop import Picture, crop_face
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.media.video import FramePicture
from deepfake_detect.core.pipeline import ScanPipeline, evidence_kind
from deepfake_detect.settings import Settings
from training.augment import jpeg, webp
from training.card_text import LIMITATIONS
from training.config import SageMakerEnv
from training.manifest import Manifest, SplitSpec, get_crops, get_manifest, read_picture
from training.metrics import bootstrap_auc_interval, rates, roc_auc, roc_curve, wilson_interval
from training.report import summarise
from training.sources import (
    FAKE,
    GENERATED_SOURCES,
    MODERN_GENERATED,
    MODERN_SWAPPED,
    PHOTO_SOURCES,
    REAL,
    SWAPPED_SOURCES,
    ffpp_videos,
)

log = logging.getLogger("training.evaluate")

MODERN_SOURCES = (MODERN_GENERATED, MODERN_SWAPPED)


def split_spec(classifier: Classifier) -> SplitSpec:
    """The split the model was trained with (from its card), so test faces stay unseen."""
    data = classifier.card.training_data
    split = data.get("split", {}) if isinstance(data, dict) else {}
    return SplitSpec(
        val=split.get("val", SplitSpec.val),
        test=split.get("test", SplitSpec.test),
        seed=split.get("seed", SplitSpec.seed),
    )


def score_faces(
    classifier: Classifier, manifest: Manifest, cache_dir: Path, indices: list[int]
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]] | None]:
    """Calibrated fake probabilities (N,) and kind probabilities (N, K) or None, through the core."""
    pre = classifier.card.preprocessing
    crops = get_crops(manifest, cache_dir, pre.geometry())
    out, kinds = [], []
    for start in range(0, len(indices), 256):
        scores = classifier.score([np.asarray(crops.images[i]) for i in indices[start : start + 256]])
        out.append(scores.probabilities)
        if scores.kinds is not None:
            kinds.append(scores.kinds)
    p = np.concatenate(out).astype(np.float64) if out else np.zeros(0)
    return p, (np.concatenate(kinds).astype(np.float64) if kinds else None)


def bands(
    faces: list[Any], p: np.ndarray[Any, np.dtype[np.float64]], t_real: float, t_fake: float
) -> dict[str, Any]:
    """Each source's (and each modern family's) share in each verdict band: no sign below t_real,
    inconclusive between, likely manipulated from t_fake."""
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(faces):
        label = "fake" if f.label == FAKE else "real"
        groups.setdefault(f"{f.source}:{label}", []).append(i)
        if f.source in MODERN_SOURCES:
            groups.setdefault(f"{f.source}:{f.method}", []).append(i)
    table: dict[str, Any] = {}
    for name, members in sorted(groups.items()):
        scores = p[members]
        table[name] = {
            "n": len(members),
            "real": round(float((scores < t_real).mean()), 4),
            "inconclusive": round(float(((scores >= t_real) & (scores < t_fake)).mean()), 4),
            "fake": round(float((scores >= t_fake).mean()), 4),
        }
    return {"t_real": t_real, "t_fake": t_fake, "by_group": table}


def kind_report(
    classifier: Classifier, faces: list[Any], p: np.ndarray[Any, Any], kinds: np.ndarray[Any, Any]
) -> dict[str, Any]:
    """Each kind output at its own threshold per source (a catch rate for fakes, a false positive
    rate for reals), and how often a caught fake of known kind is named as that kind."""
    card = classifier.card
    names = card.outputs.kind_names
    truth = {source: "generated" for source in sorted(GENERATED_SOURCES)}
    truth |= {source: "swapped" for source in sorted(SWAPPED_SOURCES)}
    table: dict[str, Any] = {}
    for k, name in enumerate(names):
        t = card.kinds[name].threshold
        rows: dict[str, Any] = {}
        for source in sorted({f.source for f in faces}):
            for label in (REAL, FAKE):
                members = [i for i, f in enumerate(faces) if f.source == source and f.label == label]
                if members:
                    called = int((kinds[members, k] >= t).sum())
                    rows[f"{source}:{'fake' if label == FAKE else 'real'}"] = {
                        "n": len(members),
                        "called": round(called / len(members), 4),
                        "called_95ci": wilson_interval(called, len(members)),
                    }
        table[name] = {"threshold": t, "by_source": rows}
    named: dict[str, Any] = {}
    for source, kind in truth.items():
        members = [i for i, f in enumerate(faces) if f.source == source and f.label == FAKE]
        said = [
            evidence_kind({n: float(kinds[i, k]) for k, n in enumerate(names)}, card.kinds) for i in members
        ]
        if members:
            named[source] = {
                "n": len(members),
                "kind": kind,
                "named_right": round(said.count(kind) / len(members), 4),
            }
    union = any_output_rule(classifier, faces, p, kinds)
    return {"outputs": table, "named_kind": named, "any_output_rule": union}


def any_output_rule(
    classifier: Classifier, faces: list[Any], p: np.ndarray[Any, Any], kinds: np.ndarray[Any, Any]
) -> dict[str, Any]:
    """The design not shipped, measured beside the shipped one: a face called fake when the fake
    score *or either kind output* reaches its own threshold. Per source and label, the share
    called fake under each rule (a catch rate for fakes, a false positive rate for reals)."""
    card = classifier.card
    shipped = p >= card.threshold
    union = shipped.copy()
    for k, name in enumerate(card.outputs.kind_names):
        union |= kinds[:, k] >= card.kinds[name].threshold
    table: dict[str, Any] = {}
    for source in sorted({f.source for f in faces}):
        for label in (REAL, FAKE):
            members = [i for i, f in enumerate(faces) if f.source == source and f.label == label]
            if members:
                table[f"{source}:{'fake' if label == FAKE else 'real'}"] = {
                    "n": len(members),
                    "fake_score_rule": round(float(shipped[members].mean()), 4),
                    "any_output_rule": round(float(union[members].mean()), 4),
                }
    return table


# Each takes the source image and returns the degraded image and the scale of its coordinates.
Degrade = Callable[[NDArray[np.uint8]], tuple[NDArray[np.uint8], float]]


def _half(image: NDArray[np.uint8], factor: float = 0.5) -> NDArray[np.uint8]:
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)


def _screenshot(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], float]:
    """A re-capture as people re-post: shown at 70 %, sharpened by the screen pipeline, saved as
    PNG (lossless: no change) and then re-encoded as JPEG q85 by the platform."""
    small = _half(image, 0.7)
    blurred = cv2.GaussianBlur(small, (0, 0), sigmaX=1.0)
    sharp = np.asarray(cv2.addWeighted(small, 1.4, blurred, -0.4, 0), np.uint8)
    return jpeg(sharp, 85), 0.7


def _colour_grade(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], float]:
    """An Instagram-like warm, contrasty grade with a vignette."""
    out = image.astype(np.float32)
    out = (out - 128.0) * 1.2 + 128.0 + 6.0
    out[..., 2] += 12.0  # red up
    out[..., 0] -= 12.0  # blue down
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    out *= (1.0 - 0.25 * np.clip(r - 0.6, 0, None))[..., None]
    return jpeg(np.clip(out, 0, 255).astype(np.uint8), 90), 1.0


DEGRADATIONS: dict[str, Degrade] = {
    "jpeg_q50": lambda image: (jpeg(image, 50), 1.0),
    "half_size_jpeg_q75": lambda image: (
        jpeg(
            np.asarray(
                cv2.resize(
                    image,
                    (max(1, image.shape[1] // 2), max(1, image.shape[0] // 2)),
                    interpolation=cv2.INTER_AREA,
                ),
                np.uint8,
            ),
            75,
        ),
        0.5,
    ),
    "webp_q60": lambda image: (webp(image, 60), 1.0),
    "screenshot": _screenshot,
    "colour_grade": _colour_grade,
    # stress slices for reals (reported for fakes too): retouching is not manipulation
    "retouch_skin_smoothing": lambda image: (
        jpeg(np.asarray(cv2.bilateralFilter(image, 0, 45, 7), np.uint8), 92),
        1.0,
    ),
    "retouch_soft_focus": lambda image: (
        jpeg(
            np.asarray(
                cv2.addWeighted(image, 0.65, cv2.GaussianBlur(image, (0, 0), sigmaX=4), 0.35, 0), np.uint8
            ),
            92,
        ),
        1.0,
    ),
}


def _picture(path: Path, image: NDArray[np.uint8], degradation: str) -> tuple[Picture, float]:
    """The original as serving reads the file, or a degraded copy (and its scale) as a decoded
    frame; both are cropped by serving's ``crop_face``."""
    if degradation == "original":
        return read_picture(path), 1.0
    degraded, scale = DEGRADATIONS[degradation](image)
    return FramePicture(degraded), scale


def robustness(classifier: Classifier, manifest: Manifest, indices: list[int]) -> dict[str, Any]:
    """Catch and false-positive rates per source before and after each degradation of the source
    image (the faces' landmarks scaled with it), at the shipped threshold."""
    geometry = classifier.geometry
    threshold = classifier.threshold
    faces = [manifest.faces[i] for i in indices]
    by_key: dict[str, list[int]] = {}
    for n, face in enumerate(faces):
        by_key.setdefault(face.key, []).append(n)
    data_dir = Path(manifest.data_dir)
    scores = {name: np.zeros(len(faces)) for name in ("original", *DEGRADATIONS)}
    for key, members in by_key.items():
        decoded = cv2.imread(str(data_dir / key), cv2.IMREAD_COLOR)
        if decoded is None:
            continue
        image = np.asarray(decoded, np.uint8)
        for name in scores:
            picture, scale = _picture(data_dir / key, image, name)
            crops = [
                crop_face(picture, np.asarray(faces[n].landmarks, np.float64) * scale, geometry).crop
                for n in members
            ]
            scores[name][members] = classifier.score(crops).probabilities
    labels = np.array([f.label for f in faces])
    sources = np.array([f.source for f in faces])
    table: dict[str, Any] = {}
    for source in sorted(set(sources)):
        for label in sorted(set(labels[sources == source])):
            members = (sources == source) & (labels == label)
            rate = "catch_rate" if label == FAKE else "false_positive_rate"
            row: dict[str, Any] = {"n": int(members.sum()), "rate": rate}
            for name, p in scores.items():
                row[name] = round(float((p[members] >= threshold).mean()), 4)
            table[f"{source}:{'fake' if label == FAKE else 'real'}"] = row
    return table


def file_rows(detector: ScanPipeline, files: list[tuple[Path, int, str]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path, label, method in files:
        result = detector.analyze(path).result
        rows.append(
            {
                "file": f"{path.parent.name}/{path.name}",
                "label": label,
                "method": method,
                "kind": result.media_kind.value,
                "score": result.score,
                "verdict": result.verdict.value if result.verdict else None,
                "faces": len(result.faces),
                "error": result.error.message if result.error else None,
            }
        )
    return rows


def file_level(detector: ScanPipeline, manifest: Manifest, split: str, data_dir: Path) -> dict[str, Any]:
    """Whole files through ``ScanPipeline.analyze``: the split's real photos (per source, per file),
    and on the test split the FF++ videos and the full DFDC frame (they belong to no split and are
    measured once, with the test figures: a run chosen on validation never sees them)."""
    photo_keys = sorted(
        {
            (f.key, f.source)
            for f in manifest.faces
            if f.split == split and f.source in PHOTO_SOURCES and f.label == REAL
        }
    )
    files: list[tuple[Path, int, str]] = [(data_dir / key, REAL, source) for key, source in photo_keys]
    if split == "test":
        files += list(ffpp_videos(data_dir))
        files += [(p, FAKE, "dfdc_frame") for p in sorted((data_dir / "dfdc_frames").glob("*.jpg"))]
    rows = file_rows(detector, files)
    threshold = detector.classifier.threshold
    photo_fpr: dict[str, Any] = {}
    for source in PHOTO_SOURCES:
        scored = [r for r in rows if r["method"] == source and r["score"] is not None]
        called = sum(r["score"] >= threshold for r in scored)
        photo_fpr[source] = {
            "files": len([r for r in rows if r["method"] == source]),
            "files_with_face": len(scored),
            "called_fake": called / len(scored) if scored else None,
            "called_fake_95ci": wilson_interval(called, len(scored)),
            "multi_face_files": sum(r["faces"] > 1 for r in scored),
        }
    videos = [r for r in rows if r["kind"] == "video" and r["score"] is not None]
    return {
        "files": rows,
        "real_photo_files_called_fake": photo_fpr,
        "video_auc": roc_auc([r["label"] for r in videos], [r["score"] for r in videos]),
        "videos_on_right_side": sum((r["score"] >= threshold) == (r["label"] == FAKE) for r in videos),
        "videos": len(videos),
    }


def ffpp_frames(
    settings: Settings, classifier: Classifier, face_detector: FaceDetector, data_dir: Path, frames: int = 128
) -> dict[str, Any]:
    """Paired frame-level AUC on the FF++ videos: every sampled frame's most prominent face of
    the real video against the same video's manipulation, with a bootstrap interval."""
    config = settings.pipeline()
    config = config.model_copy(update={"video": config.video.model_copy(update={"sample_frames": frames})})
    detector = ScanPipeline(config, classifier, face_detector)
    videos = {p.stem: (p, label, method) for p, label, method in ffpp_videos(data_dir)}

    def frame_scores(stem: str) -> list[float]:
        result = detector.analyze(videos[stem][0]).result
        best: dict[int, tuple[float, float]] = {}
        for face in result.faces:
            area = face.box[2] * face.box[3]
            if face.frame_index not in best or area > best[face.frame_index][0]:
                best[face.frame_index] = (area, face.score)
        return [score for _, score in best.values()]

    out: dict[str, Any] = {}
    # a manipulation is named <method>_<target>_<source>; its original is real_<target>
    pairs = [(f"real_{stem.split('_')[1]}", stem) for stem, (_, label, _) in videos.items() if label == FAKE]
    for real, fake in pairs:
        if real not in videos:
            continue
        r, f = frame_scores(real), frame_scores(fake)
        labels, scores = [0] * len(r) + [1] * len(f), r + f
        out[f"{fake} vs {real}"] = {
            "method": videos[fake][2],
            "frames": {"real": len(r), "fake": len(f)},
            "auc": roc_auc(labels, scores),
            "auc_95ci": bootstrap_auc_interval(labels, scores),
            **{
                k: v
                for k, v in rates(labels, scores, classifier.threshold).items()
                if k in ("fpr", "fpr_95ci", "tpr", "tpr_95ci")
            },
        }
    return out


def plot_roc(
    path: Path,
    labels: np.ndarray[Any, Any],
    p: np.ndarray[Any, Any],
    methods: np.ndarray[Any, Any],
    threshold: float,
    title: str,
) -> None:
    figure, axis = plt.subplots(figsize=(6, 6))
    real = labels == REAL
    curves = [("all fakes", ~real)] + [(m, methods == m) for m in sorted(set(methods[~real]))]
    for name, fake in curves:
        keep = real | fake
        fpr, tpr = roc_curve(labels[keep], p[keep])
        axis.plot(fpr, tpr, label=f"{name} vs reals (AUC {roc_auc(labels[keep], p[keep]):.3f})")
        called = p[keep] >= threshold
        axis.scatter([called[labels[keep] == REAL].mean()], [called[labels[keep] == FAKE].mean()], s=20)
    axis.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    axis.set_xlabel("false positive rate (reals called fake)")
    axis.set_ylabel("true positive rate")
    axis.set_title(title)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, default=settings.models_dir / CLASSIFIER_FILE)
    sagemaker = SageMakerEnv.detect()
    parser.add_argument("--shared-dir", type=Path, default=sagemaker.shared or settings.shared_dir)
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=sagemaker.output_data or settings.data_dir / "training" / "evaluation",
    )
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument(
        "--limit-per-source",
        type=int,
        default=None,
        help="the small manifest of a quick training run (same flag)",
    )
    parser.add_argument("--skip-files", action="store_true", help="image level only (no videos, photos)")
    parser.add_argument("--skip-robustness", action="store_true", help="no re-encoding table")
    parser.add_argument("--update-card", action="store_true", help="store the results in the model card")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    detector_path = settings.detector_path
    if not detector_path.is_file():
        detector_path = args.shared_dir / "models" / DETECTOR_FILE
    classifier = Classifier(args.model, intra_op_threads=settings.intra_op_threads)
    data_dir = args.shared_dir / "data"
    manifest = get_manifest(
        data_dir, args.cache_dir, detector_path, split_spec(classifier), args.limit_per_source
    )
    indices = manifest.select(args.split)
    faces = [manifest.faces[i] for i in indices]
    p, kinds = score_faces(classifier, manifest, args.cache_dir, indices)
    threshold = classifier.threshold
    t_real = classifier.card.threshold_real
    report: dict[str, Any] = {
        "model": {
            "name": classifier.card.name,
            "version": classifier.card.version,
            "sha256": classifier.sha256,
            "threshold": threshold,
            "temperature": classifier.card.calibration.temperature,
        },
        "split": args.split,
        "image_level": summarise(faces, p, threshold),
        "bands": bands(faces, p, threshold if t_real is None else t_real, threshold),
        "command": "python -m training.evaluate " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    if kinds is not None:
        report["kinds"] = kind_report(classifier, faces, p, kinds)
    if not args.skip_robustness:
        report["robustness"] = robustness(classifier, manifest, indices)
    if not args.skip_files:
        face_detector = FaceDetector.from_config(detector_path, settings.detection)
        report["file_level"] = file_level(
            ScanPipeline(settings.pipeline(), classifier, face_detector), manifest, args.split, data_dir
        )
        if args.split == "test":  # test material, as in file_level
            report["ffpp_frames"] = ffpp_frames(settings, classifier, face_detector, data_dir)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    labels = np.array([f.label for f in faces])
    methods = np.array([f.method for f in faces])
    plot_roc(
        args.report_dir / "roc.png",
        labels,
        p,
        methods,
        threshold,
        f"{classifier.card.name} {classifier.card.version}: {args.split} split",
    )
    if args.update_card:
        card = classifier.card
        card.limitations = list(LIMITATIONS)  # the current wording, informed by these measurements
        card.metrics["evaluation"] = {k: report[k] for k in ("split", "image_level", "bands", "command")}
        for part in ("kinds", "robustness", "file_level", "ffpp_frames"):
            if part in report:
                card.metrics["evaluation"][part] = report[part]
        card.save(args.model.with_suffix(".json"))
    overall = report["image_level"]["overall"]
    log.info(
        "%s split: AUC %s, FPR %s, TPR %s, ECE %s -> %s",
        args.split,
        overall["auc"],
        overall["fpr"],
        overall["tpr"],
        overall["ece"],
        args.report_dir,
    )
    if "file_level" in report:
        fl = report["file_level"]
        log.info("videos on the right side of the threshold: %d/%d", fl["videos_on_right_side"], fl["videos"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
