"""No person in two splits: identity groups from ids, hashes, thumbnails and face embeddings."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import pytest

from training.identity_split import UnionFind, close_pairs


@pytest.fixture(scope="module")
def manifest(small_manifest):
    return small_manifest


def test_union_find_merges_chains_and_names_components_by_their_smallest_member():
    uf = UnionFind()
    uf.union("c", "b")
    uf.union("b", "a")
    uf.find("z")
    assert uf.find("c") == uf.find("a") == "a"
    assert uf.find("z") == "z"


def test_close_pairs_by_dot_and_by_distance():
    v = np.array([[1, 0], [0.99, 0.141], [0, 1]], np.float32)
    assert close_pairs(v, min_dot=0.95, block=2) == [(0, 1)]
    assert close_pairs(v, max_distance=0.2) == [(0, 1)]


def test_every_identity_file_and_person_lands_in_one_split(manifest, shared_dir):
    splits_of: dict[str, set[str]] = defaultdict(set)
    by_bytes: dict[str, set[str]] = defaultdict(set)
    person_splits: dict[str, set[str]] = defaultdict(set)
    for face in manifest.faces:
        splits_of[face.identity].add(face.split)
        digest = hashlib.sha256((shared_dir / "data" / face.key).read_bytes()).hexdigest()
        by_bytes[digest].add(face.split)
        if face.source in ("london", "web_photos", "deepface"):
            person_splits[face.group].add(face.split)
    assert all(len(s) == 1 for s in splits_of.values())
    assert all(len(s) == 1 for s in by_bytes.values()), "a byte-identical file sits in two splits"
    # London people, web_photos repositories and deepface people are never split apart
    assert person_splits and all(len(s) == 1 for s in person_splits.values())
    # the photo sets have a test part the model never trains on
    for source in ("london", "web_photos", "deepface"):
        assert {f.split for f in manifest.faces if f.source == source} & {"test"}, source
