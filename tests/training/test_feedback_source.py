"""Reviewers' labels reach the training manifest, in the train split only."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np

from training import train
from training.config import TrainConfig
from training.feedback import add_feedback
from training.manifest import Manifest, get_crops
from training.sources import FAKE, FEEDBACK, REAL


def write_channel(channel: Path, rows: list[tuple[str, str]]) -> None:
    with (channel / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "result_id", "reviewer", "labelled_at", "model_version", "score"])
        for name, label in rows:
            writer.writerow([name, label, Path(name).stem, "ana", "2026-11-30T00:00:00+00:00", "v1", "0.5"])


def test_one_reviewer_label_reaches_the_train_split(
    small_manifest: Manifest, shared_dir: Path, detector_path: Path, tmp_path: Path
) -> None:
    channel = tmp_path / "feedback"
    media = channel / "media"
    media.mkdir(parents=True)
    trained = next(f for f in small_manifest.faces if f.split == "train" and f.source == "london")
    shutil.copyfile(Path(small_manifest.data_dir) / trained.key, media / "labelled.jpg")
    cv2.imwrite(str(media / "blank.jpg"), np.full((200, 200, 3), 200, np.uint8))
    shutil.copyfile(shared_dir / "data" / "ffpp_c23" / "real_004.mp4", media / "clip.mp4")
    held_out = next(f for f in small_manifest.faces if f.split == "test")
    shutil.copyfile(Path(small_manifest.data_dir) / held_out.key, media / "leak.jpg")
    write_channel(
        channel,
        [
            ("media/labelled.jpg", "fake"),
            ("media/blank.jpg", "real"),
            ("media/clip.mp4", "fake"),
            ("media/leak.jpg", "real"),
            ("media/gone.jpg", "fake"),
            ("../outside.jpg", "fake"),  # never read: a label cannot point out of the channel
        ],
    )
    geometry = train.geometry_of(
        TrainConfig(shared_dir, tmp_path, tmp_path, tmp_path, detector_path, input_size=64)
    )
    crops = get_crops(small_manifest, tmp_path / "cache", geometry)

    grown, grown_crops, summary = add_feedback(small_manifest, crops, channel, detector_path, geometry)

    added = grown.faces[len(small_manifest.faces) :]
    assert [(f.source, f.label, f.split) for f in added] == [(FEEDBACK, FAKE, "train")]
    assert added[0].key.endswith("labelled.jpg") and added[0].identity == "feedback:labelled"
    assert grown.select("val", source=FEEDBACK) == grown.select("test", source=FEEDBACK) == []
    assert len(grown_crops.images) == len(grown.faces) and grown_crops.images[-1].shape == (64, 64, 3)
    assert grown_crops.images[-1].std() > 10  # a real crop, not a blank
    assert summary.labels == 5 and (summary.real, summary.fake) == (2, 3) and summary.faces == 1
    assert summary.skipped == {
        "no face detected": 1,
        "video": 1,
        "same file as a validation or test image": 1,
        "missing file": 1,
    }
    assert REAL in {f.label for f in grown.faces}  # the rest of the manifest is untouched
    assert grown.faces[: len(small_manifest.faces)] == small_manifest.faces
