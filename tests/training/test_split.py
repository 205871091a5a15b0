from __future__ import annotations

import csv
from collections import defaultdict

from training.manifest import SplitSpec, assign_split, get_manifest, load_manifest
from training.sources import list_sources


def test_split_is_deterministic_and_roughly_proportional():
    spec = SplitSpec(val=0.1, test=0.15, seed=0)
    groups = [f"g{i}" for i in range(20000)]
    splits = [assign_split(g, spec) for g in groups]
    assert splits == [assign_split(g, spec) for g in groups]
    assert abs(splits.count("test") / len(groups) - 0.15) < 0.01
    assert abs(splits.count("val") / len(groups) - 0.10) < 0.01
    assert splits != [assign_split(g, SplitSpec(val=0.1, test=0.15, seed=1)) for g in groups]


def test_dfdc_real_and_its_fakes_share_a_split(shared_dir):
    spec = SplitSpec()
    by_video: dict[str, set[str]] = defaultdict(set)
    for item in list_sources(shared_dir / "data"):
        if item.source == "dfdc":
            by_video[item.group].add(assign_split(item.group, spec))
    assert len(by_video) > 1000
    assert all(len(splits) == 1 for splits in by_video.values())
    with (shared_dir / "data" / "dfdc_faces" / "pairs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert all(f"dfdc:{row['original_video']}" in by_video for row in rows)


def test_manifest_has_no_group_in_two_splits_and_is_cached(shared_dir, detector_path, tmp_path):
    manifest = get_manifest(
        shared_dir / "data", tmp_path, detector_path, SplitSpec(val=0.3, test=0.3), limit_per_source=25
    )
    assert manifest.faces, "the detector should find faces in the shared crops"
    splits_of: dict[str, set[str]] = defaultdict(set)
    for face in manifest.faces:
        splits_of[face.group].add(face.split)
        assert len(face.landmarks) == 5
    assert all(len(s) == 1 for s in splits_of.values())
    assert {f.split for f in manifest.faces} >= {"train", "val", "test"}
    # the photo set is split by person into a development and a test part
    deepface = {f.split for f in manifest.faces if f.source == "deepface"}
    assert "test" in deepface and deepface - {"test"}
    # saved with the split; a second call reads the cache instead of detecting again
    cached = load_manifest(tmp_path / "manifest_limit25.json")
    assert cached is not None and [f.split for f in cached.faces] == [f.split for f in manifest.faces]
    again = get_manifest(
        shared_dir / "data",
        tmp_path,
        tmp_path / "no-detector-needed.onnx",
        SplitSpec(val=0.3, test=0.3),
        limit_per_source=25,
    )
    assert again.digest() == manifest.digest()
