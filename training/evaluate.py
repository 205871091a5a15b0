"""Evaluate the exported classifier through the deepfake_detect core, never the torch model.

    python -m training.evaluate                       # models/deepfake_classifier.onnx on the test split
    python -m training.evaluate --split val --model path/to/model.onnx --update-card

Image level: every face of the split, detected by the core's FaceDetector (on the padded
image, as cached in the manifest), cropped by the core's ``align_face`` at the size and margin
of the model card, scored by the core's ``Classifier`` (calibrated by the card's temperature).
File level: the FaceForensics++ videos, the full DFDC frame and the full photos go through
``Detector.analyze``, exactly as the service runs them. Writes ``evaluation.json`` and
``roc.png`` into the report folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.faces import FaceDetector
from deepfake_detect.core.pipeline import Detector
from deepfake_detect.settings import Settings
from training.card_text import LIMITATIONS
from training.config import DETECTOR_FILE, MODEL_FILE
from training.manifest import Manifest, SplitSpec, get_crops, get_manifest
from training.metrics import roc_auc, roc_curve
from training.report import summarise
from training.sources import DEEPFACE, FAKE, REAL, ffpp_videos

log = logging.getLogger("training.evaluate")


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
) -> np.ndarray[Any, np.dtype[np.float64]]:
    pre = classifier.card.preprocessing
    crops = get_crops(manifest, cache_dir, pre.input_size, pre.margin)
    out = []
    for start in range(0, len(indices), 256):
        batch = [np.asarray(crops.images[i]) for i in indices[start : start + 256]]
        out.append(classifier.score(batch).probabilities)
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def file_level(detector: Detector, data_dir: Path) -> dict[str, Any]:
    """Whole files through ``Detector.analyze``: videos, a full DFDC frame, full photos."""
    files: list[tuple[Path, int, str]] = list(ffpp_videos(data_dir))
    files += [(p, FAKE, "dfdc_frame") for p in sorted((data_dir / "dfdc_frames").glob("*.jpg"))]
    files += [(p, REAL, DEEPFACE) for p in sorted((data_dir / "deepface_photos").glob("*.jpg"))]
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
    threshold = detector.classifier.threshold
    called = [r["score"] >= threshold for r in rows if r["method"] == DEEPFACE and r["score"] is not None]
    videos = [r for r in rows if r["kind"] == "video" and r["score"] is not None]
    photos = [r for r in rows if r["method"] == DEEPFACE]
    scored_photos = [r for r in photos if r["score"] is not None]
    return {
        "files": rows,
        "video_auc": roc_auc([r["label"] for r in videos], [r["score"] for r in videos]),
        "videos_on_right_side": sum((r["score"] >= threshold) == (r["label"] == FAKE) for r in videos),
        "videos": len(videos),
        "photos_false_positive_rate": sum(called) / len(called) if called else None,
        "photos_without_face": len(photos) - len(scored_photos),
    }


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
    parser.add_argument("--model", type=Path, default=settings.models_dir / MODEL_FILE)
    parser.add_argument("--shared-dir", type=Path, default=settings.sm_channel_shared or settings.shared_dir)
    parser.add_argument("--cache-dir", type=Path, default=settings.training_cache_dir)
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=settings.sm_output_data_dir or settings.data_dir / "training" / "evaluation",
    )
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument(
        "--limit-per-source",
        type=int,
        default=None,
        help="the small manifest of a quick training run (same flag)",
    )
    parser.add_argument("--skip-files", action="store_true", help="image level only (no videos, photos)")
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
    p = score_faces(classifier, manifest, args.cache_dir, indices)
    threshold = classifier.threshold
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
        "command": "python -m training.evaluate " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    if not args.skip_files:
        face_detector = FaceDetector(
            detector_path,
            max_side=settings.detector_max_side,
            score_threshold=settings.detector_score_threshold,
            nms_threshold=settings.detector_nms_threshold,
            min_face_size=settings.min_face_size,
            max_faces=settings.max_faces_per_frame,
        )
        report["file_level"] = file_level(Detector(settings, classifier, face_detector), data_dir)
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
        card.metrics["evaluation"] = {k: report[k] for k in ("split", "image_level", "command")}
        if "file_level" in report:
            card.metrics["evaluation"]["file_level"] = {k: v for k, v in report["file_level"].items()}
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
