"""Reviewers' labels as a training source, in the train split only.

The feedback API exports a channel (``labels.csv`` + ``media/``, see
``deepfake_detect.registry.feedback``); a SageMaker job receives it as the ``feedback`` channel and
``deepfake-detect retrain`` passes the local export the same way. Each labelled image goes through
the same padded detection, 68-landmark fit and ``align_face`` as every other source, and its main
face joins the *train* split as source ``feedback``. Never validation or test: the threshold,
the calibration and the held-out numbers stay measured on data nobody labelled by hand. A file
byte-identical to a validation or test image is dropped, so a reviewer cannot leak a held-out
face into training. The gate's set lives in the models bucket, not in the training data, and so
stays out too.

Videos are counted and skipped for now: a label says the file is fake, not which frames.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_detect.core.crop_geometry import CropGeometry
from deepfake_detect.core.formats import sniff
from deepfake_detect.core.result import MediaKind
from deepfake_detect.registry.feedback import LABELS_FILE, Label
from training import manifest as manifests
from training.manifest import Crops, Manifest
from training.sources import FAKE, FEEDBACK, REAL, SourceImage

log = logging.getLogger(__name__)


@dataclass
class FeedbackSummary:
    """What the card reports about the feedback source."""

    labels: int = 0
    real: int = 0
    fake: int = 0
    faces: int = 0  # faces added to the train split
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> files

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "labelled_real": self.real,
            "labelled_fake": self.fake,
            "train_faces": self.faces,
            "skipped": dict(sorted(self.skipped.items())),
            "split": "train only",
        }


def read_labels(feedback_dir: Path) -> list[SourceImage]:
    """The labelled files of a channel, as source images keyed relative to the channel."""
    path = feedback_dir / LABELS_FILE
    if not path.is_file():
        return []
    items = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            name, label = row.get("file") or "", row.get("label") or ""
            if label not in (Label.REAL, Label.FAKE) or not name or ".." in Path(name).parts:
                continue
            result_id = row.get("result_id") or name
            items.append(
                SourceImage(
                    key=name,
                    source=FEEDBACK,
                    label=REAL if label == Label.REAL else FAKE,
                    method="reviewer",
                    group=f"{FEEDBACK}:{result_id}",
                    attrs={"result_id": result_id, "reviewer": row.get("reviewer") or ""},
                    split="train",
                )
            )
    return items


def held_out_hashes(manifest: Manifest) -> set[str]:
    """sha256 of every validation and test source file."""
    data_dir = Path(manifest.data_dir)
    keys = {f.key for f in manifest.faces if f.split in ("val", "test")}
    return {hashlib.sha256((data_dir / key).read_bytes()).hexdigest() for key in sorted(keys)}


def add_feedback(
    manifest: Manifest, crops: Crops, feedback_dir: Path, detector_path: Path, geometry: CropGeometry
) -> tuple[Manifest, Crops, FeedbackSummary]:
    """The manifest and crops with the channel's faces appended to the train split."""
    items = read_labels(feedback_dir)
    summary = FeedbackSummary(labels=len(items))
    summary.real = sum(item.label == REAL for item in items)
    summary.fake = len(items) - summary.real
    if not items:
        return manifest, crops, summary
    held_out = held_out_hashes(manifest)
    manifests._init_worker(str(detector_path))
    records, new_images, new_points, new_points68 = [], [], [], []
    for item in items:
        path = feedback_dir / item.key
        if not path.is_file():
            summary.skipped["missing file"] += 1
            continue
        raw = path.read_bytes()
        kind, _ = sniff(raw[:64])
        if kind is MediaKind.VIDEO:
            summary.skipped["video"] += 1
            continue
        if hashlib.sha256(raw).hexdigest() in held_out:
            summary.skipped["same file as a validation or test image"] += 1
            continue
        out = manifests._process((item, str(feedback_dir)))
        if "failure" in out:
            summary.skipped[str(out["failure"])] += 1
            continue
        picture = manifests.read_picture(path)
        for record in manifests.face_records(out, split="train"):
            # Keys are relative to the manifest's data folder; feedback lives elsewhere.
            record = replace(record, key=str(path.resolve()))
            crop, points, points68 = manifests.make_crop(picture, record, geometry)
            records.append(record)
            new_images.append(crop)
            new_points.append(points)
            new_points68.append(points68)
    summary.faces = len(records)
    log.info("feedback: %s", summary.as_dict())
    if not records:
        return manifest, crops, summary
    grown = replace(manifest, faces=[*manifest.faces, *records])
    merged = Crops(
        np.concatenate([np.asarray(crops.images), np.stack(new_images)]),
        np.concatenate([crops.landmarks, np.stack(new_points)]),
        np.concatenate([crops.landmarks68, np.stack(new_points68)]),
    )
    return grown, merged, summary
